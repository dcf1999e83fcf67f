"""Argument checks shared by keras_memnets objects."""


def positive_int(value, argument, owner):
    """Returns `value` if it is a positive int, else raises a clear error.

    Args:
        value: the argument's value.
        argument: str. The argument's name, for the error message.
        owner: str. The class name of the object that takes the argument.

    Returns:
        `value`, unchanged.

    Raises:
        TypeError: if `value` is not an int (bools are refused).
        ValueError: if `value` is below 1.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{owner}: `{argument}` must be a positive int, got {value!r}."
        )
    if value < 1:
        raise ValueError(
            f"{owner}: `{argument}` must be a positive int, got {value}."
        )
    return value


def real_number(value, argument, owner, minimum=None, maximum=None):
    """Returns `value` as a float if it is a finite real number in range.

    Args:
        value: the argument's value (an int, a float or a numpy scalar).
        argument: str. The argument's name, for the error message.
        owner: str. The class name of the object that takes the argument.
        minimum: float or None. The smallest allowed value (inclusive).
        maximum: float or None. The value `value` must stay below
            (exclusive).

    Returns:
        `float(value)`.

    Raises:
        TypeError: if `value` is not a real number (bools are refused).
        ValueError: if `value` is NaN, infinite or out of range.
    """
    import math
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: `{argument}` must be a real number, got {value!r}."
        )
    value = float(value)
    low = "-inf" if minimum is None else repr(float(minimum))
    high = "inf" if maximum is None else repr(float(maximum))
    if (
        not math.isfinite(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value >= maximum)
    ):
        raise ValueError(
            f"{owner}: `{argument}` must be a finite number in "
            f"[{low}, {high}), got {value!r}."
        )
    return value
