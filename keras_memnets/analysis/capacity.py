"""Capacity analysis for autoencoders: the BCE floor, the activated layers,
and the "model dimension" search."""

import math

import numpy as np

from keras_memnets.models.autoencoder import check_relu_placement
from keras_memnets.utils.validation import int_in_range
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import one_of
from keras_memnets.utils.validation import positive_int_list


def bce_floor(targets, per_example=False):
    """Returns the lowest summed binary cross-entropy that `targets` allow.

    For a target `x` in `[0, 1]` the binary cross-entropy
    `-x log p - (1 - x) log(1 - p)` is smallest at `p = x`, where it equals
    the entropy `H(x) = -x log x - (1 - x) log(1 - x)` (`0 log 0 = 0`). So a
    reconstruction loss summed over the features of an example cannot go
    below `sum_j H(x_j)`; for grey-valued MNIST digits that is tens of nats
    per image, not 0. The loss minus this floor is the KL divergence between
    the targets and the predictions (per-pixel Bernoulli), the true measure
    of how close a model is to reproducing its training set.

    The floor is exact in real arithmetic; Keras clips predictions to
    `[1e-7, 1 - 1e-7]`, which adds at most about `1e-7` nats per pixel
    whose target is exactly 0 or 1.

    Args:
        targets: array `(examples, ...)` of values in `[0, 1]`; everything
            after the first axis is summed (so `(n, 28, 28)` and `(n, 784)`
            give the same floor).
        per_example: bool. Return the per-example floors instead of their
            mean. Defaults to `False`.

    Returns:
        The mean over examples of the summed entropy in nats (a float), or
        an array `(examples,)` with `per_example=True`.

    Example:

    >>> round(keras_memnets.analysis.bce_floor(np.array([[0.0, 1.0, 0.5]])), 4)
    0.6931

    Reference:
        The guide *Over-fitting an MNIST autoencoder* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    x = np.asarray(targets, dtype="float64")
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(
            "bce_floor: `targets` must have at least one example, got shape "
            f"{x.shape}."
        )
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError(
            "bce_floor: `targets` must hold finite values in [0, 1] (scale "
            f"uint8 images by 1/255 first), got values in [{x.min()}, "
            f"{x.max()}]."
        )
    x = x.reshape(x.shape[0], -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(
            np.where(x > 0, x * np.log(x), 0.0)
            + np.where(x < 1, (1 - x) * np.log1p(-x), 0.0)
        )
    floors = h.sum(axis=1)
    if per_example:
        return floors
    return float(floors.mean())


def relu_layers(
    encoder_sizes, relu_placement="linear_after_code", decoder_sizes=None
):
    """Returns the widths of the activated hidden layers of an autoencoder.

    Counts the hidden activations that `keras_memnets.models.autoencoder`
    puts in the network for these arguments (the output activation is not
    counted).

    Args:
        encoder_sizes: list of ints, the input size first.
        relu_placement: `"linear_after_code"` or `"symmetric"`, as for
            `keras_memnets.models.autoencoder`.
        decoder_sizes: list of ints or `None` (the encoder's reversed).

    Returns:
        A list of ints: the width of every activated hidden layer, encoder
        first. Its length is the number of ReLU layers, its sum the number
        of ReLU units.

    Example:

    >>> keras_memnets.analysis.relu_layers([784, 256, 256])
    [256, 256, 256]
    >>> keras_memnets.analysis.relu_layers([784, 256])
    [256]
    """
    relu_placement = check_relu_placement(relu_placement, "relu_layers")
    encoder_sizes = list(encoder_sizes)
    if decoder_sizes is None:
        decoder_sizes = list(reversed(encoder_sizes))
    decoder_hidden = list(decoder_sizes)[:-1]
    if relu_placement == "linear_after_code":
        decoder_hidden = decoder_hidden[1:]
    return [int(v) for v in encoder_sizes[1:]] + [
        int(v) for v in decoder_hidden
    ]


def model_dimension(encoder_sizes):
    """Returns the "model dimension": 2 x the encoder's ReLU units.

    A hypothesis of the capacity experiments, given here so that it can be
    tested, not an established quantity: one ReLU splits one linear
    dimension into two, so `[784, 256]` has model dimension 512 and
    `[784, 32, 32]` has 128.

    Args:
        encoder_sizes: list of ints, the input size first.

    Returns:
        An int, twice the sum of the hidden widths (every entry of
        `encoder_sizes` after the input size).

    Example:

    >>> keras_memnets.analysis.model_dimension([784, 32, 32])
    128
    """
    return 2 * int(sum(int(v) for v in list(encoder_sizes)[1:]))


def model_dimension_search(
    evaluate,
    encoder_sizes=(784, 32),
    latent_dim=1,
    target=0.0,
    max_steps=10,
    latent_growth=2,
    grow="depth",
    max_latent_dim=None,
):
    """Runs the "model dimension" capacity search and returns its decisions.

    The search: while the converged loss is not (near) 0, enlarge the
    latent dimension if the model dimension (`model_dimension`) exceeds it,
    otherwise add ReLUs. This function runs exactly that loop around a
    user-supplied `evaluate(encoder_sizes, latent_dim) -> float` (e.g. the
    converged training loss minus `bce_floor`, from a trained
    `keras_memnets.models.autoencoder`), and returns every step, so the
    hypothesis behind it can be checked against the measured values (for
    example: does enlarging the latent dimension ever help once it is
    above the model dimension?).

    At each step: evaluate; stop with `"reached_target"` if the value is
    `<= target`; else if `model_dimension(encoder_sizes) > latent_dim`
    multiply `latent_dim` by `latent_growth` (`"enlarge_latent"`); else add
    ReLUs (`"add_relu"`): with `grow="depth"` append a hidden layer as wide
    as the last one (`[784, 32] -> [784, 32, 32]`), with
    `grow="width"` double every hidden width (`[784, 32] -> [784, 64]`).
    Evaluations are cached by `(encoder_sizes, latent_dim)`.

    Args:
        evaluate: callable `(encoder_sizes: list, latent_dim: int) ->
            float`. The converged loss (or excess over the floor).
        encoder_sizes: list of ints. Starting architecture, input first.
        latent_dim: int. Starting latent dimension.
        target: float. Value at or below which the search stops. Defaults
            to `0.0` (a loss of 0; with a summed BCE pass the excess over
            `bce_floor` and a tolerance).
        max_steps: int. Most evaluations. Defaults to 10.
        latent_growth: int. Factor for enlarging the latent dimension.
            Defaults to 2.
        grow: `"depth"` or `"width"`. How ReLUs are added.
        max_latent_dim: int or `None`. An upper bound: a step that would go
            beyond it adds ReLUs instead.

    Returns:
        A list of dicts, one per step, with keys `step`, `encoder_sizes`,
        `latent_dim`, `model_dimension`, `value`, `decision` (one of
        `"reached_target"`, `"enlarge_latent"`, `"add_relu"`,
        `"max_steps"`) and `reason` (a sentence).

    Example:

    >>> trace = keras_memnets.analysis.model_dimension_search(
    ...     lambda sizes, latent: 100.0 / latent, encoder_sizes=[784, 4],
    ...     latent_dim=2, target=10.0)
    >>> for t in trace:
    ...     print(t["encoder_sizes"], t["latent_dim"], t["decision"])
    [784, 4] 2 enlarge_latent
    [784, 4] 4 enlarge_latent
    [784, 4] 8 add_relu
    [784, 4, 4] 8 enlarge_latent
    [784, 4, 4] 16 reached_target

    Reference:
        The guide *Over-fitting an MNIST autoencoder* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    owner = "model_dimension_search"
    if not callable(evaluate):
        raise TypeError(
            f"{owner}: `evaluate` must be callable, got {evaluate!r}."
        )
    one_of(grow, "grow", owner, ("depth", "width"))
    latent_dim = int_in_range(latent_dim, "latent_dim", owner, low=1)
    max_steps = int_in_range(max_steps, "max_steps", owner, low=1)
    latent_growth = int_in_range(latent_growth, "latent_growth", owner, low=2)
    target = number_in_range(target, "target", owner)
    if max_latent_dim is not None:
        max_latent_dim = int_in_range(
            max_latent_dim, "max_latent_dim", owner, low=1
        )
    # The input size and at least one hidden width.
    sizes = positive_int_list(encoder_sizes, "encoder_sizes", owner, 2)
    latent = int(latent_dim)
    cache = {}
    trace = []
    for step in range(int(max_steps)):
        key = (tuple(sizes), latent)
        if key not in cache:
            cache[key] = float(evaluate(list(sizes), latent))
        value = cache[key]
        dim = model_dimension(sizes)
        entry = {
            "step": step,
            "encoder_sizes": list(sizes),
            "latent_dim": latent,
            "model_dimension": dim,
            "value": value,
        }
        trace.append(entry)
        if not math.isnan(value) and value <= target:
            entry["decision"] = "reached_target"
            entry["reason"] = f"value {value:.4g} <= target {target:.4g}"
            break
        if step == max_steps - 1:
            entry["decision"] = "max_steps"
            entry["reason"] = (
                f"value {value:.4g} > target after {max_steps} steps"
            )
            break
        grown = latent * int(latent_growth)
        if dim > latent and (max_latent_dim is None or grown <= max_latent_dim):
            entry["decision"] = "enlarge_latent"
            entry["reason"] = (
                f"value {value:.4g} > target {target:.4g} and model dimension "
                f"{dim} > latent {latent}: latent -> {grown}"
            )
            latent = grown
        else:
            if grow == "depth":
                new_sizes = sizes + [sizes[-1]]
            else:
                new_sizes = [sizes[0]] + [2 * v for v in sizes[1:]]
            entry["decision"] = "add_relu"
            entry["reason"] = (
                f"value {value:.4g} > target {target:.4g} and model dimension "
                f"{dim} <= latent {latent}: encoder {sizes} -> {new_sizes}"
            )
            sizes = new_sizes
    return trace
