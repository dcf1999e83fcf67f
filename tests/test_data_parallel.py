"""Data-parallel training on one machine: tf.distribute and keras.distribution.

Each check runs in a subprocess, because the logical devices must be set up
before the backend initialises: two (or three) logical CPUs for TensorFlow's
`MirroredStrategy`, two XLA host devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=2`) for JAX's
`keras.distribution.DataParallel`. The subprocess writes its arrays to an
`.npz` file; the assertions (and the numpy references) run here.

The TensorFlow checks run when the suite runs on the TensorFlow backend, the
JAX checks on the JAX backend, so each backend's run pays for one subprocess.
"""

import contextlib
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

LEARNING_RATE = 0.01
GLOBAL_BATCH = 16
STEPS = 4


def _model():
    """The model trained data-parallel: the library's memory layers.

    An ApproximatorLayer feeding a MemoryLayer (softmax selection dotted with
    a sigmoid memory). Deterministic given `set_random_seed` and free of
    dropout, so single-device and data-parallel runs can be compared weight
    by weight.
    """
    from keras_memnets.layers import ApproximatorLayer
    from keras_memnets.layers import MemoryLayer

    return keras.Sequential(
        [
            keras.Input((8,)),
            ApproximatorLayer(16, hidden_units=16, activation="tanh"),
            # The notes' layer, without the default batch-level balance
            # term: a tf.distribute replica computes that term on its own
            # share of the batch, so it is not the single device's.
            MemoryLayer(
                memory_size=4, units=4, hidden_units=16, memory_scale=1.0
            ),
        ]
    )


def _data():
    rng = np.random.default_rng(42)
    x = rng.standard_normal((GLOBAL_BATCH * STEPS, 8)).astype("float32")
    y = rng.standard_normal((GLOBAL_BATCH * STEPS, 4)).astype("float32")
    return x, y


def _optimizers():
    from keras_memnets.optimizers import SignSGD

    return {
        "signum": lambda: SignSGD(learning_rate=LEARNING_RATE, momentum=0.9),
        "error_feedback": lambda: SignSGD(
            learning_rate=LEARNING_RATE, error_feedback=True
        ),
    }


def _train(optimizer, initial_weights):
    """Builds `_model()`, loads the weights and fits one epoch in order."""
    x, y = _data()
    model = _model()
    model.set_weights(initial_weights)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def _batch_norm_data():
    """16 rows whose two halves (one per replica) have different means."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 2)).astype("float32")
    x[8:] += 3.0
    return x, np.zeros((16, 1), "float32")


def _batch_norm_variance(synchronized=False):
    """The batch variance a BatchNormalization layer sees in one fit step.

    With `momentum=0.0` the moving variance after one step is the variance
    of the batch the layer normalised with (local or global).
    """
    x, y = _batch_norm_data()
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.BatchNormalization(
                momentum=0.0, **({"synchronized": True} if synchronized else {})
            ),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    return keras.ops.convert_to_numpy(model.layers[0].moving_variance)


def _save(path, results):
    np.savez(path, **{k: np.asarray(v) for k, v in results.items()})


# ---------------------------------------------------------------------------
# Subprocess bodies.


def _vote_data(replicas, seed):
    """Per-replica batches for the linear model of the majority-vote check."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((replicas, 3, 4, 5)).astype("float32")
    y = rng.standard_normal((replicas, 3, 4, 3)).astype("float32")
    return x, y  # [replica, step, row, feature]


def tf_worker(out_path):
    """Runs under TensorFlow with three logical CPUs already configured."""
    import tensorflow as tf

    from keras_memnets.optimizers import SignSGD
    from keras_memnets.optimizers import SkipNonFiniteOptimizer

    results = {}
    two = tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"])
    # Two strategies in one process must not share collective group keys:
    # the second reduces through one device instead of collective ops.
    three = tf.distribute.MirroredStrategy(
        ["CPU:0", "CPU:1", "CPU:2"],
        cross_device_ops=tf.distribute.ReductionToOneDevice(),
    )
    results["replicas"] = [two.num_replicas_in_sync, three.num_replicas_in_sync]

    # 1. Data-parallel fit equals single-device fit with the same global batch.
    keras.utils.set_random_seed(0)
    initial = _model().get_weights()
    for name, make in _optimizers().items():
        single = _train(make(), initial)
        with two.scope():
            mirrored = _train(make(), initial)
        for i, (a, b) in enumerate(zip(single, mirrored)):
            results[f"{name}_single_{i}"] = a
            results[f"{name}_mirrored_{i}"] = b

    # Batch statistics: each replica normalises with its local batch.
    results["bn_single"] = _batch_norm_variance()
    with two.scope():
        results["bn_parallel"] = _batch_norm_variance()
        results["bn_parallel_synchronized"] = _batch_norm_variance(True)

    # 2. Majority vote through `fit` with two replicas: the global batch of 8
    # is split into rows 0-3 for replica 0 and rows 4-7 for replica 1.
    x, y = _vote_data(2, seed=1)
    with two.scope():
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
        model.compile(optimizer=SignSGD(0.1, majority_vote=True), loss="mse")
    results["fit_vote_initial_kernel"], results["fit_vote_initial_bias"] = (
        model.get_weights()
    )
    global_x = np.concatenate([x[0], x[1]], axis=1).reshape(-1, 5)
    global_y = np.concatenate([y[0], y[1]], axis=1).reshape(-1, 3)
    model.fit(global_x, global_y, batch_size=8, shuffle=False, verbose=0)
    results["fit_vote_kernel"], results["fit_vote_bias"] = model.get_weights()

    # Outside `strategy.run` the replicas' gradients are gone: the vote must
    # refuse rather than sign an already summed gradient.
    with two.scope():
        variable = keras.Variable(np.zeros((2,), "float32"))
        optimizer = SignSGD(0.1, majority_vote=True)
    for where, scope in (
        ("outside", contextlib.nullcontext()),
        ("scope", two.scope()),
    ):
        try:
            with scope:
                optimizer.apply_gradients(
                    [(tf.constant([1.0, -1.0]), variable)]
                )
            results[f"cross_replica_error_{where}"] = ""
        except ValueError as error:
            results[f"cross_replica_error_{where}"] = str(error)

    # 3. Majority vote in a custom loop with three replicas, each handed its
    # own batch explicitly, with and without momentum.
    x, y = _vote_data(3, seed=2)
    for momentum in (0.0, 0.5):
        with three.scope():
            model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
            model.build((None, 5))
            optimizer = SignSGD(0.1, momentum=momentum, majority_vote=True)
            optimizer.build(model.trainable_variables)
        kernel, bias = model.get_weights()
        results[f"loop_vote_{momentum}_initial_kernel"] = kernel
        results[f"loop_vote_{momentum}_initial_bias"] = bias

        @tf.function
        def step(xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(xb) - yb))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

        for s in range(x.shape[1]):
            xs = three.experimental_distribute_values_from_function(
                lambda ctx: tf.constant(x[ctx.replica_id_in_sync_group, s])
            )
            ys = three.experimental_distribute_values_from_function(
                lambda ctx: tf.constant(y[ctx.replica_id_in_sync_group, s])
            )
            three.run(step, args=(xs, ys))
        kernel, bias = model.get_weights()
        results[f"loop_vote_{momentum}_kernel"] = kernel
        results[f"loop_vote_{momentum}_bias"] = bias

    # 4. A non-finite gradient on one replica skips the step on every
    # replica (collective all-reduce with two, merge calls with three).
    rng = np.random.default_rng(4)
    x = rng.standard_normal((36, 5)).astype("float32")
    y = rng.standard_normal((36, 3)).astype("float32")
    x[20, 1] = np.nan  # batch 1 of 3 (rows 12-23), on the last replica

    def linear():
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
        model.compile(optimizer=SignSGD(0.1, momentum=0.5), loss="mse")
        return model

    reference = linear()
    for start in (0, 24):
        reference.train_on_batch(x[start : start + 12], y[start : start + 12])
    results["skip_reference_kernel"] = reference.get_weights()[0]
    for name, strategy in (("two", two), ("three", three)):
        with strategy.scope():
            model = linear()
            model.fit(x, y, batch_size=12, shuffle=False, verbose=0)
        results[f"skip_{name}_kernel"] = model.get_weights()[0]
        results[f"skip_{name}_count"] = int(
            keras.ops.convert_to_numpy(model.optimizer.skipped_steps)
        )

    # The same with the wrapper around Keras' SGD.
    def wrapped_sgd(wrap=True):
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
        optimizer = keras.optimizers.SGD(0.1, momentum=0.5)
        if wrap:
            optimizer = SkipNonFiniteOptimizer(optimizer)
        model.compile(optimizer=optimizer, loss="mse")
        return model

    reference = wrapped_sgd(wrap=False)
    for start in (0, 24):
        reference.train_on_batch(x[start : start + 12], y[start : start + 12])
    results["wrapper_skip_reference_kernel"] = reference.get_weights()[0]
    for name, strategy in (("two", two), ("three", three)):
        with strategy.scope():
            model = wrapped_sgd()
            model.fit(x, y, batch_size=12, shuffle=False, verbose=0)
        results[f"wrapper_skip_{name}_kernel"] = model.get_weights()[0]
        results[f"wrapper_skip_{name}_count"] = int(
            keras.ops.convert_to_numpy(model.optimizer.skipped_steps)
        )
        results[f"wrapper_skip_{name}_iterations"] = int(
            keras.ops.convert_to_numpy(model.optimizer.iterations)
        )
    _save(out_path, results)


def jax_worker(out_path):
    """Runs under JAX with two XLA host devices."""
    import jax

    from keras_memnets.optimizers import SignSGD

    results = {"devices": len(jax.devices())}
    keras.utils.set_random_seed(0)
    initial = _model().get_weights()
    singles = {
        name: _train(make(), initial) for name, make in _optimizers().items()
    }

    devices = keras.distribution.list_devices("cpu")
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices)
    )
    for name, make in _optimizers().items():
        parallel = _train(make(), initial)
        for i, (a, b) in enumerate(zip(singles[name], parallel)):
            results[f"{name}_single_{i}"] = a
            results[f"{name}_parallel_{i}"] = b

    # Batch statistics: the sharded program computes them on the global batch.
    results["bn_parallel"] = _batch_norm_variance()
    keras.distribution.set_distribution(None)
    results["bn_single"] = _batch_norm_variance()
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices)
    )

    # Majority vote cannot see per-device gradients here: it must refuse.
    try:
        _train(SignSGD(0.1, majority_vote=True), initial)
        results["vote_error"] = ""
    except ValueError as error:
        results["vote_error"] = str(error)
    _save(out_path, results)


_TF_SCRIPT = """
import sys
import tensorflow as tf
cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    cpus[0], [tf.config.LogicalDeviceConfiguration()] * 3
)
from tests import test_data_parallel
test_data_parallel.tf_worker(sys.argv[1])
"""

_JAX_SCRIPT = """
import sys
from tests import test_data_parallel
test_data_parallel.jax_worker(sys.argv[1])
"""


def _run_worker(script, backend, tmp_path_factory, extra_env=None):
    out = str(tmp_path_factory.mktemp(f"data_parallel_{backend}") / "out.npz")
    env = dict(os.environ)
    env["KERAS_BACKEND"] = backend
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.update(extra_env or {})
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), out],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"The {backend} data-parallel worker failed:\n{proc.stderr[-5000:]}"
        )
    with np.load(out, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


only_tensorflow = pytest.mark.skipif(
    keras.config.backend() != "tensorflow",
    reason="runs in the KERAS_BACKEND=tensorflow test session",
)
only_jax = pytest.mark.skipif(
    keras.config.backend() != "jax",
    reason="runs in the KERAS_BACKEND=jax test session",
)


@pytest.fixture(scope="module")
def tf_results(tmp_path_factory):
    return _run_worker(_TF_SCRIPT, "tensorflow", tmp_path_factory)


@pytest.fixture(scope="module")
def jax_results(tmp_path_factory):
    return _run_worker(
        _JAX_SCRIPT,
        "jax",
        tmp_path_factory,
        {
            "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
            "JAX_PLATFORMS": "cpu",
        },
    )


def _assert_same_training(results, parallel_key, name):
    n = len([k for k in results if k.startswith(f"{name}_single_")])
    assert n == len(_model().weights)
    moved = 0.0
    for i in range(n):
        single = results[f"{name}_single_{i}"]
        parallel = results[f"{name}_{parallel_key}_{i}"]
        np.testing.assert_allclose(parallel, single, rtol=0, atol=1e-5)
        moved = max(moved, float(np.abs(single).max()))
    assert moved > 0


def _numpy_vote_training(kernel, bias, x, y, learning_rate, momentum=0.0):
    """signSGD with majority vote of a linear model under MSE, in numpy.

    `x`: [replica, step, row, feature]. Each replica's gradient is that of
    the mean squared error on its own rows; the update is the sign of the
    sum of the replicas' signs (with server-side momentum on that vote).
    """
    kernel = kernel.astype("float64")
    bias = bias.astype("float64")
    m_kernel = np.zeros_like(kernel)
    m_bias = np.zeros_like(bias)
    ties = 0
    for s in range(x.shape[1]):
        vote_kernel = np.zeros_like(kernel)
        vote_bias = np.zeros_like(bias)
        for r in range(x.shape[0]):
            residual = x[r, s] @ kernel + bias - y[r, s]
            vote_kernel += np.sign(2 * x[r, s].T @ residual / residual.size)
            vote_bias += np.sign(2 * residual.sum(0) / residual.size)
        ties += int(np.sum(vote_kernel == 0) + np.sum(vote_bias == 0))
        vote_kernel, vote_bias = np.sign(vote_kernel), np.sign(vote_bias)
        if momentum > 0:
            m_kernel = momentum * m_kernel + (1 - momentum) * vote_kernel
            m_bias = momentum * m_bias + (1 - momentum) * vote_bias
            vote_kernel, vote_bias = np.sign(m_kernel), np.sign(m_bias)
        kernel = kernel - learning_rate * vote_kernel
        bias = bias - learning_rate * vote_bias
    return kernel, bias, ties


def _numpy_mean_training(kernel, bias, x, y, learning_rate):
    """The same with gradients averaged over replicas (what the vote is not)."""
    kernel = kernel.astype("float64")
    bias = bias.astype("float64")
    for s in range(x.shape[1]):
        xs = x[:, s].reshape(-1, x.shape[-1])
        ys = y[:, s].reshape(-1, y.shape[-1])
        residual = xs @ kernel + bias - ys
        kernel = kernel - learning_rate * np.sign(xs.T @ residual)
        bias = bias - learning_rate * np.sign(residual.sum(0))
    return kernel, bias


@pytest.mark.distributed
@only_tensorflow
@pytest.mark.parametrize("name", ["signum", "error_feedback"])
def test_mirrored_strategy_equals_single_device(tf_results, name):
    assert list(tf_results["replicas"]) == [2, 3]
    _assert_same_training(tf_results, "mirrored", name)


def _global_and_first_replica_variances():
    x, _ = _batch_norm_data()
    return x.var(0), x[:8].var(0)


@pytest.mark.distributed
@only_tensorflow
def test_mirrored_strategy_batch_statistics_are_per_replica(tf_results):
    # Each replica normalises with its own half of the batch; the moving
    # statistics keep the first replica's (Keras' default aggregation).
    # `synchronized=True` all-reduces the statistics over the global batch.
    global_variance, first_replica = _global_and_first_replica_variances()
    assert np.all(global_variance > 2 * first_replica)
    np.testing.assert_allclose(
        tf_results["bn_single"], global_variance, rtol=1e-4
    )
    np.testing.assert_allclose(
        tf_results["bn_parallel"], first_replica, rtol=1e-4
    )
    np.testing.assert_allclose(
        tf_results["bn_parallel_synchronized"], global_variance, rtol=1e-4
    )


@pytest.mark.distributed
@only_tensorflow
def test_majority_vote_in_fit_with_two_replicas(tf_results):
    x, y = _vote_data(2, seed=1)
    kernel, bias, ties = _numpy_vote_training(
        tf_results["fit_vote_initial_kernel"],
        tf_results["fit_vote_initial_bias"],
        x,
        y,
        0.1,
    )
    assert ties > 0, "no replica disagreed: the check would not test the vote"
    np.testing.assert_allclose(tf_results["fit_vote_kernel"], kernel, atol=1e-6)
    np.testing.assert_allclose(tf_results["fit_vote_bias"], bias, atol=1e-6)
    mean_kernel, _ = _numpy_mean_training(
        tf_results["fit_vote_initial_kernel"],
        tf_results["fit_vote_initial_bias"],
        x,
        y,
        0.1,
    )
    assert np.abs(mean_kernel - kernel).max() > 0.05


@pytest.mark.distributed
@only_tensorflow
@pytest.mark.parametrize("replicas", ["two", "three"])
def test_non_finite_gradient_on_one_replica_skips_on_all(tf_results, replicas):
    assert tf_results[f"skip_{replicas}_count"] == 1
    np.testing.assert_allclose(
        tf_results[f"skip_{replicas}_kernel"],
        tf_results["skip_reference_kernel"],
        atol=1e-6,
    )


@pytest.mark.distributed
@only_tensorflow
@pytest.mark.parametrize("replicas", ["two", "three"])
def test_wrapper_skips_on_all_replicas(tf_results, replicas):
    # SkipNonFiniteOptimizer(SGD): one replica's NaN skips the step on every
    # replica, and `iterations` counts the two steps taken.
    assert tf_results[f"wrapper_skip_{replicas}_count"] == 1
    assert tf_results[f"wrapper_skip_{replicas}_iterations"] == 2
    np.testing.assert_allclose(
        tf_results[f"wrapper_skip_{replicas}_kernel"],
        tf_results["wrapper_skip_reference_kernel"],
        atol=1e-6,
    )


@pytest.mark.distributed
@only_tensorflow
def test_majority_vote_refuses_cross_replica_context(tf_results):
    for where in ("outside", "scope"):
        message = str(tf_results[f"cross_replica_error_{where}"])
        assert "replica context" in message, where


@pytest.mark.distributed
@only_tensorflow
@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_majority_vote_in_custom_loop_with_three_replicas(tf_results, momentum):
    x, y = _vote_data(3, seed=2)
    prefix = f"loop_vote_{momentum}"
    kernel, bias, _ = _numpy_vote_training(
        tf_results[f"{prefix}_initial_kernel"],
        tf_results[f"{prefix}_initial_bias"],
        x,
        y,
        0.1,
        momentum=momentum,
    )
    np.testing.assert_allclose(
        tf_results[f"{prefix}_kernel"], kernel, atol=1e-6
    )
    np.testing.assert_allclose(tf_results[f"{prefix}_bias"], bias, atol=1e-6)
    if momentum == 0.0:
        # With three voters a replica can be outvoted whatever its magnitude,
        # which averaging would not do.
        mean_kernel, _ = _numpy_mean_training(
            tf_results[f"{prefix}_initial_kernel"],
            tf_results[f"{prefix}_initial_bias"],
            x,
            y,
            0.1,
        )
        assert np.abs(mean_kernel - kernel).max() > 0.05


@pytest.mark.distributed
@only_jax
@pytest.mark.parametrize("name", ["signum", "error_feedback"])
def test_jax_data_parallel_equals_single_device(jax_results, name):
    assert int(jax_results["devices"]) == 2
    _assert_same_training(jax_results, "parallel", name)


@pytest.mark.distributed
@only_jax
def test_jax_data_parallel_batch_statistics_are_global(jax_results):
    global_variance, _ = _global_and_first_replica_variances()
    np.testing.assert_allclose(
        jax_results["bn_single"], global_variance, rtol=1e-4
    )
    np.testing.assert_allclose(
        jax_results["bn_parallel"], global_variance, rtol=1e-4
    )


@pytest.mark.distributed
@only_jax
def test_jax_data_parallel_refuses_majority_vote(jax_results):
    message = str(jax_results["vote_error"])
    assert "majority_vote=True" in message
    assert "2 replicas" in message
