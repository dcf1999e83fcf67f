"""Tensor helpers for a softmax selection `(batch, ..., memory_size)`.

Shared by the 1-max loss and regularizer and the selection metrics; every
helper accepts a batch of 0 rows.
"""

from keras import ops

from keras_memnets.utils.validation import check_values

# Tolerance on `sum(row) == 1` and `row >= 0` for a selection row to count as
# a probability distribution (loose enough for float16 softmax outputs).
DISTRIBUTION_TOLERANCE = 1e-2


def row_max(x):
    """`ops.max(x, axis=-1)`, also for a batch of 0 rows.

    Keras' `ops.max` refuses an empty tensor on TensorFlow (eagerly) and
    PyTorch; the maximum over each row of no rows is an empty tensor.

    Args:
        x: tensor `(..., n)`.

    Returns:
        A tensor `x.shape[:-1]`.
    """
    if 0 in tuple(x.shape[:-1]):
        return ops.zeros(tuple(x.shape[:-1]), dtype=x.dtype)
    return ops.max(x, axis=-1)


def is_distribution(rows, tolerance=DISTRIBUTION_TOLERANCE):
    """Whether each row is a probability distribution, within `tolerance`.

    Args:
        rows: tensor `(..., n)`.
        tolerance: float. Allowed negative entries and error of the sum.

    Returns:
        A boolean tensor `rows.shape[:-1]`: no entry below `-tolerance` and
        a sum within `tolerance` of 1 (False for a row with a NaN).
    """
    return ops.logical_and(
        ops.all(rows >= -tolerance, axis=-1),
        ops.abs(ops.sum(rows, axis=-1) - 1.0) <= tolerance,
    )


def is_finite_row(rows):
    """Whether each row is all finite: a boolean `rows.shape[:-1]`."""
    return ops.all(ops.isfinite(rows), axis=-1)


def check_selection_shape(shape, memory_size, owner, argument="y_pred"):
    """Checks statically that `shape` is `(batch, ..., memory_size)`.

    Args:
        shape: tuple. The static shape of a selection.
        memory_size: int or `None`. The expected last axis (`None`: any).
        owner: str. The class that takes the selection, for the message.
        argument: str. The selection's name, for the message.

    Raises:
        ValueError: if the rank is below 2 or the last axis is known and
            differs from `memory_size`.
    """
    shape = tuple(shape)
    last = "memory_size" if memory_size is None else memory_size
    if len(shape) < 2 or (
        memory_size is not None
        and shape[-1] is not None
        and shape[-1] != memory_size
    ):
        raise ValueError(
            f"{owner}: `{argument}` must have shape (batch, ..., {last}), "
            f"got shape {shape}."
        )


def check_selection(x, owner, argument="y_pred", value=None):
    """Checks that `x` holds probability rows `(batch, ..., memory_size)`.

    Rows with a NaN or an infinity pass (a loss of them is NaN, as for any
    Keras loss). The rank is checked statically; the values with
    `keras_memnets.utils.validation.check_values` (eagerly a `ValueError`,
    inside a compiled step a failed step).

    Args:
        x: tensor.
        owner: str. The class that takes `x`, for the message.
        argument: str. The name of `x`, for the message.
        value: optional tensor computed from `x` (a loss), passed through
            `check_values`.

    Returns:
        `value`, as `check_values` returns it.
    """
    check_selection_shape(x.shape, None, owner, argument)
    # A row with a NaN or an infinity passes: the loss is then NaN, as any
    # Keras loss of a diverged model, which `fit` shows.
    return check_values(
        ops.logical_or(is_distribution(x), ops.logical_not(is_finite_row(x))),
        f"{owner}: `{argument}` must hold probability rows (entries >= 0 "
        f"summing to 1 on the last axis, e.g. a softmax), got rows that are "
        "not.",
        value,
    )
