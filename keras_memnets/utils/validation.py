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
        raise ValueError(f"{owner}: `{argument}` must be a positive int, got {value}.")
    return value
