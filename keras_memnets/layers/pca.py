"""PCAReduction: principal component projection learned by `adapt`."""

import keras
import numpy as np
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.shapes import check_input_shape
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int


def _batches(data, batch_size, steps):
    """Yields float64 numpy batches from arrays, tensors or a `tf.data`."""
    is_array = isinstance(data, (np.ndarray, list, tuple)) or ops.is_tensor(
        data
    )
    if not is_array and hasattr(data, "__iter__"):
        # A tf.data.Dataset (or another iterable of batches): batches as they
        # come; for (x, y) elements take x.
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, (tuple, list)):
                batch = batch[0]
            if isinstance(batch, dict):
                raise ValueError(
                    "PCAReduction.adapt: dict elements are not supported; "
                    "map the dataset to the feature tensor first."
                )
            yield np.asarray(keras.ops.convert_to_numpy(batch), "float64")
        return
    array = np.asarray(keras.ops.convert_to_numpy(data))
    n = len(array)
    limit = n if steps is None else min(n, steps * batch_size)
    for start in range(0, limit, batch_size):
        yield np.asarray(
            array[start : min(start + batch_size, limit)], "float64"
        )


@register
class PCAReduction(keras.layers.Layer):
    """Projects onto the top principal components learned by `adapt`.

    `adapt(data)` computes the mean and the covariance (scatter) matrix of
    the data in float64, merging batches with Chan's update so that a
    `tf.data` stream gives the same result as one array, and takes its
    eigendecomposition, which equals the SVD of the centred data matrix up
    to the signs of the components. `call` projects
    `(x - mean) @ components`; with `whiten=True` each component is divided
    by its standard deviation. `inverse` maps projections back.

    Components are sign-normalised (the entry of largest magnitude of each
    component is positive), so the same data gives the same projection on
    every backend. The mean, components and explained variances are
    non-trainable weights, so they are saved in `.keras` files; the layer has
    no trainable weights. Only `adapt` writes them (it refuses data with NaN
    or Inf); `call` changes no state.

    Args:
        units: int. Number of components kept, >= 1 and at most the number
            of features.
        whiten: bool. If `True`, scale each projected component to unit
            variance. Defaults to `False`.
        epsilon: float >= 0. Added to the variances before whitening.
            Defaults to 1e-7.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, ..., features)`.

    Returns:
        The projection, of shape `(batch, ..., units)`.

    Input shape:
        `(batch, ..., features)`, rank >= 2.

    Output shape:
        `(batch, ..., units)`.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(100, 20))
    >>> pca = keras_memnets.layers.PCAReduction(6)
    >>> pca.adapt(x)
    >>> tuple(pca(x).shape), pca.explained_variance_ratio.shape
    ((100, 6), (6,))

    Reference:
        The guides *Memory networks* and *Compressing hidden layers by PCA*
        on the docs site (https://keras-memnets.readthedocs.io/).
    """

    def __init__(self, units, whiten=False, epsilon=1e-7, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.units = positive_int(units, "units", name)
        self.whiten = bool(whiten)
        self.epsilon = number_in_range(epsilon, "epsilon", name, low=0.0)
        self._adapted = False

    def _check_features(self, features):
        if features is not None and self.units > features:
            raise ValueError(
                f"{type(self).__name__}: `units`={self.units} is larger than "
                f"the number of input features ({features}); choose "
                f"units <= {features}."
            )

    def _check_inputs(self, shape):
        features = self.mean.shape[0] if self.built else None
        check_input_shape(shape, type(self).__name__, size=features)
        self._check_features(shape[-1])

    def build(self, input_shape):
        self._check_inputs(input_shape)
        features = int(input_shape[-1])
        self.mean = self.add_weight(
            name="mean", shape=(features,), initializer="zeros", trainable=False
        )
        self.components = self.add_weight(
            name="components",
            shape=(features, self.units),
            initializer="zeros",
            trainable=False,
        )
        self.explained_variance = self.add_weight(
            name="explained_variance",
            shape=(self.units,),
            initializer="zeros",
            trainable=False,
        )
        self.total_variance = self.add_weight(
            name="total_variance",
            shape=(),
            initializer="zeros",
            trainable=False,
        )

    def adapt(self, data, batch_size=1024, steps=None):
        """Computes the mean and principal components of `data`.

        Args:
            data: numpy array or tensor `(n, ..., features)`, or a
                `tf.data.Dataset` of such batches (or of `(x, y)` pairs).
            batch_size: int. Rows per chunk when `data` is an array.
            steps: optional int. Number of batches to read.

        Raises:
            ValueError: if the data holds NaN or Inf, has fewer than
                `units + 1` rows, or has a different number of features than
                the layer was built for.
        """
        name = type(self).__name__
        count = 0
        mean = None
        scatter = None
        for batch in _batches(data, batch_size, steps):
            if batch.ndim < 2:
                raise ValueError(
                    f"{name}.adapt: data must have rank >= 2 "
                    f"(n, ..., features), got a batch of shape {batch.shape}."
                )
            batch = batch.reshape(-1, batch.shape[-1])
            if mean is None:
                self._check_features(batch.shape[1])
                mean = np.zeros(batch.shape[1])
                scatter = np.zeros((batch.shape[1], batch.shape[1]))
            elif batch.shape[1] != mean.shape[0]:
                raise ValueError(
                    f"{name}.adapt: batches have {batch.shape[1]} and "
                    f"{mean.shape[0]} features."
                )
            m = batch.shape[0]
            if m == 0:
                continue
            if not np.all(np.isfinite(batch)):
                row = int(np.flatnonzero(~np.isfinite(batch).all(axis=1))[0])
                raise ValueError(
                    f"{name}.adapt: the data holds NaN or Inf values (first "
                    f"in row {count + row}); clean or impute it before "
                    "adapting."
                )
            batch_mean = batch.mean(axis=0)
            centered = batch - batch_mean
            delta = batch_mean - mean
            total = count + m
            # Chan et al.'s pairwise update of the mean and scatter matrix.
            scatter += centered.T @ centered + np.outer(delta, delta) * (
                count * m / total
            )
            mean += delta * (m / total)
            count = total
        if count < self.units + 1:
            # With n samples the centred data spans at most n - 1
            # directions: more components than that would be arbitrary.
            raise ValueError(
                f"{name}.adapt: need at least {self.units + 1} samples "
                f"(units + 1) to estimate {self.units} components, got "
                f"{count}."
            )
        if not self.built:
            self.build((None, mean.shape[0]))
        elif self.mean.shape[0] != mean.shape[0]:
            raise ValueError(
                f"{name}.adapt: the layer was built for {self.mean.shape[0]} "
                f"features, the data has {mean.shape[0]}."
            )
        # The scatter matrix is symmetric positive semi-definite, so its SVD
        # is its eigendecomposition, which `eigh` computes for symmetric
        # matrices (eigenvalues come ascending).
        s, u = np.linalg.eigh(scatter)
        s, u = np.maximum(s[::-1], 0.0), u[:, ::-1]
        components = u[:, : self.units]
        # Sign convention: the largest-magnitude entry of each component is
        # positive.
        pivot = np.argmax(np.abs(components), axis=0)
        signs = np.sign(components[pivot, np.arange(self.units)])
        signs[signs == 0] = 1.0
        components = components * signs
        variance = s / (count - 1)
        self.mean.assign(mean.astype(self.mean.dtype))
        self.components.assign(components.astype(self.components.dtype))
        self.explained_variance.assign(
            variance[: self.units].astype(self.explained_variance.dtype)
        )
        self.total_variance.assign(
            np.asarray(variance.sum(), self.total_variance.dtype)
        )
        self._adapted = True

    @property
    def is_adapted(self):
        """Whether `adapt` has run (or adapted weights were loaded)."""
        return self._adapted

    @property
    def explained_variance_ratio(self):
        """Fraction of the total variance held by each kept component."""
        self._require_adapted("explained_variance_ratio")
        variance = np.asarray(
            keras.ops.convert_to_numpy(self.explained_variance)
        )
        total = float(keras.ops.convert_to_numpy(self.total_variance))
        return variance / total if total > 0 else np.zeros_like(variance)

    def _require_adapted(self, what):
        if not self._adapted:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `{what}` needs the "
                "principal components; call `layer.adapt(data)` first (or load "
                "an adapted layer)."
            )

    def load_own_variables(self, store):
        super().load_own_variables(store)
        # Weights saved from an adapted layer: the loaded layer is adapted.
        self._adapted = True

    def _scale(self, dtype):
        return ops.sqrt(ops.cast(self.explained_variance, dtype) + self.epsilon)

    def call(self, inputs):
        self._check_inputs(tuple(inputs.shape))
        self._require_adapted("call")
        dtype = self.compute_dtype
        x = ops.cast(inputs, dtype) - ops.cast(self.mean, dtype)
        z = ops.matmul(x, ops.cast(self.components, dtype))
        if self.whiten:
            z = z / self._scale(dtype)
        return z

    def inverse(self, projections):
        """Maps projections back to the input space.

        Args:
            projections: tensor `(batch, ..., units)`.

        Returns:
            The reconstruction `projections @ components.T + mean`, a tensor
            `(batch, ..., features)` (un-whitened first when `whiten=True`).
        """
        self._require_adapted("inverse")
        dtype = self.compute_dtype
        z = ops.cast(projections, dtype)
        if z.shape[-1] != self.units:
            raise ValueError(
                f"{type(self).__name__}.inverse: projections must have "
                f"{self.units} features on the last axis, got shape {z.shape}."
            )
        if self.whiten:
            z = z * self._scale(dtype)
        x = ops.matmul(z, ops.transpose(ops.cast(self.components, dtype)))
        return x + ops.cast(self.mean, dtype)

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "whiten": self.whiten,
                "epsilon": self.epsilon,
            }
        )
        return config
