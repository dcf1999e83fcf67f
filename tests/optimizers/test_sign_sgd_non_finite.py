"""SignSGD skips a step whose gradients hold a NaN or an infinity.

Before this rule, a non-finite gradient failed silently and differently per
backend: on torch `sign(NaN) = 0`, so Signum's momentum became NaN and the
weights never moved again; on JAX the weights became NaN. Each test below
fails on that behaviour.
"""

import os
import tempfile

import keras
import numpy as np
import pytest

from keras_memnets.optimizers import SignSGD

MODES = {
    "sign": {},
    "signum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "error_feedback": {"error_feedback": True},
    "majority_vote": {"majority_vote": True, "momentum": 0.5},
    "weight_decay_ema": {"momentum": 0.9, "weight_decay": 0.1, "use_ema": True},
    "accumulation": {"gradient_accumulation_steps": 2},
}


def _numpy(values):
    return [keras.ops.convert_to_numpy(v).copy() for v in values]


def _grads(rng):
    return [
        rng.standard_normal((3, 4)).astype("float32"),
        rng.standard_normal((4,)).astype("float32"),
    ]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("mode", list(MODES))
def test_non_finite_step_changes_nothing_but_the_counter(mode, bad):
    rng = np.random.default_rng(0)
    weights = _grads(rng)
    good = [_grads(rng) for _ in range(3)]
    optimizer = SignSGD(learning_rate=0.05, **MODES[mode])
    variables = [keras.Variable(w) for w in weights]
    optimizer.apply(good[0], variables)
    assert int(keras.ops.convert_to_numpy(optimizer.skipped_steps)) == 0

    before = _numpy(variables + optimizer.variables)
    poisoned = [g.copy() for g in good[1]]
    poisoned[1][2] = bad  # one entry of one variable
    optimizer.apply(poisoned, variables)
    after = _numpy(variables + optimizer.variables)
    # By identity: `list.index` would compare variables by value.
    counter = [v is optimizer.skipped_steps for v in optimizer.variables]
    counter = counter.index(True)
    for i, (b, a) in enumerate(zip(before, after)):
        if i == len(variables) + counter:
            assert a == b + 1
        else:
            np.testing.assert_array_equal(a, b)

    # Training goes on as if the bad step had never been taken.
    optimizer.apply(good[1], variables)
    optimizer.apply(good[2], variables)
    reference = SignSGD(learning_rate=0.05, **MODES[mode])
    reference_variables = [keras.Variable(w) for w in weights]
    for grads in good:
        reference.apply(grads, reference_variables)
    for a, b in zip(_numpy(variables), _numpy(reference_variables)):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert np.abs(_numpy(variables)[1] - weights[1]).max() > 0.01
    assert int(keras.ops.convert_to_numpy(optimizer.skipped_steps)) == 1


def _data():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 6)).astype("float32")
    y = rng.standard_normal((64, 2)).astype("float32")
    return x, y


def _model(optimizer, jit_compile=False):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(2),
        ]
    )
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    return model


class LogSkippedSteps(keras.callbacks.Callback):
    """The logging snippet of the guide `docs/guides/sign_sgd.rst`."""

    def on_epoch_end(self, epoch, logs=None):
        skipped = self.model.optimizer.skipped_steps
        logs["skipped_steps"] = int(keras.ops.convert_to_numpy(skipped))


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "jit"])
def test_fit_skips_bad_batches_and_trains_on(jit_compile):
    if jit_compile and keras.config.backend() == "torch":
        pytest.skip("jit_compile on torch is torch.compile, too slow here.")
    x, y = _data()
    x_bad = x.copy()
    x_bad[20, 3] = np.nan  # poisons batch 1 of 4 (batch size 16)
    model = _model(SignSGD(0.01, momentum=0.9), jit_compile)
    history = model.fit(
        x_bad,
        y,
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[LogSkippedSteps()],
    )
    assert history.history["skipped_steps"] == [1, 2]
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 6
    # The same as training on the three good batches only.
    reference = _model(SignSGD(0.01, momentum=0.9))
    for _ in range(2):
        for start in (0, 32, 48):
            reference.train_on_batch(
                x[start : start + 16], y[start : start + 16]
            )
    for a, b in zip(model.get_weights(), reference.get_weights()):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_counter_is_saved_in_keras_file():
    x, y = _data()
    x[5, 0] = np.inf
    model = _model(SignSGD(0.01))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.skipped_steps)) == 1


def test_large_finite_gradients_are_not_skipped():
    # The sum of these entries overflows float32; every entry is finite, so
    # the step must be taken (the torch path's fast check sums gradients).
    big = np.float32(3e38)
    variable = keras.Variable(np.zeros((4,), "float32"))
    optimizer = SignSGD(learning_rate=0.5, momentum=0.5)
    optimizer.apply([np.array([big, big, -big, 0.0], "float32")], [variable])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(variable), [-0.5, -0.5, 0.5, 0.0]
    )
    assert int(keras.ops.convert_to_numpy(optimizer.skipped_steps)) == 0


@pytest.mark.skipif(
    keras.config.backend() != "jax", reason="JAX tracing path only"
)
def test_apply_traced_outside_stateless_apply_skips_too():
    # A user's own `jax.jit` around a `StatelessScope` (not through
    # `stateless_apply`) takes the masked path.
    import jax

    optimizer = SignSGD(0.1, momentum=0.5)
    w = keras.Variable(np.ones((3,), "float32"))
    optimizer.build([w])

    @jax.jit
    def step(w_value, optimizer_values, g):
        mapping = [(w, w_value)] + list(
            zip(optimizer.variables, optimizer_values)
        )
        with keras.StatelessScope(state_mapping=mapping) as scope:
            optimizer.apply([g], [w])
        return scope.get_current_value(w), [
            scope.get_current_value(v) for v in optimizer.variables
        ]

    state = [v.value for v in optimizer.variables]
    good = np.array([1.0, -2.0, 0.0], "float32")
    w_value, state = step(w.value, state, good)
    np.testing.assert_allclose(np.asarray(w_value), [0.9, 1.1, 1.0])
    bad = np.array([1.0, np.inf, 0.0], "float32")
    w_after, state_after = step(w_value, state, bad)
    np.testing.assert_array_equal(np.asarray(w_after), np.asarray(w_value))
    counter = [v is optimizer.skipped_steps for v in optimizer.variables]
    index = counter.index(True)
    for i, (a, b) in enumerate(zip(state_after, state)):
        if i == index:
            assert int(a) == int(b) + 1
        else:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
