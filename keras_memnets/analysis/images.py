"""Statistics of images: how much high-frequency noise they carry."""

import keras
import numpy as np

from keras_memnets.utils.validation import int_in_range


def high_frequency_energy(images, image_shape):
    """Mean squared discrete Laplacian of images: a measure of their noise.

    For each image the 4-neighbour Laplacian
    `4 u[i, j] - u[i-1, j] - u[i+1, j] - u[i, j-1] - u[i, j+1]` is taken at
    the interior pixels and squared; the mean over pixels and images is
    returned. Speckle and grain raise it, smooth strokes keep it low.
    Divide it by the same statistic of the targets to read "noise-free"
    (ratio <= 1: no more high-frequency energy than the data itself).

    Args:
        images: array `(n, prod(image_shape))` or `(n, *image_shape)`.
        image_shape: tuple `(height, width)`.

    Returns:
        A Python float.

    Example:

    >>> flat = np.full((1, 9), 0.5)
    >>> keras_memnets.analysis.high_frequency_energy(flat, (3, 3))
    0.0
    """
    owner = "high_frequency_energy"
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2:
        raise ValueError(
            f"{owner}: `image_shape` must be (height, width) with both >= 3, "
            f"got {image_shape!r}."
        )
    image_shape = tuple(
        int_in_range(v, "image_shape", owner, low=3) for v in image_shape
    )
    u = np.asarray(keras.ops.convert_to_numpy(images), "float64")
    if not np.all(np.isfinite(u)):
        raise ValueError(
            f"{owner}: `images` must hold finite values, got NaN or infinite "
            "entries."
        )
    pixels = image_shape[0] * image_shape[1]
    if (
        u.ndim < 1
        or u.size % pixels
        or u.shape[-1]
        not in (
            pixels,
            image_shape[1],
        )
    ):
        raise ValueError(
            f"{owner}: `images` must have shape (n, {pixels}) or (n, "
            f"{image_shape[0]}, {image_shape[1]}), got shape {u.shape}."
        )
    u = u.reshape((-1,) + image_shape)
    if len(u) == 0:
        raise ValueError(
            f"{owner}: `images` must hold at least one image, got shape "
            f"{u.shape}."
        )
    laplacian = (
        4 * u[:, 1:-1, 1:-1]
        - u[:, :-2, 1:-1]
        - u[:, 2:, 1:-1]
        - u[:, 1:-1, :-2]
        - u[:, 1:-1, 2:]
    )
    return float(np.mean(laplacian**2))
