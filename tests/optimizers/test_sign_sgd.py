"""SignSGD against an independent numpy reference, on the current backend."""

import os
import pickle
import tempfile

import keras
import numpy as np
import pytest

from keras_memnets.optimizers import SignSGD

# ---------------------------------------------------------------------------
# The numpy reference: the update rules of the issue, written out once.


def _clip(g, clipnorm=None, clipvalue=None):
    if clipnorm is not None:
        norm = np.sqrt(np.sum(g * g))
        if norm > clipnorm:
            g = g * clipnorm / norm
    if clipvalue is not None:
        g = np.clip(g, -clipvalue, clipvalue)
    return g


def reference(
    weights,
    grad_steps,
    learning_rate,
    momentum=0.0,
    nesterov=False,
    error_feedback=False,
    majority_vote=False,
    weight_decay=None,
    decayed=None,
    clipnorm=None,
    clipvalue=None,
):
    """Runs the update rules in float64 numpy; returns weights and state."""
    w = [np.array(v, "float64") for v in weights]
    m = [np.zeros_like(v) for v in w]
    e = [np.zeros_like(v) for v in w]
    decayed = decayed if decayed is not None else [True] * len(w)
    lr = learning_rate
    for grads in grad_steps:
        for i, g in enumerate(grads):
            g = _clip(np.array(g, "float64"), clipnorm, clipvalue)
            if weight_decay is not None and decayed[i]:
                w[i] = w[i] - lr * weight_decay * w[i]
            if majority_vote:
                g = np.sign(g)  # the vote of a single replica
            if error_feedback:
                p = lr * g + e[i]
                delta = np.abs(p).sum() / p.size * np.sign(p)
                e[i] = p - delta
                w[i] = w[i] - delta
            elif momentum > 0:
                m[i] = momentum * m[i] + (1 - momentum) * g
                direction = m[i]
                if nesterov:
                    direction = momentum * m[i] + (1 - momentum) * g
                w[i] = w[i] - lr * np.sign(direction)
            else:
                w[i] = w[i] - lr * np.sign(g)
    return w, m, e


def _problem(seed=0, steps=5):
    """Two variables and a sequence of gradients with exact zeros in them."""
    rng = np.random.default_rng(seed)
    weights = [
        rng.standard_normal((3, 4)).astype("float32"),
        rng.standard_normal((4,)).astype("float32"),
    ]
    grad_steps = []
    for _ in range(steps):
        grads = [
            rng.standard_normal(v.shape).astype("float32") for v in weights
        ]
        grads[0][0, 0] = 0.0  # sign(0) = 0: this entry must not move
        grad_steps.append(grads)
    return weights, grad_steps


def _run(optimizer, weights, grad_steps, names=("kernel", "bias")):
    variables = [
        keras.Variable(w, name=name) for w, name in zip(weights, names)
    ]
    for grads in grad_steps:
        optimizer.apply(
            [keras.ops.convert_to_tensor(g) for g in grads], variables
        )
    return [keras.ops.convert_to_numpy(v) for v in variables]


MODES = {
    "sign": dict(),
    "signum": dict(momentum=0.9),
    "signum_low_beta": dict(momentum=0.5),
    "nesterov": dict(momentum=0.9, nesterov=True),
    "error_feedback": dict(error_feedback=True),
    "majority_vote_one_replica": dict(majority_vote=True),
    "majority_vote_momentum": dict(majority_vote=True, momentum=0.8),
    "sign_weight_decay": dict(weight_decay=0.1),
    "signum_weight_decay": dict(momentum=0.9, weight_decay=0.1),
    "error_feedback_weight_decay": dict(error_feedback=True, weight_decay=0.1),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_matches_numpy_reference_over_several_steps(mode):
    kwargs = MODES[mode]
    weights, grad_steps = _problem()
    lr = 0.05
    got = _run(SignSGD(learning_rate=lr, **kwargs), weights, grad_steps)
    expected, _, _ = reference(weights, grad_steps, lr, **kwargs)
    for g, x in zip(got, expected):
        np.testing.assert_allclose(g, x, rtol=1e-5, atol=1e-6)
    # The reference really moved the weights, so the comparison is not void.
    assert np.abs(expected[0] - weights[0]).max() > 0.1
    if "weight_decay" not in kwargs and not kwargs.get("error_feedback"):
        # Plain sign modes move by exactly lr per step and skip sign(0).
        steps = np.abs(got[1] - weights[1]) / lr
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)


def _tf_step(optimizer, variables):
    import tensorflow as tf

    @tf.function
    def step(grads):
        optimizer.apply(grads, variables)

    return step


class _KerasOpsSignSGD(SignSGD):
    """A subclass keeps the generic `keras.ops` update on every backend."""


@pytest.mark.skipif(
    keras.config.backend() != "tensorflow", reason="TensorFlow's XLA path"
)
@pytest.mark.parametrize("mode", ["sign", "signum", "nesterov"])
def test_tensorflow_compiled_update_runs_and_matches_the_ops_update(
    mode, monkeypatch
):
    # In a `tf.function`, as `fit` runs it, against the numpy reference and
    # the generic `keras.ops` update (a subclass, which SignSGD does not map
    # to TensorFlow's class). The test's variables are small, so the size
    # threshold is lowered to reach them.
    import tensorflow as tf

    from keras_memnets.optimizers import _sign_sgd_tf

    monkeypatch.setattr(_sign_sgd_tf, "MIN_COMPILED_SIZE", 1)
    weights, grad_steps = _problem(seed=3)
    results = {}
    for compiled in (True, False):
        cls = SignSGD if compiled else _KerasOpsSignSGD
        optimizer = cls(learning_rate=0.05, **MODES[mode])
        assert isinstance(optimizer, _sign_sgd_tf.CompiledSignStep) is compiled
        variables = [keras.Variable(w) for w in weights]
        optimizer.build(variables)
        step = _tf_step(optimizer, variables)
        for grads in grad_steps:
            step([tf.constant(g) for g in grads])
        compiled_step = getattr(optimizer, "_compiled_sign_step", None)
        assert (compiled_step is not None) is compiled
        results[compiled] = [keras.ops.convert_to_numpy(v) for v in variables]
    expected, _, _ = reference(weights, grad_steps, 0.05, **MODES[mode])
    for a, b, x in zip(results[True], results[False], expected):
        np.testing.assert_allclose(a, x, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # At the default threshold these small variables are not compiled.
    monkeypatch.undo()
    optimizer = SignSGD(learning_rate=0.05, **MODES[mode])
    variables = [keras.Variable(w) for w in weights]
    optimizer.build(variables)
    _tf_step(optimizer, variables)([tf.constant(g) for g in grad_steps[0]])
    assert getattr(optimizer, "_compiled_sign_step", None) is None


def test_optimizer_state_matches_reference():
    weights, grad_steps = _problem()
    for kwargs, attr, index in (
        (dict(momentum=0.9), "_momentums", 1),
        (dict(error_feedback=True), "_errors", 2),
    ):
        optimizer = SignSGD(learning_rate=0.05, **kwargs)
        _run(optimizer, weights, grad_steps)
        state = reference(weights, grad_steps, 0.05, **kwargs)[index]
        for variable, expected in zip(getattr(optimizer, attr), state):
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(variable),
                expected,
                rtol=1e-5,
                atol=1e-6,
            )


def test_sign_of_zero_is_zero():
    optimizer = SignSGD(learning_rate=0.5)
    got = _run(
        optimizer, [np.ones((2, 2), "float32")], [[np.zeros((2, 2), "float32")]]
    )
    np.testing.assert_array_equal(got[0], np.ones((2, 2)))


def test_sign_ignores_gradient_magnitude():
    weights = [np.zeros((3,), "float32")]
    small = _run(
        SignSGD(0.1), weights, [[np.array([1e-6, -1e-6, 2.0], "float32")]]
    )
    large = _run(
        SignSGD(0.1), weights, [[np.array([1e6, -1e6, 2.0], "float32")]]
    )
    np.testing.assert_allclose(small[0], [-0.1, 0.1, -0.1], rtol=1e-6)
    np.testing.assert_array_equal(small[0], large[0])


def test_error_feedback_step_keeps_mean_magnitude():
    # One step from zero error: delta = mean(|lr g|) sign(g); e = lr g - delta.
    g = np.array([4.0, -1.0, 1.0, 0.0], "float32")
    optimizer = SignSGD(learning_rate=0.5, error_feedback=True)
    got = _run(optimizer, [np.zeros((4,), "float32")], [[g]], names=("w",))
    np.testing.assert_allclose(got[0], [-0.75, 0.75, -0.75, 0.0], rtol=1e-6)
    error = keras.ops.convert_to_numpy(optimizer._errors[0])
    np.testing.assert_allclose(error, [1.25, 0.25, -0.25, 0.0], rtol=1e-6)


def test_weight_decay_exclusion():
    weights, grad_steps = _problem()
    optimizer = SignSGD(learning_rate=0.05, momentum=0.9, weight_decay=0.2)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    got = _run(optimizer, weights, grad_steps)
    expected, _, _ = reference(
        weights,
        grad_steps,
        0.05,
        momentum=0.9,
        weight_decay=0.2,
        decayed=[True, False],
    )
    for g, x in zip(got, expected):
        np.testing.assert_allclose(g, x, rtol=1e-5, atol=1e-6)
    # Decaying the bias too would give a different bias.
    all_decayed, _, _ = reference(
        weights, grad_steps, 0.05, momentum=0.9, weight_decay=0.2
    )
    assert np.abs(all_decayed[1] - got[1]).max() > 1e-3


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(momentum=0.9, clipnorm=0.5),
        dict(momentum=0.9, clipvalue=0.3),
        dict(error_feedback=True, clipnorm=0.5),
        dict(error_feedback=True, clipvalue=0.3),
    ],
    ids=["signum_clipnorm", "signum_clipvalue", "ef_clipnorm", "ef_clipvalue"],
)
def test_clipping(kwargs):
    weights, grad_steps = _problem(seed=1)
    # Make the gradients big enough that clipping matters in every step.
    grad_steps = [[g * 5.0 for g in grads] for grads in grad_steps]
    got = _run(SignSGD(learning_rate=0.05, **kwargs), weights, grad_steps)
    expected, _, _ = reference(weights, grad_steps, 0.05, **kwargs)
    for g, x in zip(got, expected):
        np.testing.assert_allclose(g, x, rtol=1e-5, atol=1e-6)
    unclipped_kwargs = {
        k: v for k, v in kwargs.items() if k not in ("clipnorm", "clipvalue")
    }
    unclipped, _, _ = reference(weights, grad_steps, 0.05, **unclipped_kwargs)
    assert max(np.abs(u - x).max() for u, x in zip(unclipped, expected)) > 1e-4


def test_gradient_accumulation_uses_mean_gradient():
    weights, grad_steps = _problem(steps=4)
    got = _run(
        SignSGD(learning_rate=0.05, gradient_accumulation_steps=2),
        weights,
        grad_steps,
    )
    averaged = [
        [(a + b) / 2 for a, b in zip(grad_steps[i], grad_steps[i + 1])]
        for i in (0, 2)
    ]
    expected, _, _ = reference(weights, averaged, 0.05)
    for g, x in zip(got, expected):
        np.testing.assert_allclose(g, x, rtol=1e-5, atol=1e-6)


def test_learning_rate_schedule():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [2], [0.1, 0.01]
    )
    weights = [np.zeros((2,), "float32")]
    grads = [[np.array([1.0, -1.0], "float32")]] * 4
    got = _run(SignSGD(learning_rate=schedule), weights, grads, names=("w",))
    # Steps 0, 1 and 2 use 0.1 (the boundary is inclusive), step 3 uses 0.01.
    np.testing.assert_allclose(got[0], [-0.31, 0.31], rtol=1e-5)


@pytest.mark.skipif(
    keras.config.backend() != "tensorflow",
    reason="tf.IndexedSlices gradients exist on TensorFlow only.",
)
def test_sparse_gradient_sums_repeated_rows_before_sign():
    import tensorflow as tf

    # Row 0 appears twice: +1 and -3 sum to -2, whose sign is -1 (taking the
    # sign per slice would give +1 - 1 = 0).
    grad = tf.IndexedSlices(
        values=tf.constant([[1.0, 1.0], [-3.0, 0.0]]),
        indices=tf.constant([0, 0]),
        dense_shape=tf.constant([3, 2]),
    )
    for kwargs in (dict(), dict(momentum=0.5), dict(error_feedback=True)):
        variable = keras.Variable(np.zeros((3, 2), "float32"))
        SignSGD(learning_rate=0.1, **kwargs).apply([grad], [variable])
        got = keras.ops.convert_to_numpy(variable)
        expected, _, _ = reference(
            [np.zeros((3, 2))],
            [[np.array([[-2.0, 1.0], [0, 0], [0, 0]])]],
            0.1,
            **kwargs,
        )
        np.testing.assert_allclose(got, expected[0], rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------
# Arguments, config and saving.


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(momentum=1.0), ValueError, "momentum"),
        (dict(momentum=-0.1), ValueError, "momentum"),
        (dict(momentum="0.9"), TypeError, "momentum"),
        (dict(momentum=True), TypeError, "momentum"),
        (dict(momentum=float("nan")), ValueError, "momentum"),
        (dict(nesterov=True), ValueError, "nesterov"),
        (dict(nesterov=1, momentum=0.9), TypeError, "nesterov"),
        (dict(error_feedback="yes"), TypeError, "error_feedback"),
        (dict(majority_vote=None), TypeError, "majority_vote"),
        (dict(error_feedback=True, momentum=0.9), ValueError, "error_feedback"),
        (
            dict(error_feedback=True, majority_vote=True),
            ValueError,
            "majority_vote",
        ),
        (dict(learning_rate=-0.01), ValueError, r"SignSGD.*learning_rate"),
        (dict(learning_rate=float("inf")), ValueError, "learning_rate"),
        (dict(learning_rate="0.1"), TypeError, r"SignSGD.*learning_rate"),
        (dict(learning_rate=True), TypeError, "learning_rate"),
        (dict(weight_decay=-0.1), ValueError, r"SignSGD.*weight_decay"),
        (dict(weight_decay="0.1"), TypeError, "weight_decay"),
        (dict(clipnorm=-1.0), ValueError, "clipnorm"),
        (dict(global_clipnorm="1"), TypeError, "global_clipnorm"),
        (dict(clipnorm=1.0, clipvalue=1.0), ValueError, "clipnorm"),
        (dict(betas=0.9), ValueError, "betas"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SignSGD(**kwargs)


def test_error_messages_name_the_class():
    with pytest.raises(ValueError, match=r"SignSGD.*momentum.*\[0.0, 1.0\)"):
        SignSGD(momentum=2.0)


def test_config_round_trip():
    optimizer = SignSGD(
        learning_rate=0.02,
        momentum=0.8,
        nesterov=True,
        weight_decay=0.01,
        clipnorm=1.0,
        use_ema=True,
        gradient_accumulation_steps=3,
        name="my_signum",
    )
    config = optimizer.get_config()
    assert config["learning_rate"] == pytest.approx(0.02)
    expected = dict(
        momentum=0.8,
        nesterov=True,
        error_feedback=False,
        majority_vote=False,
        weight_decay=0.01,
        clipnorm=1.0,
        use_ema=True,
        gradient_accumulation_steps=3,
        name="my_signum",
    )
    assert {k: config[k] for k in expected} == expected
    clone = SignSGD.from_config(config)
    assert clone.get_config() == config
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer)
    )
    assert isinstance(restored, SignSGD)
    assert restored.get_config() == config


def _regression_data(seed=0, n=64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype("float32")
    w = rng.standard_normal((6, 2)).astype("float32")
    y = (np.tanh(x @ w) + 0.05 * rng.standard_normal((n, 2))).astype("float32")
    return x, y


def _small_model(optimizer):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(2),
        ]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


RESUMABLE = {
    "signum": dict(
        learning_rate=0.01, momentum=0.9, nesterov=True, weight_decay=0.05
    ),
    "error_feedback": dict(learning_rate=0.01, error_feedback=True),
}


@pytest.mark.parametrize("mode", list(RESUMABLE))
def test_resume_from_keras_file_equals_uninterrupted_training(mode):
    x, y = _regression_data()
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    steps_before, steps_after = 5, 4
    schedule = [
        batches[i % len(batches)] for i in range(steps_before + steps_after)
    ]

    uninterrupted = _small_model(SignSGD(**RESUMABLE[mode]))
    for xb, yb in schedule:
        uninterrupted.train_on_batch(xb, yb)

    interrupted = _small_model(SignSGD(**RESUMABLE[mode]))
    for xb, yb in schedule[:steps_before]:
        interrupted.train_on_batch(xb, yb)
    saved_state = [
        keras.ops.convert_to_numpy(v).copy()
        for v in interrupted.optimizer.variables
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.keras")
        interrupted.save(path)
        resumed = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(resumed.optimizer, SignSGD)
    assert resumed.optimizer.get_config() == interrupted.optimizer.get_config()
    # The state (iteration, learning rate, momentum or error memory) is
    # restored.
    restored_state = [
        keras.ops.convert_to_numpy(v) for v in resumed.optimizer.variables
    ]
    # iteration, learning rate, skipped-step counter, one per variable.
    assert len(restored_state) == len(saved_state) == 3 + 4
    for a, b in zip(restored_state, saved_state):
        np.testing.assert_array_equal(a, b)
    assert max(np.abs(b).max() for b in saved_state[3:]) > 0  # not all zeros
    for xb, yb in schedule[steps_before:]:
        resumed.train_on_batch(xb, yb)
    for a, b in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_resume_without_state_would_differ():
    # The resume test above can fail: restarting the momentum from zero after
    # 5 steps ends at different weights.
    x, y = _regression_data()
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    schedule = [batches[i % len(batches)] for i in range(9)]
    kwargs = RESUMABLE["signum"]
    uninterrupted = _small_model(SignSGD(**kwargs))
    for xb, yb in schedule:
        uninterrupted.train_on_batch(xb, yb)
    restarted = _small_model(SignSGD(**kwargs))
    for xb, yb in schedule[:5]:
        restarted.train_on_batch(xb, yb)
    weights = restarted.get_weights()
    fresh = _small_model(SignSGD(**kwargs))
    fresh.set_weights(weights)
    for xb, yb in schedule[5:]:
        fresh.train_on_batch(xb, yb)
    diff = max(
        np.abs(a - b).max()
        for a, b in zip(fresh.get_weights(), uninterrupted.get_weights())
    )
    assert diff > 1e-3


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(learning_rate=0.01),
        dict(learning_rate=0.01, momentum=0.9),
        dict(learning_rate=0.01, momentum=0.9, nesterov=True),
        dict(learning_rate=0.01, error_feedback=True),
        dict(learning_rate=0.01, majority_vote=True),
    ],
    ids=["sign", "signum", "nesterov", "error_feedback", "majority_vote"],
)
def test_small_model_loss_decreases(kwargs):
    x, y = _regression_data(n=128)
    model = _small_model(SignSGD(**kwargs))
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=32, epochs=10, shuffle=False, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < 0.6 * before, (before, after)


# ---------------------------------------------------------------------------
# Majority vote where the optimizer cannot see per-replica gradients.


class _FakeMesh:
    def __init__(self, n):
        self.devices = np.empty((n,), dtype=object)


class _FakeDistribution:
    def __init__(self, n):
        self.device_mesh = _FakeMesh(n)


def test_majority_vote_refuses_keras_distribution_with_devices(monkeypatch):
    monkeypatch.setattr(
        keras.distribution, "distribution", lambda: _FakeDistribution(4)
    )
    variable = keras.Variable(np.zeros((2,), "float32"))
    with pytest.raises(ValueError, match="majority_vote=True.*4 replicas"):
        SignSGD(0.1, majority_vote=True).build([variable])
    # Without the vote, or on one device, the same setting is fine.
    SignSGD(0.1).build([variable])
    monkeypatch.setattr(
        keras.distribution, "distribution", lambda: _FakeDistribution(1)
    )
    SignSGD(0.1, majority_vote=True).build([variable])


@pytest.mark.skipif(
    keras.config.backend() != "torch", reason="torch.distributed"
)
def test_majority_vote_refuses_torch_distributed(monkeypatch):
    import torch.distributed

    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    variable = keras.Variable(np.zeros((2,), "float32"))
    with pytest.raises(ValueError, match="2 replicas"):
        SignSGD(0.1, majority_vote=True).build([variable])


# ---------------------------------------------------------------------------
# The backend's class: picked by `SignSGD(...)`, saved as SignSGD.

_FUSED = {
    "tensorflow": ("_sign_sgd_tf", "CompiledSignStep"),
    "torch": ("_sign_sgd_torch", "ForeachSignUpdate"),
}


def test_backend_class_is_picked_and_saved_as_sign_sgd():
    import importlib

    optimizer = SignSGD(0.1, momentum=0.5)
    assert isinstance(optimizer, SignSGD)
    backend = keras.config.backend()
    if backend in _FUSED:
        module, name = _FUSED[backend]
        module = importlib.import_module(f"keras_memnets.optimizers.{module}")
        assert isinstance(optimizer, getattr(module, name))
    else:
        assert type(optimizer) is SignSGD
    # A subclass keeps the generic update.
    assert type(_KerasOpsSignSGD(0.1)) is _KerasOpsSignSGD
    serialized = keras.saving.serialize_keras_object(optimizer)
    assert serialized["registered_name"] == "keras_memnets>SignSGD"
    assert serialized["class_name"] == "SignSGD"
    assert serialized["module"] == "keras_memnets.optimizers.sign_sgd"
    assert keras.saving.get_registered_object("keras_memnets>SignSGD") is (
        SignSGD
    )
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(optimizer)
    assert restored.get_config() == optimizer.get_config()
    # Pickling (Keras pickles through its saving code) finds the class too.
    unpickled = pickle.loads(pickle.dumps(optimizer))
    assert type(unpickled) is type(optimizer)
    assert unpickled.get_config() == optimizer.get_config()


_LOAD_SCRIPT = """
import sys
import numpy as np
import keras
import keras_memnets
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
assert isinstance(model.optimizer, keras_memnets.optimizers.SignSGD)
np.savez(
    sys.argv[2],
    *[keras.ops.convert_to_numpy(v) for v in model.optimizer.variables],
    pred=keras.ops.convert_to_numpy(model.predict(np.load(sys.argv[3]))),
)
"""


@pytest.mark.slow
def test_keras_file_loads_on_every_backend(tmp_path):
    import subprocess
    import sys

    x, y = _regression_data()
    model = _small_model(SignSGD(0.01, momentum=0.9))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    state = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    prediction = model.predict(x, verbose=0)
    for backend in ("tensorflow", "jax", "torch"):
        out = tmp_path / f"{backend}.npz"
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
        subprocess.run(
            [sys.executable, "-c", _LOAD_SCRIPT, str(tmp_path / "m.keras")]
            + [str(out), str(tmp_path / "x.npy")],
            env=env,
            check=True,
            timeout=300,
        )
        with np.load(out) as loaded:
            for i, value in enumerate(state):
                np.testing.assert_array_equal(loaded[f"arr_{i}"], value)
            np.testing.assert_allclose(
                loaded["pred"], prediction, rtol=1e-6, atol=1e-6
            )
