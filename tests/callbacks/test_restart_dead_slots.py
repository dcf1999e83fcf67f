import keras
import numpy as np
import pytest

from keras_memnets import callbacks
from keras_memnets import metrics
from keras_memnets import models


def _np(t):
    return np.array(keras.ops.convert_to_numpy(t))


def _model_with_dead_slot(rng):
    model = models.memory_decoder(4, 6, memory_size=4, hidden_units=8)
    selector = model.get_layer("memory_layer").selector
    # Deterministic on every backend: hidden = relu([x, -x]); slot k scores
    # 3 * relu(x_k), so the slots share the samples about evenly...
    selector.hidden.kernel.assign(np.concatenate([np.eye(4), -np.eye(4)], 1))
    selector.hidden.bias.assign(np.zeros(8))
    kernel = np.zeros((8, 4))
    kernel[np.arange(4), np.arange(4)] = 3.0
    kernel += 0.1 * rng.normal(size=(8, 4))
    selector.output_dense.kernel.assign(kernel)
    # ... except slot 2, which is never selected.
    selector.output_dense.bias.assign(np.array([0.0, 0.0, -30.0, 0.0]))
    x = rng.normal(size=(200, 4)).astype("float32")
    y = rng.random((200, 6)).astype("float32")
    return model, x, y


def _dead(layer, x, threshold):
    m = metrics.DeadSlots(layer.memory_size, threshold=threshold)
    m.update_state(None, layer.compute_selection(x))
    return float(_np(m.result()))


def test_dead_slot_takes_over_half_of_the_busiest_slot():
    rng = np.random.default_rng(0)
    model, x, y = _model_with_dead_slot(rng)
    layer = model.get_layer("memory_layer")
    dense = layer.selector.output_dense
    before_kernel, before_bias = _np(dense.kernel), _np(dense.bias)
    before_selection = _np(layer.compute_selection(x))
    callback = callbacks.RestartDeadSlots(
        threshold=0.05, split=0.0, seed=0
    ).set_data(x, y)
    callback.set_model(model)
    callback.on_train_begin()
    restarted = callback.restart(epoch=0)
    assert restarted == [2]
    busiest = callback.restarts[0]["from"]
    kernel, bias = _np(dense.kernel), _np(dense.bias)
    np.testing.assert_array_equal(kernel[:, 2], before_kernel[:, busiest])
    np.testing.assert_allclose(bias[2], bias[busiest], rtol=1e-6)
    np.testing.assert_allclose(
        bias[busiest], before_bias[busiest] - np.log(2), rtol=1e-6
    )
    # The pair shares the busiest slot's old probability.
    after_selection = _np(layer.compute_selection(x))
    np.testing.assert_allclose(
        after_selection[:, 2] + after_selection[:, busiest],
        before_selection[:, busiest],
        rtol=1e-4,
        atol=1e-6,
    )
    # The memory row now outputs one of the targets (clipped).
    row = _np(layer.memory)[2].astype("float64") * layer.memory_scale
    row = 1 / (1 + np.exp(-row))
    matches = np.all(np.abs(np.clip(y, 1e-3, 1 - 1e-3) - row) < 1e-5, axis=1)
    assert matches.sum() == 1


def test_noise_splits_the_pair_so_the_slot_is_alive():
    rng = np.random.default_rng(3)
    model, x, y = _model_with_dead_slot(rng)
    layer = model.get_layer("memory_layer")
    assert _dead(layer, x, 0.05) == 1.0
    callback = callbacks.RestartDeadSlots(
        threshold=0.05, split=2.0, seed=0
    ).set_data(x, y)
    callback.set_model(model)
    callback.on_train_begin()
    before = _np(layer.compute_selection(x))
    assert callback.restart() == [2]
    after = _np(layer.compute_selection(x))
    busiest = callback.restarts[0]["from"]
    members = before.argmax(-1) == busiest
    # The busiest slot's samples divide between the pair; others stay put.
    moved = after[members].argmax(-1) == 2
    assert 0.2 < moved.mean() < 0.8
    assert _dead(layer, x, 0.05) == 0.0
    # The chosen sample's hidden activation gives the restarted slot a logit
    # margin of exactly `split` over the busiest slot.
    dense = layer.selector.output_dense
    h = _np(layer.selector.hidden(x))
    logits = h @ _np(dense.kernel) + _np(dense.bias)
    row = _np(layer.memory)[2].astype("float64") * layer.memory_scale
    row = 1 / (1 + np.exp(-row))
    chosen = np.flatnonzero(
        np.all(np.abs(np.clip(y, 1e-3, 1 - 1e-3) - row) < 1e-5, axis=1)
    )
    assert len(chosen) == 1
    np.testing.assert_allclose(
        logits[chosen[0], 2] - logits[chosen[0], busiest], 2.0, rtol=1e-4
    )


def test_in_fit_restarts_and_keeps_training_finite():
    rng = np.random.default_rng(1)
    model, x, y = _model_with_dead_slot(rng)
    model.compile("adam", loss={"memory": "mse", "informed": "mse"})
    callback = callbacks.RestartDeadSlots(threshold=0.05, seed=1).set_data(x, y)
    history = model.fit(
        x,
        {"memory": y, "informed": y},
        epochs=2,
        verbose=0,
        callbacks=[callback],
    )
    assert any(r["slot"] == 2 for r in callback.restarts)
    assert np.all(np.isfinite(history.history["loss"]))


def test_no_dead_slots_changes_nothing():
    rng = np.random.default_rng(2)
    model = models.memory_decoder(4, 6, memory_size=2, hidden_units=8)
    x = rng.normal(size=(100, 4)).astype("float32")
    y = rng.random((100, 6)).astype("float32")
    layer = model.get_layer("memory_layer")
    callback = callbacks.RestartDeadSlots(threshold=0.0).set_data(x, y)
    callback.set_model(model)
    callback.on_train_begin()
    memory = _np(layer.memory)
    assert callback.restart() == []
    np.testing.assert_array_equal(_np(layer.memory), memory)


def test_errors():
    with pytest.raises(ValueError, match="RestartDeadSlots.*frequency"):
        callbacks.RestartDeadSlots(frequency=0)
    with pytest.raises(ValueError, match="RestartDeadSlots.*split"):
        callbacks.RestartDeadSlots(split=-1.0)
    with pytest.raises(ValueError, match="RestartDeadSlots.*threshold"):
        callbacks.RestartDeadSlots(threshold=2.0)
    with pytest.raises(ValueError, match="RestartDeadSlots.set_data"):
        callbacks.RestartDeadSlots().set_data(
            np.zeros((3, 2)), np.zeros((4, 2))
        )
    model = models.memory_decoder(4, 6, memory_size=2, hidden_units=8)
    callback = callbacks.RestartDeadSlots()
    callback.set_model(model)
    with pytest.raises(ValueError, match="set_data"):
        callback.on_train_begin()
    callback = callbacks.RestartDeadSlots(layer_name="nope").set_data(
        np.zeros((3, 4)), np.zeros((3, 6))
    )
    callback.set_model(model)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        callback.on_train_begin()
