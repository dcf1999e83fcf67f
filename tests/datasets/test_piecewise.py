"""piecewise_steps: the weight-distribution note's target."""

import numpy as np
import pytest

import keras_memnets


def test_target_and_shapes():
    x, y = keras_memnets.datasets.piecewise_steps(5000, seed=0)
    assert x.shape == y.shape == (5000, 1)
    assert x.min() >= -3 and x.max() < 3
    expected = ((x >= -2) & (x < -1)) | ((x >= 0) & (x < 2))
    np.testing.assert_array_equal(y, expected.astype("float32"))
    # Half of [-3, 3) is covered by the steps: y is 1 on about half.
    assert abs(y.mean() - 0.5) < 0.03
    x2, _ = keras_memnets.datasets.piecewise_steps(5000, seed=0)
    np.testing.assert_array_equal(x, x2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`n`"):
        keras_memnets.datasets.piecewise_steps(0)
    with pytest.raises(TypeError, match="piecewise_steps: `n`"):
        keras_memnets.datasets.piecewise_steps(2.5)
    with pytest.raises(ValueError, match="`low`"):
        keras_memnets.datasets.piecewise_steps(10, low=float("nan"))
    with pytest.raises(ValueError, match="low < high"):
        keras_memnets.datasets.piecewise_steps(10, low=1.0, high=0.0)
    # Before: an infinite end drew infinite or NaN inputs.
    with pytest.raises(ValueError, match="piecewise_steps: `high`"):
        keras_memnets.datasets.piecewise_steps(10, high=float("inf"))
