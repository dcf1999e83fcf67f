"""Binary cross-entropy summed over features and averaged over the batch."""

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.validation import boolean
from keras_memnets.utils.validation import check_values


@register
class SummedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy summed over the feature axis, mean over the batch.

    Per example `-sum_j [y_j log p_j + (1 - y_j) log(1 - p_j)]` over the
    last axis, then the mean over the batch (PyTorch's
    `BCELoss(reduction="sum") / batch_size`): for 784-pixel MNIST digits the
    value is in nats per image, 784 times
    `keras.losses.BinaryCrossentropy()`, whatever the data's width. With
    grey-valued targets the loss cannot reach 0: its minimum is the targets'
    own entropy, `keras_memnets.analysis.bce_floor(targets)`. Predictions
    are clipped to `[epsilon, 1 - epsilon]` as in Keras'
    `binary_crossentropy`.

    Targets must lie in `[0, 1]` (scale 0-255 images by 1/255): other
    targets raise a `ValueError` naming the class, eagerly, or fail the
    compiled training step with the same message (see
    `keras_memnets.utils.validation.check_values`).

    Args:
        from_logits: bool. Whether `y_pred` holds logits. Defaults to
            `False` (probabilities).
        name: str. Name of the loss.
        reduction: str. Keras loss reduction over the per-example sums; the
            default `"sum_over_batch_size"` gives the batch mean.
        dtype: optional dtype of the loss computation.

    Call arguments:
        y_true: tensor `(batch, ..., features)` of targets in `[0, 1]`.
        y_pred: tensor of the same shape: probabilities (or logits).
        sample_weight: optional per-example weights.

    Returns:
        The scalar loss (with the default reduction).

    Example:

    >>> loss = keras_memnets.losses.SummedBinaryCrossentropy()
    >>> y = np.array([[0.0, 1.0, 0.5]])
    >>> round(float(loss(y, np.array([[0.5, 0.5, 0.5]]))), 4)
    2.0794

    Reference:
        The guide *Over-fitting an MNIST autoencoder* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """

    def __init__(
        self,
        from_logits=False,
        name="summed_binary_crossentropy",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = boolean(
            from_logits, "from_logits", "SummedBinaryCrossentropy"
        )
        self._dtype_argument = dtype

    def call(self, y_true, y_pred):
        if len(y_pred.shape) < 1 or tuple(y_true.shape) != tuple(y_pred.shape):
            _check_shapes(y_true.shape, y_pred.shape)
        y_true = ops.cast(y_true, y_pred.dtype)
        in_range = ops.logical_and(y_true >= 0.0, y_true <= 1.0)
        elementwise = ops.binary_crossentropy(
            ops.where(in_range, y_true, ops.zeros_like(y_true)),
            y_pred,
            from_logits=self.from_logits,
        )
        return check_values(
            in_range,
            "SummedBinaryCrossentropy: `y_true` must hold targets in [0, 1] "
            "(scale 0-255 images by 1/255), got values outside [0, 1] or "
            "not finite.",
            ops.sum(elementwise, axis=-1),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "dtype": self._dtype_argument,
        }


def _check_shapes(true_shape, pred_shape):
    """Raises unless the static shapes are equal where both are known."""
    true_shape, pred_shape = tuple(true_shape), tuple(pred_shape)
    if len(pred_shape) >= 1 and len(true_shape) == len(pred_shape):
        if all(
            t is None or p is None or t == p
            for t, p in zip(true_shape, pred_shape)
        ):
            return
    raise ValueError(
        "SummedBinaryCrossentropy: `y_true` and `y_pred` must have the same "
        f"shape (batch, ..., features), got {true_shape} and {pred_shape}."
    )
