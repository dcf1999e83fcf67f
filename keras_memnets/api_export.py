"""Registration of public keras_memnets objects with Keras serialization."""

import keras

PACKAGE = "keras_memnets"


def register(obj):
    """Registers `obj` for Keras serialization in the `keras_memnets` package.

    Every public layer, loss, regularizer, metric, optimizer and callback of the
    library is decorated with this, so that `keras.saving.load_model(...)` finds
    it as `"keras_memnets>ClassName"` once `keras_memnets` is imported.

    Args:
        obj: a serializable class (layer, loss, metric, ...). Builder
            functions that return a `keras.Model` are not registered: the
            model they build serializes through its own config.

    Returns:
        `obj`, unchanged.
    """
    return keras.saving.register_keras_serializable(package=PACKAGE)(obj)
