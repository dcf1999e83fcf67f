import keras
import numpy as np
import pytest

from keras_memnets.layers import ApproximatorLayer


def _numpy_forward(layer, x):
    w1, b1 = (keras.ops.convert_to_numpy(w) for w in layer.hidden.weights)
    w2, b2 = (keras.ops.convert_to_numpy(w) for w in layer.output_dense.weights)
    return np.maximum(x @ w1 + b1, 0.0) @ w2 + b2


def test_matches_numpy_two_layer_perceptron_and_reshapes():
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    layer = ApproximatorLayer((3, 4), hidden_units=7)
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (5, 3, 4)
    expected = _numpy_forward(layer, x).reshape(5, 3, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_output_activation_and_higher_rank_input():
    x = np.random.default_rng(1).normal(size=(2, 3, 6)).astype("float32")
    layer = ApproximatorLayer(4, hidden_units=5, output_activation="sigmoid")
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (2, 3, 4)
    expected = 1 / (1 + np.exp(-_numpy_forward(layer, x)))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_parameter_count():
    layer = ApproximatorLayer((10, 784))
    layer.build((None, 6))
    assert layer.count_params() == 6 * 512 + 512 + 512 * 7840 + 7840


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(hidden_units=0, units=3), ValueError, "hidden_units"),
        (dict(hidden_units=4, units=0), ValueError, "units"),
        (dict(hidden_units=4, units=(3, -1)), ValueError, "units"),
        (dict(hidden_units=4, units=2.5), TypeError, "units"),
        (dict(hidden_units=(4, 4), units=2), TypeError, "hidden_units"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"ApproximatorLayer.*{match}"):
        ApproximatorLayer(**kwargs)


def test_rank_one_input_is_rejected():
    layer = ApproximatorLayer(3, hidden_units=4)
    with pytest.raises(ValueError, match="ApproximatorLayer.*rank >= 2"):
        layer.build((6,))


def test_units_first_and_default_hidden_units():
    layer = ApproximatorLayer(3)
    assert (layer.units, layer.hidden_units) == (3, 512)


@pytest.mark.parametrize("argument", ["activation", "output_activation"])
def test_unknown_activation_names_layer_and_argument(argument):
    with pytest.raises(
        ValueError,
        match=f"ApproximatorLayer: unknown activation 'relux' for `{argument}`",
    ):
        ApproximatorLayer(3, **{argument: "relux"})
