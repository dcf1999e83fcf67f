"""SelectionMonitor: a memory's utilisation in the `fit` logs."""

import keras
import numpy as np

from keras_memnets.analysis.selection import selection_report
from keras_memnets.api_export import register
from keras_memnets.layers.memory import MemoryLayer
from keras_memnets.utils.models import get_layer
from keras_memnets.utils.models import input_model
from keras_memnets.utils.models import layer_selection
from keras_memnets.utils.validation import positive_int
from keras_memnets.utils.validation import string

# selection_report keys written to the logs by default.
DEFAULT_KEYS = (
    "slots_used",
    "dead_slots",
    "perplexity",
    "mean_max_selection",
)
LABEL_KEYS = ("purity", "normalized_mutual_information")


@register
class SelectionMonitor(keras.callbacks.Callback):
    """Logs how a `MemoryLayer` uses its slots, at the end of each epoch.

    The way to follow a memory's utilisation in `fit`: it needs no
    `"selection"` output, no target for it, and no change to `compile`.
    Every `frequency` epochs it computes the selection of the named
    `MemoryLayer` on the data given to `set_data` (inputs of the model; a
    held-out sample or the validation inputs), runs
    `keras_memnets.analysis.selection_report` on it, and adds the chosen
    keys to the epoch's logs as `prefix + key` (by default
    `memory_slots_used`, `memory_dead_slots`, `memory_perplexity` (an
    effective number of slots, as `keras_memnets.metrics.
    SelectionPerplexity`), `memory_mean_max_selection`, and with labels
    `memory_purity` and `memory_normalized_mutual_information`), so
    that `History`, `CSVLogger`, `TensorBoard` and `EarlyStopping` see them.
    The full report of the last check is `callback.last_report`. (The
    default prefix differs from the `selection_` keys of metrics attached to
    a `"selection"` output, so both can be used.)

    Add it before callbacks that read these keys (Keras runs callbacks in
    order; `History` always runs last).

    Args:
        layer_name: str. Name of the `MemoryLayer` in the model
            (`keras_memnets.models.memory_decoder` names it
            `"memory_layer"`).
        keys: optional sequence of `selection_report` keys with scalar
            values; `None` logs the default keys (plus the label keys when
            labels are given).
        prefix: str. Prepended to each key in the logs.
        frequency: int. Check every this many epochs.
        batch_size: int. Batch size of the forward pass.

    Example:

    >>> model = keras_memnets.models.memory_decoder(6, 8, hidden_units=16)
    >>> model.compile("adam", loss={"memory": "mse", "informed": "mse"})
    >>> x, y = np.random.rand(64, 6), np.random.rand(64, 8)
    >>> monitor = keras_memnets.callbacks.SelectionMonitor().set_data(x)
    >>> history = model.fit(x, {"memory": y, "informed": y}, epochs=1,
    ...                     verbose=0, callbacks=[monitor])
    >>> [k for k in sorted(history.history) if "loss" not in k]
    ['memory_dead_slots', 'memory_mean_max_selection', 'memory_perplexity',
     'memory_slots_used']

    Reference:
        The guide *Memory networks* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """

    def __init__(
        self,
        layer_name="memory_layer",
        keys=None,
        prefix="memory_",
        frequency=1,
        batch_size=512,
    ):
        super().__init__()
        name = type(self).__name__
        if keys is not None:
            keys = [str(k) for k in keys]
            allowed = set(DEFAULT_KEYS + LABEL_KEYS) | {
                "num_samples",
                "non_finite_rows",
                "memory_size",
                "slots_for_mass",
                "argmax_perplexity",
                "mutual_information",
                "label_entropy",
            }
            unknown = sorted(set(keys) - allowed)
            if unknown:
                raise ValueError(
                    f"{name}: `keys` must be scalar selection_report keys "
                    f"({', '.join(sorted(allowed))}), got {unknown}."
                )
        self.layer_name = string(layer_name, "layer_name", name)
        self.keys = keys
        self.prefix = string(prefix, "prefix", name)
        self.frequency = positive_int(frequency, "frequency", name)
        self.batch_size = positive_int(batch_size, "batch_size", name)
        self._x = None
        self._labels = None
        self._features = None
        self.last_report = None

    def set_data(self, x, labels=None):
        """Gives the model inputs to compute the selection on.

        Args:
            x: array `(n, ...)` (or a list of arrays for several inputs):
                model inputs.
            labels: optional integer array `(n,)`, for purity and mutual
                information.

        Returns:
            The callback itself, so that the call can be chained.
        """
        first = x[0] if isinstance(x, (list, tuple)) else x
        n = len(first)
        if n == 0:
            raise ValueError("SelectionMonitor.set_data: `x` has no rows.")
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if len(labels) != n:
                raise ValueError(
                    "SelectionMonitor.set_data: `x` and `labels` must have "
                    f"the same number of rows, got {n} and {len(labels)}."
                )
        self._x, self._labels = x, labels
        return self

    def _memory_layer(self):
        return get_layer(
            self.model, self.layer_name, MemoryLayer, "SelectionMonitor"
        )

    def on_train_begin(self, logs=None):
        if self._x is None:
            raise ValueError(
                "SelectionMonitor: no data; call `callback.set_data(x)` "
                "before `fit`."
            )
        # The layer's input as a function of the model's inputs; the
        # selection is then `layer.compute_selection`, whether or not the
        # layer returns it.
        self._features = input_model(self.model, self._memory_layer().input)

    def report(self):
        """Computes the selection report on the data now.

        Returns:
            The `keras_memnets.analysis.selection_report` dict.
        """
        layer = self._memory_layer()
        features = self._x
        if self._features is not None:
            features = self._features.predict(
                self._x, batch_size=self.batch_size, verbose=0
            )
        selection = layer_selection(
            layer, np.asarray(features), self.batch_size
        )
        self.last_report = selection_report(selection, self._labels)
        return self.last_report

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.frequency:
            return
        report = self.report()
        keys = self.keys
        if keys is None:
            keys = DEFAULT_KEYS + (
                LABEL_KEYS if self._labels is not None else ()
            )
        if logs is not None:
            for key in keys:
                if key in report:
                    logs[self.prefix + key] = float(report[key])

    def get_config(self):
        return {
            "layer_name": self.layer_name,
            "keys": self.keys,
            "prefix": self.prefix,
            "frequency": self.frequency,
            "batch_size": self.batch_size,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
