"""relu_mlp: the note's RRnet and its vectorised instances."""

import keras
import numpy as np
import pytest

import keras_memnets


def test_rrnet_parameter_count_and_layers():
    model = keras_memnets.models.relu_mlp([8, 8, 8])
    assert model.count_params() == 169
    assert [layer.name for layer in model.layers] == [
        "x",
        "hidden_1",
        "relu_1",
        "hidden_2",
        "relu_2",
        "hidden_3",
        "relu_3",
        "output",
    ]
    assert keras_memnets.models.relu_mlp([], input_dim=3).count_params() == 4


def test_instances_compute_independent_mlps():
    stacked = keras_memnets.models.relu_mlp(
        [5, 4], input_dim=2, output_dim=3, instances=4
    )
    assert stacked.output_shape == (None, 4, 3)
    x = np.random.default_rng(0).standard_normal((7, 2)).astype("float32")
    out = keras.ops.convert_to_numpy(stacked(x))
    for i in range(4):
        single = keras_memnets.models.relu_mlp(
            [5, 4], input_dim=2, output_dim=3
        )
        single.set_weights([w[i] for w in stacked.get_weights()])
        np.testing.assert_allclose(
            out[:, i], keras.ops.convert_to_numpy(single(x)), atol=1e-5
        )


def test_instances_initialised_like_dense():
    """Per-instance Glorot-uniform: kernel entries within sqrt(6/(in+out))."""
    stacked = keras_memnets.models.relu_mlp([64], input_dim=64, instances=3)
    kernel = stacked.get_layer("hidden_1").kernel.numpy()
    limit = np.sqrt(6 / 128)
    assert np.abs(kernel).max() <= limit
    np.testing.assert_allclose(kernel.var(), limit**2 / 3, rtol=0.05)
    assert not np.allclose(kernel[0], kernel[1])


def test_bad_arguments():
    with pytest.raises(TypeError, match="`widths`"):
        keras_memnets.models.relu_mlp(8)
    with pytest.raises(ValueError, match="`widths`"):
        keras_memnets.models.relu_mlp([8, 0])
    with pytest.raises(TypeError, match="`instances`"):
        keras_memnets.models.relu_mlp([8], instances=2.0)
    assert keras_memnets.models.relu_mlp([np.int64(3)]).count_params() == 10
    with pytest.raises(ValueError, match="relu_mlp: unknown activation"):
        keras_memnets.models.relu_mlp([8], activation="nope")


def test_builder_is_not_registered():
    # Builders return a functional Model; only serializable objects are
    # registered.
    fn = keras_memnets.models.relu_mlp
    assert keras.saving.get_registered_name(fn) == fn.__name__
