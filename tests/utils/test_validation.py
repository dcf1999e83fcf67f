"""Shared argument checks."""

import pytest

from keras_memnets.utils.validation import positive_int


def test_positive_int_returns_value():
    assert positive_int(3, "units", "Layer") == 3


@pytest.mark.parametrize("value", [1.0, "2", (2,), None, True])
def test_positive_int_refuses_non_ints(value):
    with pytest.raises(TypeError, match=r"Layer: `units` must be a positive int"):
        positive_int(value, "units", "Layer")


@pytest.mark.parametrize("value", [0, -4])
def test_positive_int_refuses_non_positive(value):
    with pytest.raises(ValueError, match=rf"Layer: `units` must be a positive int, got {value}"):
        positive_int(value, "units", "Layer")
