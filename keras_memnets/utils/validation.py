"""Argument checks shared by keras_memnets objects.

One policy for every public object: a wrong *type* raises `TypeError`, a
wrong *value* raises `ValueError`, and the message reads
``"{owner}: `{argument}` must be {expectation}, got {value!r}."`` so that it
names the object, the argument and what was expected. Numpy scalars are
accepted wherever Python numbers are (`np.int64(3)` is an int here).
"""

import numbers

from keras import activations


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(value, argument, owner):
    """Returns `value` as an `int` if it is a positive integer, else raises.

    Args:
        value: the argument's value (a Python or numpy integer).
        argument: str. The argument's name, for the error message.
        owner: str. The class or function that takes the argument.

    Returns:
        `int(value)`.

    Raises:
        TypeError: if `value` is not an integer (bools are refused).
        ValueError: if `value` is below 1.
    """
    if not _is_int(value):
        raise TypeError(
            f"{owner}: `{argument}` must be a positive int, got {value!r}."
        )
    if value < 1:
        raise ValueError(
            f"{owner}: `{argument}` must be a positive int, got {value}."
        )
    return int(value)


def non_negative_int(value, argument, owner):
    """Returns `value` as an `int` if it is an integer >= 0, else raises.

    Args:
        value: the argument's value.
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.

    Returns:
        `int(value)`.

    Raises:
        TypeError: if `value` is not an integer.
        ValueError: if `value` is negative.
    """
    if not _is_int(value):
        raise TypeError(
            f"{owner}: `{argument}` must be a non-negative int, got {value!r}."
        )
    if value < 0:
        raise ValueError(
            f"{owner}: `{argument}` must be a non-negative int, got {value}."
        )
    return int(value)


def number_in_range(
    value,
    argument,
    owner,
    low=None,
    high=None,
    low_inclusive=True,
    high_inclusive=True,
):
    """Returns `value` as a `float` if it is a real number in a range.

    Args:
        value: the argument's value (a Python or numpy real number).
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.
        low: optional lower bound.
        high: optional upper bound.
        low_inclusive: bool. Whether `low` itself is allowed.
        high_inclusive: bool. Whether `high` itself is allowed.

    Returns:
        `float(value)`.

    Raises:
        TypeError: if `value` is not a real number (bools are refused).
        ValueError: if `value` is NaN or outside the range.
    """
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    interval = (
        f"{left}{'-inf' if low is None else low}, "
        f"{'inf' if high is None else high}{right}"
    )
    if not _is_number(value):
        raise TypeError(
            f"{owner}: `{argument}` must be a number in {interval}, "
            f"got {value!r}."
        )
    value = float(value)
    too_low = low is not None and (
        value < low or (not low_inclusive and value == low)
    )
    too_high = high is not None and (
        value > high or (not high_inclusive and value == high)
    )
    if value != value or too_low or too_high:
        raise ValueError(
            f"{owner}: `{argument}` must be a number in {interval}, "
            f"got {value}."
        )
    return value


def one_of(value, argument, owner, choices):
    """Returns `value` if it is one of `choices`, else raises `ValueError`.

    Args:
        value: the argument's value.
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.
        choices: sequence of allowed values.

    Returns:
        `value`.
    """
    if value not in tuple(choices):
        raise ValueError(
            f"{owner}: `{argument}` must be one of "
            f"{', '.join(repr(c) for c in choices)}, got {value!r}."
        )
    return value


def get_activation(value, argument, owner):
    """`keras.activations.get` with an error that names the owner.

    Args:
        value: str, callable, dict (a serialized activation) or `None`.
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.

    Returns:
        The activation function.

    Raises:
        ValueError: if `value` is an unknown activation name.
        TypeError: if `value` cannot be an activation at all.
    """
    if value is not None and not isinstance(value, (str, dict)):
        if not callable(value):
            raise TypeError(
                f"{owner}: `{argument}` must be an activation name, a "
                f"callable or None, got {value!r}."
            )
    try:
        return activations.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{owner}: unknown activation {value!r} for `{argument}`; use a "
            "name from `keras.activations` (e.g. 'relu', 'sigmoid', "
            "'softmax'), a callable or None."
        ) from error
