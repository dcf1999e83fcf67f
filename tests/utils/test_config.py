"""keras_memnets.utils.config: nested objects serialize as Keras does."""

import keras

from keras_memnets.layers import ApproximatorLayer
from keras_memnets.layers import MemoryLayer
from keras_memnets.regularizers import OneMax
from keras_memnets.utils.config import serialize_nested


def test_each_kind_uses_its_keras_serializer():
    layer = keras.layers.Dense(
        2,
        activation="relu",
        kernel_initializer=keras.initializers.Constant(0.5),
        kernel_regularizer=keras.regularizers.L2(0.1),
    )
    config = serialize_nested(
        layer,
        activations=["activation"],
        initializers=["kernel_initializer", "bias_initializer"],
        regularizers=["kernel_regularizer", "bias_regularizer"],
    )
    assert config == {
        "activation": keras.activations.serialize(layer.activation),
        "kernel_initializer": keras.initializers.serialize(
            layer.kernel_initializer
        ),
        "bias_initializer": keras.initializers.serialize(
            layer.bias_initializer
        ),
        "kernel_regularizer": keras.regularizers.serialize(
            layer.kernel_regularizer
        ),
        "bias_regularizer": None,
    }
    assert config["activation"] == "relu"
    assert config["kernel_initializer"]["config"] == {"value": 0.5}


def test_layer_configs_keep_the_saved_format():
    # The entries a .keras file written before this helper holds.
    layer = MemoryLayer(
        3,
        memory_size=2,
        hidden_units=4,
        selection_regularizer=OneMax(0.1),
        memory_initializer="zeros",
    )
    config = layer.get_config()
    assert config["activation"] == "relu"
    assert config["memory_activation"] == "sigmoid"
    assert config["memory_initializer"] == {
        "module": "keras.initializers",
        "class_name": "Zeros",
        "config": {},
        "registered_name": None,
    }
    assert config["selection_regularizer"]["class_name"] == "OneMax"
    assert config["memory_regularizer"] is None
    clone = MemoryLayer.from_config(config)
    assert clone.get_config() == config
    approximator = ApproximatorLayer(2, hidden_units=3).get_config()
    assert approximator["output_activation"] == "linear"
    assert approximator["kernel_initializer"]["class_name"] == "GlorotUniform"
