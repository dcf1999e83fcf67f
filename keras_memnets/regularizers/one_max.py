"""The 1-max term as an activity regularizer of a selection."""

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.selection import check_selection
from keras_memnets.utils.selection import check_selection_shape
from keras_memnets.utils.selection import row_max
from keras_memnets.utils.validation import number_in_range


@register
class OneMax(keras.regularizers.Regularizer):
    """`weight * Σ_rows (1 - max_k p_k)`: the 1-max term as a regularizer.

    The same term as `keras_memnets.losses.OneMaxLoss`, for use as the
    `selection_regularizer` of `keras_memnets.layers.MemoryLayer` or as any
    layer's `activity_regularizer`. Like Keras' `L1`/`L2`, the value is a sum
    over the rows; Keras divides an activity regularizer by the batch size
    (and `MemoryLayer` does the same for its selection), so the loss that is
    added equals `weight * OneMaxLoss()(None, p)`. The input is checked as
    `OneMaxLoss` checks it; a batch of 0 rows gives 0.

    Args:
        weight: float. Factor of the term, >= 0.

    Call arguments:
        x: tensor `(batch, ..., memory_size)` of probabilities.

    Returns:
        A scalar tensor.

    Example:

    >>> regularizer = keras_memnets.regularizers.OneMax(0.5)
    >>> float(regularizer(np.array([[1.0, 0.0], [0.5, 0.5]])))
    0.25

    Reference:
        The guide *Memory networks* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """

    def __init__(self, weight=1.0):
        self.weight = number_in_range(
            weight, "weight", "OneMax", low=0.0, finite=True
        )

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
            # Under mixed precision the term is added to float32 losses;
            # TensorFlow refuses to sum float16 and float32 tensors.
            x = ops.cast(x, "float32")
        check_selection_shape(x.shape, None, "OneMax", "x")
        return check_selection(
            x, "OneMax", "x", value=self.weight * ops.sum(1.0 - row_max(x))
        )

    def get_config(self):
        return {"weight": self.weight}
