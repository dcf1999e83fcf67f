"""LoadBalance against numpy formulas, its gradient and its scaling."""

import keras
import numpy as np
import pytest

import keras_memnets
from keras_memnets.regularizers import LoadBalance


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _switch(p):
    rows = p.reshape(-1, p.shape[-1])
    n = rows.shape[-1]
    f = np.bincount(rows.argmax(-1), minlength=n) / len(rows)
    return n * np.sum(f * rows.mean(0))


def _entropy_gap(p):
    mean = p.reshape(-1, p.shape[-1]).mean(0)
    return np.log(p.shape[-1]) + np.sum(mean * np.log(mean))


def _grad(fn, p):
    """d fn(p) / d p on the current backend."""
    p = keras.ops.convert_to_tensor(p)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(fn)(p))
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(p)
            value = fn(p)
        return tape.gradient(value, p).numpy()
    p = p.clone().requires_grad_(True)
    fn(p).backward()
    return p.grad.numpy()


@pytest.mark.parametrize(
    "mode,formula", [("switch", _switch), ("entropy", _entropy_gap)]
)
def test_term_and_value_match_numpy(mode, formula):
    p = np.random.default_rng(0).dirichlet(np.ones(5), size=7).astype("float32")
    reg = LoadBalance(weight=0.3, mode=mode)
    np.testing.assert_allclose(_np(reg.term(p)), formula(p), rtol=1e-5)
    # __call__ multiplies by the batch size (undone by the layer).
    np.testing.assert_allclose(_np(reg(p)), 0.3 * 7 * formula(p), rtol=1e-5)


def test_leading_axes_are_pooled_into_rows():
    p = np.random.default_rng(1).dirichlet(np.ones(4), size=(3, 2))
    p = p.astype("float32")
    reg = LoadBalance()
    np.testing.assert_allclose(_np(reg.term(p)), _switch(p), rtol=1e-5)
    np.testing.assert_allclose(_np(reg(p)), 3 * _switch(p), rtol=1e-5)


@pytest.mark.parametrize("mode", ["switch", "entropy"])
def test_bounds_even_and_collapsed(mode):
    n = 4
    even = np.eye(n, dtype="float32")  # each slot wins one row
    collapsed = np.tile(np.eye(n, dtype="float32")[:1], (n, 1))
    reg = LoadBalance(mode=mode)
    low, high = (1.0, float(n)) if mode == "switch" else (0.0, np.log(n))
    np.testing.assert_allclose(_np(reg.term(even)), low, atol=1e-6)
    np.testing.assert_allclose(_np(reg.term(collapsed)), high, rtol=1e-6)


def test_switch_gradient_flows_through_mean_only():
    # d/dp[r, i] of weight * B * N * sum_i f_i * mean_r p[r, i]
    #   = weight * N * f_i  (f is a stopped count).
    p = np.random.default_rng(2).dirichlet(np.ones(3), size=6).astype("float32")
    f = np.bincount(p.argmax(-1), minlength=3) / 6
    grad = _grad(lambda t: LoadBalance(weight=0.5)(t), p)
    np.testing.assert_allclose(grad, np.tile(0.5 * 3 * f, (6, 1)), rtol=1e-5)


def test_entropy_gradient_matches_finite_differences():
    p = np.random.default_rng(3).dirichlet(np.ones(3), size=4)
    reg = LoadBalance(mode="entropy")
    grad = _grad(lambda t: reg.term(t), p.astype("float32"))
    eps = 1e-6
    numeric = np.zeros_like(p)
    for idx in np.ndindex(*p.shape):
        up, down = p.copy(), p.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (_entropy_gap(up) - _entropy_gap(down)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("batch", [4, 32])
def test_memory_layer_adds_weight_times_term_whatever_the_batch(batch):
    x = np.random.default_rng(4).normal(size=(batch, 5)).astype("float32")
    layer = keras_memnets.layers.MemoryLayer(
        3,
        memory_size=4,
        hidden_units=8,
        return_selection=True,
        selection_regularizer=LoadBalance(weight=0.7),
    )
    _, selection = layer(x)
    expected = 0.7 * _switch(_np(selection))
    np.testing.assert_allclose(_np(layer.losses[0]), expected, rtol=1e-5)


@pytest.mark.parametrize("mode", ["switch", "entropy"])
def test_default_weight_spreads_a_collapsed_selection(mode):
    # A softmax selector whose bias makes slot 0 win every row (softmax
    # weight 0.99 on average), trained on the regularizer alone with the
    # default weight:
    # within 100 Adam steps every slot is the argmax of some rows.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(256, 6)).astype("float32")
    inputs = keras.Input((6,))
    selection = keras.layers.Dense(
        4,
        activation="softmax",
        bias_initializer=keras.initializers.Constant([5.0, 0.0, 0.0, 0.0]),
        activity_regularizer=LoadBalance(mode=mode),
    )(inputs)
    model = keras.Model(inputs, selection)
    model.compile(keras.optimizers.Adam(0.05), loss=lambda y, p: 0.0 * p)
    counts = np.bincount(model.predict(x, verbose=0).argmax(-1), minlength=4)
    assert counts[0] >= 0.95 * 256  # collapsed (a few rows may escape)
    model.fit(x, x[:, :4], batch_size=64, epochs=25, verbose=0)
    counts = np.bincount(model.predict(x, verbose=0).argmax(-1), minlength=4)
    assert counts.min() >= 256 * 0.1, counts


def test_config_round_trip():
    reg = LoadBalance(weight=0.2, mode="entropy")
    clone = LoadBalance.from_config(reg.get_config())
    assert clone.get_config() == {"weight": 0.2, "mode": "entropy"}
    restored = keras.regularizers.deserialize(keras.regularizers.serialize(reg))
    assert isinstance(restored, LoadBalance)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"weight": -1.0}, ValueError, "LoadBalance.*weight"),
        ({"weight": "a"}, TypeError, "LoadBalance.*weight"),
        ({"mode": "gini"}, ValueError, "LoadBalance.*mode"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        LoadBalance(**kwargs)


@pytest.mark.parametrize("mode", ["switch", "entropy"])
def test_batch_of_zero_rows_adds_zero_not_nan(mode):
    # Before: the mean over no rows was NaN, and 0 x NaN is NaN.
    reg = LoadBalance(mode=mode)
    empty = np.zeros((0, 4), "float32")
    assert float(keras.ops.convert_to_numpy(reg(empty))) == 0.0
    assert np.isfinite(float(keras.ops.convert_to_numpy(reg.term(empty))))


def test_rank_one_input_is_refused():
    with pytest.raises(ValueError, match="LoadBalance: `x` must have shape"):
        LoadBalance().term(np.array([0.5, 0.5], "float32"))
