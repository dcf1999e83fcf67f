"""memory_decoder: a two-output memory / memory-informed decoder."""

import keras

from keras_memnets.layers.memory import MemoryLayer
from keras_memnets.layers.memory_informed import MemoryInformedLayer
from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.validation import boolean
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int

OWNER = "memory_decoder"


def memory_decoder(
    input_dim,
    output_dim,
    memory_size=10,
    hidden_units=512,
    activation="relu",
    memory_activation="sigmoid",
    output_activation="sigmoid",
    return_selection=False,
    selection_regularizer="auto",
    memory_scale=100.0,
    name="memory_decoder",
):
    """Builds a decoder with a memory output and a memory-informed output.

    The functional graph has two outputs computed from one selection
    `F = softmax(Approximator[hidden_units, memory_size](x))`:

    - `"memory"`: `F · sigmoid(M)`, with the learned memory logits `M` of
      shape `(memory_size, output_dim)`
      (`keras_memnets.layers.MemoryLayer`, layer name `"memory_layer"`,
      which stores `M / memory_scale`).
    - `"informed"`: `Σ_k F_k · sigmoid(Approximator[hidden_units,
      (memory_size, output_dim)](x))_k`
      (`keras_memnets.layers.MemoryInformedLayer`, layer name
      `"informed_layer"`), which reuses the same `F`.

    Train both outputs on the same target (`loss={"memory": "mse",
    "informed": "mse"}`), so that each part gets the gradient along its own
    path. With `return_selection=True` the model has a third output
    `"selection"` (`F`, shape `(batch, memory_size)`), to attach the
    utilisation metrics of `keras_memnets.metrics` or a
    `keras_memnets.losses.OneMaxLoss`; otherwise the selection is reachable as
    `model.get_layer("memory_layer").output[1]`.

    Args:
        input_dim: int. Features per input.
        output_dim: int or tuple of ints. Per-sample output shape.
        memory_size: int. Number of memory slots.
        hidden_units: int. Hidden width of both approximators.
        activation: str or callable. Their hidden activation.
        memory_activation: str or callable. Applied to the memory array.
        output_activation: str or callable. Applied to the informed
            candidates.
        return_selection: bool. Add the `"selection"` output.
        selection_regularizer: `"auto"`, `None` or a regularizer of the
            selection (for example `keras_memnets.regularizers.OneMax(0.1)`),
            passed to the `MemoryLayer`: `"auto"` is
            `keras_memnets.regularizers.LoadBalance(0.01, mode="entropy")`
            unless `memory_scale == 1`, and nothing then.
        memory_scale: float > 0. The `MemoryLayer`'s `memory_scale`: its
            memory weight holds the logits divided by it. The defaults keep
            the slots in use; `memory_scale=1.0` builds the decoder of the
            research notes, whose selection collapses onto one or two slots
            under Adam.
        name: str. Name of the model.

    Returns:
        A `keras.Model` with input `(batch, input_dim)` and a dict of outputs
        `{"memory", "informed"}` (plus `"selection"`).

    Example:

    >>> model = keras_memnets.models.memory_decoder(6, 784)
    >>> model.count_params()
    4042058
    >>> sorted(model.output_names)
    ['informed', 'memory']

    Reference:
        The guide *Memory networks* on the docs site (section "A memory
        that uses its slots by default"),
        https://keras-memnets.readthedocs.io/.
    """
    input_dim = positive_int(input_dim, "input_dim", OWNER)
    output_dim = standardize_units(output_dim, "output_dim", OWNER)
    memory_size = positive_int(memory_size, "memory_size", OWNER)
    hidden_units = positive_int(hidden_units, "hidden_units", OWNER)
    return_selection = boolean(return_selection, "return_selection", OWNER)
    memory_scale = number_in_range(
        memory_scale,
        "memory_scale",
        OWNER,
        low=0.0,
        low_inclusive=False,
        finite=True,
    )
    inputs = keras.Input((input_dim,), name="features")
    memory_output, selection = MemoryLayer(
        output_dim,
        memory_size,
        hidden_units=hidden_units,
        activation=activation,
        memory_activation=memory_activation,
        return_selection=True,
        selection_regularizer=selection_regularizer,
        memory_scale=memory_scale,
        name="memory_layer",
    )(inputs)
    informed_output = MemoryInformedLayer(
        output_dim,
        memory_size,
        hidden_units=hidden_units,
        activation=activation,
        output_activation=output_activation,
        name="informed_layer",
    )([inputs, selection])
    # Identity layers give the outputs their names ("memory", "informed",
    # "selection"), which `compile(loss={...})` and `fit` dicts use.
    outputs = {
        "memory": keras.layers.Identity(name="memory")(memory_output),
        "informed": keras.layers.Identity(name="informed")(informed_output),
    }
    if return_selection:
        outputs["selection"] = keras.layers.Identity(name="selection")(
            selection
        )
    return keras.Model(inputs, outputs, name=name)
