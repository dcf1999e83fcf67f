"""Finding the `MemoryLayer` that a callback watches or edits, and
computing its selection on data."""

import keras
import numpy as np

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


def input_model(model, layer):
    """A model from `model`'s inputs to `layer`'s input.

    Returns `None` when the layer reads the model's only input directly, so
    that the data can be passed to the layer as it is.
    """
    inputs = model.inputs
    if len(inputs) == 1 and layer.input is inputs[0]:
        return None
    return keras.Model(inputs, layer.input)


def layer_selection(layer, features, batch_size):
    """`layer.compute_selection` on `features`, batch by batch, as numpy."""
    return np.concatenate(
        [
            keras.ops.convert_to_numpy(
                layer.compute_selection(features[i : i + batch_size])
            )
            for i in range(0, len(features), batch_size)
        ]
    )
