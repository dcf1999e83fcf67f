import keras
import numpy as np
import pytest

from keras_memnets import models


def _clusters(seed=0, n=60):
    """Three input clusters, each with its own 6-pixel target pattern."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), n // 3)
    centers = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    x = (centers[labels] + 0.1 * rng.standard_normal((n, 2))).astype("float32")
    patterns = np.array(
        [
            [0.9, 0.9, 0.1, 0.1, 0.1, 0.1],
            [0.1, 0.1, 0.9, 0.9, 0.1, 0.1],
            [0.1, 0.1, 0.1, 0.1, 0.9, 0.9],
        ]
    )
    y = (patterns[labels] + 0.02 * rng.standard_normal((n, 6))).astype(
        "float32"
    )
    return x, y, labels


def test_pretrain_writes_centroids_and_trains_the_parts():
    keras.utils.set_random_seed(0)
    x, y, labels = _clusters()
    model = models.memory_decoder(2, 6, memory_size=3, hidden_units=16)
    result = models.pretrain_memory_decoder(
        model,
        x,
        y,
        epochs=30,
        batch_size=16,
        seed=0,
        optimizer=keras.optimizers.Adam(0.01),
    )
    memory = model.get_layer("memory_layer")
    slots = keras.ops.convert_to_numpy(memory.memory_values())
    # The memory slots output the k-means centroids (the cluster means).
    np.testing.assert_allclose(slots, result["centroids"], atol=1e-4)
    for k in range(3):
        members = y[result["assignments"] == k]
        np.testing.assert_allclose(
            result["centroids"][k], members.mean(0), atol=1e-5
        )
    # k-means recovers the three clusters exactly.
    table = np.zeros((3, 3), int)
    np.add.at(table, (result["assignments"], labels), 1)
    assert sorted(table.max(0).tolist()) == [20, 20, 20]
    flat = y - result["centroids"][result["assignments"]]
    assert result["kmeans_mse"] == pytest.approx(np.mean(flat**2), rel=1e-4)
    # The selector classifies inputs into their cluster; the informed output
    # with that selection is close to the targets.
    assert result["selector_accuracy"] == 1.0
    out = model.predict(x, verbose=0)
    assert np.mean((out["memory"] - y) ** 2) < 2 * result["kmeans_mse"] + 1e-3
    assert np.mean((out["informed"] - y) ** 2) < 0.01
    assert set(result["history"]) == {"selector", "informed"}


def test_pretrain_memory_only_and_errors():
    x, y, _ = _clusters()
    model = models.memory_decoder(2, 6, memory_size=3, hidden_units=8)
    result = models.pretrain_memory_decoder(
        model, x, y, epochs=1, informed_layer=None, seed=0
    )
    assert set(result["history"]) == {"selector"}
    with pytest.raises(ValueError, match="no layer named"):
        models.pretrain_memory_decoder(model, x, y, memory_layer="nope")
    with pytest.raises(ValueError, match="expected a MemoryLayer"):
        models.pretrain_memory_decoder(
            model, x, y, memory_layer="informed_layer"
        )
    with pytest.raises(ValueError, match="same number of rows"):
        models.pretrain_memory_decoder(model, x[:5], y)
    with pytest.raises(ValueError):
        models.pretrain_memory_decoder(model, x, y, epochs=0)
