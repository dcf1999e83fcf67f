"""Finding the `MemoryLayer` that a callback watches or edits."""

from keras_memnets.layers.memory import MemoryLayer


def memory_layer(model, layer_name, owner):
    """Returns `model`'s `MemoryLayer` named `layer_name`.

    Args:
        model: the `keras.Model` a callback is attached to.
        layer_name: str, the layer's name.
        owner: str, the callback's class name, for error messages.

    Raises:
        ValueError: if the model has no such layer or it is not a
            `MemoryLayer`.
    """
    try:
        layer = model.get_layer(layer_name)
    except ValueError as e:
        raise ValueError(
            f"{owner}: the model has no layer named {layer_name!r} (set "
            "`layer_name`)."
        ) from e
    if not isinstance(layer, MemoryLayer):
        raise ValueError(
            f"{owner}: layer {layer_name!r} is a {type(layer).__name__}, "
            "expected a MemoryLayer."
        )
    return layer
