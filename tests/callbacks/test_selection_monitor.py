"""SelectionMonitor writes selection_report values into the fit logs."""

import keras
import numpy as np
import pytest

from keras_memnets import analysis
from keras_memnets import callbacks
from keras_memnets import layers
from keras_memnets import models


def _data(seed=0, n=96):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = rng.random((n, 5)).astype("float32")
    labels = np.arange(n) % 3
    return x, y, labels


def test_logs_match_selection_report_after_each_epoch():
    x, y, labels = _data()
    model = models.memory_decoder(6, 5, memory_size=4, hidden_units=8)
    model.compile("adam", loss={"memory": "mse", "informed": "mse"})
    monitor = callbacks.SelectionMonitor().set_data(x[:48], labels[:48])
    history = model.fit(
        x,
        {"memory": y, "informed": y},
        epochs=2,
        batch_size=32,
        verbose=0,
        callbacks=[monitor],
    )
    # The last epoch's logs hold the report of the final weights.
    layer = model.get_layer("memory_layer")
    expected = analysis.selection_report(
        keras.ops.convert_to_numpy(layer.compute_selection(x[:48])),
        labels[:48],
    )
    for key in (
        "slots_used",
        "dead_slots",
        "perplexity",
        "mean_max_selection",
        "purity",
        "normalized_mutual_information",
    ):
        values = history.history["memory_" + key]
        assert len(values) == 2
        assert values[-1] == pytest.approx(expected[key], rel=1e-5), key
    assert monitor.last_report["num_samples"] == 48


def test_layer_behind_other_layers_keys_prefix_and_frequency():
    x, y, _ = _data(1)
    inputs = keras.Input((6,))
    code = keras.layers.Dense(4, name="encoder")(inputs)
    memory = layers.MemoryLayer(5, memory_size=3, hidden_units=8, name="mem")
    model = keras.Model(inputs, memory(code))
    model.compile("adam", loss="mse")
    monitor = callbacks.SelectionMonitor(
        layer_name="mem", keys=["argmax_perplexity"], prefix="m_", frequency=2
    ).set_data(x)
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    assert len(history.history["m_argmax_perplexity"]) == 1  # epoch 2 only
    code_x = model.get_layer("encoder")(x)
    expected = analysis.selection_report(
        keras.ops.convert_to_numpy(memory.compute_selection(code_x))
    )
    assert history.history["m_argmax_perplexity"][0] == pytest.approx(
        expected["argmax_perplexity"], rel=1e-5
    )
    assert not any(k.startswith("memory_") for k in history.history)


def test_config_round_trip():
    monitor = callbacks.SelectionMonitor(keys=["purity"], frequency=3)
    clone = callbacks.SelectionMonitor.from_config(monitor.get_config())
    assert clone.get_config() == monitor.get_config()


def test_errors():
    with pytest.raises(
        ValueError, match="SelectionMonitor.*keys.*'slot_share'"
    ):
        callbacks.SelectionMonitor(keys=["slot_share"])
    with pytest.raises(ValueError, match="SelectionMonitor.*frequency"):
        callbacks.SelectionMonitor(frequency=0)
    with pytest.raises(ValueError, match="SelectionMonitor.set_data"):
        callbacks.SelectionMonitor().set_data(np.zeros((3, 6)), np.zeros(2))
    model = models.memory_decoder(6, 5, memory_size=2, hidden_units=8)
    monitor = callbacks.SelectionMonitor()
    monitor.set_model(model)
    with pytest.raises(ValueError, match="set_data"):
        monitor.on_train_begin()
    monitor = callbacks.SelectionMonitor(layer_name="informed_layer")
    monitor.set_data(np.zeros((3, 6)))
    monitor.set_model(model)
    with pytest.raises(ValueError, match="expected a MemoryLayer"):
        monitor.on_train_begin()
