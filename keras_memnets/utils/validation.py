"""Argument checks shared by keras_memnets objects."""

import math

import numpy as np


def positive_int(value, argument, owner):
    """Returns `value` if it is a positive int, else raises a clear error.

    Args:
        value: the argument's value.
        argument: str. The argument's name, for the error message.
        owner: str. The class name of the object that takes the argument.

    Returns:
        `value` as a Python int.

    Raises:
        TypeError: if `value` is not an int (bools are refused; numpy
            integer scalars are accepted and returned as `int`).
        ValueError: if `value` is below 1.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{owner}: `{argument}` must be a positive int, got {value!r}."
        )
    if value < 1:
        raise ValueError(f"{owner}: `{argument}` must be a positive int, got {value}.")
    return int(value)


def _is_number(value):
    return not isinstance(value, bool) and isinstance(
        value, (int, float, np.integer, np.floating)
    )


def non_negative_float(value, argument, owner):
    """Returns `float(value)` if it is a finite number `>= 0`.

    Raises:
        TypeError: if `value` is not a number (bools are refused).
        ValueError: if `value` is negative, NaN or infinite.
    """
    if not _is_number(value):
        raise TypeError(
            f"{owner}: `{argument}` must be a non-negative float, got "
            f"{value!r} of type {type(value).__name__}."
        )
    if not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(
            f"{owner}: `{argument}` must be a finite float >= 0, got {value!r}."
        )
    return float(value)


def float_in_range(value, argument, owner, low, high):
    """Returns `float(value)` if it is a number in `[low, high]`.

    Raises:
        TypeError: if `value` is not a number (bools are refused).
        ValueError: if `value` lies outside `[low, high]` or is NaN.
    """
    if not _is_number(value):
        raise TypeError(
            f"{owner}: `{argument}` must be a float in [{low}, {high}], got "
            f"{value!r} of type {type(value).__name__}."
        )
    if not low <= float(value) <= high:
        raise ValueError(
            f"{owner}: `{argument}` must be in [{low}, {high}], got {value!r}."
        )
    return float(value)


def optional_int(value, argument, owner):
    """Returns `value` as an int, or `None`; refuses other types."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{owner}: `{argument}` must be an int or None, got {value!r} of "
            f"type {type(value).__name__}."
        )
    return int(value)
