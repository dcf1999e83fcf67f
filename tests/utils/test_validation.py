"""Shared argument checks: one exception policy and one message style."""

import re

import keras
import numpy as np
import pytest

from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.validation import boolean
from keras_memnets.utils.validation import check_values
from keras_memnets.utils.validation import deprecated_value
from keras_memnets.utils.validation import float_dtype
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import int_in_range
from keras_memnets.utils.validation import non_negative_int
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import one_of
from keras_memnets.utils.validation import positive_int
from keras_memnets.utils.validation import positive_int_list
from keras_memnets.utils.validation import string


def test_positive_int_returns_a_python_int():
    assert positive_int(3, "units", "Layer") == 3
    value = positive_int(np.int64(3), "units", "Layer")
    assert value == 3 and type(value) is int


@pytest.mark.parametrize("value", [1.0, "2", (2,), None, True, np.float32(2)])
def test_positive_int_refuses_non_ints(value):
    with pytest.raises(
        TypeError, match=r"Layer: `units` must be a positive int"
    ):
        positive_int(value, "units", "Layer")


@pytest.mark.parametrize("value", [0, -4, np.int32(0)])
def test_positive_int_refuses_non_positive(value):
    with pytest.raises(
        ValueError, match=rf"Layer: `units` must be a positive int, got {value}"
    ):
        positive_int(value, "units", "Layer")


def test_non_negative_int():
    assert non_negative_int(np.int8(0), "n", "Owner") == 0
    with pytest.raises(
        ValueError, match="Owner: `n` must be a non-negative int"
    ):
        non_negative_int(-1, "n", "Owner")
    with pytest.raises(TypeError, match="Owner: `n`"):
        non_negative_int(0.5, "n", "Owner")


def test_number_in_range_accepts_numpy_scalars_and_bounds():
    assert number_in_range(np.float32(0.5), "rate", "Opt", 0, 1) == 0.5
    assert number_in_range(0, "rate", "Opt", low=0) == 0.0
    assert number_in_range(3, "rate", "Opt") == 3.0


@pytest.mark.parametrize(
    "value,kwargs,error,match",
    [
        ("0.1", {}, TypeError, r"Opt: `rate` must be a number"),
        (True, {}, TypeError, r"Opt: `rate` must be a number"),
        (-0.1, dict(low=0), ValueError, r"in \[0, inf\], got -0.1"),
        (0.0, dict(low=0, low_inclusive=False), ValueError, r"in \(0, inf\]"),
        (1.5, dict(low=0, high=1), ValueError, r"in \[0, 1\], got 1.5"),
        (1.0, dict(high=1, high_inclusive=False), ValueError, r"1\)"),
        (float("nan"), {}, ValueError, r"got nan"),
    ],
)
def test_number_in_range_refuses(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        number_in_range(value, "rate", "Opt", **kwargs)


def test_one_of():
    assert one_of("epoch", "unit", "CB", ("batch", "epoch")) == "epoch"
    with pytest.raises(
        ValueError,
        match="CB: `unit` must be one of 'batch', 'epoch', got 'step'",
    ):
        one_of("step", "unit", "CB", ("batch", "epoch"))


def test_get_activation_names_owner_and_argument():
    assert get_activation("relu", "activation", "L") is keras.activations.relu
    assert get_activation(None, "activation", "L") is keras.activations.linear
    with pytest.raises(
        ValueError,
        match="L: unknown activation 'sigmod' for `memory_activation`",
    ):
        get_activation("sigmod", "memory_activation", "L")
    with pytest.raises(
        TypeError, match="L: `activation` must be an activation name"
    ):
        get_activation(3, "activation", "L")


def test_standardize_units():
    assert standardize_units(np.int64(4), "units", "L") == 4
    assert standardize_units([2, np.int32(3)], "units", "L") == (2, 3)
    with pytest.raises(ValueError, match="L: `units`"):
        standardize_units((), "units", "L")
    with pytest.raises(TypeError, match="L: `units`"):
        standardize_units((2, 2.5), "units", "L")
    with pytest.raises(ValueError, match="L: every entry of `units`"):
        standardize_units((2, 0), "units", "L")


def test_int_in_range():
    assert int_in_range(np.int8(2), "k", "M", low=2) == 2
    with pytest.raises(ValueError, match=r"M: `k` must be an int in \[0, 3\]"):
        int_in_range(4, "k", "M", low=0, high=3)
    with pytest.raises(TypeError, match="M: `k` must be an int >= 1"):
        int_in_range(True, "k", "M", low=1)


def test_finite_numbers_and_booleans_and_strings():
    assert number_in_range(2, "x", "O", finite=True) == 2.0
    with pytest.raises(ValueError, match="O: `x` must be a finite number"):
        number_in_range(float("inf"), "x", "O", finite=True)
    with pytest.raises(ValueError, match=r"in \[0, inf\), got inf"):
        number_in_range(float("inf"), "x", "O", low=0, finite=True)
    assert boolean(np.bool_(True), "flag", "O") is True
    with pytest.raises(TypeError, match="O: `flag` must be a bool, got 1"):
        boolean(1, "flag", "O")
    assert string(None, "name", "O", optional=True) is None
    with pytest.raises(TypeError, match="O: `name` must be a str, got 3"):
        string(3, "name", "O")


def test_float_dtype():
    assert float_dtype(np.float16, "dtype", "O") == "float16"
    for bad in ("int8", None, "nope"):
        with pytest.raises(ValueError, match="O: `dtype` must be a floating"):
            float_dtype(bad, "dtype", "O")


def test_deprecated_value_warns_and_maps():
    with pytest.warns(DeprecationWarning, match="O: `mode='old'` is deprec"):
        assert deprecated_value("old", "mode", "O", {"old": "new"}) == "new"
    assert deprecated_value("new", "mode", "O", {"old": "new"}) == "new"


MESSAGE = "Owner: `x` must hold values in [0, 1], got values outside."


def _checked(x):
    x = keras.ops.convert_to_tensor(x)
    ok = keras.ops.logical_and(x >= 0.0, x <= 1.0)
    return check_values(ok, MESSAGE, keras.ops.sum(x))


def test_check_values_raises_eagerly_and_passes_values_through():
    assert float(_checked(np.array([0.25, 0.5]))) == 0.75
    assert float(_checked(np.zeros((0,)))) == 0.0  # no rows: nothing wrong
    with pytest.raises(ValueError, match=re.escape(MESSAGE)):
        _checked(np.array([0.5, 2.0]))
    # A symbolic tensor is not checked.
    check_values(keras.KerasTensor((None, 2), "bool"), MESSAGE)


def test_check_values_fails_a_compiled_function():
    backend = keras.backend.backend()
    bad = np.array([0.5, 2.0], "float32")
    if backend == "jax":
        import jax

        with pytest.raises(Exception, match=re.escape(MESSAGE)):
            jax.block_until_ready(jax.jit(_checked)(bad))
        assert float(jax.jit(_checked)(np.ones(2, "float32"))) == 2.0
    elif backend == "tensorflow":
        import tensorflow as tf

        with pytest.raises(
            tf.errors.InvalidArgumentError, match=re.escape(MESSAGE)
        ):
            tf.function(_checked)(bad)
        # XLA drops assertions: the value turns NaN instead.
        assert np.isnan(float(tf.function(_checked, jit_compile=True)(bad)))
        assert float(tf.function(_checked, jit_compile=True)(bad[:1])) == 0.5
    else:
        with pytest.raises(ValueError, match=re.escape(MESSAGE)):
            _checked(bad)


def test_positive_int_list():
    assert positive_int_list(np.array([3, 2]), "sizes", "B") == [3, 2]
    assert positive_int_list([], "widths", "B", min_length=0) == []
    with pytest.raises(TypeError, match="B: `sizes` must be a list of"):
        positive_int_list("32", "sizes", "B")
    with pytest.raises(TypeError, match="B: `sizes`"):
        positive_int_list([3, 2.0], "sizes", "B")
    with pytest.raises(ValueError, match="at least 2 positive ints, got"):
        positive_int_list([3], "sizes", "B", min_length=2)
    with pytest.raises(ValueError, match=r"got \[3, 0\]"):
        positive_int_list([3, 0], "sizes", "B")
