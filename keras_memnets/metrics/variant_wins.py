"""Which of K variant predictions wins: a wins metric and a per-class table."""

import keras
import numpy as np
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.losses._variants import check_variant_shapes
from keras_memnets.losses._variants import deserialize_base_loss
from keras_memnets.losses._variants import resolve_base_loss
from keras_memnets.losses._variants import serialize_base_loss
from keras_memnets.losses._variants import variant_losses
from keras_memnets.utils.validation import non_negative_int
from keras_memnets.utils.validation import positive_int


@register
def best_variant(y_true, y_pred, base_loss="mse"):
    """Returns each sample's best variant: `argmin_k L[b, k]`, shape (batch,).

    `L[b, k]` is the base loss of variant k, averaged over the target axes,
    exactly as `keras_memnets.losses.SetMinLoss` computes it; the winner is
    taken without noise (as `SetMinLoss` does with `log_std=0`). Ties go to
    the lowest index.

    Args:
        y_true: target, shape `(batch, *target_shape)`.
        y_pred: variant predictions, shape `(batch, K, *target_shape)`.
        base_loss: str or callable. The per-sample loss function, as for
            `SetMinLoss`. Defaults to `"mse"`.

    Returns:
        An int tensor of shape `(batch,)` with values in `[0, K)`.

    Example:

    >>> y_true = np.zeros((2, 3), "float32")
    >>> y_pred = np.stack([np.ones((2, 3)), 0.1 * np.ones((2, 3))], axis=1)
    >>> keras.ops.convert_to_numpy(
    ...     keras_memnets.metrics.best_variant(y_true, y_pred)).tolist()
    [1, 1]
    """
    fn = resolve_base_loss(base_loss, "best_variant")
    y_true = ops.convert_to_tensor(y_true, dtype="float32")
    y_pred = ops.convert_to_tensor(y_pred, dtype="float32")
    check_variant_shapes(y_true.shape, y_pred.shape, "best_variant")
    return ops.argmin(variant_losses(y_true, y_pred, fn), axis=1)


def _entropy_bits(p, axis=-1):
    p = np.asarray(p, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)


@register
def class_winner_distribution(winners, labels, num_variants, num_classes=None):
    """Tabulates which variant wins the samples of each class.

    Args:
        winners: int array `(n,)`, each sample's winning variant (e.g. from
            `keras_memnets.metrics.best_variant`).
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

    Example:

    >>> table = keras_memnets.metrics.class_winner_distribution(
    ...     winners=np.array([0, 0, 1, 1]), labels=np.array([0, 0, 1, 1]),
    ...     num_variants=2)
    >>> float(table["conditional_entropy_bits"])
    0.0
    """
    winners = np.asarray(keras.ops.convert_to_numpy(winners)).astype("int64")
    labels = np.asarray(keras.ops.convert_to_numpy(labels)).astype("int64")
    if winners.ndim != 1 or labels.shape != winners.shape:
        raise ValueError(
            "class_winner_distribution: `winners` and `labels` must be 1-D "
            f"arrays of equal length; got shapes {winners.shape} and "
            f"{labels.shape}."
        )
    if winners.size and (winners.min() < 0 or winners.max() >= num_variants):
        raise ValueError(
            "class_winner_distribution: `winners` must lie in "
            f"[0, num_variants={num_variants}); got values in "
            f"[{winners.min()}, {winners.max()}]."
        )
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            "class_winner_distribution: `labels` must lie in "
            f"[0, num_classes={num_classes}); got values in "
            f"[{labels.min()}, {labels.max()}]."
        )
    counts = np.zeros((num_classes, num_variants), dtype="int64")
    np.add.at(counts, (labels, winners), 1)
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
    }


@register
class VariantWins(keras.metrics.Metric):
    """Share of samples won by one of K variants, accumulated over an epoch.

    For every sample the winner is the variant with the lowest base loss,
    computed as `keras_memnets.losses.SetMinLoss` computes it but without
    selection noise (as with `log_std=0`), so the metric reports the best
    variant rather than the noisy training assignment. `result()` is the
    share of (weighted) samples won by variant `variant`; a dead variant,
    one that never wins, shows as 0. The raw counts of all K variants are in
    the `wins` variable.

    The result is one scalar, so Keras names it like any other metric: in a
    model with several outputs the log key gets the output's name as a
    prefix (`"left_variant_wins_0"`, `"right_variant_wins_0"`), and two
    outputs never overwrite each other's keys. Track every variant with one
    metric each:
    `metrics=[VariantWins(K, k) for k in range(K)]`.

    Args:
        num_variants: int. Number of variants K (the size of axis 1 of
            `y_pred`), `>= 2`.
        variant: int in `[0, K)`. The variant whose share of wins is the
            result.
        base_loss: str or callable. The per-sample loss function, as for
            `SetMinLoss`. Defaults to `"mse"`.
        name: str or `None`. Metric name; defaults to
            ``f"variant_wins_{variant}"``.
        dtype: optional dtype of the metric's computations.

    Call arguments:
        y_true: target, shape `(batch, *target_shape)`.
        y_pred: variant predictions, shape `(batch, K, *target_shape)`.
        sample_weight: optional per-sample weights, shape `(batch,)`.

    Returns:
        A scalar: the share of samples won by `variant`.

    Example:

    >>> wins = keras_memnets.metrics.VariantWins(num_variants=2, variant=1)
    >>> wins.update_state(np.zeros((2, 3)),
    ...                   np.stack([np.ones((2, 3)), np.zeros((2, 3))], 1))
    >>> wins.name, float(wins.result())
    ('variant_wins_1', 1.0)

    Reference:
        The guide `docs/guides/set_min.rst`.
    """

    def __init__(
        self, num_variants, variant, base_loss="mse", name=None, dtype=None
    ):
        num_variants = positive_int(num_variants, "num_variants", "VariantWins")
        if num_variants < 2:
            raise ValueError(
                "VariantWins: `num_variants` must be an int >= 2, got "
                f"{num_variants}."
            )
        variant = non_negative_int(variant, "variant", "VariantWins")
        if variant >= num_variants:
            raise ValueError(
                f"VariantWins: `variant` must be in [0, num_variants="
                f"{num_variants}), got {variant}."
            )
        if name is None:
            name = f"variant_wins_{variant}"
        super().__init__(name=name, dtype=dtype)
        self.num_variants = num_variants
        self.variant = variant
        self._base_loss_fn = resolve_base_loss(base_loss, "VariantWins")
        self.base_loss = base_loss
        self.wins = self.add_variable(
            shape=(num_variants,),
            initializer="zeros",
            dtype="float32",
            name="wins",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true, dtype="float32")
        y_pred = ops.convert_to_tensor(y_pred, dtype="float32")
        num_variants = check_variant_shapes(
            y_true.shape, y_pred.shape, "VariantWins"
        )
        if num_variants != self.num_variants:
            raise ValueError(
                f"VariantWins: `y_pred` has {num_variants} variants along "
                f"axis 1, but the metric was built with num_variants="
                f"{self.num_variants}; got y_pred.shape={y_pred.shape}."
            )
        losses = variant_losses(y_true, y_pred, self._base_loss_fn)
        winners = ops.argmin(losses, axis=1)
        one_hot = ops.one_hot(winners, self.num_variants, dtype="float32")
        if sample_weight is not None:
            sample_weight = ops.reshape(
                ops.convert_to_tensor(sample_weight, dtype="float32"), (-1, 1)
            )
            one_hot = one_hot * sample_weight
        self.wins.assign_add(ops.sum(one_hot, axis=0))

    def result(self):
        total = ops.maximum(ops.sum(self.wins), 1e-12)
        return self.wins[self.variant] / total

    def reset_state(self):
        self.wins.assign(ops.zeros((self.num_variants,), dtype="float32"))

    def get_config(self):
        return {
            "num_variants": self.num_variants,
            "variant": self.variant,
            "base_loss": serialize_base_loss(self.base_loss),
            "name": self.name,
            "dtype": self.dtype,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "base_loss" in config:
            config["base_loss"] = deserialize_base_loss(config["base_loss"])
        return cls(**config)
