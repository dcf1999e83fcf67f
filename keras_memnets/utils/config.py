"""The config entries of a layer's nested Keras objects."""

from keras import activations as keras_activations
from keras import initializers as keras_initializers
from keras import regularizers as keras_regularizers


def serialize_nested(obj, activations=(), initializers=(), regularizers=()):
    """Returns `{name: serialized}` for the nested objects an object holds.

    Each name is both a constructor argument and the attribute that holds
    the resolved object (`self.kernel_initializer = initializers.get(...)`),
    and is serialized with the Keras helper of its kind, so that
    `from_config` gets back what `get` accepts.

    Args:
        obj: the object whose attributes are serialized.
        activations: names of activation attributes.
        initializers: names of initializer attributes.
        regularizers: names of regularizer attributes (`None` stays `None`).

    Returns:
        A dict to merge into the object's `get_config()`.

    Example:

    >>> layer = keras.layers.Dense(2, kernel_regularizer="l2")
    >>> config = serialize_nested(
    ...     layer, initializers=["bias_initializer"],
    ...     regularizers=["kernel_regularizer", "bias_regularizer"])
    >>> config["bias_initializer"]["class_name"], config["bias_regularizer"]
    ('Zeros', None)
    """
    config = {}
    for names, serialize in (
        (activations, keras_activations.serialize),
        (initializers, keras_initializers.serialize),
        (regularizers, keras_regularizers.serialize),
    ):
        for name in names:
            config[name] = serialize(getattr(obj, name))
    return config
