"""Numpy surgery on a memory layer's slots.

The bodies of `MemoryLayer.set_memory_from_samples`,
`set_memory_from_kmeans` and `reset_slots`. They work on any built layer
with the attributes `memory` (the slot array of shape `(memory_size,
*units)`, holding the logits divided by `memory_scale`), `memory_scale`,
`units`, `memory_size`, `memory_activation` and, for `reset_slots`, a
`selector` whose `hidden` and `output_dense` layers give the selection
logits.
"""

import keras
import numpy as np
from keras import activations

from keras_memnets.utils.kmeans import kmeans
from keras_memnets.utils.shapes import units_shape
from keras_memnets.utils.slots import split_slots
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int


def _inverse_sigmoid(y, epsilon):
    y = np.clip(y, epsilon, 1.0 - epsilon)
    return np.log(y) - np.log1p(-y)


def _inverse_tanh(y, epsilon):
    return np.arctanh(np.clip(y, -1.0 + epsilon, 1.0 - epsilon))


def _inverse_softplus(y, epsilon):
    y = np.maximum(y, epsilon)
    return y + np.log(-np.expm1(-y))


def _inverse_linear(y, epsilon):
    return y


def _inverse_relu(y, epsilon):
    return np.maximum(y, 0.0)


# The activations whose inverse is known, by the name that
# `keras.activations.serialize` gives them: (inverse, closed output range).
# Targets outside the range cannot be written (they would be clipped to
# near-constant slots).
INVERSES = {
    "sigmoid": (_inverse_sigmoid, (0.0, 1.0)),
    "tanh": (_inverse_tanh, (-1.0, 1.0)),
    "softplus": (_inverse_softplus, (0.0, np.inf)),
    "linear": (_inverse_linear, (-np.inf, np.inf)),
    "relu": (_inverse_relu, (0.0, np.inf)),
}


def _check_built(layer, method):
    if not layer.built:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': build the layer (call "
            f"it once) before `{method}`."
        )


def _activation_name(layer, owner):
    """The name of the layer's memory activation, if its inverse is known."""
    name = activations.serialize(layer.memory_activation)
    if not isinstance(name, str):
        name = getattr(layer.memory_activation, "__name__", "")
    if name not in INVERSES:
        raise ValueError(
            f"{owner}: no known inverse for memory_activation={name!r}; "
            f"supported: {sorted(INVERSES)}."
        )
    return name


def targets_array(layer, values, argument, owner):
    """Checks values to write into slots; returns them as float64 numpy.

    The one check of every slot write: the memory activation must be
    invertible, `values` must have shape `(n, *units)`, be finite and lie in
    the activation's output range (with a hint for 0..255 images).

    Args:
        layer: the memory layer.
        values: array-like `(n, *units)`.
        argument: str. The argument's name, for the error message.
        owner: str. The method, for the error message.

    Returns:
        `(values, activation_name)`.
    """
    name = _activation_name(layer, owner)
    values = np.asarray(keras.ops.convert_to_numpy(values), "float64")
    expected = units_shape(layer.units)
    if values.ndim != len(expected) + 1 or values.shape[1:] != expected:
        raise ValueError(
            f"{owner}: `{argument}` must have shape "
            f"(n, {', '.join(map(str, expected))}), got {values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{owner}: `{argument}` holds NaN or Inf values.")
    low, high = INVERSES[name][1]
    if values.size and (values.min() < low or values.max() > high):
        hint = (
            " (images stored as 0..255 integers: divide them by 255)"
            if high == 1.0 and values.max() > 1.0
            else ""
        )
        raise ValueError(
            f"{owner}: `{argument}` must lie in [{low:g}, {high:g}], the "
            f"range of memory_activation={name!r}, got values in "
            f"[{values.min():g}, {values.max():g}]{hint}."
        )
    return values, name


def _slot_indices(slots, count, memory_size, owner):
    """`slots` as distinct int64 indices in [0, memory_size), else raises."""
    slots = np.asarray(slots, dtype="int64").reshape(-1)
    in_range = not len(slots) or (
        slots.min() >= 0 and slots.max() < memory_size
    )
    if (
        (count is not None and len(slots) != count)
        or len(np.unique(slots)) != len(slots)
        or not in_range
    ):
        number = "" if count is None else f"{count} "
        each = "" if count is None else " (one per sample)"
        raise ValueError(
            f"{owner}: `slots` must hold {number}distinct indices in "
            f"[0, {memory_size}){each}, got {slots.tolist()}."
        )
    return slots


def set_memory_from_samples(layer, samples, slots=None, epsilon=1e-3):
    """`MemoryLayer.set_memory_from_samples`, for any memory layer."""
    owner = f"{type(layer).__name__}.set_memory_from_samples"
    _check_built(layer, "set_memory_from_samples")
    epsilon = number_in_range(
        epsilon, "epsilon", owner, low=0.0, low_inclusive=False
    )
    samples, name = targets_array(layer, samples, "samples", owner)
    n = len(samples)
    if slots is None:
        if n > layer.memory_size:
            raise ValueError(
                f"{owner}: got {n} samples for memory_size="
                f"{layer.memory_size}; pass at most memory_size samples, or "
                "`slots`."
            )
        slots = np.arange(n)
    slots = _slot_indices(slots, n, layer.memory_size, owner)
    memory = np.array(keras.ops.convert_to_numpy(layer.memory))
    # The weight holds the logits divided by the layer's scale.
    memory[slots] = INVERSES[name][0](samples, epsilon) / layer.memory_scale
    layer.memory.assign(memory)
    return slots


def set_memory_from_kmeans(
    layer, targets, seed=None, max_iterations=100, restarts=1, epsilon=1e-3
):
    """`MemoryLayer.set_memory_from_kmeans`, for any memory layer."""
    owner = f"{type(layer).__name__}.set_memory_from_kmeans"
    _check_built(layer, "set_memory_from_kmeans")
    max_iterations = positive_int(max_iterations, "max_iterations", owner)
    restarts = positive_int(restarts, "restarts", owner)
    # Checked before clustering, so that bad targets fail at once.
    targets, _ = targets_array(layer, targets, "targets", owner)
    if len(targets) < layer.memory_size:
        raise ValueError(
            f"{owner}: needs at least memory_size={layer.memory_size} "
            f"targets, got {len(targets)}."
        )
    result = kmeans(
        targets,
        layer.memory_size,
        seed=seed,
        max_iterations=max_iterations,
        restarts=restarts,
    )
    set_memory_from_samples(layer, result.centroids, epsilon=epsilon)
    return result


def reset_slots(
    layer,
    slots,
    inputs,
    targets=None,
    split=1.0,
    epsilon=1e-3,
    seed=None,
    batch_size=512,
):
    """`MemoryLayer.reset_slots`, for any memory layer with a selector."""
    owner = f"{type(layer).__name__}.reset_slots"
    _check_built(layer, "reset_slots")
    slots = _slot_indices(slots, None, layer.memory_size, owner)
    split = number_in_range(split, "split", owner, low=0.0)
    batch_size = positive_int(batch_size, "batch_size", owner)
    inputs = np.asarray(keras.ops.convert_to_numpy(inputs))
    if inputs.ndim != 2 or len(inputs) == 0:
        raise ValueError(
            f"{owner}: `inputs` must have shape (n, features) with n >= 1, "
            f"got {inputs.shape}."
        )
    if targets is not None:
        # Checked before any weight changes.
        targets, _ = targets_array(layer, targets, "targets", owner)
        if len(targets) != len(inputs):
            raise ValueError(
                f"{owner}: `inputs` and `targets` must have the same number "
                f"of rows, got {len(inputs)} and {len(targets)}."
            )
    dense = layer.selector.output_dense
    hidden, winners = [], []
    for start in range(0, len(inputs), batch_size):
        h = layer.selector.hidden(inputs[start : start + batch_size])
        logits = keras.ops.convert_to_numpy(dense(h))
        hidden.append(keras.ops.convert_to_numpy(h))
        winners.append(logits.argmax(-1))
    kernel, bias, records = split_slots(
        keras.ops.convert_to_numpy(dense.kernel),
        keras.ops.convert_to_numpy(dense.bias) if dense.use_bias else None,
        np.concatenate(hidden),
        np.concatenate(winners),
        slots,
        split=split,
        rng=seed,
    )
    if not records:
        return []
    dense.kernel.assign(kernel.astype(dense.kernel.dtype))
    if bias is not None:
        dense.bias.assign(bias.astype(dense.bias.dtype))
    if targets is not None:
        set_memory_from_samples(
            layer,
            targets[[r["row"] for r in records]],
            slots=[r["slot"] for r in records],
            epsilon=epsilon,
        )
    return records
