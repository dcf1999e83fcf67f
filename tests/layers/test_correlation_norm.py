"""Tests of keras_memnets.layers.CorrelationNorm against numpy references."""

import os
import subprocess
import sys
import tempfile

import keras
import numpy as np
import pytest

from keras_memnets.layers import CorrelationNorm
from keras_memnets.layers.correlation_norm import STATISTICS

BACKEND = keras.backend.backend()


# ---------------------------------------------------------------------------
# Independent numpy references (dense masks, no reshapes into blocks).


def np_feature_rows(x, data_format="channels_last"):
    x = np.asarray(x, dtype="float64")
    if x.ndim == 4:
        if data_format == "channels_first":
            x = np.transpose(x, (0, 2, 3, 1))
        x = x.reshape(-1, x.shape[-1])
    return x


def np_feature_terms(rows, block_size):
    n, d = rows.shape
    mu = rows.mean(axis=0)
    xc = rows - mu
    s = xc.T @ xc / n
    k = d if block_size is None else block_size
    block = np.arange(d) // k
    same_block = block[:, None] == block[None, :]
    off = same_block & ~np.eye(d, dtype=bool)
    mean_term = np.mean(mu**2)
    variance_term = np.mean((np.diag(s) - 1.0) ** 2)
    covariance_term = np.mean(s[off] ** 2) if off.any() else 0.0
    return mean_term, variance_term, covariance_term


def np_cosines(x, epsilon=1e-5):
    v = np.asarray(x, dtype="float64").reshape(len(x), -1)
    v = v / np.sqrt((v**2).sum(axis=1, keepdims=True) + epsilon)
    return v @ v.T


def np_pair_terms(cos_values, hurdle):
    cos_values = np.asarray(cos_values, dtype="float64")
    positive = cos_values > hurdle
    per_pair = np.where(positive, (1 - cos_values) ** 2, cos_values**2)
    return per_pair.mean(), positive.mean()


def all_pair_cosines(x):
    g = np_cosines(x)
    return g[np.triu_indices(len(x), k=1)]


def offset_pair_cosines(x, offset):
    g = np_cosines(x)
    i = np.arange(len(x))
    return g[i, (i + offset) % len(x)]


def to_numpy(t):
    return keras.ops.convert_to_numpy(t)


def metric_values(layer):
    prefix = len(layer.name) + 1
    return {m.name[prefix:]: float(to_numpy(m.result())) for m in layer.metrics}


def gradient(fn, x):
    """d fn(x) / dx on the current backend, as numpy."""
    if BACKEND == "jax":
        import jax

        # One compiled program instead of op-by-op dispatch; `fn` must not
        # write layer state (use `stateless_call` or `_local_losses`).
        return np.asarray(jax.jit(jax.grad(fn))(keras.ops.convert_to_tensor(x)))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        t = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(t)
            value = fn(t)
        grad = tape.gradient(
            value, t, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        return grad.numpy()
    import torch

    t = torch.tensor(x, requires_grad=True)
    fn(t).backward()
    # A disconnected input gets no gradient at all: exactly zero.
    return np.zeros_like(x) if t.grad is None else t.grad.numpy()


def central_differences(fn, x, h=1e-6):
    """d fn(x) / dx of a numpy function, by central differences."""
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        numeric[index] = (fn(plus) - fn(minus)) / (2 * h)
    return numeric


def rng_normal(shape, seed=0, scale=1.0, loc=0.0):
    return (
        loc + scale * np.random.default_rng(seed).normal(size=shape)
    ).astype("float32")


# ---------------------------------------------------------------------------
# Losses against the numpy reference.

LOSS_CASES = [
    # (input shape, block_size, data_format)
    ((32, 10), 4, "channels_last"),  # 2 full blocks and a partial block of 2
    ((32, 9), 4, "channels_last"),  # 2 full blocks and one feature alone
    ((32, 10), 1, "channels_last"),  # no off-diagonal entries at all
    ((32, 10), None, "channels_last"),  # full covariance
    ((6, 5, 4, 6), 4, "channels_last"),  # conv, partial block of 2 channels
    ((6, 6, 5, 4), None, "channels_first"),  # conv, full covariance
]


@pytest.mark.parametrize(
    "shape,block_size,data_format",
    LOSS_CASES,
    ids=[
        "dense-block4",
        "dense-block4-rest1",
        "dense-block1",
        "dense-full",
        "conv-block4",
        "conv-full-cf",
    ],
)
def test_losses_match_numpy_reference(shape, block_size, data_format):
    x = rng_normal(shape, seed=1, scale=1.5, loc=0.3)
    hurdle = 0.05
    layer = CorrelationNorm(
        block_size=block_size,
        feature_weight=2.0,
        pair_weight=3.0,
        hurdle=hurdle,
        hurdle_momentum=1.0,
        num_pair_offsets=None,
        data_format=data_format,
    )
    y = layer(x, training=True)
    np.testing.assert_array_equal(to_numpy(y), x)

    mean_t, var_t, cov_t = np_feature_terms(
        np_feature_rows(x, data_format), block_size
    )
    pair_loss, pos_frac = np_pair_terms(all_pair_cosines(x), hurdle)
    feature_loss, layer_pair_loss = [float(to_numpy(v)) for v in layer.losses]
    np.testing.assert_allclose(
        feature_loss, 2.0 * (mean_t + var_t + cov_t), rtol=1e-5
    )
    np.testing.assert_allclose(layer_pair_loss, 3.0 * pair_loss, rtol=1e-5)

    stats = metric_values(layer)
    np.testing.assert_allclose(
        stats["feature_mean"], mean_t, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(stats["feature_variance"], var_t, rtol=1e-5)
    np.testing.assert_allclose(
        stats["feature_covariance"], cov_t, rtol=1e-5, atol=1e-8
    )
    np.testing.assert_allclose(stats["pair_loss"], pair_loss, rtol=1e-5)
    np.testing.assert_allclose(stats["positive_fraction"], pos_frac, rtol=1e-6)
    assert stats["hurdle"] == pytest.approx(hurdle)
    # The reference is not trivial: some pairs are on each side of the hurdle.
    assert 0 < pos_frac < 1 and cov_t >= 0


def test_block_size_one_has_no_covariance_term():
    layer = CorrelationNorm(block_size=1)
    layer(rng_normal((16, 6)), training=True)
    assert metric_values(layer)["feature_covariance"] == 0.0


def test_block_larger_than_features_is_full_covariance():
    x = rng_normal((20, 6), seed=3)
    a = CorrelationNorm(block_size=64, pair_weight=0.0)
    b = CorrelationNorm(block_size=None, pair_weight=0.0)
    a(x, training=True)
    b(x, training=True)
    np.testing.assert_allclose(
        to_numpy(a.losses[0]), to_numpy(b.losses[0]), rtol=1e-6
    )


def test_offset_pairs_with_three_samples_equal_all_pairs():
    # With B = 3 both possible offsets (1 and 2) visit every unordered pair
    # once.
    x = rng_normal((3, 7), seed=4)
    layer = CorrelationNorm(num_pair_offsets=3, hurdle=0.1, hurdle_momentum=1.0)
    layer(x, training=True)
    expected, _ = np_pair_terms(all_pair_cosines(x), 0.1)
    np.testing.assert_allclose(to_numpy(layer.losses[1]), expected, rtol=1e-5)


def test_offset_pairs_are_random_offsets_in_range():
    # One offset per step: the pair loss must be the loss of one offset in
    # [1, B - 1]; over 40 steps both classes of offsets ({1, 3} and {2},
    # which give different pair sets for B = 4) must appear.
    x = rng_normal((4, 9), seed=5)
    per_offset = {
        o: np_pair_terms(offset_pair_cosines(x, o), 0.2)[0] for o in (1, 2, 3)
    }
    assert abs(per_offset[1] - per_offset[2]) > 1e-3
    layer = CorrelationNorm(
        num_pair_offsets=1, hurdle=0.2, hurdle_momentum=1.0, seed=3
    )
    seen = set()
    for _ in range(40):
        layer(x, training=True)
        value = float(to_numpy(layer.losses[1]))
        matches = [o for o, v in per_offset.items() if abs(v - value) < 1e-5]
        assert matches, f"pair loss {value} matches no offset of {per_offset}"
        seen.add(2 if 2 in matches else 1)
    assert seen == {1, 2}


def test_inference_adds_no_losses_and_changes_no_state():
    x = rng_normal((8, 6))
    layer = CorrelationNorm(hurdle_momentum=0.0)
    layer.build(x.shape)
    before = [to_numpy(v).copy() for v in layer.weights]
    for training in (False, None):
        y = layer(x, training=training)
        np.testing.assert_array_equal(to_numpy(y), x)
        assert layer.losses == []
    for b, v in zip(before, layer.weights):
        np.testing.assert_array_equal(to_numpy(v), b)


# ---------------------------------------------------------------------------
# Gradients.


@pytest.mark.parametrize(
    "shape,block_size",
    [((12, 7), 3), ((12, 8), 3), ((12, 7), None), ((3, 3, 2, 5), 2)],
)
def test_feature_loss_gradient_matches_finite_differences(shape, block_size):
    x = rng_normal(shape, seed=6, scale=0.8, loc=0.2).astype("float64")
    layer = CorrelationNorm(block_size=block_size, num_pair_offsets=None)
    layer.build(x.shape)

    def loss(t):
        return layer._local_losses(t)["feature_loss"]

    analytic = gradient(loss, x)

    def reference(values):
        return sum(np_feature_terms(np_feature_rows(values), block_size))

    numeric = central_differences(reference, x)
    assert np.abs(numeric).max() > 1e-2
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("path", ["slice", "roll"])
def test_sampled_pair_loss_gradient_matches_finite_differences(path):
    # Both ways of finding a pair's partner (a roll, or a dynamic slice of
    # the batch stacked twice) must pass the gradient to both samples.
    x = rng_normal((7, 5), seed=8, loc=0.3).astype("float64")
    layer = CorrelationNorm(num_pair_offsets=3, hurdle=0.4, seed=2)
    layer._partner_path = path
    layer.build(x.shape)
    state = to_numpy(layer.seed_generator.state)

    def loss(t):
        layer.seed_generator.state.assign(state)
        return layer._local_losses(t)["pair_loss"]

    cos, _ = layer._pair_cosines(x)
    offsets = []
    for row in to_numpy(cos).reshape(3, 7):
        # Recover each step's offset from the cosines it produced.
        match = [
            o
            for o in range(1, 7)
            if np.allclose(row, offset_pair_cosines(x, o), atol=1e-12)
        ]
        assert len(match) == 1
        offsets.append(match[0])

    def reference(values):
        cosines = np.concatenate(
            [offset_pair_cosines(values, o) for o in offsets]
        )
        return np_pair_terms(cosines, 0.4)[0]

    analytic = gradient(loss, x)
    numeric = central_differences(reference, x)
    assert np.abs(numeric).max() > 1e-2
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def _input_gradients(detach, weights):
    """Gradients w.r.t. the layer's input of the downstream loss and of the
    local losses, for a CorrelationNorm followed by a Dense head."""
    x = rng_normal((10, 6), seed=7)
    layer = CorrelationNorm(
        detach=detach,
        feature_weight=weights,
        pair_weight=weights,
        num_pair_offsets=None,
        hurdle=0.0,
        hurdle_momentum=1.0,
    )
    head = keras.layers.Dense(3, kernel_initializer="ones")
    layer.build(x.shape)
    head.build((None, 6))
    nontrainable = [v.value for v in layer.non_trainable_variables]

    def run(t):
        if BACKEND == "jax":
            # Stateless, so the traced call does not write JAX tracers into
            # the layer's variables.
            y, _, losses = layer.stateless_call(
                [], nontrainable, t, training=True, return_losses=True
            )
        else:
            y = layer(t, training=True)
            losses = layer.losses
        return y, losses

    def downstream(t):
        y, _ = run(t)
        return keras.ops.sum(keras.ops.square(head(y)))

    def local(t):
        _, losses = run(t)
        return keras.ops.sum(keras.ops.stack(losses))

    return gradient(downstream, x), gradient(local, x)


def test_detach_blocks_downstream_gradient_but_not_local_losses():
    downstream, local = _input_gradients(detach=True, weights=1.0)
    np.testing.assert_array_equal(downstream, np.zeros_like(downstream))
    assert np.abs(local).max() > 1e-3
    # Without detach the downstream gradient does reach the input.
    downstream, _ = _input_gradients(detach=False, weights=1.0)
    assert np.abs(downstream).max() > 1e-3


def test_detach_in_fit_trains_the_layer_below_only_through_local_losses():
    x = rng_normal((32, 5), seed=8)
    y = rng_normal((32, 2), seed=9)

    def train(feature_weight, pair_weight):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((5,))
        below = keras.layers.Dense(8, name="below")
        h = below(inputs)
        h = CorrelationNorm(
            detach=True, feature_weight=feature_weight, pair_weight=pair_weight
        )(h)
        outputs = keras.layers.Dense(2, name="head")(h)
        model = keras.Model(inputs, outputs)
        model.compile(keras.optimizers.SGD(0.05), "mse")
        before = [to_numpy(w).copy() for w in below.weights]
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        return [
            np.array_equal(b, to_numpy(w))
            for b, w in zip(before, below.weights)
        ]

    assert all(train(0.0, 0.0)), "the downstream loss moved a detached layer"
    assert not any(train(1.0, 1.0)), (
        "the local losses did not train the layer below"
    )


# ---------------------------------------------------------------------------
# The hurdle.


def test_hurdle_converges_to_the_quantile_on_a_fixed_batch():
    x = rng_normal((24, 12), seed=10, loc=0.3)
    fraction = 0.2
    layer = CorrelationNorm(
        positive_fraction=fraction,
        hurdle=0.9,
        hurdle_momentum=0.6,
        num_pair_offsets=None,
    )
    for _ in range(40):  # 0.6^40 ~ 1e-9 of the initial gap is left
        layer(x, training=True)
    cos = all_pair_cosines(x)
    target = np.quantile(cos, 1 - fraction)
    hurdle = float(to_numpy(layer.current_hurdle))
    assert hurdle == pytest.approx(target, abs=1e-5)
    # ... and that hurdle lets through the asked fraction of the pairs.
    achieved = np.mean(cos > hurdle)
    assert abs(achieved - fraction) <= 1.0 / len(cos) + 1e-9
    assert abs(0.9 - target) > 0.1  # it had to move


@pytest.mark.parametrize("path", ["sort", "top_k"])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.97])
def test_quantile_paths_match_numpy(path, fraction):
    # Issue 13: the quantile through top_k (no full sort) must equal numpy's
    # linear-interpolation quantile exactly as the full sort does, for all
    # pairs (a masked B x B matrix) and for offset pairs.
    for batch in (2, 3, 17, 40):
        x = rng_normal((batch, 5), seed=batch)
        layer = CorrelationNorm(
            positive_fraction=fraction, num_pair_offsets=None
        )
        layer.build(x.shape)
        layer._quantile_path = path
        quantile = layer._local_losses(x)["quantile"]
        np.testing.assert_allclose(
            to_numpy(quantile),
            np.quantile(all_pair_cosines(x), 1 - fraction),
            rtol=1e-5,
            atol=1e-6,
        )
        cos = np.random.default_rng(batch).uniform(-1, 1, 3 * batch)
        offsets = CorrelationNorm(
            positive_fraction=fraction, num_pair_offsets=3
        )
        offsets.build((batch, 5))
        offsets._quantile_path = path
        got = offsets._quantile(
            keras.ops.convert_to_tensor(cos.astype("float32")),
            keras.ops.convert_to_tensor(np.ones(3 * batch, bool)),
            keras.ops.convert_to_tensor(float(3 * batch)),
            batch,
        )
        np.testing.assert_allclose(
            to_numpy(got), np.quantile(cos, 1 - fraction), rtol=1e-5, atol=1e-6
        )


def test_hurdle_momentum_zero_and_one():
    x = rng_normal((9, 5), seed=11)
    target = np.quantile(all_pair_cosines(x), 0.9)
    jump = CorrelationNorm(
        hurdle_momentum=0.0, num_pair_offsets=None, positive_fraction=0.1
    )
    jump(x, training=True)
    assert float(to_numpy(jump.current_hurdle)) == pytest.approx(
        target, abs=1e-6
    )
    fixed = CorrelationNorm(hurdle=0.3, hurdle_momentum=1.0)
    for _ in range(3):
        fixed(x, training=True)
    assert float(to_numpy(fixed.current_hurdle)) == pytest.approx(0.3)


def test_metrics_reach_fit_logs_and_match_the_reference():
    # The layer sits on the input, so its statistics per batch are fixed and
    # the epoch logs must equal the numpy mean over the batches.
    x = rng_normal((24, 6), seed=12, loc=0.2)
    y = rng_normal((24, 2), seed=13)
    inputs = keras.Input((6,))
    h = CorrelationNorm(
        name="cn",
        block_size=4,
        hurdle=0.1,
        hurdle_momentum=1.0,
        num_pair_offsets=None,
    )(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    model.compile("sgd", "mse")
    # Validation between epochs: on JAX the logged values must outlive the
    # state buffers that the next steps donate.
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        validation_data=(x, y),
    )
    batches = [x[i : i + 8] for i in range(0, 24, 8)]
    expected = {
        "feature_mean": [],
        "feature_variance": [],
        "feature_covariance": [],
        "pair_loss": [],
        "positive_fraction": [],
    }
    for b in batches:
        terms = np_feature_terms(b.astype("float64"), 4)
        for name, value in zip(STATISTICS[:3], terms):
            expected[name].append(value)
        pair_loss, pos = np_pair_terms(all_pair_cosines(b), 0.1)
        expected["pair_loss"].append(pair_loss)
        expected["positive_fraction"].append(pos)
    for name, values in expected.items():
        logged = history.history[f"cn_{name}"]
        np.testing.assert_allclose(
            logged, [np.mean(values)] * 2, rtol=1e-5, atol=1e-7, err_msg=name
        )
    np.testing.assert_allclose(
        history.history["cn_hurdle"], [0.1, 0.1], rtol=1e-6
    )
    np.testing.assert_allclose(
        history.history["val_cn_hurdle"], [0.1, 0.1], rtol=1e-6
    )
    assert history.history["val_cn_positive_fraction"] == [0.0, 0.0]
    # No losses at inference: evaluate reports the reset statistics.
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert result["cn_positive_fraction"] == 0.0


@pytest.mark.parametrize(
    "run_eagerly", [False, True], ids=["compiled", "eager"]
)
def test_per_step_logs_are_exact_or_nan_never_stale(run_eagerly):
    # Issue 9: the metric views read the layer's state through the public
    # `Variable.value` only. Each step's log is the running mean of the
    # statistics so far, except inside a JAX training step, where Keras has
    # detached the layer's variables (keras-team/keras#21639): NaN there,
    # never a placeholder 0 or a stale value.
    x = rng_normal((24, 6), seed=21, loc=0.4)
    y = rng_normal((24, 2), seed=22)
    inputs = keras.Input((6,))
    h = CorrelationNorm(
        name="cn",
        block_size=4,
        hurdle=0.2,
        hurdle_momentum=1.0,
        num_pair_offsets=None,
    )(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    model.compile("sgd", "mse", run_eagerly=run_eagerly)
    logged = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            logged.append((logs["cn_feature_mean"], logs["cn_hurdle"]))

    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[Record()],
    )
    means = [np_feature_terms(x[i : i + 8], 4)[0] for i in range(0, 24, 8)]
    running = np.cumsum(means) / np.arange(1, 4)
    # The JAX trainer detaches the state in compiled and eager steps alike.
    detached = BACKEND == "jax"
    for (mean, hurdle), expected in zip(logged, running):
        if detached:
            assert np.isnan(mean) and np.isnan(hurdle)
        else:
            np.testing.assert_allclose(mean, expected, rtol=1e-5)
            np.testing.assert_allclose(hurdle, 0.2, rtol=1e-6)
    np.testing.assert_allclose(
        history.history["cn_feature_mean"], [running[-1]], rtol=1e-5
    )


def test_layer_reads_no_private_keras_state():
    import inspect

    from keras_memnets.layers import correlation_norm

    assert "._value" not in inspect.getsource(correlation_norm)


# ---------------------------------------------------------------------------
# Saving.


def test_hurdle_state_is_saved_and_restored():
    x = rng_normal((32, 6), seed=14, loc=0.5)
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8)(inputs)
    h = CorrelationNorm(
        name="cn", hurdle=0.9, hurdle_momentum=0.5, block_size=3, seed=2
    )(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile("adam", "mse")
    model.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0)
    layer = model.get_layer("cn")
    hurdle = float(to_numpy(layer.current_hurdle))
    assert abs(hurdle - 0.9) > 1e-3
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    restored = loaded.get_layer("cn")
    assert isinstance(restored, CorrelationNorm)
    assert float(to_numpy(restored.current_hurdle)) == hurdle
    assert restored.get_config() == layer.get_config()
    np.testing.assert_allclose(
        to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6
    )


def test_config_round_trip_keeps_every_argument():
    kwargs = {
        "block_size": None,
        "feature_weight": 0.5,
        "pair_weight": 2.0,
        "positive_fraction": 0.3,
        "hurdle": -0.2,
        "hurdle_momentum": 0.5,
        "num_pair_offsets": None,
        "detach": True,
        "epsilon": 1e-3,
        "seed": 7,
        "data_format": "channels_first",
    }
    config = CorrelationNorm(**kwargs).get_config()
    for k, v in kwargs.items():
        assert config[k] == v, k
    assert CorrelationNorm.from_config(config).get_config() == config


def test_numpy_numbers_are_accepted_and_stored_as_python_numbers():
    layer = CorrelationNorm(
        block_size=np.int64(4),
        positive_fraction=np.float32(0.25),
        seed=np.int32(3),
    )
    config = layer.get_config()
    assert type(config["block_size"]) is int and config["block_size"] == 4
    assert type(config["positive_fraction"]) is float
    assert type(config["seed"]) is int


# ---------------------------------------------------------------------------
# Degenerate batches and float16.


def test_batch_of_one():
    x = rng_normal((1, 5), seed=15)
    layer = CorrelationNorm(hurdle=0.4, hurdle_momentum=0.0)
    layer(x, training=True)
    feature_loss, pair_loss = [float(to_numpy(v)) for v in layer.losses]
    expected = np.mean(x.astype("float64") ** 2) + 1.0
    assert feature_loss == pytest.approx(expected, rel=1e-5)
    assert pair_loss == 0.0
    assert metric_values(layer)["positive_fraction"] == 0.0
    assert float(to_numpy(layer.current_hurdle)) == pytest.approx(0.4)
    # A conv batch of one still has spatial positions as samples.
    conv = CorrelationNorm(block_size=None)
    xc = rng_normal((1, 4, 4, 3), seed=16)
    conv(xc, training=True)
    mean_t, var_t, cov_t = np_feature_terms(np_feature_rows(xc), None)
    np.testing.assert_allclose(
        to_numpy(conv.losses[0]), mean_t + var_t + cov_t, rtol=1e-5
    )


def test_all_zero_activations_give_finite_losses_and_gradients():
    x = np.zeros((6, 4, 4, 2), "float32")
    layer = CorrelationNorm(num_pair_offsets=None, hurdle_momentum=0.0)
    layer(x, training=True)
    feature_loss, pair_loss = [float(to_numpy(v)) for v in layer.losses]
    assert feature_loss == pytest.approx(1.0)  # only the variance term
    assert pair_loss == 0.0  # every cosine is 0, below the hurdle 0.5
    assert float(to_numpy(layer.current_hurdle)) == 0.0

    def total(t):
        terms = layer._local_losses(t)
        return terms["feature_loss"] + terms["pair_loss"]

    grad = gradient(total, x)
    assert np.all(np.isfinite(grad))


def test_float16_inputs_are_reduced_in_float32():
    # 300^2 overflows float16 (max 65504); the statistics must not.
    x = rng_normal((16, 6), seed=17, scale=300.0)
    layer = CorrelationNorm(
        dtype="float16", num_pair_offsets=None, hurdle=0.0, hurdle_momentum=1.0
    )
    y = layer(x, training=True)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    x16 = x.astype("float16").astype("float64")
    mean_t, var_t, cov_t = np_feature_terms(x16, 8)
    pair_loss, _ = np_pair_terms(all_pair_cosines(x16), 0.0)
    feature_loss, layer_pair = [to_numpy(v) for v in layer.losses]
    assert feature_loss.dtype == np.float32
    np.testing.assert_allclose(feature_loss, mean_t + var_t + cov_t, rtol=1e-4)
    np.testing.assert_allclose(layer_pair, pair_loss, rtol=1e-4)
    assert str(layer.current_hurdle.dtype) == "float32"


def test_saves_its_offset_stream_and_loads_files_without_it():
    layer = CorrelationNorm(seed=1)
    layer(rng_normal((8, 4)), training=True)
    store = {}
    layer.save_own_variables(store)
    assert sorted(store) == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(
        to_numpy(store["3"]), to_numpy(layer.seed_generator.state)
    )
    # A file written before the stream was saved: three variables.
    fresh = CorrelationNorm(seed=1)
    fresh.build((None, 4))
    state = to_numpy(fresh.seed_generator.state).copy()
    old = {k: to_numpy(store[k]) for k in ("0", "1", "2")}
    fresh.load_own_variables(old)
    assert float(to_numpy(fresh.current_hurdle)) == float(old["0"])
    np.testing.assert_array_equal(to_numpy(fresh.seed_generator.state), state)


# ---------------------------------------------------------------------------
# Bad arguments.

BAD_ARGUMENTS = [
    ({"block_size": 0}, ValueError, "block_size"),
    ({"block_size": 2.5}, TypeError, "block_size"),
    ({"feature_weight": -1.0}, ValueError, "feature_weight"),
    ({"pair_weight": float("nan")}, ValueError, "pair_weight"),
    ({"positive_fraction": 0.0}, ValueError, "positive_fraction"),
    ({"positive_fraction": 1.0}, ValueError, "positive_fraction"),
    ({"hurdle": 1.5}, ValueError, "hurdle"),
    ({"hurdle_momentum": 1.01}, ValueError, "hurdle_momentum"),
    ({"hurdle_momentum": -0.1}, ValueError, "hurdle_momentum"),
    ({"num_pair_offsets": 0}, ValueError, "num_pair_offsets"),
    ({"detach": "yes"}, TypeError, "detach"),
    ({"epsilon": 0.0}, ValueError, "epsilon"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"data_format": "channels_middle"}, ValueError, "data_format"),
]


@pytest.mark.parametrize(
    "kwargs,error,word",
    BAD_ARGUMENTS,
    ids=[str(k) for k, _, _ in BAD_ARGUMENTS],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, word):
    with pytest.raises(error, match=rf"CorrelationNorm.*`{word}`"):
        CorrelationNorm(**kwargs)


@pytest.mark.parametrize("shape", [(None, 4, 5), (None,), (None, 2, 3, 4, 5)])
def test_bad_rank_raises_at_build(shape):
    with pytest.raises(ValueError, match="CorrelationNorm: `inputs`.*rank 2"):
        CorrelationNorm()(keras.Input(shape[1:]))


def test_unknown_channel_dimension_raises_at_build():
    with pytest.raises(ValueError, match="CorrelationNorm.*known last axis"):
        CorrelationNorm(data_format="channels_last").build((None, 4, 4, None))


# ---------------------------------------------------------------------------
# Data-parallel training (TensorFlow: two logical CPUs, MirroredStrategy).

_MIRRORED = r"""
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
import keras
import keras_memnets
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
with strategy.scope():
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8)(inputs)
    h = keras_memnets.layers.CorrelationNorm(name="cn", hurdle_momentum=0.5)(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile("adam", "mse")
history = model.fit(x, x[:, :1], batch_size=16, epochs=2, verbose=0)
hurdle = float(model.get_layer("cn").current_hurdle.numpy())
assert strategy.num_replicas_in_sync == 2
assert np.all(np.isfinite(history.history["loss"]))
assert hurdle != 0.5 and np.isfinite(hurdle), hurdle
print("OK", hurdle, history.history["cn_hurdle"])
"""


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute only")
def test_mirrored_strategy_trains_and_aggregates_the_hurdle():
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    result = subprocess.run(
        [sys.executable, "-c", _MIRRORED],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[
        -3000:
    ]
