"""VariantWins: the share of samples that one of K variants wins."""

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.losses._variants import base_loss_from_config
from keras_memnets.losses._variants import check_variant_shapes
from keras_memnets.losses._variants import resolve_base_loss
from keras_memnets.losses._variants import serialize_base_loss
from keras_memnets.losses._variants import variant_losses
from keras_memnets.utils.validation import int_in_range


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

    A sample whose variant losses are not all finite (a NaN or an infinity
    in `y_true` or `y_pred`) is excluded: it wins for no variant.

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
        The guide *Set-min random loss and K-variant networks* on the docs
        site, https://keras-memnets.readthedocs.io/.
    """

    def __init__(
        self, num_variants, variant, base_loss="mse", name=None, dtype=None
    ):
        num_variants = int_in_range(
            num_variants, "num_variants", "VariantWins", low=2
        )
        variant = int_in_range(
            variant, "variant", "VariantWins", low=0, high=num_variants - 1
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
        # A sample whose variant losses are not all finite wins nothing.
        finite = ops.all(ops.isfinite(losses), axis=1)
        losses = ops.where(finite[:, None], losses, ops.zeros_like(losses))
        winners = ops.argmin(losses, axis=1)
        one_hot = ops.one_hot(winners, self.num_variants, dtype="float32")
        one_hot = one_hot * ops.cast(finite, "float32")[:, None]
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
        return base_loss_from_config(cls, config)
