"""ConvergenceStopping: the rule on synthetic sequences and in a real fit."""

import keras
import numpy as np
import pytest

from keras_memnets.callbacks import ConvergenceStopping


def reference_epoch(losses, rel_tol, patience):
    """First 0-based epoch t with `patience` consecutive small changes."""
    run = 0
    for t in range(1, len(losses)):
        change = abs(losses[t] - losses[t - 1]) / abs(losses[t - 1])
        run = run + 1 if change <= rel_tol else 0
        if run >= patience:
            return t
    return None


class FakeModel:
    stop_training = False


def drive(callback, losses):
    """Feeds losses epoch by epoch until the callback stops training."""
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"loss": loss})
        if model.stop_training:
            return epoch
    return None


def test_stops_exactly_when_the_rule_is_met_on_random_sequences():
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(2, 30))
        # Relative steps around the tolerance so the rule is often close.
        steps = rng.choice([0.0, 0.005, 0.0099, 0.0101, 0.02, -0.008], n)
        losses = list(100.0 * np.cumprod(1 + steps))
        patience = int(rng.integers(1, 6))
        expected = reference_epoch(losses, 0.01, patience)
        cb = ConvergenceStopping(rel_tol=0.01, patience=patience)
        stopped = drive(cb, losses)
        assert stopped == expected, (trial, losses, patience)
        assert cb.converged_epoch == expected
        if expected is not None:
            assert cb.converged_value == losses[expected]
        else:
            assert cb.converged_value is None


def test_a_reset_streak_restarts_the_count():
    # Changes: 1%, 1%, 5%, 1%, 1%, 1% -> with patience 3 the rule is met
    # at epoch 6, not at epoch 2+.
    losses = [100.0]
    for step in (0.01, 0.01, 0.05, 0.01, 0.01, 0.01, 0.01):
        losses.append(losses[-1] * (1 - step))
    cb = ConvergenceStopping(rel_tol=0.0100001, patience=3)
    assert drive(cb, losses) == 6
    assert cb.converged_epoch == 6


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_loss_stops_training_and_says_why(bad):
    # Before: a NaN reset the count and training ran on, never stopping.
    cb = ConvergenceStopping(rel_tol=0.01, patience=2)
    with pytest.warns(UserWarning, match="`loss` is (nan|inf) at epoch 2"):
        assert drive(cb, [1.0, 1.0, bad, 1.0, 1.0, 1.0]) == 2
    assert cb.stopped_epoch == 2
    assert cb.converged_epoch is None and cb.converged_value is None
    # Recording only: it warns and goes on.
    cb = ConvergenceStopping(rel_tol=0.01, patience=2, stop_training=False)
    with pytest.warns(UserWarning, match="records it"):
        assert drive(cb, [1.0, bad, 1.0, 1.0, 1.0]) is None
    assert cb.stopped_epoch is None and cb.converged_epoch == 4


def test_a_nan_loss_stops_a_real_fit():
    x = np.ones((8, 2), "float32")
    y = np.full((8, 2), np.nan, "float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    cb = ConvergenceStopping()
    with pytest.warns(UserWarning, match="training diverged"):
        history = model.fit(x, y, epochs=5, verbose=0, callbacks=[cb])
    assert len(history.history["loss"]) == 1 and cb.stopped_epoch == 0


def test_zero_previous():
    cb = ConvergenceStopping(rel_tol=0.01, patience=1)
    assert drive(cb, [0.0, 0.1, 0.0, 0.0]) == 3
    assert cb.stopped_epoch == 3


def test_record_only_and_missing_monitor():
    cb = ConvergenceStopping(patience=1, stop_training=False)
    assert drive(cb, [1.0, 1.0, 2.0, 2.0]) is None
    assert cb.converged_epoch == 1 and cb.converged_value == 1.0
    cb = ConvergenceStopping(monitor="val_loss")
    model = FakeModel()
    cb.set_model(model)
    with pytest.warns(UserWarning, match="val_loss"):
        cb.on_epoch_end(0, {"loss": 1.0})
    assert not model.stop_training


def test_in_fit_with_a_constant_loss():
    # learning rate 0: every epoch's loss is the same, so the rule is met at
    # epoch `patience` and fit runs patience + 1 epochs.
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(keras.optimizers.SGD(0.0), "mse")
    cb = ConvergenceStopping(patience=3)
    history = model.fit(
        x, x, epochs=20, batch_size=32, verbose=0, callbacks=[cb]
    )
    assert len(history.history["loss"]) == 4
    assert cb.converged_epoch == 3
    assert cb.converged_value == pytest.approx(history.history["loss"][-1])


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(monitor=3), TypeError),
        (dict(rel_tol="x"), TypeError),
        (dict(rel_tol=-0.1), ValueError),
        (dict(rel_tol=float("inf")), ValueError),
        (dict(patience=0), ValueError),
        (dict(patience=2.0), TypeError),
        (dict(stop_training=None), TypeError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error, match="ConvergenceStopping"):
        ConvergenceStopping(**kwargs)


def test_config_round_trip():
    cb = ConvergenceStopping("val_loss", rel_tol=0.02, patience=np.int64(4))
    clone = ConvergenceStopping.from_config(cb.get_config())
    assert clone.get_config() == {
        "monitor": "val_loss",
        "rel_tol": 0.02,
        "patience": 4,
        "stop_training": True,
    }
