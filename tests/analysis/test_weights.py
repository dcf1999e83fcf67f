"""matrix_statistics, array_statistics, weight_statistics against numpy."""

import math

import numpy as np
import pytest

import keras_memnets
from keras_memnets import analysis


def _matrix_with_spectrum(s, m, n, seed=0):
    """An (m, n) matrix U diag(s) Vᵀ with random orthonormal U, V."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((m, m)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    k = len(s)
    return (u[:, :k] * s) @ v[:, :k].T


def test_known_spectrum():
    s = np.array([5.0, 3.0, 2.0, 1.0, 0.5])
    w = _matrix_with_spectrum(s, 12, 9)
    stats = analysis.matrix_statistics(w)
    np.testing.assert_allclose(stats["singular_values"][:5], s, rtol=1e-10)
    assert stats["numerical_rank"] == 5  # the other 4 are ~1e-15
    assert stats["numerical_rank"] == np.linalg.matrix_rank(w)
    np.testing.assert_allclose(stats["stable_rank"], np.sum(s**2) / 25.0)
    p = s / s.sum()
    np.testing.assert_allclose(
        stats["effective_rank"], math.exp(-np.sum(p * np.log(p))), rtol=1e-9
    )
    assert stats["alpha"] is None  # 9 < 50: too small for a fit


def test_effective_rank_of_flat_and_rank_one_spectra():
    eye = analysis.matrix_statistics(np.eye(7))
    np.testing.assert_allclose(eye["effective_rank"], 7.0)
    np.testing.assert_allclose(eye["stable_rank"], 7.0)
    one = analysis.matrix_statistics(np.outer(np.arange(1, 5), np.ones(3)))
    np.testing.assert_allclose(one["effective_rank"], 1.0)
    assert one["numerical_rank"] == 1


def test_numerical_rank_tolerance():
    w = np.diag([1.0, 1e-3, 1e-6])
    assert analysis.matrix_statistics(w)["numerical_rank"] == 3
    assert analysis.matrix_statistics(w, tolerance=1e-4)["numerical_rank"] == 2
    # float32's eps is the default tolerance for float32 weights.
    w32 = np.diag([1.0, 1e-3, 1e-9]).astype("float32")
    assert analysis.matrix_statistics(w32)["numerical_rank"] == 2


def test_alpha_on_a_synthetic_power_law_spectrum():
    """Eigenvalues of WᵀW/M drawn from p(λ) ~ λ^-3: α within ± 0.3."""
    pytest.importorskip("powerlaw")
    rng = np.random.default_rng(1)
    n = 400
    lam = rng.pareto(2.0, n) + 1.0  # density ~ lam^-(2 + 1)
    m = 600
    w = _matrix_with_spectrum(np.sqrt(lam * m), m, n, seed=2)
    alpha = analysis.matrix_statistics(w)["alpha"]
    assert abs(alpha - 3.0) < 0.3, alpha
    # The fit itself on the eigenvalues directly.
    assert abs(analysis.power_law_alpha(lam) - 3.0) < 0.3


def test_array_statistics_against_numpy():
    rng = np.random.default_rng(0)
    v = rng.standard_t(5, size=(40, 30))
    stats = analysis.array_statistics(v)
    flat = v.ravel()
    np.testing.assert_allclose(stats["mean"], flat.mean())
    np.testing.assert_allclose(stats["variance"], flat.var())
    centred = flat - flat.mean()
    np.testing.assert_allclose(
        stats["kurtosis"], np.mean(centred**4) / flat.var() ** 2
    )
    np.testing.assert_allclose(stats["max_abs"], np.abs(flat).max())
    np.testing.assert_allclose(stats["l2_norm"], np.linalg.norm(flat))
    counts, _ = np.histogram(flat, np.arange(-5, 5.25, 0.25))
    np.testing.assert_array_equal(stats["histogram"], counts)


def test_weight_statistics_of_a_model():
    model = keras_memnets.models.relu_mlp([8, 8, 8])
    stats = analysis.weight_statistics(model)
    assert stats["all"]["size"] == 169
    kernel = model.get_layer("hidden_2").kernel.numpy()
    np.testing.assert_allclose(
        stats["hidden_2/kernel"]["stable_rank"],
        analysis.matrix_statistics(kernel)["stable_rank"],
    )
    assert "stable_rank" not in stats["hidden_2/bias"]
    only = analysis.weight_statistics(model, layers=["output"])
    assert sorted(only) == ["all", "output/bias", "output/kernel"]


def test_bad_inputs():
    with pytest.raises(ValueError, match="matrix_statistics: `w` must be"):
        analysis.matrix_statistics(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        analysis.matrix_statistics(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="real"):
        analysis.matrix_statistics(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="non-empty"):
        analysis.array_statistics([])
    with pytest.raises(ValueError, match="array_statistics: `values`.*NaN"):
        analysis.array_statistics([1.0, np.nan])
    model = keras_memnets.models.relu_mlp([4])
    with pytest.raises(ValueError, match="`layers` must name.*'nope'"):
        analysis.weight_statistics(model, layers=["nope"])
    with pytest.raises(ValueError, match="variable_statistics: `variables`"):
        analysis.variable_statistics([])


def test_histogram_matrix():
    w = np.array([[0.1, 0.1, -4.9], [10.0, 0.0, 0.0]])
    counts = analysis.histogram_matrix(w)
    assert counts.shape == (2, 40)
    assert counts[0].sum() == 3 and counts[1].sum() == 2  # 10 is outside
    assert counts[0, 20] == 2 and counts[0, 0] == 1


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0, 2)])
def test_empty_matrix_is_refused(shape):
    # Before: a (0, 3) matrix gave numerical rank 0 and no error.
    with pytest.raises(ValueError, match="matrix_statistics: `w` must be a"):
        analysis.matrix_statistics(np.zeros(shape))


def test_variable_statistics_equals_weight_statistics():
    model = keras_memnets.models.relu_mlp([4, 3])
    variables = analysis.selected_variables(model, ["hidden_2", "output"])
    assert [v.path for v in variables] == [
        "hidden_2/kernel",
        "hidden_2/bias",
        "output/kernel",
        "output/bias",
    ]
    by_variables = analysis.variable_statistics(variables)
    by_model = analysis.weight_statistics(model, ["hidden_2", "output"])
    assert sorted(by_variables) == sorted(by_model)
    for key in by_model:
        assert by_variables[key]["variance"] == by_model[key]["variance"]
