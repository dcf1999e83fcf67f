"""A piecewise-constant schedule for `SetMinLoss.log_std`."""

import math
import time

import keras

from keras_memnets.api_export import register
from keras_memnets.losses.set_min import SetMinLoss

UNITS = ("epoch", "seconds")


@register
class LogStdSchedule(keras.callbacks.Callback):
    """Sets the selection noise of `SetMinLoss` from a piecewise schedule.

    `schedule` is a list of `(duration, value)` pairs: `log_std` is `value`
    for `duration` units, then the next pair applies; after the last pair
    its value stays. The research note trained "1 hour with 10^0, 2 hours
    with 10^1, 1 hour with 10^2", i.e.
    `LogStdSchedule([(3600, 1.0), (7200, 10.0), (3600, 100.0)],
    unit="seconds")`.

    - `unit="epoch"`: durations are whole epochs. The value is set at the
      start of each epoch from Keras' epoch index (which counts from
      `initial_epoch`).
    - `unit="seconds"`: durations are seconds of wall-clock training time,
      counted only inside `fit()` calls (summed over the `fit()` calls this
      callback takes part in), checked before every training batch.

    The callback controls the `SetMinLoss` objects in the compiled
    `model.loss` (searched through lists and dicts), or the ones given as
    `loss`. It assigns `loss.log_std`, which the compiled train step reads
    on every step without recompiling (see `SetMinLoss`). The current value
    is added to the epoch logs as `"log_std"`.

    Args:
        schedule: list of `(duration, value)` pairs; durations `> 0` (whole
            numbers for `unit="epoch"`), values `>= 0`.
        unit: `"epoch"` or `"seconds"`. Defaults to `"epoch"`.
        loss: `None`, a `SetMinLoss`, its name, or a list of these. `None`
            (default) controls every `SetMinLoss` in `model.loss`. A name
            is looked up among the `SetMinLoss` objects in `model.loss`. In
            `get_config` a given loss is stored by its name, so a
            deserialized callback finds the loss again in the model it is
            used with.

    Example:

    >>> schedule = keras_memnets.callbacks.LogStdSchedule(
    ...     [(2, 1.0), (4, 10.0), (2, 100.0)], unit="epoch")
    >>> schedule.value_at(0), schedule.value_at(2), schedule.value_at(9)
    (1.0, 10.0, 100.0)

    Reference:
        Research note `000-memory-and-set-min-notes.txt` (the training
        schedule of the set-min random loss net).
    """

    def __init__(self, schedule, unit="epoch", loss=None):
        super().__init__()
        if unit not in UNITS:
            raise ValueError(
                f"LogStdSchedule: `unit` must be one of {UNITS}; got {unit!r}."
            )
        self.unit = unit
        self.schedule = _check_schedule(schedule, unit)
        self.loss = loss
        self._loss_names = _loss_names(loss)
        self._clock = time.perf_counter
        self._elapsed_before = 0.0
        self._fit_start = None
        self._losses = []
        self._current = None

    def value_at(self, position):
        """Returns the scheduled `log_std` after `position` epochs or seconds.

        Args:
            position: float. Epochs (the 0-based epoch index) or seconds of
                training so far.

        Returns:
            The value of the pair whose interval contains `position`; the
            last value once the schedule has run out.
        """
        end = 0.0
        for duration, value in self.schedule:
            end += duration
            if position < end:
                return value
        return self.schedule[-1][1]

    def elapsed_seconds(self):
        """Seconds of training counted so far (for `unit="seconds"`)."""
        if self._fit_start is None:
            return self._elapsed_before
        return self._elapsed_before + (self._clock() - self._fit_start)

    def _find_losses(self):
        found = []
        model_losses = [
            loss
            for loss in keras.tree.flatten(getattr(self.model, "loss", None))
            if isinstance(loss, SetMinLoss)
        ]
        if self.loss is None:
            found = model_losses
        else:
            given = self.loss if isinstance(self.loss, (list, tuple)) else [
                self.loss
            ]
            for item in given:
                if isinstance(item, SetMinLoss):
                    found.append(item)
                    continue
                matches = [loss for loss in model_losses if loss.name == item]
                if not matches:
                    raise ValueError(
                        f"LogStdSchedule: no SetMinLoss named {item!r} in "
                        "model.loss; the SetMinLoss objects there are named "
                        f"{[loss.name for loss in model_losses]}."
                    )
                found.extend(matches)
        if not found:
            raise ValueError(
                "LogStdSchedule: found no SetMinLoss to control. Compile the "
                "model with a keras_memnets.losses.SetMinLoss, or pass it as "
                f"`loss=`; model.loss is {getattr(self.model, 'loss', None)!r}."
            )
        return found

    def _apply(self, value):
        if value != self._current:
            for loss in self._losses:
                loss.log_std = value
            self._current = value

    def on_train_begin(self, logs=None):
        self._losses = self._find_losses()
        self._current = None
        self._fit_start = self._clock()
        if self.unit == "seconds":
            self._apply(self.value_at(self.elapsed_seconds()))

    def on_train_end(self, logs=None):
        if self._fit_start is not None:
            self._elapsed_before += self._clock() - self._fit_start
            self._fit_start = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.unit == "epoch":
            self._apply(self.value_at(epoch))

    def on_train_batch_begin(self, batch, logs=None):
        if self.unit == "seconds":
            self._apply(self.value_at(self.elapsed_seconds()))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._losses:
            logs["log_std"] = float(
                keras.ops.convert_to_numpy(self._losses[0].log_std)
            )

    def get_config(self):
        return {
            "schedule": [list(pair) for pair in self.schedule],
            "unit": self.unit,
            "loss": self._loss_names,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _loss_names(loss):
    if loss is None:
        return None
    items = loss if isinstance(loss, (list, tuple)) else [loss]
    names = []
    for item in items:
        if isinstance(item, SetMinLoss):
            names.append(item.name)
        elif isinstance(item, str):
            names.append(item)
        else:
            raise TypeError(
                "LogStdSchedule: `loss` must be None, a SetMinLoss, its name, "
                f"or a list of these; got {item!r}."
            )
    if isinstance(loss, (list, tuple)):
        return names
    return names[0]


def _check_schedule(schedule, unit):
    if isinstance(schedule, (str, bytes)) or not hasattr(schedule, "__iter__"):
        raise TypeError(
            "LogStdSchedule: `schedule` must be a list of (duration, value) "
            f"pairs; got {schedule!r}."
        )
    pairs = []
    for item in schedule:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ValueError(
                "LogStdSchedule: every entry of `schedule` must be a "
                f"(duration, value) pair; got {item!r}."
            )
        duration, value = item
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            raise TypeError(
                f"LogStdSchedule: duration {duration!r} in `schedule` must be "
                "a number."
            )
        if not math.isfinite(duration) or duration <= 0:
            raise ValueError(
                f"LogStdSchedule: durations must be > 0; got {duration!r}."
            )
        if unit == "epoch" and float(duration) != int(duration):
            raise ValueError(
                "LogStdSchedule: with unit='epoch' durations must be whole "
                f"numbers of epochs; got {duration!r}."
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(
                f"LogStdSchedule: value {value!r} in `schedule` must be a "
                "number."
            )
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                "LogStdSchedule: values (log_std) must be finite and >= 0; "
                f"got {value!r}."
            )
        duration = int(duration) if unit == "epoch" else float(duration)
        pairs.append((duration, float(value)))
    if not pairs:
        raise ValueError("LogStdSchedule: `schedule` must not be empty.")
    return pairs
