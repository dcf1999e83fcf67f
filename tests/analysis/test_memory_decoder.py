import keras
import numpy as np
import pytest

from keras_memnets import analysis
from keras_memnets import models


def test_high_frequency_energy_matches_hand_laplacian():
    rng = np.random.default_rng(0)
    images = rng.random((3, 5, 6))
    expected = []
    for u in images:
        for i in range(1, 4):
            for j in range(1, 5):
                lap = (
                    4 * u[i, j]
                    - u[i - 1, j]
                    - u[i + 1, j]
                    - u[i, j - 1]
                    - u[i, j + 1]
                )
                expected.append(lap**2)
    got = analysis.high_frequency_energy(images.reshape(3, -1), (5, 6))
    np.testing.assert_allclose(got, np.mean(expected), rtol=1e-12)
    # A linear ramp has zero Laplacian.
    ramp = np.add.outer(np.arange(5.0), np.arange(6.0))[None]
    assert analysis.high_frequency_energy(ramp, (5, 6)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="image_shape"):
        analysis.high_frequency_energy(images, (2, 15))


def test_kmeans_baseline_on_separated_clusters():
    rng = np.random.default_rng(1)
    centers = np.array([[0.1, 0.1], [0.9, 0.9], [0.1, 0.9]])
    y = np.concatenate(
        [c + 0.01 * rng.standard_normal((50, 2)) for c in centers]
    )
    result = analysis.kmeans_baseline(y, 3, test_targets=centers, seed=0)
    np.testing.assert_allclose(
        np.sort(result["centroids"], axis=0),
        np.sort(centers, axis=0),
        atol=0.01,
    )
    # Train MSE is the within-cluster variance, the test MSE of the exact
    # centres is their distance to the fitted centroids.
    assert result["train_mse"] == pytest.approx(1e-4, rel=0.3)
    assert result["test_mse"] < 1e-4
    with pytest.raises(ValueError, match="memory_size"):
        analysis.kmeans_baseline(y[:2], 3)


def test_memory_report_against_numpy():
    keras.utils.set_random_seed(0)
    model = models.memory_decoder(3, 16, memory_size=4, hidden_units=8)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype("float32")
    y = rng.random((40, 16)).astype("float32")
    labels = rng.integers(0, 3, 40)
    report = analysis.memory_report(
        model, x, y, labels=labels, image_shape=(4, 4)
    )
    out = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        report["memory_mse"], np.mean((out["memory"] - y) ** 2), rtol=1e-5
    )
    np.testing.assert_allclose(
        report["informed_mse"], np.mean((out["informed"] - y) ** 2), rtol=1e-5
    )
    memory = model.get_layer("memory_layer")
    selection = keras.ops.convert_to_numpy(memory.compute_selection(x))
    expected = analysis.selection_report(selection, labels)
    assert report["purity"] == pytest.approx(expected["purity"])
    share = np.bincount(selection.argmax(-1), minlength=4) / 40
    assert report["live_slots"] == int(np.sum(share >= 0.1 / 4))
    # Specialisation ratio from the candidates directly.
    informed = model.get_layer("informed_layer")
    c = keras.ops.convert_to_numpy(informed.candidates(x)).reshape(40, 4, 16)
    err = np.mean((c - y[:, None]) ** 2, -1)
    slots = selection.argmax(-1)
    used = np.flatnonzero(share >= 0.1 / 4)
    if len(used) >= 2:
        own = err[np.arange(40), slots]
        others = [
            np.mean([err[i, k] for k in used if k != slots[i]])
            for i in range(40)
        ]
        assert report["specialisation_ratio"] == pytest.approx(
            own.mean() / np.mean(others), rel=1e-5
        )
    assert report["noise_ratio"] == pytest.approx(
        analysis.high_frequency_energy(out["informed"], (4, 4))
        / analysis.high_frequency_energy(y, (4, 4)),
        rel=1e-5,
    )


def test_memory_report_collapsed_selection_has_nan_specialisation():
    model = models.memory_decoder(2, 9, memory_size=3, hidden_units=8)
    report = analysis.memory_report(
        model, np.zeros((4, 2)), np.full((4, 9), 0.5)
    )
    assert report["live_slots"] == 1
    assert np.isnan(report["specialisation_ratio"])


def test_memory_report_wrong_layer_names():
    model = models.memory_decoder(2, 9, memory_size=3, hidden_units=8)
    with pytest.raises(ValueError, match="MemoryLayer"):
        analysis.memory_report(
            model,
            np.zeros((4, 2)),
            np.zeros((4, 9)),
            memory_layer="informed_layer",
        )
