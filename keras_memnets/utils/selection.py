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


def is_sparse_selection(y_pred):
    """Whether `y_pred` is a sparse selection: a tuple `(weights, indices)`.

    Only a tuple: a list is read as nested rows of a dense selection, as
    numpy reads it.
    """
    return isinstance(y_pred, tuple) and len(y_pred) == 2


def sparse_selection_rows(y_pred, owner, argument="y_pred"):
    """The rows of a sparse selection, one per read vector.

    A sparse selection is the read of a product-key memory: a tuple
    `(weights, indices)`, each `(batch, ..., heads, top_k)`, where each
    head's `top_k` weights sum to 1 (`softmax(scores)` of
    `ProductKeyMemory.lookup`) and `indices` holds the slots they read. The
    selection of one vector is the mean over its heads: a distribution over
    the slots whose mass on a slot is the sum of the weights of every head
    that reads it, divided by `heads`.

    Args:
        y_pred: a tuple `(weights, indices)`.
        owner: str. The class that takes it, for messages.
        argument: str. Its name, for messages.

    Returns:
        `(weights, indices, leading)`: float weights `(n, heads * top_k)`
        already divided by `heads`, int32 slot ids `(n, heads * top_k)`, and
        the leading shape `(batch, ...)` of one row per vector.

    Raises:
        ValueError: if the two shapes differ or are not
            `(batch, ..., heads, top_k)`.
        TypeError: if `indices` is not an integer tensor.
    """
    weights, indices = (ops.convert_to_tensor(t) for t in y_pred)
    shape, index_shape = tuple(weights.shape), tuple(indices.shape)
    if (
        len(shape) < 3
        or len(index_shape) != len(shape)
        or any(
            a is not None and b is not None and a != b
            for a, b in zip(shape, index_shape)
        )
    ):
        raise ValueError(
            f"{owner}: a sparse `{argument}` must be a pair (weights, "
            "indices) of the same shape (batch, ..., heads, top_k), got "
            f"shapes {shape} and {index_shape}."
        )
    if "int" not in str(indices.dtype):
        raise TypeError(
            f"{owner}: the indices of a sparse `{argument}` must be integer "
            f"slot ids, got dtype {indices.dtype}."
        )
    heads, top_k = shape[-2:]
    if heads is None or top_k is None:
        raise ValueError(
            f"{owner}: the last two axes (heads, top_k) of a sparse "
            f"`{argument}` must be known, got shape {shape}."
        )
    reads = heads * top_k
    leading = ops.shape(weights)[:-2]
    weights = ops.reshape(weights, (-1, reads)) / heads
    indices = ops.reshape(ops.cast(indices, "int32"), (-1, reads))
    return weights, indices, leading


def sparse_top_slot(weights, indices):
    """Each row's most selected slot and its mass, of a sparse selection.

    A slot read by several heads (or twice by one) carries the sum of its
    weights. Ties go to the smallest slot id, as `argmax` of the dense
    selection does. No tensor with one entry per slot is formed: each
    read's mass is summed over the reads of its row that name the same
    slot, comparing the row's reads with blocks of at most 64 of them.

    Args:
        weights: float tensor `(n, reads)`.
        indices: int tensor `(n, reads)`.

    Returns:
        `(slot, mass)`: int32 `(n,)` and float `(n,)`; for a batch of 0
        rows, two empty tensors.
    """
    reads = indices.shape[-1]
    mass = ops.zeros_like(weights)
    # Blocks of up to 64 reads bound the comparison tensor to (n, reads, 64).
    for start in range(0, reads, 64):
        block = slice(start, min(start + 64, reads))
        same = indices[:, :, None] == indices[:, None, block]
        mass = mass + ops.sum(
            ops.where(same, weights[:, None, block], 0.0), axis=-1
        )
    top = row_max(mass)
    # Largest mass first, then the smallest slot id among equal masses.
    big = ops.cast(2**31 - 1, indices.dtype)
    slot = ops.where(mass == top[:, None], indices, big)
    if 0 in tuple(slot.shape[:-1]):
        return ops.zeros((0,), "int32"), top
    return ops.cast(ops.min(slot, axis=-1), "int32"), top
