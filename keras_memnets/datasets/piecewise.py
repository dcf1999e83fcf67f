"""A one-dimensional piecewise-constant target: two steps of height 1."""

import numpy as np

from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int

OWNER = "piecewise_steps"


def piecewise_steps(n=5000, seed=None, low=-3.0, high=3.0):
    """Samples a step function: two steps of height 1 on `[-3, 3)`.

    `x` is uniform on `[low, high)` (by default `[-3, 3)`) and `y = 1` on
    `[-2, -1)` and on `[0, 2)`, else `0`: two steps of height 1.

    Args:
        n: int. Number of points. Defaults to 5000.
        seed: optional int. Seed of `numpy.random.default_rng`.
        low: float. Left end of the input interval.
        high: float. Right end of the input interval.

    Returns:
        `(x, y)`, float32 arrays of shape `(n, 1)`.

    Example:

    >>> x, y = keras_memnets.datasets.piecewise_steps(5, seed=0)
    >>> x.shape, y.shape
    ((5, 1), (5, 1))
    >>> keras_memnets.datasets.piecewise_steps.target(
    ...     np.array([-2.5, -1.5, -0.5, 1.0, 2.5]))
    array([0., 1., 0., 1., 0.], dtype=float32)

    Reference:
        The guide *Weight statistics over training* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    n = positive_int(n, "n", OWNER)
    low = number_in_range(low, "low", OWNER, finite=True)
    high = number_in_range(high, "high", OWNER, finite=True)
    if not high > low:
        raise ValueError(
            f"{OWNER}: `high` must be above `low` (low < high), got "
            f"low={low}, high={high}."
        )
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=(n, 1)).astype("float32")
    return x, _target(x)


def _target(x):
    """The target: 1 on [-2, -1) and [0, 2), else 0."""
    x = np.asarray(x)
    y = ((x >= -2) & (x < -1)) | ((x >= 0) & (x < 2))
    return y.astype("float32")


piecewise_steps.target = _target
