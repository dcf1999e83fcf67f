"""Which of K variant predictions wins, per sample and per class."""

import keras
import numpy as np
from keras import ops

from keras_memnets.losses._variants import check_variant_shapes
from keras_memnets.losses._variants import resolve_base_loss
from keras_memnets.losses._variants import variant_losses
from keras_memnets.utils.validation import int_in_range
from keras_memnets.utils.validation import positive_int

# The winner of a sample whose variant losses are not all finite.
NO_WINNER = -1


def best_variant(y_true, y_pred, base_loss="mse"):
    """Returns each sample's best variant: `argmin_k L[b, k]`, shape (batch,).

    `L[b, k]` is the base loss of variant k, averaged over the target axes,
    exactly as `keras_memnets.losses.SetMinLoss` computes it; the winner is
    taken without noise (as `SetMinLoss` does with `log_std=0`). Ties go to
    the lowest index. A sample whose losses are not all finite (a NaN or an
    infinity in its target or predictions) gets -1.

    Args:
        y_true: target, shape `(batch, *target_shape)`.
        y_pred: variant predictions, shape `(batch, K, *target_shape)`.
        base_loss: str or callable. The per-sample loss function, as for
            `SetMinLoss`. Defaults to `"mse"`.

    Returns:
        An int tensor of shape `(batch,)` with values in `[0, K)`, or -1.

    Example:

    >>> y_true = np.zeros((2, 3), "float32")
    >>> y_pred = np.stack([np.ones((2, 3)), 0.1 * np.ones((2, 3))], axis=1)
    >>> keras.ops.convert_to_numpy(
    ...     keras_memnets.analysis.best_variant(y_true, y_pred)).tolist()
    [1, 1]
    """
    fn = resolve_base_loss(base_loss, "best_variant")
    y_true = ops.convert_to_tensor(y_true, dtype="float32")
    y_pred = ops.convert_to_tensor(y_pred, dtype="float32")
    check_variant_shapes(y_true.shape, y_pred.shape, "best_variant")
    losses = variant_losses(y_true, y_pred, fn)
    finite = ops.all(ops.isfinite(losses), axis=1)
    winners = ops.argmin(
        ops.where(finite[:, None], losses, ops.zeros_like(losses)), axis=1
    )
    return ops.where(finite, winners, ops.cast(NO_WINNER, winners.dtype))


def _entropy_bits(p, axis=-1):
    p = np.asarray(p, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)


def class_winner_distribution(winners, labels, num_variants, num_classes=None):
    """Tabulates which variant wins the samples of each class.

    Args:
        winners: int array `(n,)`, each sample's winning variant (e.g. from
            `keras_memnets.analysis.best_variant`); samples with -1 (no
            winner: non-finite losses) are left out and counted.
        labels: int array `(n,)`, each sample's class.
        num_variants: int. Number of variants K.
        num_classes: int or `None`. Number of classes; defaults to
            `max(labels) + 1`.

    Returns:
        A dict of numpy values:

        - `"counts"`: `(num_classes, K)` int, samples of class c won by k.
        - `"distribution"`: `(num_classes, K)`, each row normalized to sum
          to 1 (rows of absent classes are 0).
        - `"class_entropy_bits"`: `(num_classes,)`, the entropy of each
          row, in bits (0: one variant wins the whole class;
          `log2(K)`: uniform).
        - `"conditional_entropy_bits"`: `H(winner | class)`, the class-
          frequency-weighted mean of the row entropies.
        - `"winner_entropy_bits"`: `H(winner)` over all samples.
        - `"mutual_information_bits"`: `I(class; winner) = H(winner) -
          H(winner | class)`. Unlike the conditional entropy this does not
          drop merely because a few variants win everything.
        - `"no_winner"`: the number of samples left out (winner -1).

    Example:

    >>> table = keras_memnets.analysis.class_winner_distribution(
    ...     winners=np.array([0, 0, 1, 1]), labels=np.array([0, 0, 1, 1]),
    ...     num_variants=2)
    >>> float(table["conditional_entropy_bits"])
    0.0
    """
    owner = "class_winner_distribution"
    num_variants = positive_int(num_variants, "num_variants", owner)
    winners = np.asarray(keras.ops.convert_to_numpy(winners)).astype("int64")
    labels = np.asarray(keras.ops.convert_to_numpy(labels)).astype("int64")
    if winners.ndim != 1 or labels.shape != winners.shape:
        raise ValueError(
            f"{owner}: `winners` and `labels` must be 1-D arrays of equal "
            f"length, got shapes {winners.shape} and {labels.shape}."
        )
    if winners.size and (
        winners.min() < NO_WINNER or winners.max() >= num_variants
    ):
        raise ValueError(
            f"{owner}: `winners` must lie in [0, num_variants="
            f"{num_variants}) or be -1, got values in "
            f"[{winners.min()}, {winners.max()}]."
        )
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    else:
        num_classes = int_in_range(num_classes, "num_classes", owner, low=0)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{owner}: `labels` must lie in [0, num_classes={num_classes}), "
            f"got values in [{labels.min()}, {labels.max()}]."
        )
    kept = winners != NO_WINNER
    counts = np.zeros((num_classes, num_variants), dtype="int64")
    np.add.at(counts, (labels[kept], winners[kept]), 1)
    per_class = counts.sum(axis=1, keepdims=True)
    distribution = np.divide(
        counts, per_class, out=np.zeros(counts.shape), where=per_class > 0
    )
    class_entropy = _entropy_bits(distribution)
    total = max(int(counts.sum()), 1)
    class_share = per_class[:, 0] / total
    conditional = float((class_share * class_entropy).sum())
    winner_entropy = float(_entropy_bits(counts.sum(axis=0) / total))
    return {
        "counts": counts,
        "distribution": distribution,
        "class_entropy_bits": class_entropy,
        "conditional_entropy_bits": conditional,
        "winner_entropy_bits": winner_entropy,
        "mutual_information_bits": winner_entropy - conditional,
        "no_winner": int(np.sum(~kept)),
    }
