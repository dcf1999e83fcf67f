"""Argument checks shared by keras_memnets objects.

One policy for every public object: a wrong *type* raises `TypeError`, a
wrong *value* raises `ValueError`, and the message reads
``"{owner}: `{argument}` must be {expectation}, got {value!r}."`` so that it
names the object, the argument and what was expected. Numpy scalars are
accepted wherever Python numbers are (`np.int64(3)` is an int here).
"""

import numbers
import warnings

import numpy as np
from keras import KerasTensor
from keras import activations
from keras import backend
from keras import ops


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


def int_in_range(value, argument, owner, low=None, high=None):
    """Returns `value` as an `int` if it is an integer in `[low, high]`.

    Args:
        value: the argument's value (a Python or numpy integer).
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.
        low: optional int. Smallest allowed value.
        high: optional int. Largest allowed value.

    Returns:
        `int(value)`.

    Raises:
        TypeError: if `value` is not an integer (bools are refused).
        ValueError: if `value` is outside `[low, high]`.
    """
    if low is not None and high is not None:
        expected = f"an int in [{low}, {high}]"
    elif low is not None:
        expected = f"an int >= {low}"
    elif high is not None:
        expected = f"an int <= {high}"
    else:
        expected = "an int"
    if not _is_int(value):
        raise TypeError(
            f"{owner}: `{argument}` must be {expected}, got {value!r}."
        )
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(
            f"{owner}: `{argument}` must be {expected}, got {value}."
        )
    return int(value)


def positive_int_list(value, argument, owner, min_length=1):
    """Returns `value` as a list of ints if it is a sequence of positive ints.

    Args:
        value: a list, tuple or array of Python or numpy integers.
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.
        min_length: int. The fewest entries allowed.

    Returns:
        A list of `int`.

    Raises:
        TypeError: if `value` is not a sequence of integers.
        ValueError: if an entry is below 1 or there are too few entries.
    """
    expected = (
        "a list of positive ints"
        if min_length <= 1
        else f"a list of at least {min_length} positive ints"
    )
    if (
        isinstance(value, (str, bytes, dict))
        or not hasattr(value, "__iter__")
        or not all(_is_int(v) for v in value)
    ):
        raise TypeError(
            f"{owner}: `{argument}` must be {expected}, got {value!r}."
        )
    values = [int(v) for v in value]
    if len(values) < min_length or any(v < 1 for v in values):
        raise ValueError(
            f"{owner}: `{argument}` must be {expected}, got {values}."
        )
    return values


def number_in_range(
    value,
    argument,
    owner,
    low=None,
    high=None,
    low_inclusive=True,
    high_inclusive=True,
    finite=False,
):
    """Returns `value` as a `float` if it is a real number in a range.

    NaN is always refused; infinities are refused with `finite=True` or
    where a bound excludes them.

    Args:
        value: the argument's value (a Python or numpy real number).
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.
        low: optional lower bound.
        high: optional upper bound.
        low_inclusive: bool. Whether `low` itself is allowed.
        high_inclusive: bool. Whether `high` itself is allowed.
        finite: bool. Whether to refuse `inf` and `-inf`.

    Returns:
        `float(value)`.

    Raises:
        TypeError: if `value` is not a real number (bools are refused).
        ValueError: if `value` is NaN, infinite with `finite=True`, or
            outside the range.
    """
    left = "[" if low_inclusive and not (finite and low is None) else "("
    right = "]" if high_inclusive and not (finite and high is None) else ")"
    if finite and low is None and high is None:
        expected = "a finite number"
    else:
        expected = (
            f"a number in {left}{'-inf' if low is None else low}, "
            f"{'inf' if high is None else high}{right}"
        )
    if not _is_number(value):
        raise TypeError(
            f"{owner}: `{argument}` must be {expected}, got {value!r}."
        )
    value = float(value)
    too_low = low is not None and (
        value < low or (not low_inclusive and value == low)
    )
    too_high = high is not None and (
        value > high or (not high_inclusive and value == high)
    )
    infinite = finite and value in (float("inf"), float("-inf"))
    if value != value or too_low or too_high or infinite:
        raise ValueError(
            f"{owner}: `{argument}` must be {expected}, got {value}."
        )
    return value


def boolean(value, argument, owner):
    """Returns `value` if it is a bool (Python or numpy), else raises.

    Args:
        value: the argument's value.
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.

    Returns:
        `bool(value)`.

    Raises:
        TypeError: if `value` is not a bool (`0` and `1` are refused).
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: `{argument}` must be a bool, got {value!r}.")
    return bool(value)


def string(value, argument, owner, optional=False):
    """Returns `value` if it is a str (or `None` with `optional=True`).

    Args:
        value: the argument's value.
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.
        optional: bool. Whether `None` is allowed.

    Returns:
        `value`.

    Raises:
        TypeError: if `value` is not a str.
    """
    if value is None and optional:
        return None
    if not isinstance(value, str):
        expected = "a str or None" if optional else "a str"
        raise TypeError(
            f"{owner}: `{argument}` must be {expected}, got {value!r}."
        )
    return value


def float_dtype(value, argument, owner):
    """Returns the name of a numpy floating-point dtype, or raises.

    Args:
        value: a dtype name or object (`"float32"`, `np.float16`, ...).
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.

    Returns:
        The dtype's name, e.g. `"float32"`.

    Raises:
        ValueError: if `value` is not a numpy floating-point dtype.
    """
    try:
        dtype = None if value is None else np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f":
        raise ValueError(
            f"{owner}: `{argument}` must be a floating-point dtype such as "
            f"'float32', got {value!r}."
        )
    return dtype.name


def deprecated_value(value, argument, owner, renamed, stacklevel=3):
    """Maps a deprecated argument value to its new name, with a warning.

    Args:
        value: the argument's value.
        argument: str. The argument's name.
        owner: str. The class or function that takes the argument.
        renamed: dict mapping each deprecated value to its replacement.
        stacklevel: int. The `warnings.warn` stack level that points at the
            user's call (3: the caller of the function that calls this).

    Returns:
        `renamed[value]` (after a `DeprecationWarning`) if `value` is
        deprecated, else `value`.
    """
    if isinstance(value, str) and value in renamed:
        warnings.warn(
            f"{owner}: `{argument}={value!r}` is deprecated and will be "
            f"removed in the next release; use "
            f"`{argument}={renamed[value]!r}` (the same behaviour).",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        return renamed[value]
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


def check_values(condition, message, value=None):
    """Raises `ValueError(message)` unless every entry of `condition` holds.

    The check of tensor *values* (targets in `[0, 1]`, rows that sum to 1);
    shapes and ranks are checked statically instead. A batch of 0 rows
    passes. What the user sees depends on where the check runs:

    - Eagerly (any backend, and always on PyTorch): a `ValueError` with
      `message`, raised by this call.
    - Inside a TensorFlow `tf.function` (a compiled `fit` step): the step
      fails with `tf.errors.InvalidArgumentError` whose text contains
      `message`. XLA removes assertions, so under `jit_compile=True` (the
      default on GPU) nothing is raised and the returned `value` is NaN
      instead, which `fit` logs and `keras.callbacks.TerminateOnNaN`
      stops on.
    - Inside a JAX trace (a compiled `fit` step): the step fails with a
      `JaxRuntimeError` whose text ends with `ValueError: message`. (Keras'
      JAX trainer, like for any error in a step, keeps the variables of
      the last good step, but loses them when the *first* step of a `fit`
      call fails: rebuild or reload the model then.)
    - On a symbolic `keras.KerasTensor` or a PyTorch "meta" tensor (shapes
      being inferred): nothing is checked.

    The check costs a reduction to one boolean per call (on JAX, a host
    callback runs only when the check fails).

    Args:
        condition: boolean tensor (or array), of any shape.
        message: str. The error message, in the library's form
            ``"{owner}: `{argument}` must be {expectation}, got ..."``.
        value: optional float tensor to pass through (a loss).

    Returns:
        `value`: unchanged, or all NaN under TensorFlow's XLA when the
        check fails there.

    Raises:
        ValueError: eagerly, if any entry of `condition` is False.
    """
    if isinstance(condition, KerasTensor):
        return value
    ok = ops.all(condition)
    name = backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            # A traced tf.function: an assertion op fails the step. XLA
            # compiles assertions away, so a failed check also turns
            # `value` into NaN rather than a plausible number.
            tf.debugging.Assert(ok, [message])
            if value is not None:
                value = tf.where(ok, value, tf.cast(float("nan"), value.dtype))
            return value
    elif name == "jax":
        import jax

        if isinstance(ok, jax.core.Tracer):
            # A traced JAX function: a host callback raises when the
            # compiled step runs (it is kept under jax.jit and jax.grad).
            # Inside `lax.cond`, the step calls the host only when the check
            # fails, rather than at every step.
            jax.lax.cond(
                ok,
                lambda: None,
                lambda: jax.debug.callback(_raise_unless, ok, message),
            )
            return value
    elif name == "torch" and ok.device.type == "meta":
        # Keras infers shapes on PyTorch's "meta" device: no values.
        return value
    if not bool(ops.convert_to_numpy(ok)):
        raise ValueError(message)
    return value


def _raise_unless(ok, message):
    if not bool(ok):
        raise ValueError(message)
