"""A small numpy k-means (k-means++ seeding, Lloyd iterations).

Used by `keras_memnets.layers.MemoryLayer.set_memory_from_kmeans` to
initialise a memory the way vector-quantisation codebooks are initialised;
numpy only, so the library needs no scikit-learn.
"""

import collections

import numpy as np

KMeansResult = collections.namedtuple(
    "KMeansResult", ["centroids", "assignments", "mse", "iterations"]
)
KMeansResult.__doc__ = """The outcome of `kmeans`.

Attributes:
    centroids: float64 array `(num_clusters, *sample_shape)`.
    assignments: int64 array `(n,)`, the index of each sample's centroid.
    mse: float. Mean over samples and features of the squared distance to
        the assigned centroid (the mean squared error of a memory that
        outputs each sample's centroid exactly).
    iterations: int. Lloyd iterations run (of the best restart).
"""

# Rows per block of the distance computation (bounds its memory).
_BLOCK = 4096


def _sq_distances(x, x_sq, centroids):
    """Squared distances `(n, k)` from rows of `x` to `centroids`."""
    c_sq = np.einsum("ij,ij->i", centroids, centroids)
    out = np.empty((len(x), len(centroids)))
    for start in range(0, len(x), _BLOCK):
        stop = start + _BLOCK
        block = x_sq[start:stop, None] - 2.0 * (x[start:stop] @ centroids.T)
        out[start:stop] = block + c_sq[None, :]
    return np.maximum(out, 0.0)


def _plus_plus(x, x_sq, k, rng):
    """k-means++ seeding (Arthur and Vassilvitskii, 2007)."""
    centroids = np.empty((k, x.shape[1]))
    centroids[0] = x[rng.integers(len(x))]
    closest = _sq_distances(x, x_sq, centroids[:1])[:, 0]
    for i in range(1, k):
        total = closest.sum()
        if total > 0:
            index = rng.choice(len(x), p=closest / total)
        else:  # fewer distinct samples than clusters
            index = rng.integers(len(x))
        centroids[i] = x[index]
        distance = _sq_distances(x, x_sq, centroids[i : i + 1])[:, 0]
        closest = np.minimum(closest, distance)
    return centroids


def _lloyd(x, x_sq, centroids, max_iterations, tolerance):
    k = len(centroids)
    previous = np.inf
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        distances = _sq_distances(x, x_sq, centroids)
        assignments = distances.argmin(axis=1)
        closest = distances[np.arange(len(x)), assignments]
        counts = np.bincount(assignments, minlength=k)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assignments, x)
        for empty in np.flatnonzero(counts == 0):
            # An empty cluster takes the sample farthest from its centroid
            # among those whose cluster keeps another member.
            movable = counts[assignments] > 1
            far = int(np.argmax(np.where(movable, closest, -1.0)))
            counts[assignments[far]] -= 1
            sums[assignments[far]] -= x[far]
            assignments[far] = empty
            closest[far] = 0.0
            counts[empty] = 1
            sums[empty] = x[far]
        centroids = sums / counts[:, None]
        inertia = closest.sum()
        if previous - inertia <= tolerance * max(inertia, 1e-300):
            break
        previous = inertia
    distances = _sq_distances(x, x_sq, centroids)
    assignments = distances.argmin(axis=1)
    inertia = distances[np.arange(len(x)), assignments].sum()
    return centroids, assignments, inertia, iterations


def kmeans(
    samples,
    num_clusters,
    seed=None,
    max_iterations=100,
    restarts=1,
    tolerance=1e-6,
):
    """Clusters samples with k-means (k-means++ seeding, Lloyd iterations).

    Computed in float64 numpy. An empty cluster takes the sample farthest
    from its centroid, so every centroid is the mean of at least one sample.
    With `restarts > 1` the run with the lowest squared error is returned.

    Args:
        samples: array `(n, ...)`; each sample is flattened.
        num_clusters: int. Number of centroids, `<= n`.
        seed: optional int. Seed of the k-means++ draws.
        max_iterations: int. Most Lloyd iterations per restart.
        restarts: int. Independent k-means++ seedings.
        tolerance: float. Stop when the summed squared error falls by less
            than this fraction of itself in one iteration.

    Returns:
        A `KMeansResult(centroids, assignments, mse, iterations)`, the
        centroids shaped `(num_clusters, *samples.shape[1:])`.
    """
    x = np.asarray(samples, dtype="float64")
    if x.ndim < 2:
        raise ValueError(
            f"kmeans: `samples` must have shape (n, ...), got {x.shape}."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("kmeans: `samples` holds NaN or Inf values.")
    if not 1 <= num_clusters <= len(x):
        raise ValueError(
            f"kmeans: `num_clusters` must lie in [1, n={len(x)}], got "
            f"{num_clusters}."
        )
    sample_shape = x.shape[1:]
    x = x.reshape(len(x), -1)
    x_sq = np.einsum("ij,ij->i", x, x)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(restarts):
        centroids = _plus_plus(x, x_sq, num_clusters, rng)
        run = _lloyd(x, x_sq, centroids, max_iterations, tolerance)
        if best is None or run[2] < best[2]:
            best = run
    centroids, assignments, inertia, iterations = best
    return KMeansResult(
        centroids=centroids.reshape((num_clusters,) + sample_shape),
        assignments=assignments.astype("int64"),
        mse=float(inertia / x.size),
        iterations=int(iterations),
    )
