"""SkipNonFiniteOptimizer around Keras' own optimizers, on the current backend.

The reference is always the bare Keras optimizer, run on the finite steps
only: a skipped step must leave every value bit-identical, and the finite
steps must be the inner optimizer's own.
"""

import json
import os
import tempfile

import keras
import numpy as np
import pytest

from keras_memnets.optimizers import SkipNonFiniteOptimizer

INNER = {
    "adam": lambda: keras.optimizers.Adam(learning_rate=0.05),
    "sgd_momentum": lambda: keras.optimizers.SGD(
        learning_rate=0.05, momentum=0.9, nesterov=True
    ),
    "adamw_ema": lambda: keras.optimizers.AdamW(
        learning_rate=0.05, weight_decay=0.1, use_ema=True
    ),
    "adam_accumulation": lambda: keras.optimizers.Adam(
        learning_rate=0.05, gradient_accumulation_steps=2
    ),
}


def _numpy(values):
    return [keras.ops.convert_to_numpy(v).copy() for v in values]


def _grads(rng):
    return [
        rng.standard_normal((3, 4)).astype("float32"),
        rng.standard_normal((4,)).astype("float32"),
    ]


def _tensors(arrays):
    # Keras' torch Adam and SGD take torch tensors only.
    return [keras.ops.convert_to_tensor(a) for a in arrays]


def _counter(optimizer):
    return int(keras.ops.convert_to_numpy(optimizer.skipped_steps))


@pytest.mark.parametrize(
    "inner,bad",
    [(name, np.nan) for name in INNER] + [("adam", np.inf), ("adam", -np.inf)],
)
def test_skipped_step_changes_nothing_and_finite_steps_are_the_inner(
    inner, bad
):
    rng = np.random.default_rng(0)
    weights = _grads(rng)
    good = [_grads(rng) for _ in range(4)]
    optimizer = SkipNonFiniteOptimizer(INNER[inner]())
    variables = [keras.Variable(w) for w in weights]
    optimizer.apply(_tensors(good[0]), variables)
    assert _counter(optimizer) == 0

    inner_state = optimizer.inner_optimizer.variables
    before = _numpy(variables + inner_state)
    poisoned = [g.copy() for g in good[1]]
    poisoned[0][1, 2] = bad  # one entry of one variable
    optimizer.apply(_tensors(poisoned), variables)
    # Weights, moments, EMA weights, accumulators and `iterations`.
    for b, a in zip(before, _numpy(variables + inner_state)):
        np.testing.assert_array_equal(a, b)
    assert _counter(optimizer) == 1

    for grads in good[1:]:
        optimizer.apply(_tensors(grads), variables)
    reference = INNER[inner]()
    reference_variables = [keras.Variable(w) for w in weights]
    for grads in good:
        reference.apply(_tensors(grads), reference_variables)
    for a, b in zip(_numpy(variables), _numpy(reference_variables)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(_numpy(inner_state), _numpy(reference.variables)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert np.abs(_numpy(variables)[0] - weights[0]).max() > 0.05
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == int(
        keras.ops.convert_to_numpy(reference.iterations)
    )
    assert _counter(optimizer) == 1


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


def test_fit_skips_a_bad_batch_and_equals_training_without_it():
    # As `fit` runs by default: a `tf.function` (a `tf.cond`), JAX's
    # compiled stateless step (a `lax.cond`), eager torch (a Python `if`).
    jit_compile = keras.config.backend() == "jax"
    x, y = _data()
    x_bad = x.copy()
    x_bad[20, 3] = np.nan  # poisons batch 1 of 4 (batch size 16)
    optimizer = SkipNonFiniteOptimizer(keras.optimizers.Adam(0.01))
    model = _model(optimizer, jit_compile)
    history = model.fit(
        x_bad, y, batch_size=16, epochs=2, shuffle=False, verbose=0
    )
    assert _counter(model.optimizer) == 2
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 6
    assert not np.isfinite(history.history["loss"]).all()  # it was seen
    reference = _model(keras.optimizers.Adam(0.01))
    for _ in range(2):
        for start in (0, 32, 48):
            reference.train_on_batch(
                x[start : start + 16], y[start : start + 16]
            )
    for a, b in zip(model.get_weights(), reference.get_weights()):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_keras_file_keeps_counter_and_inner_state_and_resumes():
    x, y = _data()
    x[5, 0] = np.inf
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]

    def make():
        return _model(SkipNonFiniteOptimizer(keras.optimizers.Adam(0.01)))

    uninterrupted = make()
    for xb, yb in batches + batches[1:]:
        uninterrupted.train_on_batch(xb, yb)
    interrupted = make()
    for xb, yb in batches:
        interrupted.train_on_batch(xb, yb)
    saved = _numpy(interrupted.optimizer.variables)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.keras")
        interrupted.save(path)
        resumed = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(resumed.optimizer, SkipNonFiniteOptimizer)
    assert isinstance(resumed.optimizer.inner_optimizer, keras.optimizers.Adam)
    assert _counter(resumed.optimizer) == 1
    # The counter, then Adam's iteration, learning rate and moments.
    restored = _numpy(resumed.optimizer.variables)
    assert len(restored) == len(saved) == 1 + 2 + 2 * 4
    for a, b in zip(restored, saved):
        np.testing.assert_array_equal(a, b)
    for xb, yb in batches[1:]:
        resumed.train_on_batch(xb, yb)
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_config_nests_the_inner_optimizer():
    optimizer = SkipNonFiniteOptimizer(
        keras.optimizers.Adam(0.02, beta_1=0.8, clipnorm=1.0), name="safe"
    )
    config = optimizer.get_config()
    assert sorted(config) == ["inner_optimizer", "name"]
    assert config["name"] == "safe"
    assert config["inner_optimizer"]["class_name"] == "Adam"
    assert config["inner_optimizer"]["config"]["beta_1"] == 0.8
    serialized = json.loads(
        json.dumps(keras.saving.serialize_keras_object(optimizer))
    )
    assert serialized["registered_name"] == (
        "keras_memnets>SkipNonFiniteOptimizer"
    )
    restored = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(restored, SkipNonFiniteOptimizer)
    assert isinstance(restored.inner_optimizer, keras.optimizers.Adam)
    assert restored.get_config() == config


def test_a_name_or_config_makes_the_inner_optimizer():
    assert isinstance(
        SkipNonFiniteOptimizer("adam").inner_optimizer, keras.optimizers.Adam
    )
    config = keras.saving.serialize_keras_object(keras.optimizers.SGD(0.3))
    inner = SkipNonFiniteOptimizer(config).inner_optimizer
    assert isinstance(inner, keras.optimizers.SGD)
    assert float(keras.ops.convert_to_numpy(inner.learning_rate)) == (
        pytest.approx(0.3)
    )


def test_learning_rate_and_iterations_are_the_inner_optimizers():
    optimizer = SkipNonFiniteOptimizer(keras.optimizers.SGD(0.1))
    optimizer.learning_rate = 0.25
    inner_rate = optimizer.inner_optimizer.learning_rate
    assert float(keras.ops.convert_to_numpy(inner_rate)) == 0.25
    variable = keras.Variable(np.zeros((2,), "float32"))
    optimizer.apply(_tensors([np.ones((2,), "float32")]), [variable])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), -0.25)
    assert optimizer.iterations is optimizer.inner_optimizer.iterations


@pytest.mark.parametrize(
    "inner,error,match",
    [
        (None, TypeError, "`inner_optimizer` must be"),
        (keras.optimizers.Adam, TypeError, "`inner_optimizer` must be"),
        ("adamm", ValueError, "`inner_optimizer` must be"),
        (
            keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()),
            ValueError,
            "`inner_optimizer` must not be a LossScaleOptimizer",
        ),
    ],
    ids=["none", "class", "unknown_name", "loss_scale"],
)
def test_bad_inner_optimizer(inner, error, match):
    with pytest.raises(error, match=f"SkipNonFiniteOptimizer: {match}"):
        SkipNonFiniteOptimizer(inner)


def test_base_optimizer_arguments_belong_to_the_inner_optimizer():
    with pytest.raises(TypeError, match="weight_decay"):
        SkipNonFiniteOptimizer(keras.optimizers.SGD(), weight_decay=0.1)


@pytest.mark.skipif(
    keras.config.backend() != "jax", reason="JAX's compiled stateless step"
)
def test_stateless_apply_under_jit_skips_with_one_cond():
    import jax

    optimizer = SkipNonFiniteOptimizer(keras.optimizers.Adam(0.1))
    w = keras.Variable(np.ones((3,), "float32"))
    optimizer.build([w])
    step = jax.jit(lambda state, g, t: optimizer.stateless_apply(state, [g], t))
    state = [v.value for v in optimizer.variables]
    trainable = [w.value]
    trainable, state = step(state, np.array([1.0, -2.0, 0.5], "f4"), trainable)
    bad = np.array([1.0, np.nan, 0.5], "float32")
    new_trainable, new_state = step(state, bad, trainable)
    np.testing.assert_array_equal(new_trainable[0], trainable[0])
    assert int(new_state[0]) == int(state[0]) + 1  # the counter comes first
    for a, b in zip(new_state[1:], state[1:]):
        np.testing.assert_array_equal(a, b)
    # The finite step was Adam's: lr * sign(g) on the first step.
    np.testing.assert_allclose(trainable[0], [0.9, 1.1, 0.9], rtol=1e-5)
