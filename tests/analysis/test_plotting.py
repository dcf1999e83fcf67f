"""The plotting helpers draw the data they are given."""

import numpy as np
import pytest

from keras_memnets import analysis

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _snapshots():
    rng = np.random.default_rng(0)
    # 4 records of 30 weights whose spread grows.
    return rng.standard_normal((4, 30)) * np.arange(1, 5)[:, None]


def test_weight_density_image_is_the_histogram_matrix():
    w = _snapshots()
    steps = np.array([0, 10, 20, 30])
    fig = analysis.plot_weight_density(w, steps)
    mesh = fig.axes[0].collections[0]
    image = np.asarray(mesh.get_array()).reshape(40, 4)
    np.testing.assert_array_equal(image.T, analysis.histogram_matrix(w))
    fig = analysis.plot_weight_density(w, steps, log=True)
    image = np.asarray(fig.axes[0].collections[0].get_array()).reshape(40, 4)
    np.testing.assert_allclose(
        image.T, np.log10(1 + analysis.histogram_matrix(w))
    )


def test_curves_and_trajectories():
    w = _snapshots()
    steps = np.array([0, 10, 20, 30])
    variance = np.stack([w.var(axis=1), 2 * w.var(axis=1)])
    fig = analysis.plot_curves(steps, variance, ["a", "b"], "variance")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[1].get_ydata(), variance[1])
    fig = analysis.plot_weight_trajectories(
        steps, w, indices=[0, 5], normalise=True
    )
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(
        lines[1].get_ydata(), w[:, 5] / np.linalg.norm(w, axis=1)
    )


def test_layer_panels():
    w = _snapshots()
    fig = analysis.plot_layer_panels({"first": w[:, :10], "second": w[:, 10:]})
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["first", "second"]


def test_histogram_matrix_rejects_a_vector():
    with pytest.raises(ValueError, match="n_records, n_parameters"):
        analysis.histogram_matrix(np.zeros(5))
