"""Stops training once a monitored value stops changing (relative tolerance)."""

import math
import warnings

import keras

from keras_memnets.api_export import register
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int


@register
class ConvergenceStopping(keras.callbacks.Callback):
    """Stops training when the relative change of a value stays small.

    The research note's convergence rule: training has converged when the
    epoch-average loss "does not change more than 1% for 5 epochs". After
    every epoch `t >= 1` the callback computes
    `|L_t - L_{t-1}| / |L_{t-1}|`; when that is `<= rel_tol` for `patience`
    consecutive epochs it records `converged_epoch = t` (0-based) and
    `converged_value = L_t` and sets `model.stop_training`. Unlike
    `keras.callbacks.EarlyStopping` it also stops when the value is still
    *decreasing* slowly: it asks "has it stopped moving?", not "has it stopped
    improving?". A NaN or infinite value resets the count. If
    `L_{t-1} == 0` the change counts as small only when `L_t == 0` too.

    `converged_epoch` and `converged_value` stay `None` when the rule was not
    met; they are reset at the start of every `fit()`.

    Args:
        monitor: str. The log entry to watch. Defaults to `"loss"`.
        rel_tol: float. Largest relative change, `>= 0`, that counts as
            "not changing". Defaults to `0.01` (1 %).
        patience: int. How many consecutive small changes stop training.
            Defaults to `5`.
        stop_training: bool. Whether to stop the training when converged
            (`False` only records). Defaults to `True`.

    Example:

    >>> stop = keras_memnets.callbacks.ConvergenceStopping(patience=2)
    >>> for epoch, loss in enumerate([10.0, 5.0, 4.99, 4.98, 4.0]):
    ...     stop.on_epoch_end(epoch, {"loss": loss})
    >>> stop.converged_epoch, stop.converged_value
    (3, 4.98)

    Reference:
        The guide `docs/guides/overfit_capacity.rst`.
    """

    def __init__(
        self, monitor="loss", rel_tol=0.01, patience=5, stop_training=True
    ):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(
                "ConvergenceStopping: `monitor` must be a str, got "
                f"{monitor!r}."
            )
        owner = "ConvergenceStopping"
        rel_tol = number_in_range(rel_tol, "rel_tol", owner, low=0.0)
        if rel_tol == float("inf"):
            raise ValueError(f"{owner}: `rel_tol` must be finite, got inf.")
        patience = positive_int(patience, "patience", owner)
        if not isinstance(stop_training, bool):
            raise TypeError(
                "ConvergenceStopping: `stop_training` must be a bool, got "
                f"{stop_training!r}."
            )
        self.monitor = monitor
        self.rel_tol = float(rel_tol)
        self.patience = int(patience)
        self.stop_training = stop_training
        self._reset()

    def _reset(self):
        self.converged_epoch = None
        self.converged_value = None
        self.wait = 0
        self._previous = None
        self._warned = False

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            if not self._warned:
                warnings.warn(
                    f"ConvergenceStopping: `{self.monitor}` is not in the "
                    f"logs (available: {sorted(logs)}); nothing is checked.",
                    stacklevel=2,
                )
                self._warned = True
            return
        value = float(logs[self.monitor])
        previous, self._previous = self._previous, value
        if not math.isfinite(value):
            self.wait = 0
            self._previous = None
            return
        if previous is None or self.converged_epoch is not None:
            return
        if previous == 0.0:
            small = value == 0.0
        else:
            small = abs(value - previous) / abs(previous) <= self.rel_tol
        self.wait = self.wait + 1 if small else 0
        if self.wait >= self.patience:
            self.converged_epoch = int(epoch)
            self.converged_value = value
            if self.stop_training and self.model is not None:
                self.model.stop_training = True

    def get_config(self):
        return {
            "monitor": self.monitor,
            "rel_tol": self.rel_tol,
            "patience": self.patience,
            "stop_training": self.stop_training,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
