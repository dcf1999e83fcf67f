"""Stops training once a monitored value stops changing (relative tolerance)."""

import math
import warnings

import keras

from keras_memnets.api_export import register
from keras_memnets.utils.validation import boolean
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int
from keras_memnets.utils.validation import string


@register
class ConvergenceStopping(keras.callbacks.Callback):
    """Stops training when the relative change of a value stays small.

    Training has converged when the epoch-average loss changes by no more
    than `rel_tol` (1 %) for `patience` (5) epochs in a row. After every
    epoch `t >= 1` the callback computes `|L_t - L_{t-1}| / |L_{t-1}|`;
    when that is `<= rel_tol` for `patience` consecutive epochs it records
    `converged_epoch = t` (0-based) and `converged_value = L_t` and sets
    `model.stop_training`. Unlike `keras.callbacks.EarlyStopping` it also
    stops when the value is still *decreasing* slowly: it asks "has it
    stopped moving?", not "has it stopped improving?". If `L_{t-1} == 0`
    the change counts as small only when `L_t == 0` too.

    A NaN or infinite value stops training as well, with a `UserWarning`
    that says so; it is not a convergence, so `converged_epoch` stays
    `None`. `stopped_epoch` is the epoch at which the callback stopped
    training (`None` if it did not). `converged_epoch`, `converged_value`
    and `stopped_epoch` are reset at the start of every `fit()`.

    Args:
        monitor: str. The log entry to watch. Defaults to `"loss"`.
        rel_tol: float. Largest relative change, `>= 0`, that counts as
            "not changing". Defaults to `0.01` (1 %).
        patience: int. How many consecutive small changes stop training.
            Defaults to `5`.
        stop_training: bool. Whether to stop the training when converged or
            not finite (`False` only records and warns). Defaults to
            `True`.

    Example:

    >>> stop = keras_memnets.callbacks.ConvergenceStopping(patience=2)
    >>> for epoch, loss in enumerate([10.0, 5.0, 4.99, 4.98, 4.0]):
    ...     stop.on_epoch_end(epoch, {"loss": loss})
    >>> stop.converged_epoch, stop.converged_value
    (3, 4.98)

    Reference:
        The guide *Over-fitting an MNIST autoencoder* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """

    def __init__(
        self, monitor="loss", rel_tol=0.01, patience=5, stop_training=True
    ):
        super().__init__()
        owner = "ConvergenceStopping"
        self.monitor = string(monitor, "monitor", owner)
        self.rel_tol = number_in_range(
            rel_tol, "rel_tol", owner, low=0.0, finite=True
        )
        self.patience = positive_int(patience, "patience", owner)
        self.stop_training = boolean(stop_training, "stop_training", owner)
        self._reset()

    def _reset(self):
        self.converged_epoch = None
        self.converged_value = None
        self.stopped_epoch = None
        self.wait = 0
        self._previous = None
        self._warned = False

    def on_train_begin(self, logs=None):
        self._reset()

    def _stop(self, epoch):
        if self.stop_training:
            self.stopped_epoch = int(epoch)
            if self.model is not None:
                self.model.stop_training = True

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
            action = "stops training" if self.stop_training else "records it"
            warnings.warn(
                f"ConvergenceStopping: `{self.monitor}` is {value} at epoch "
                f"{epoch}; training diverged, not converged: it {action}.",
                stacklevel=2,
            )
            self._stop(epoch)
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
            self._stop(epoch)

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
