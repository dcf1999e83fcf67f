"""Feature statistics for CorrelationNorm: block correlation, pair cosines
and the bimodality coefficient."""

import numpy as np

from keras_memnets.utils.validation import positive_int


def _features(features, where, min_rows=2):
    array = np.asarray(features, dtype="float64")
    if array.ndim < 2 or array.shape[0] < min_rows:
        raise ValueError(
            f"{where}: `features` must be an array (samples, ..., features) "
            f"with at least {min_rows} samples; got shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: `features` must be finite.")
    return array


def block_abs_correlation(features, block_size):
    """Mean absolute correlation between features inside blocks.

    The statistic that `keras_memnets.layers.CorrelationNorm` lowers: the
    features (last axis) are cut into consecutive blocks of `block_size`;
    the Pearson correlation of every pair of distinct features in the same
    block is computed over all other axes (samples, and positions for
    convolutional feature maps), and their absolute values averaged. A
    constant feature has correlation 0 with every other.

    Args:
        features: array `(samples, ..., features)`.
        block_size: int, the block width (as the layer's `block_size`).

    Returns:
        A float in `[0, 1]`.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(1000, 4))
    >>> x[:, 1] = x[:, 0]  # features 0 and 1 correlate perfectly
    >>> round(keras_memnets.analysis.block_abs_correlation(x, 2), 2)
    0.52

    Reference:
        The guide *CorrelationNorm* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    block_size = positive_int(block_size, "block_size", "block_abs_correlation")
    array = _features(features, "block_abs_correlation")
    rows = array.reshape(-1, array.shape[-1])
    if rows.shape[-1] < 2:
        raise ValueError(
            "block_abs_correlation: need at least 2 features; got "
            f"{rows.shape[-1]}."
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(rows, rowvar=False))
    block = np.arange(len(corr)) // block_size
    inside = (block[:, None] == block[None, :]) & ~np.eye(len(corr), dtype=bool)
    if not inside.any():
        raise ValueError(
            f"block_abs_correlation: `block_size` {block_size} leaves no "
            "pair of features in a block."
        )
    return float(np.abs(corr[inside]).mean())


def pair_cosines(features, num_pairs=20000, seed=None):
    """Cosine similarities of random pairs of distinct samples.

    Each sample's features (everything after the first axis, flattened)
    form a vector; `num_pairs` pairs `(i, j)` with `i != j` are drawn
    uniformly and their cosines returned. A small constant (1e-5) under the
    square root keeps all-zero vectors (dead ReLU rows) at cosine 0.

    Args:
        features: array `(samples, ...)`.
        num_pairs: int, how many pairs. Defaults to 20,000.
        seed: `None`, an int or a `numpy.random.Generator` (used as is, so a
            caller can continue its own stream).

    Returns:
        A float64 array `(num_pairs,)` of values in `[-1, 1]`.

    Example:

    >>> x = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    >>> c = keras_memnets.analysis.pair_cosines(x, num_pairs=6, seed=0)
    >>> c.shape, bool(np.all((np.abs(c) < 1e-3) | (np.abs(c - 1) < 1e-3)))
    ((6,), True)
    """
    num_pairs = positive_int(num_pairs, "num_pairs", "pair_cosines")
    array = _features(features, "pair_cosines")
    rng = np.random.default_rng(seed)
    v = array.reshape(len(array), -1)
    v = v / np.sqrt((v**2).sum(axis=1, keepdims=True) + 1e-5)
    i = rng.integers(0, len(v), num_pairs)
    j = (i + rng.integers(1, len(v), num_pairs)) % len(v)
    return np.sum(v[i] * v[j], axis=1)


def bimodality_coefficient(values):
    """Sarle's bimodality coefficient of a sample.

    `BC = (g² + 1) / (k + 3 (n-1)² / ((n-2)(n-3)))`, with `g` the sample
    skewness and `k` the sample excess kurtosis, both bias-corrected (as
    `scipy.stats.skew(bias=False)` and `scipy.stats.kurtosis(bias=False)`).
    A uniform distribution gives 5/9; values above it suggest two modes (or
    a strongly skewed sample), a normal distribution gives about 1/3.

    Args:
        values: 1-D array of at least 4 finite, not all equal values.

    Returns:
        A float.

    Example:

    >>> x = np.random.default_rng(0).normal(size=100000)
    >>> round(keras_memnets.analysis.bimodality_coefficient(x), 2)
    0.33
    >>> two = np.concatenate([x - 4, x + 4])
    >>> bool(keras_memnets.analysis.bimodality_coefficient(two) > 5 / 9)
    True

    Reference:
        Pfister, Schwarz, Janczyk, Dale, Freeman. Good things peak in
        pairs: a note on the bimodality coefficient. Frontiers in
        Psychology, 2013.
    """
    x = np.asarray(values, dtype="float64").reshape(-1)
    n = x.size
    if n < 4 or not np.all(np.isfinite(x)) or np.ptp(x) == 0:
        raise ValueError(
            "bimodality_coefficient: `values` must hold at least 4 finite, "
            f"not all equal values; got {n} values."
        )
    z = (x - x.mean()) / x.std()
    skew = np.mean(z**3) * np.sqrt(n * (n - 1)) / (n - 2)
    kurt = (n + 1) * np.mean(z**4) - 3 * (n - 1)
    kurt = kurt * (n - 1) / ((n - 2) * (n - 3))
    return float(
        (skew**2 + 1) / (kurt + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    )
