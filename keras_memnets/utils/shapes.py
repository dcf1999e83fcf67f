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
    if len(input_shape) < min_rank:
        raise ValueError(
            f"{owner}: `{argument}` must have rank >= {min_rank} "
            f"(batch, ..., features), got shape {tuple(input_shape)}."
        )
    if input_shape[-1] is None:
        raise ValueError(
            f"{owner}: the last axis of `{argument}` must be known, got shape "
            f"{tuple(input_shape)}."
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
