"""Finding a model's layer, and computing a memory layer's selection on
data: helpers shared by callbacks, metrics and builders."""

import keras
import numpy as np


def get_layer(model, name, cls, owner):
    """Returns `model`'s layer `name`, checked to be a `cls`.

    Args:
        model: a `keras.Model`.
        name: str, the layer's name.
        cls: the class (or tuple of classes) the layer must be.
        owner: str, the caller's name, for error messages.

    Raises:
        ValueError: if the model has no such layer or it has another type.
    """
    try:
        layer = model.get_layer(name)
    except ValueError as e:
        raise ValueError(
            f"{owner}: the model has no layer named {name!r} (set the layer "
            "name argument)."
        ) from e
    if not isinstance(layer, cls):
        classes = cls if isinstance(cls, tuple) else (cls,)
        expected = " or ".join(c.__name__ for c in classes)
        raise ValueError(
            f"{owner}: layer {name!r} is a {type(layer).__name__}, expected "
            f"a {expected}."
        )
    return layer


def input_model(model, tensor):
    """A model from `model`'s inputs to its symbolic `tensor`.

    Returns `None` when `tensor` is the model's only input, so that the data
    can be used as it is.
    """
    inputs = model.inputs
    if len(inputs) == 1 and tensor is inputs[0]:
        return None
    return keras.Model(inputs, tensor)


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
