"""Shape helpers shared by keras_memnets layers."""

import numbers

from keras import ops


def standardize_units(units, argument, owner):
    """Returns `units` as an int or a tuple of positive ints, or raises.

    Args:
        units: int or tuple/list of ints (Python or numpy integers).
        argument: str. The argument's name, for the error message.
        owner: str. The layer's class name, for the error message.

    Returns:
        `units` as an `int` (when given an integer) or a tuple of ints.

    Raises:
        TypeError: if `units` is not an integer or a sequence of integers.
        ValueError: if any entry is below 1, or the sequence is empty.
    """

    def is_int(value):
        return isinstance(value, numbers.Integral) and not isinstance(
            value, bool
        )

    expected = "a positive int or a non-empty tuple of positive ints"
    if is_int(units):
        if units < 1:
            raise ValueError(
                f"{owner}: `{argument}` must be {expected}, got {units}."
            )
        return int(units)
    if isinstance(units, (tuple, list)):
        if not units:
            raise ValueError(
                f"{owner}: `{argument}` must be {expected}, got {units!r}."
            )
        if not all(is_int(u) for u in units):
            raise TypeError(
                f"{owner}: `{argument}` must be {expected}, got {units!r}."
            )
        if any(u < 1 for u in units):
            raise ValueError(
                f"{owner}: every entry of `{argument}` must be positive, "
                f"got {tuple(units)}."
            )
        return tuple(int(u) for u in units)
    raise TypeError(f"{owner}: `{argument}` must be {expected}, got {units!r}.")


def units_shape(units):
    """Returns `units` (int or tuple) as a tuple."""
    return (units,) if isinstance(units, int) else tuple(units)


def check_min_rank(input_shape, min_rank, argument, owner):
    """Raises `ValueError` unless a shape has rank >= `min_rank` and a known
    last axis.

    Args:
        input_shape: tuple. The shape to check.
        min_rank: int. The smallest allowed rank.
        argument: str. The input's name, for the error message.
        owner: str. The layer's class name, for the error message.
    """
    check_input_shape(input_shape, owner, argument, min_rank=min_rank)


def check_input_shape(
    shape,
    owner,
    argument="inputs",
    min_rank=2,
    ranks=None,
    layout="(batch, ..., features)",
    axis=-1,
    size=None,
):
    """Raises a `ValueError` naming the layer unless an input shape fits.

    Layers check their input shapes with this (in `build`, `call` and
    `compute_output_shape`) instead of a `keras.InputSpec`, whose errors
    name the layer instance or an inner sub-layer rather than the class and
    the argument.

    Args:
        shape: the input's shape (a tuple, possibly holding `None`).
        owner: str. The layer's class name.
        argument: str. The input's name.
        min_rank: int. The smallest allowed rank (when `ranks` is `None`).
        ranks: optional tuple of the allowed ranks.
        layout: str. The expected layout, shown in the rank error.
        axis: int. The axis that must be known (the features).
        size: optional int. The size `axis` must have (the width the layer
            was built for).
    """
    shape = tuple(shape)
    if ranks is None:
        fits, expected = len(shape) >= min_rank, f"rank >= {min_rank}"
    else:
        fits = len(shape) in ranks
        expected = "rank " + " or ".join(str(r) for r in ranks)
    if not fits:
        raise ValueError(
            f"{owner}: `{argument}` must have {expected} {layout}, got shape "
            f"{shape}."
        )
    where = "last axis" if axis == -1 else f"axis {axis}"
    if shape[axis] is None:
        raise ValueError(
            f"{owner}: `{argument}` must have a known {where}, got shape "
            f"{shape}."
        )
    if size is not None and shape[axis] != size:
        raise ValueError(
            f"{owner}: `{argument}` must have {where} {size}, as when the "
            f"layer was built, got {shape[axis]} (shape {shape})."
        )


def reshape_last_axis(tensor, batch_like, units):
    """Reshapes `(batch, ..., prod(units))` to `(batch, ..., *units)`.

    Uses a static shape (no shape ops in a traced graph) when the inner axes
    of `batch_like` are known, and `ops.shape` otherwise.

    Args:
        tensor: tensor whose last axis has `prod(units)` entries.
        batch_like: tensor whose shape without its last axis gives the
            leading axes of the result.
        units: tuple of ints. The trailing shape of the result.

    Returns:
        The reshaped tensor.
    """
    inner = tuple(batch_like.shape[1:-1])
    if all(d is not None for d in inner):
        return ops.reshape(tensor, (-1,) + inner + tuple(units))
    return ops.reshape(tensor, tuple(ops.shape(batch_like)[:-1]) + tuple(units))


def unless_empty(tensor, compute, empty):
    """`compute()` unless `tensor` has no rows (batch size 0), else `empty()`.

    A statically known batch size (eager calls, JAX, PyTorch) picks the
    branch in Python; an unknown one (a TensorFlow graph) picks it at run
    time with `keras.ops.cond`, so ops that cannot take an empty batch (a
    reduction over it, a gather from it) never run on one.

    Args:
        tensor: the batch, rows on axis 0.
        compute: callable returning the result for a non-empty batch.
        empty: callable returning the result for an empty batch, with the
            same structure, dtypes and (apart from the batch axis) shapes.

    Returns:
        The result of `compute` or `empty`.
    """
    rows = tensor.shape[0]
    if rows is not None:
        return compute() if rows > 0 else empty()
    return ops.cond(ops.shape(tensor)[0] > 0, compute, empty)
