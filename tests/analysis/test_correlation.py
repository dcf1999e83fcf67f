"""CorrelationNorm's feature statistics against direct numpy/scipy."""

import numpy as np
import pytest

from keras_memnets.analysis import bimodality_coefficient
from keras_memnets.analysis import block_abs_correlation
from keras_memnets.analysis import pair_cosines


def test_block_abs_correlation_matches_a_loop_over_pairs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5, 6))  # positions count as samples
    x[..., 1] += 0.5 * x[..., 0]
    x[..., 4] = 2.0  # a constant feature correlates 0 with the others
    rows = x.reshape(-1, 6)
    values = []
    for a in range(6):
        for b in range(6):
            if a != b and a // 4 == b // 4:
                if rows[:, a].std() == 0 or rows[:, b].std() == 0:
                    values.append(0.0)
                else:
                    values.append(
                        abs(np.corrcoef(rows[:, a], rows[:, b])[0, 1])
                    )
    assert block_abs_correlation(x, 4) == pytest.approx(np.mean(values))


def test_pair_cosines_are_cosines_of_distinct_pairs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3, 4))
    cosines = pair_cosines(x, num_pairs=500, seed=7)
    draw = np.random.default_rng(7)
    i = draw.integers(0, 50, 500)
    j = (i + draw.integers(1, 50, 500)) % 50
    assert np.all(i != j)
    v = x.reshape(50, -1)
    expected = np.sum(v[i] * v[j], 1) / np.sqrt(
        ((v[i] ** 2).sum(1) + 1e-5) * ((v[j] ** 2).sum(1) + 1e-5)
    )
    np.testing.assert_allclose(cosines, expected, rtol=1e-12)
    # A generator is used as is: the caller's stream continues.
    gen = np.random.default_rng(7)
    np.testing.assert_array_equal(pair_cosines(x, 500, gen), cosines)


def test_bimodality_coefficient_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    for x in (
        rng.normal(size=500),
        rng.uniform(size=2000),
        np.concatenate([rng.normal(-3, 1, 400), rng.normal(3, 1, 300)]),
        rng.exponential(size=300),
    ):
        g = stats.skew(x, bias=False)
        k = stats.kurtosis(x, bias=False)
        n = len(x)
        expected = (g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
        assert bimodality_coefficient(x) == pytest.approx(expected, rel=1e-9)
    assert bimodality_coefficient(rng.uniform(size=200000)) == pytest.approx(
        5 / 9, abs=0.01
    )


def test_bad_input_names_the_function_and_argument():
    with pytest.raises(ValueError, match="bimodality_coefficient.*values"):
        bimodality_coefficient([1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="pair_cosines.*features"):
        pair_cosines(np.ones((1, 3)))
    with pytest.raises(ValueError, match="block_abs_correlation.*finite"):
        block_abs_correlation(np.full((4, 4), np.nan), 2)
    with pytest.raises(ValueError, match="block_size"):
        block_abs_correlation(np.ones((4, 4)), 0)
    with pytest.raises(ValueError, match="no pair"):
        block_abs_correlation(np.random.default_rng(0).normal(size=(9, 4)), 1)
