"""Every public keras_memnets object, as the shared harness exercises it.

Adding a public object to the library means adding one `Case` here; the
registry test (`tests/test_public_api.py`) fails for an exported object that
has no case and no entry in `NOT_KERAS_OBJECTS`.
"""

import keras
import numpy as np

from keras_memnets import callbacks
from keras_memnets import layers
from keras_memnets import losses
from keras_memnets import metrics
from keras_memnets import models
from keras_memnets import regularizers
from tests.harness import Case  # noqa: F401


def _x_and_selection(rng, batch):
    """`[x, selection]` for MemoryInformedLayer: a softmax selection of width 3."""
    logits = rng.standard_normal((batch, 3))
    selection = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return [
        rng.standard_normal((batch, 6)).astype("float32"),
        selection.astype("float32"),
    ]


def _restart_model(callback, x, rng):
    """A small memory_decoder whose data the restart callback samples from."""
    model = models.memory_decoder(6, 5, memory_size=3, hidden_units=8)
    y = rng.random((len(x), 5)).astype("float32")
    callback.set_data(x, y)
    model.compile(optimizer="adam", loss={"memory": "mse", "informed": "mse"})
    return model, x, {"memory": y, "informed": y}


CASES = [
    Case(layers.ApproximatorLayer, "layer", dict(hidden_units=8, units=(3, 2))),
    Case(layers.MemoryLayer, "layer", dict(memory_size=3, units=5, hidden_units=8)),
    Case(
        layers.MemoryLayer,
        "layer",
        dict(
            memory_size=3,
            units=(2, 2),
            hidden_units=8,
            return_selection=True,
            selection_regularizer=regularizers.OneMax(0.1),
        ),
        id="selection",
    ),
    Case(
        layers.MemoryInformedLayer,
        "layer",
        dict(memory_size=3, units=5, hidden_units=8),
        make_inputs=_x_and_selection,
    ),
    Case(
        layers.PCAReduction,
        "layer",
        dict(units=3, whiten=True),
        input_shape=(6,),
        setup=lambda layer, x: layer.adapt(x),
    ),
    Case(losses.OneMaxLoss, "loss", y_pred_shape=(4,), pred_activation="softmax"),
    Case(regularizers.OneMax, "regularizer", dict(weight=0.1)),
    Case(
        metrics.SelectionPerplexity,
        "metric",
        dict(memory_size=4),
        pred_activation="softmax",
    ),
    Case(
        metrics.DeadSlots,
        "metric",
        dict(memory_size=4, threshold=0.2),
        pred_activation="softmax",
    ),
    Case(
        metrics.SlotsForMass,
        "metric",
        dict(memory_size=4, mass=0.9),
        pred_activation="softmax",
    ),
    Case(metrics.MeanMaxSelection, "metric", pred_activation="softmax"),
    Case(
        models.memory_decoder,
        "model",
        dict(input_dim=6, output_dim=5, memory_size=3, hidden_units=8),
    ),
    Case(
        models.memory_decoder,
        "model",
        dict(
            input_dim=6,
            output_dim=(2, 3),
            memory_size=3,
            hidden_units=8,
            return_selection=True,
            selection_regularizer=regularizers.OneMax(0.1),
        ),
        id="selection",
    ),
    Case(
        callbacks.RestartDeadSlots,
        "callback",
        dict(threshold=0.3, seed=0),
        build=_restart_model,
    ),
]

# Public callables that are not Keras objects (plain functions, constants):
# they have no config to round-trip and are tested in their own modules.
# Map each to the reason it is outside the harness.
NOT_KERAS_OBJECTS = {
    metrics.slot_label_mutual_information: (
        "a numpy function of a whole data set's selections and labels, "
        "tested against the entropy identity in tests/metrics/"
    ),
}
