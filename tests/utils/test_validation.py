"""Shared argument checks: one exception policy and one message style."""

import keras
import numpy as np
import pytest

from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import non_negative_int
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import one_of
from keras_memnets.utils.validation import positive_int


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
