"""SetMinLoss against numpy, its gradients, its noise and its config."""

import math

import keras
import numpy as np
import pytest

from keras_memnets.losses import SetMinLoss


def numpy_variant_losses(y_true, y_pred, kind="mse"):
    diff = y_pred - y_true[:, None]
    if kind == "mse":
        per = diff**2
    elif kind == "mae":
        per = np.abs(diff)
    elif kind == "bce":
        eps = keras.config.epsilon()
        p = np.clip(y_pred, eps, 1 - eps)
        t = np.broadcast_to(y_true[:, None], y_pred.shape)
        per = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    return per.reshape(per.shape[0], per.shape[1], -1).mean(axis=-1)


def numpy_set_min(losses, relaxation=0.0, noise=None, noise_space="log"):
    scores = losses.astype("float64")
    if noise_space == "log":
        scores = np.log(np.maximum(scores, 1e-30))
    if noise is not None:
        scores = scores + noise
    winners = scores.argmin(axis=1)
    k = losses.shape[1]
    one_hot = np.eye(k)[winners]
    weights = (1 - relaxation) * one_hot + relaxation * (1 - one_hot) / (k - 1)
    return (weights * losses).sum(axis=1), winners


def data(rng, batch=16, k=4, target=(6,)):
    y_true = rng.random((batch, *target)).astype("float32")
    y_pred = rng.random((batch, k, *target)).astype("float32")
    return y_true, y_pred


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


# ---------------------------------------------------------------------------
# Values against numpy.


@pytest.mark.parametrize(
    "base_loss,kind",
    [("mse", "mse"), ("mae", "mae"), ("binary_crossentropy", "bce")],
)
def test_sigma_zero_is_the_exact_minimum(base_loss, kind):
    rng = np.random.default_rng(0)
    y_true, y_pred = data(rng)
    loss = SetMinLoss(base_loss=base_loss, reduction=None)
    expected = numpy_variant_losses(y_true, y_pred, kind).min(axis=1)
    np.testing.assert_allclose(
        to_numpy(loss(y_true, y_pred)), expected, rtol=1e-5
    )
    mean_loss = SetMinLoss(base_loss=base_loss)
    np.testing.assert_allclose(
        float(mean_loss(y_true, y_pred)), expected.mean(), rtol=1e-5
    )


def test_relaxation_against_numpy():
    rng = np.random.default_rng(1)
    y_true, y_pred = data(rng, k=5)
    for relaxation in (0.0, 0.25, 1.0):
        loss = SetMinLoss(relaxation=relaxation, reduction=None)
        expected, _ = numpy_set_min(
            numpy_variant_losses(y_true, y_pred), relaxation=relaxation
        )
        np.testing.assert_allclose(
            to_numpy(loss(y_true, y_pred)), expected, rtol=1e-5
        )


def test_multi_axis_and_scalar_targets_and_sample_weight():
    rng = np.random.default_rng(2)
    # Targets with two axes: the base loss is averaged over both.
    y_true, y_pred = data(rng, k=3, target=(4, 3))
    loss = SetMinLoss(reduction=None)
    expected = numpy_variant_losses(y_true, y_pred).min(axis=1)
    np.testing.assert_allclose(
        to_numpy(loss(y_true, y_pred)), expected, rtol=1e-5
    )
    # Scalar targets: y_true (batch,), y_pred (batch, K).
    y_true = rng.random((8,)).astype("float32")
    y_pred = rng.random((8, 3)).astype("float32")
    expected = ((y_pred - y_true[:, None]) ** 2).min(axis=1)
    np.testing.assert_allclose(
        to_numpy(loss(y_true, y_pred)), expected, rtol=1e-5
    )
    # Sample weights act on the per-sample set-min losses.
    weights = rng.random((8,)).astype("float32")
    np.testing.assert_allclose(
        float(SetMinLoss()(y_true, y_pred, sample_weight=weights)),
        (expected * weights).sum() / 8,
        rtol=1e-5,
    )


def test_variant_losses_method():
    rng = np.random.default_rng(3)
    y_true, y_pred = data(rng)
    np.testing.assert_allclose(
        to_numpy(SetMinLoss().variant_losses(y_true, y_pred)),
        numpy_variant_losses(y_true, y_pred),
        rtol=1e-5,
    )


# ---------------------------------------------------------------------------
# The noise.


def _per_sample_choice(loss, y_true, y_pred):
    """The variant whose real loss equals each sample's returned loss."""
    values = to_numpy(loss(y_true, y_pred))
    losses = numpy_variant_losses(y_true, y_pred)
    match = np.isclose(values[:, None], losses, rtol=1e-5, atol=0)
    assert np.all(match.sum(axis=1) == 1), (
        "each value must be one variant's loss"
    )
    return match.argmax(axis=1)


def test_noise_is_multiplicative_lognormal_in_log_space():
    # Two variants whose losses differ by a factor e (log gap 1). With
    # log-space noise of std sigma on each, the worse one wins with
    # probability Phi(-1 / (sigma * sqrt(2))).
    n = 20000
    y_true = np.zeros((n, 1), "float32")
    y_pred = np.zeros((n, 2, 1), "float32")
    y_pred[:, 0, 0] = 1.0
    y_pred[:, 1, 0] = math.sqrt(math.e)
    for sigma in (0.5, 1.0, 3.0):
        loss = SetMinLoss(log_std=sigma, seed=11, reduction=None)
        share = (_per_sample_choice(loss, y_true, y_pred) == 1).mean()
        expected = 0.5 * math.erfc(1 / (sigma * math.sqrt(2)) / math.sqrt(2))
        # Binomial standard error is at most 0.0036 for n=20000.
        assert abs(share - expected) < 0.015, (sigma, share, expected)


def test_seeded_noise_is_a_constant_of_the_plain_loss():
    # A plain loss holds no state: with a seed, the noise of a given batch
    # position and variant is the same on every call (fresh noise per step
    # is the job of keras_memnets.layers.SetMinSelection).
    rng = np.random.default_rng(4)
    y_true, y_pred = data(rng, batch=64)
    a = SetMinLoss(log_std=2.0, seed=7, reduction=None)
    b = SetMinLoss(log_std=2.0, seed=7, reduction=None)
    c = SetMinLoss(log_std=2.0, seed=8, reduction=None)
    seq_a = [to_numpy(a(y_true, y_pred)) for _ in range(3)]
    np.testing.assert_array_equal(seq_a[0], seq_a[1])
    np.testing.assert_array_equal(seq_a[0], to_numpy(b(y_true, y_pred)))
    assert not np.array_equal(seq_a[0], to_numpy(c(y_true, y_pred)))
    # Whatever the noise picks, every sample's loss is one variant's real loss.
    _per_sample_choice(a, y_true, y_pred)


def test_linear_noise_space_adds_noise_to_the_raw_losses():
    # Variants lose exactly 1 and 2 (a gap of 1 in loss units, log 2 in log
    # units). Linear noise of std sigma on each: the worse one wins with
    # probability Phi(-1 / (sigma * sqrt(2))); in log space Phi(-log 2 /
    # (sigma * sqrt(2))).
    n = 20000
    y_true = np.zeros((n, 1), "float32")
    y_pred = np.zeros((n, 2, 1), "float32")
    y_pred[:, 0, 0] = 1.0
    y_pred[:, 1, 0] = math.sqrt(2.0)
    for sigma in (0.5, 2.0):
        for space, gap in (("linear", 1.0), ("log", math.log(2.0))):
            loss = SetMinLoss(
                log_std=sigma, noise_space=space, seed=11, reduction=None
            )
            share = (_per_sample_choice(loss, y_true, y_pred) == 1).mean()
            expected = 0.5 * math.erfc(
                gap / (sigma * math.sqrt(2)) / math.sqrt(2)
            )
            assert abs(share - expected) < 0.015, (
                space,
                sigma,
                share,
                expected,
            )
    # Without noise both readings are the exact minimum.
    rng = np.random.default_rng(3)
    y_true, y_pred = data(rng)
    expected = numpy_variant_losses(y_true, y_pred).min(axis=1)
    got = SetMinLoss(noise_space="linear", reduction=None)(y_true, y_pred)
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-5)


def test_huge_sigma_is_finite_and_nearly_uniform():
    rng = np.random.default_rng(5)
    n, k = 4000, 4
    y_true, y_pred = data(rng, batch=n, k=k, target=(3,))
    # Ordinary losses differ by a few units in log space; noise of std 100
    # drowns that, so every variant wins about a quarter of the samples.
    loss = SetMinLoss(log_std=100.0, seed=3, reduction=None)
    shares = (
        np.bincount(_per_sample_choice(loss, y_true, y_pred), minlength=k) / n
    )
    assert np.all(np.abs(shares - 0.25) < 0.04), shares
    # Extreme losses: one variant exact (loss 0, the log guard), one huge.
    y_pred[:, 0] = y_true
    y_pred[:, 3] = 1e18
    values = to_numpy(loss(y_true, y_pred))
    assert np.all(np.isfinite(values))
    _per_sample_choice(loss, y_true, y_pred)
    assert math.isfinite(
        float(SetMinLoss(log_std=100.0, seed=3)(y_true, y_pred))
    )
    # sigma = 0 picks the exact variant: loss 0, no NaN from log(0).
    np.testing.assert_array_equal(
        to_numpy(SetMinLoss(reduction=None)(y_true, y_pred)), np.zeros(n)
    )


# ---------------------------------------------------------------------------
# Gradients.


def value_and_grad(fn, x):
    """d fn(x) / dx on the current backend."""
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        value, grad = jax.value_and_grad(fn)(jax.numpy.asarray(x))
    elif backend == "tensorflow":
        import tensorflow as tf

        x = tf.Variable(x)
        with tf.GradientTape() as tape:
            value = fn(x)
        grad = tape.gradient(value, x)
    elif backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        value = fn(x)
        value.backward()
        grad = x.grad
    else:
        pytest.skip(f"no gradients on backend {backend}")
    return float(to_numpy(value)), to_numpy(grad)


@pytest.mark.parametrize("sigma", [0.0, 100.0])
def test_only_the_winner_gets_gradient(sigma):
    rng = np.random.default_rng(6)
    batch, k, d = 8, 4, 5
    y_true, y_pred = data(rng, batch=batch, k=k, target=(d,))
    loss = SetMinLoss(log_std=sigma, seed=2, reduction=None)
    per_sample_weighted = SetMinLoss(log_std=sigma, seed=2)  # same noise stream
    winners = _per_sample_choice(loss, y_true, y_pred)
    value, grad = value_and_grad(
        lambda p: per_sample_weighted(y_true, p), y_pred
    )
    # The gradient of the real (unperturbed) winner loss only:
    # d/dp mean_b mean_d (p - t)^2 = 2 (p - t) / (d * batch) at the winner.
    expected = np.zeros_like(y_pred)
    rows = np.arange(batch)
    expected[rows, winners] = 2 * (y_pred[rows, winners] - y_true) / (d * batch)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        value,
        numpy_variant_losses(y_true, y_pred)[rows, winners].mean(),
        rtol=1e-5,
    )


def test_relaxed_gradient_reaches_losers():
    rng = np.random.default_rng(7)
    batch, k, d, r = 6, 3, 4, 0.3
    y_true, y_pred = data(rng, batch=batch, k=k, target=(d,))
    _, winners = numpy_set_min(numpy_variant_losses(y_true, y_pred))
    loss = SetMinLoss(relaxation=r)
    _, grad = value_and_grad(lambda p: loss(y_true, p), y_pred)
    weights = np.full((batch, k), r / (k - 1))
    weights[np.arange(batch), winners] = 1 - r
    expected = weights[..., None] * 2 * (y_pred - y_true[:, None]) / (d * batch)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------
# Config.


def test_config_round_trip_with_callable_base_loss_and_noise_space():
    loss = SetMinLoss(
        base_loss=keras.losses.mean_absolute_error,
        log_std=np.float32(1.0),
        relaxation=0.2,
        noise_space="linear",
        seed=np.int64(4),
    )
    config = loss.get_config()
    assert config["log_std"] == 1.0 and config["seed"] == 4
    assert type(config["seed"]) is int
    clone = SetMinLoss.from_config(config)
    assert clone.relaxation == 0.2 and clone.noise_space == "linear"
    rng = np.random.default_rng(8)
    y_true, y_pred = data(rng)
    np.testing.assert_allclose(
        to_numpy(clone(y_true, y_pred)),
        to_numpy(loss(y_true, y_pred)),
        rtol=1e-6,
    )
    exact = SetMinLoss.from_config({**config, "log_std": 0.0})
    np.testing.assert_allclose(
        float(exact(y_true, y_pred)),
        numpy_set_min(numpy_variant_losses(y_true, y_pred, "mae"), 0.2)[
            0
        ].mean(),
        rtol=1e-5,
    )


# ---------------------------------------------------------------------------
# Bad input.


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="SetMinLoss.*log_std.*\\[0.0, inf\\)"):
        SetMinLoss(log_std=-1.0)
    with pytest.raises(ValueError, match="SetMinLoss.*log_std"):
        SetMinLoss(log_std=float("nan"))
    with pytest.raises(TypeError, match="SetMinLoss.*log_std"):
        SetMinLoss(log_std="big")
    with pytest.raises(
        ValueError, match="SetMinLoss.*relaxation.*\\[0.0, 1.0\\]"
    ):
        SetMinLoss(relaxation=1.5)
    with pytest.raises(ValueError, match="SetMinLoss.*relaxation"):
        SetMinLoss(relaxation=-0.1)
    with pytest.raises(ValueError, match="SetMinLoss.*base_loss.*'nonsense'"):
        SetMinLoss(base_loss="nonsense")
    with pytest.raises(TypeError, match="SetMinLoss.*base_loss.*function"):
        SetMinLoss(base_loss=keras.losses.MeanSquaredError())
    with pytest.raises(TypeError, match="SetMinLoss.*'binary_crossentropy'"):
        SetMinLoss(base_loss="BinaryCrossentropy")
    with pytest.raises(TypeError, match="SetMinLoss.*seed"):
        SetMinLoss(seed="1")
    with pytest.raises(ValueError, match="SetMinLoss.*log_std"):
        SetMinLoss(log_std=float("inf"))
    with pytest.raises(ValueError, match="SetMinLoss.*noise_space.*'log'"):
        SetMinLoss(noise_space="exp")


def test_bad_shapes():
    rng = np.random.default_rng(9)
    y_true = rng.random((4, 6)).astype("float32")
    loss = SetMinLoss()
    with pytest.raises(ValueError, match="SetMinLoss.*variant axis"):
        loss(y_true, rng.random((4, 6)).astype("float32"))
    with pytest.raises(ValueError, match="SetMinLoss.*variant axis"):
        loss(y_true, rng.random((4, 2, 3, 6)).astype("float32"))
    with pytest.raises(ValueError, match="SetMinLoss.*target_shape"):
        loss(y_true, rng.random((4, 3, 5)).astype("float32"))
    with pytest.raises(ValueError, match="SetMinLoss.*at least 2 variants"):
        loss(y_true, rng.random((4, 1, 6)).astype("float32"))


def test_k_equal_one_fails_clearly_in_fit():
    inputs = keras.Input(shape=(3,))
    outputs = keras.layers.Reshape((1, 2))(keras.layers.Dense(2)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("sgd", loss=SetMinLoss())
    with pytest.raises(ValueError, match="SetMinLoss.*at least 2 variants"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)


@pytest.mark.parametrize("log_std", [0.0, 1.0])
def test_batch_of_zero_rows_gives_an_empty_loss(log_std):
    loss = SetMinLoss(log_std=log_std, seed=0)
    y_true = np.zeros((0, 3), "float32")
    y_pred = np.zeros((0, 2, 3), "float32")
    value = keras.ops.convert_to_numpy(loss(y_true, y_pred))
    assert value.size == 0 or float(value) == 0.0
    assert tuple(loss.variant_losses(y_true, y_pred).shape) == (0, 2)
