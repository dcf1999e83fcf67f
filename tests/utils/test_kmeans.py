"""The numpy k-means against brute force and on separable clusters."""

import itertools

import numpy as np
import pytest

from keras_memnets.utils.kmeans import kmeans


def _blobs(seed, k=4, per=30, dim=8, noise=0.05):
    rng = np.random.default_rng(seed)
    centers = rng.random((k, dim)) * 10
    labels = np.repeat(np.arange(k), per)
    x = centers[labels] + noise * rng.standard_normal((k * per, dim))
    return x, labels, centers


def test_separable_blobs_are_recovered():
    x, labels, centers = _blobs(0)
    result = kmeans(x, 4, seed=0)
    # Each cluster is exactly one blob, and its centroid the blob's mean.
    for cluster in range(4):
        members = result.assignments == cluster
        assert len(np.unique(labels[members])) == 1
        blob = labels[members][0]
        np.testing.assert_allclose(
            result.centroids[cluster], x[labels == blob].mean(0), atol=1e-12
        )
    expected = np.mean((x - result.centroids[result.assignments]) ** 2)
    assert result.mse == pytest.approx(expected, rel=1e-12)
    assert result.mse == pytest.approx(0.05**2, rel=0.2)


def test_matches_brute_force_optimum_on_a_tiny_set():
    rng = np.random.default_rng(1)
    x = rng.random((7, 2))
    best = np.inf
    # Every assignment of 7 points to 2 non-empty clusters.
    for labels in itertools.product(range(2), repeat=7):
        labels = np.array(labels)
        if len(np.unique(labels)) < 2:
            continue
        sse = sum(
            np.sum((x[labels == c] - x[labels == c].mean(0)) ** 2)
            for c in range(2)
        )
        best = min(best, sse)
    result = kmeans(x, 2, seed=0, restarts=5)
    assert result.mse * x.size == pytest.approx(best, rel=1e-9)


def test_seed_makes_it_deterministic_and_shapes_are_kept():
    x = np.random.default_rng(2).random((50, 3, 2))
    a = kmeans(x, 5, seed=3)
    b = kmeans(x, 5, seed=3)
    np.testing.assert_array_equal(a.centroids, b.centroids)
    assert a.centroids.shape == (5, 3, 2)
    assert a.assignments.shape == (50,)
    assert a.assignments.dtype == np.int64


def test_fewer_distinct_samples_than_clusters_stays_finite():
    # Two distinct values for three clusters: a centroid must repeat, and
    # none may become the NaN mean of an empty cluster.
    x = np.array([[0.0], [0.0], [0.0], [1.0], [1.0]])
    for seed in range(5):
        result = kmeans(x, 3, seed=seed)
        assert np.isfinite(result.centroids).all()
        assert set(result.centroids.ravel().tolist()) == {0.0, 1.0}
        assert result.mse == 0.0


@pytest.mark.parametrize(
    "x,k,match",
    [
        (np.zeros(5), 2, r"shape \(n, \.\.\.\)"),
        (np.zeros((3, 2)), 4, "num_clusters"),
        (np.array([[0.0], [np.nan]]), 1, "NaN"),
    ],
)
def test_errors(x, k, match):
    with pytest.raises(ValueError, match=match):
        kmeans(x, k)
