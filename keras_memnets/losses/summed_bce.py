"""Binary cross-entropy summed over features and averaged over the batch."""

import keras
from keras import ops

from keras_memnets.api_export import register


@register
class SummedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy summed over the feature axis, mean over the batch.

    The reconstruction loss of the research note (PyTorch's
    `BCELoss(reduction="sum") / batch_size`): per example,
    `-sum_j [y_j log p_j + (1 - y_j) log(1 - p_j)]` over the last axis, then
    the mean over the batch. For 784-pixel MNIST digits the value is in nats
    per image, `784` times `keras.losses.BinaryCrossentropy()`.

    Core Keras has no setting that gives exactly this:
    `keras.losses.BinaryCrossentropy` always takes the *mean* over the last
    axis, and its `reduction="sum"` sums over the batch as well. (Scaling by
    `loss_weights=784` in `compile` gives the same number only for
    784 features and ties the loss to the data's width.)

    With grey-valued targets the loss cannot reach 0: its minimum is the
    targets' own entropy, `keras_memnets.analysis.bce_floor(targets)`.
    Predictions are clipped to `[epsilon, 1 - epsilon]` like Keras'
    `binary_crossentropy` (`keras.config.epsilon()`, `1e-7`).

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
        The guide `docs/guides/overfit_capacity.rst`.
    """

    def __init__(
        self,
        from_logits=False,
        name="summed_binary_crossentropy",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not isinstance(from_logits, bool):
            raise TypeError(
                "SummedBinaryCrossentropy: `from_logits` must be a bool; got "
                f"{from_logits!r}."
            )
        self.from_logits = from_logits
        self._dtype_argument = dtype

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        elementwise = ops.binary_crossentropy(
            y_true, y_pred, from_logits=self.from_logits
        )
        return ops.sum(elementwise, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "dtype": self._dtype_argument,
        }
