"""LogStdSchedule: the schedule, by epoch and by (fake) seconds."""

import types

import keras
import numpy as np
import pytest

from keras_memnets.callbacks import LogStdSchedule
from keras_memnets.layers import SetMinSelection
from tests.layers.test_set_min_selection import fixed_two_variant_model


class Recorder(keras.callbacks.Callback):
    """Records the layer's log_std before every training batch."""

    def __init__(self, layer, clock=None, tick=1.0):
        super().__init__()
        self.set_min = layer
        self.clock = clock
        self.tick = tick
        self.values = []

    def on_train_batch_begin(self, batch, logs=None):
        # JAX's fit holds the state outside the variables mid-epoch.
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()
        self.values.append(
            float(keras.ops.convert_to_numpy(self.set_min.log_std))
        )

    def on_train_batch_end(self, batch, logs=None):
        if self.clock is not None:
            self.clock.now += self.tick


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_value_at_boundaries():
    schedule = LogStdSchedule([(2, 1.0), (3, 10.0), (1, 100.0)])
    got = [schedule.value_at(e) for e in range(8)]
    assert got == [1.0, 1.0, 10.0, 10.0, 10.0, 100.0, 100.0, 100.0]
    seconds = LogStdSchedule([(0.5, 0.0), (1.5, 2.0)], unit="seconds")
    assert [seconds.value_at(t) for t in (0.0, 0.49, 0.5, 1.99, 2.0, 50.0)] == [
        0.0,
        0.0,
        2.0,
        2.0,
        2.0,
        2.0,
    ]


def test_epoch_schedule_reaches_the_compiled_step():
    # Variants lose exactly 1 and 4; with log_std 0 the loss is exactly 1.
    model, layer, inputs = fixed_two_variant_model()
    recorder = Recorder(layer)
    history = model.fit(
        inputs,
        epochs=4,
        batch_size=16,
        verbose=0,
        callbacks=[LogStdSchedule([(1, 0.0), (2, 100.0), (1, 0.0)]), recorder],
    )
    assert history.history["log_std"] == [0.0, 100.0, 100.0, 0.0]
    assert recorder.values == [0.0] * 4 + [100.0] * 8 + [0.0] * 4
    losses = history.history["loss"]
    assert losses[0] == 1.0 and losses[3] == 1.0, losses
    assert 1.5 < losses[1] < 3.5 and 1.5 < losses[2] < 3.5, losses


def test_seconds_schedule_with_a_fake_clock():
    model, layer, inputs = fixed_two_variant_model()
    clock = FakeClock()
    schedule = LogStdSchedule(
        [(2.5, 0.0), (2.0, 100.0), (3.0, 7.0)], unit="seconds"
    )
    schedule._clock = clock
    recorder = Recorder(layer, clock=clock, tick=1.0)
    # 4 batches per epoch, one fake second each.
    history = model.fit(
        inputs,
        epochs=1,
        batch_size=16,
        verbose=0,
        callbacks=[schedule, recorder],
    )
    # Elapsed 0, 1, 2 -> 0.0; 3, 4 -> 100.0 (the switch lands mid-epoch).
    assert recorder.values == [0.0, 0.0, 0.0, 100.0]
    assert 1.0 < history.history["loss"][0] < 3.5
    # Time outside fit() does not count; a second fit() continues the count.
    clock.now += 1000.0
    model.fit(
        inputs,
        epochs=1,
        batch_size=16,
        verbose=0,
        callbacks=[schedule, recorder],
    )
    assert recorder.values[4:] == [100.0, 7.0, 7.0, 7.0]
    assert schedule.elapsed_seconds() == 8.0


def _built(name):
    layer = SetMinSelection(name=name)
    layer.build([(None, 2, 3), (None, 3)])
    return layer


def _value(layer):
    return float(keras.ops.convert_to_numpy(layer.log_std))


def test_finds_layers_by_default_by_name_and_by_object():
    a, b = _built("a"), _built("b")
    inner = types.SimpleNamespace(layers=[b])
    fake = types.SimpleNamespace(layers=[keras.layers.Dense(2), a, inner])
    both = LogStdSchedule([(1, 3.0)])
    both.set_model(fake)
    both.on_train_begin()
    both.on_epoch_begin(0)
    assert _value(a) == 3.0 and _value(b) == 3.0  # b through a nested model
    only_b = LogStdSchedule([(1, 5.0)], layer="b")
    only_b.set_model(fake)
    only_b.on_train_begin()
    only_b.on_epoch_begin(0)
    assert _value(a) == 3.0 and _value(b) == 5.0
    # An explicit object need not be in the model; the config stores names.
    c = _built("c")
    explicit = LogStdSchedule([(1, 2.0)], layer=[c, "a"])
    explicit.set_model(fake)
    explicit.on_train_begin()
    explicit.on_epoch_begin(0)
    assert _value(c) == 2.0 and _value(a) == 2.0
    assert explicit.get_config()["layer"] == ["c", "a"]
    clone = LogStdSchedule.from_config(explicit.get_config())
    assert clone.schedule == [(1, 2.0)] and clone.layer == ["c", "a"]


def test_missing_layer_is_a_clear_error():
    schedule = LogStdSchedule([(1, 1.0)])
    schedule.set_model(types.SimpleNamespace(layers=[keras.layers.Dense(1)]))
    with pytest.raises(ValueError, match="LogStdSchedule.*no SetMinSelection"):
        schedule.on_train_begin()
    named = LogStdSchedule([(1, 1.0)], layer="missing")
    named.set_model(types.SimpleNamespace(layers=[_built("other")]))
    with pytest.raises(ValueError, match="LogStdSchedule.*'missing'.*'other'"):
        named.on_train_begin()


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"schedule": []}, ValueError, "at least one \\(duration"),
        ({"schedule": 3}, TypeError, "list of \\(duration, value\\)"),
        ({"schedule": [(1, 2, 3)]}, ValueError, "pair"),
        (
            {"schedule": [(0, 1.0)]},
            ValueError,
            "`schedule` must be a number in \\(0",
        ),
        ({"schedule": [(1.5, 1.0)]}, ValueError, "whole numbers of epochs"),
        ({"schedule": [(1, -1.0)]}, ValueError, "in \\[0.0, inf\\)"),
        ({"schedule": [(1, float("nan"))]}, ValueError, "`schedule`"),
        ({"schedule": [(1, "a")]}, TypeError, "must be a number"),
        ({"schedule": [(1, 1.0)], "unit": "hours"}, ValueError, "unit"),
        ({"schedule": [(1, 1.0)], "layer": 3}, TypeError, "layer"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"LogStdSchedule.*{match}"):
        LogStdSchedule(**kwargs)


def test_fractional_seconds_are_fine():
    schedule = LogStdSchedule([(0.25, 1.0)], unit="seconds")
    assert schedule.get_config() == {
        "schedule": [[0.25, 1.0]],
        "unit": "seconds",
        "layer": None,
    }
    assert np.isclose(schedule.value_at(0.3), 1.0)
