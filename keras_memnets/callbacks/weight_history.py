"""WeightHistory: weight statistics and snapshots over training."""

import json
import os

import keras
import numpy as np

from keras_memnets.analysis.history import load_weight_history
from keras_memnets.analysis.weights import ALPHA_MIN_SIZE
from keras_memnets.analysis.weights import selected_variables
from keras_memnets.analysis.weights import variable_statistics
from keras_memnets.api_export import register
from keras_memnets.utils.validation import boolean
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import one_of
from keras_memnets.utils.validation import positive_int

OWNER = "WeightHistory"
UNITS = ("batch", "epoch")


@register
class WeightHistory(keras.callbacks.Callback):
    """Records weight statistics (and optionally snapshots) during training.

    It records at step 0 (before the first update) and then every `every`
    steps, where a step is an optimizer update (`unit="batch"`, read from
    `model.optimizer.iterations`, so it counts correctly with
    `steps_per_execution` and across several `fit` calls) or an epoch
    (`unit="epoch"`). `.steps` lists the recorded step numbers.

    At each record, for every selected variable (and for `"all"`, the
    selected variables pooled) it stores `array_statistics` (mean, variance,
    kurtosis, max `|w|`, L2 norm, histogram counts on fixed `bins`) and, for
    each kernel, `matrix_statistics` (singular values, stable rank,
    effective rank, numerical rank, power-law `alpha` when the matrix is
    large enough). `.statistics[path][name]` is the list over records;
    `.statistic(name, path)` returns it as an array. Each record costs an
    SVD of every kernel (and a power-law fit for the large ones), done on
    the host in numpy: choose `every` (or `layers`) accordingly for large
    models.

    With `keep_weights=True`, `.weights()` returns the flattened snapshots,
    shape `(len(steps), n_parameters)` (variables in `model.weights` order,
    each flattened row-major). With `path`, the snapshots are appended to
    an HDF5 file instead (datasets `"steps"` and `"weights"`, the variables'
    paths and shapes in the attribute `"variables"`), which is opened and
    closed around every write: memory stays bounded and an interrupted run
    keeps every snapshot written before the interruption. With `log_dir`,
    the scalars and histograms also go to TensorBoard (needs TensorFlow
    installed, whatever the Keras backend).

    Args:
        every: int. Record every this many steps. Defaults to 10.
        unit: `"batch"` (optimizer steps) or `"epoch"`. Defaults to
            `"batch"`.
        layers: optional list of layer names whose variables are recorded;
            `None` records all of `model.weights`.
        keep_weights: bool. Keep the flattened snapshots in memory.
        path: optional str. HDF5 file the snapshots stream to (it is
            overwritten at the first record).
        bins: optional list of histogram bin edges; `None` uses
            `-5, -4.75, ..., 5`.
        log_dir: optional str. TensorBoard log directory.
        tolerance: optional float. Numerical-rank tolerance (see
            `keras_memnets.analysis.matrix_statistics`).
        alpha_min_size: int. Smallest matrix side for which `alpha` is
            fitted. Defaults to 50.

    Example:

    >>> model = keras_memnets.models.relu_mlp([8, 8, 8])
    >>> model.compile("adam", "mse")
    >>> x, y = keras_memnets.datasets.piecewise_steps(64, seed=0)
    >>> history = keras_memnets.callbacks.WeightHistory(
    ...     every=2, keep_weights=True)
    >>> _ = model.fit(x, y, batch_size=16, epochs=2, verbose=0,
    ...     callbacks=[history])
    >>> history.steps
    [0, 2, 4, 6, 8]
    >>> history.weights().shape
    (5, 169)

    Reference:
        Martin and Mahoney, "Implicit self-regularization in deep neural
        networks", JMLR 2021; the guide *Weight statistics over training* on
        the docs site, https://keras-memnets.readthedocs.io/.
    """

    def __init__(
        self,
        every=10,
        unit="batch",
        layers=None,
        keep_weights=False,
        path=None,
        bins=None,
        log_dir=None,
        tolerance=None,
        alpha_min_size=ALPHA_MIN_SIZE,
    ):
        super().__init__()
        every = positive_int(every, "every", OWNER)
        one_of(unit, "unit", OWNER, UNITS)
        if isinstance(layers, str):
            layers = [layers]
        if layers is not None and not all(isinstance(n, str) for n in layers):
            raise TypeError(
                f"{OWNER}: `layers` must be a list of layer names or None, "
                f"got {layers!r}."
            )
        if bins is not None:
            edges = np.asarray(bins, dtype="float64")
            if (
                edges.ndim != 1
                or len(edges) < 2
                or not np.all(np.isfinite(edges))
                or np.any(np.diff(edges) <= 0)
            ):
                raise ValueError(
                    f"{OWNER}: `bins` must be an increasing list of at "
                    f"least 2 finite bin edges, got {bins!r}."
                )
            bins = [float(b) for b in edges]
        for argument, value in (("path", path), ("log_dir", log_dir)):
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise TypeError(
                    f"{OWNER}: `{argument}` must be a str or None, got "
                    f"{value!r}."
                )
        if tolerance is not None:
            tolerance = number_in_range(
                tolerance, "tolerance", OWNER, low=0, finite=True
            )
        alpha_min_size = positive_int(alpha_min_size, "alpha_min_size", OWNER)
        self.every = every
        self.unit = unit
        self.layers = None if layers is None else list(layers)
        self.keep_weights = boolean(keep_weights, "keep_weights", OWNER)
        self.path = None if path is None else os.fspath(path)
        self.bins = bins
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.tolerance = tolerance
        self.alpha_min_size = alpha_min_size
        self.steps = []
        self.statistics = {}
        self.variable_paths = None
        self.variable_shapes = None
        self._snapshots = []
        self._file_started = False
        self._writer = None

    # -- recording -----------------------------------------------------------

    def _variables(self):
        return selected_variables(self.model, self.layers, "WeightHistory")

    def _optimizer_step(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def record(self, step):
        """Records the model's weights now, as step `step`.

        Args:
            step: int. The step number stored in `.steps`.
        """
        variables = self._variables()
        values = [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]
        if self.variable_paths is None:
            self.variable_paths = [v.path for v in variables]
            self.variable_shapes = [tuple(v.shape) for v in variables]
        records = variable_statistics(
            variables,
            values,
            bins=self.bins,
            tolerance=self.tolerance,
            alpha_min_size=self.alpha_min_size,
        )
        for key, stats in records.items():
            target = self.statistics.setdefault(key, {})
            for name, value in stats.items():
                target.setdefault(name, []).append(value)
        self.steps.append(int(step))
        if self.keep_weights or self.path is not None:
            # The pooled weights, only where a snapshot is kept.
            flat = np.concatenate([a.ravel() for a in values]).astype("float32")
            if self.keep_weights:
                self._snapshots.append(flat)
            if self.path is not None:
                self._write_snapshot(int(step), flat)
        if self.log_dir is not None:
            self._write_tensorboard(int(step), variables, values, records)

    def _write_snapshot(self, step, flat):
        import h5py

        mode = "a" if self._file_started else "w"
        with h5py.File(self.path, mode) as f:
            if not self._file_started:
                f.create_dataset(
                    "steps", shape=(0,), maxshape=(None,), dtype="int64"
                )
                f.create_dataset(
                    "weights",
                    shape=(0, len(flat)),
                    maxshape=(None, len(flat)),
                    dtype="float32",
                    chunks=(1, len(flat)),
                )
                f.attrs["variables"] = json.dumps(
                    [
                        [p, list(s)]
                        for p, s in zip(
                            self.variable_paths, self.variable_shapes
                        )
                    ]
                )
                self._file_started = True
            n = f["steps"].shape[0]
            f["weights"].resize(n + 1, axis=0)
            f["weights"][n] = flat
            f["steps"].resize(n + 1, axis=0)
            f["steps"][n] = step

    def _write_tensorboard(self, step, variables, values, records):
        import tensorflow as tf

        scalars = (
            "mean",
            "variance",
            "kurtosis",
            "max_abs",
            "l2_norm",
            "stable_rank",
            "effective_rank",
            "numerical_rank",
            "alpha",
        )
        with self._writer.as_default(step=step):
            for v, a in zip(variables, values):
                tf.summary.histogram(f"weights/{v.path}", a)
            for key, stats in records.items():
                for name in scalars:
                    if stats.get(name) is not None:
                        tf.summary.scalar(f"{name}/{key}", stats[name])
        self._writer.flush()

    # -- Keras hooks ---------------------------------------------------------

    def on_train_begin(self, logs=None):
        if self.log_dir is not None and self._writer is None:
            try:
                import tensorboard  # noqa: F401
                import tensorflow as tf
            except ImportError as e:
                raise ImportError(
                    "WeightHistory: `log_dir` needs TensorFlow and TensorBoard "
                    "installed (pip install tensorflow tensorboard)."
                ) from e
            self._writer = tf.summary.create_file_writer(self.log_dir)
        if self.unit == "batch":
            step = self._optimizer_step()
            self._next = (step // self.every + 1) * self.every
            if not self.steps or self.steps[-1] != step:
                self.record(step)
        elif not self.steps:
            self.record(0)

    def on_train_batch_end(self, batch, logs=None):
        if self.unit != "batch":
            return
        step = self._optimizer_step()
        if step >= self._next:
            self.record(step)
            self._next = (step // self.every + 1) * self.every

    def on_epoch_end(self, epoch, logs=None):
        if self.unit != "epoch":
            return
        if (epoch + 1) % self.every == 0:
            self.record(epoch + 1)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()

    # -- reading -------------------------------------------------------------

    def statistic(self, name, variable="all"):
        """One statistic over the records, as an array.

        Args:
            name: str. A statistic's name, e.g. `"variance"`,
                `"stable_rank"`, `"histogram"`.
            variable: str. A variable's path (see `.statistics`) or `"all"`.

        Returns:
            A numpy array whose first axis is the records (`None` values,
            e.g. `alpha` of a small matrix, become `nan`).
        """
        if variable not in self.statistics:
            raise KeyError(
                f"WeightHistory: no variable {variable!r}; recorded: "
                f"{sorted(self.statistics)}."
            )
        values = self.statistics[variable].get(name)
        if values is None:
            raise KeyError(
                f"WeightHistory: no statistic {name!r} for {variable!r}; "
                f"available: {sorted(self.statistics[variable])}."
            )
        if name == "alpha":
            values = [np.nan if v is None else v for v in values]
        return np.asarray(values)

    def weights(self):
        """The flattened weight snapshots, shape `(len(steps), n_parameters)`.

        Returns:
            A float32 array: from memory with `keep_weights=True`, else read
            from the HDF5 file at `path`.
        """
        if self.keep_weights:
            if not self._snapshots:
                return np.zeros((0, 0), dtype="float32")
            return np.stack(self._snapshots)
        if self.path is not None:
            return load_weight_history(self.path)[1]
        raise ValueError(
            "WeightHistory: snapshots were not kept; pass `keep_weights=True` "
            "or `path=...`."
        )

    def get_config(self):
        return {
            "every": self.every,
            "unit": self.unit,
            "layers": self.layers,
            "keep_weights": self.keep_weights,
            "path": self.path,
            "bins": self.bins,
            "log_dir": self.log_dir,
            "tolerance": self.tolerance,
            "alpha_min_size": self.alpha_min_size,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
