"""The 1-max loss: pushes a softmax selection towards a one-hot vector."""

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.selection import check_selection
from keras_memnets.utils.selection import check_selection_shape
from keras_memnets.utils.selection import row_max


def one_max(selection):
    """Returns `1 - max_k selection[..., k]` per row (the last axis removed)."""
    return 1.0 - row_max(selection)


@register
class OneMaxLoss(keras.losses.Loss):
    """Mean over the batch of `1 - max_k p_k` of a probability vector.

    The loss is 0 exactly when the selection is a unit vector and approaches
    `1 - 1/memory_size` when it is uniform. Its gradient reaches only the
    largest entry of each row (raising it), so it reinforces whichever slot
    already leads, and is prone to local minima.

    `y_true` is ignored, so the loss can be attached to a selection output in
    `compile` (pass `None` or any array of the right batch size as its
    target). `y_pred` must have rank >= 2 (checked when the loss is called)
    and hold probability rows, entries >= 0 summing to 1 within 0.01 (a
    `ValueError` naming the class, eagerly, or a failed compiled training
    step with the same message; see
    `keras_memnets.utils.validation.check_values`).

    Args:
        name: str. Name of the loss.
        reduction: str. Keras loss reduction; the default
            `"sum_over_batch_size"` gives the mean over the batch.
        dtype: optional dtype of the loss computation.

    Call arguments:
        y_true: ignored.
        y_pred: tensor `(batch, ..., memory_size)` of probabilities.
        sample_weight: optional per-sample weights.

    Returns:
        The scalar loss (with the default reduction).

    Example:

    >>> loss = keras_memnets.losses.OneMaxLoss()
    >>> float(loss(None, np.array([[1.0, 0.0], [0.5, 0.5]])))
    0.25

    Reference:
        The guide *Memory networks* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """

    def __init__(
        self, name="one_max", reduction="sum_over_batch_size", dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._dtype_argument = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        # y_true is ignored; Keras' base class would still convert it, which
        # fails for `None`. A zero of the right batch shape stands in.
        if y_true is None:
            y_true = ops.zeros_like(y_pred)
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def call(self, y_true, y_pred):
        check_selection_shape(y_pred.shape, None, "OneMaxLoss")
        return check_selection(y_pred, "OneMaxLoss", value=one_max(y_pred))

    def get_config(self):
        return {**super().get_config(), "dtype": self._dtype_argument}
