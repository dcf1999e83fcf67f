"""A piecewise-constant schedule for `SetMinSelection.log_std`."""

import time

import keras

from keras_memnets.api_export import register
from keras_memnets.layers.set_min_selection import SetMinSelection
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import one_of

UNITS = ("epoch", "seconds")


@register
class LogStdSchedule(keras.callbacks.Callback):
    """Sets the selection noise of `SetMinSelection` from a piecewise schedule.

    `schedule` is a list of `(duration, value)` pairs: `log_std` is `value`
    for `duration` units, then the next pair applies; after the last pair
    its value stays. One hour with `log_std=1`, two with 10 and one with
    100 is `LogStdSchedule([(3600, 1.0), (7200, 10.0), (3600, 100.0)],
    unit="seconds")`.

    - `unit="epoch"`: durations are whole epochs. The value is set at the
      start of each epoch from Keras' epoch index (which counts from
      `initial_epoch`).
    - `unit="seconds"`: durations are seconds of wall-clock training time,
      counted only inside `fit()` calls (summed over the `fit()` calls this
      callback takes part in), checked before every training batch.

    The callback controls the `keras_memnets.layers.SetMinSelection` layers
    of the model (searched through nested models), or the ones given as
    `layer`. It assigns each layer's `log_std`, a non-trainable model
    weight, which the compiled train step reads on every step on every
    backend without recompiling, and which is saved with the model. The
    current value is added to the epoch logs as `"log_std"`. (A
    `keras_memnets.losses.SetMinLoss` holds a constant `log_std` and is not
    scheduled.)

    Args:
        schedule: list of `(duration, value)` pairs; durations `> 0` (whole
            numbers for `unit="epoch"`), values `>= 0`.
        unit: `"epoch"` or `"seconds"`. Defaults to `"epoch"`.
        layer: `None`, a `SetMinSelection`, its name, or a list of these.
            `None` (default) controls every `SetMinSelection` in the model.
            A name is looked up among the model's `SetMinSelection` layers.
            In `get_config` a given layer is stored by its name, so a
            deserialized callback finds the layer again in the model it is
            used with.

    Example:

    >>> schedule = keras_memnets.callbacks.LogStdSchedule(
    ...     [(2, 1.0), (4, 10.0), (2, 100.0)], unit="epoch")
    >>> schedule.value_at(0), schedule.value_at(2), schedule.value_at(9)
    (1.0, 10.0, 100.0)

    Reference:
        The guide *Set-min random loss and K-variant networks* on the docs
        site, https://keras-memnets.readthedocs.io/.
    """

    def __init__(self, schedule, unit="epoch", layer=None):
        super().__init__()
        self.unit = one_of(unit, "unit", "LogStdSchedule", UNITS)
        self.schedule = _check_schedule(schedule, unit)
        self.layer = layer
        self._layer_names = _layer_names(layer)
        self._clock = time.perf_counter
        self._elapsed_before = 0.0
        self._fit_start = None
        self._layers = []
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

    def _find_layers(self):
        model_layers = _selection_layers(self.model)
        if self.layer is None:
            found = model_layers
        else:
            given = (
                self.layer
                if isinstance(self.layer, (list, tuple))
                else [self.layer]
            )
            found = []
            for item in given:
                if isinstance(item, SetMinSelection):
                    found.append(item)
                    continue
                matches = [lay for lay in model_layers if lay.name == item]
                if not matches:
                    raise ValueError(
                        f"LogStdSchedule: no SetMinSelection layer named "
                        f"{item!r} in the model; its SetMinSelection layers "
                        f"are named {[lay.name for lay in model_layers]}."
                    )
                found.extend(matches)
        if not found:
            raise ValueError(
                "LogStdSchedule: found no SetMinSelection layer to control. "
                "Put a keras_memnets.layers.SetMinSelection into the model "
                "(a SetMinLoss has a constant log_std), or pass the layer as "
                "`layer=`."
            )
        return found

    def _apply(self, value):
        if value != self._current:
            # On JAX, `fit` holds the model's state outside its variables
            # between the steps of an epoch; `jax_state_sync` writes it back
            # and makes the next step re-read the variables, so the
            # assignment below is not overwritten. Other backends have no
            # such method and need nothing.
            sync = getattr(self.model, "jax_state_sync", None)
            if sync is not None:
                sync()
            for layer in self._layers:
                layer.log_std.assign(value)
            self._current = value

    def on_train_begin(self, logs=None):
        self._layers = self._find_layers()
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
        if logs is not None and self._layers:
            logs["log_std"] = float(
                keras.ops.convert_to_numpy(self._layers[0].log_std)
            )

    def get_config(self):
        return {
            "schedule": [list(pair) for pair in self.schedule],
            "unit": self.unit,
            "layer": self._layer_names,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _selection_layers(model):
    """The `SetMinSelection` layers of `model`, through nested models."""
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, SetMinSelection):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(_selection_layers(layer))
    return found


def _layer_names(layer):
    if layer is None:
        return None
    items = layer if isinstance(layer, (list, tuple)) else [layer]
    names = []
    for item in items:
        if isinstance(item, SetMinSelection):
            names.append(item.name)
        elif isinstance(item, str):
            names.append(item)
        else:
            raise TypeError(
                "LogStdSchedule: `layer` must be None, a SetMinSelection, its "
                f"name, or a list of these; got {item!r}."
            )
    if isinstance(layer, (list, tuple)):
        return names
    return names[0]


def _check_schedule(schedule, unit):
    if isinstance(schedule, (str, bytes)) or not hasattr(schedule, "__iter__"):
        raise TypeError(
            "LogStdSchedule: `schedule` must be a list of (duration, value) "
            f"pairs, got {schedule!r}."
        )
    pairs = []
    for item in schedule:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ValueError(
                "LogStdSchedule: every entry of `schedule` must be a "
                f"(duration, value) pair, got {item!r}."
            )
        duration, value = item
        duration = number_in_range(
            duration,
            "schedule",
            "LogStdSchedule",
            low=0.0,
            low_inclusive=False,
            finite=True,
        )
        if unit == "epoch" and duration != int(duration):
            raise ValueError(
                "LogStdSchedule: `schedule` durations must be whole numbers "
                f"of epochs with unit='epoch', got {duration!r}."
            )
        value = number_in_range(
            value, "schedule", "LogStdSchedule", low=0.0, finite=True
        )
        duration = int(duration) if unit == "epoch" else float(duration)
        pairs.append((duration, float(value)))
    if not pairs:
        raise ValueError(
            "LogStdSchedule: `schedule` must hold at least one (duration, "
            "value) pair, got []."
        )
    return pairs
