"""ProductKeyMemory against numpy: the search, the read, gradients, edges."""

import os
import tempfile

import keras
import numpy as np
import pytest

from keras_memnets.layers import ProductKeyMemory
from keras_memnets.layers._product_keys import candidate_ranks
from keras_memnets.layers._product_keys import product_top_k

BACKEND = keras.backend.backend()


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _weights(layer):
    """The layer's weights as float64 numpy arrays, by short name."""
    prefix = len(layer.name) + 1
    return {v.path[prefix:]: _np(v).astype("float64") for v in layer.weights}


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _queries(layer, w, x, training):
    """Numpy queries `(n, heads, 2, half)` of the vectors of `x`."""
    q = x.reshape(-1, x.shape[-1]).astype("float64") @ w["query/kernel"]
    if layer.query_norm is None:
        q = q + w["query/bias"]
    elif layer.query_norm == "layer":
        mean = q.mean(axis=-1, keepdims=True)
        var = q.var(axis=-1, keepdims=True)
        q = (q - mean) / np.sqrt(var + 1e-3)
        q = q * w["query_norm/gamma"] + w["query_norm/beta"]
    else:
        if training:
            mean, var = q.mean(axis=0), q.var(axis=0)
        else:
            mean = w["query_norm/moving_mean"]
            var = w["query_norm/moving_variance"]
        q = (q - mean) / np.sqrt(var + 1e-3)
        q = q * w["query_norm/gamma"] + w["query_norm/beta"]
    return q.reshape(len(q), layer.heads, 2, layer.key_dim // 2)


def _full_scores(layer, w, x, training=False):
    """All product scores `(n, heads, num_keys**2)`, by brute force."""
    q = _queries(layer, w, x, training)
    n, k = len(q), layer.num_keys
    scores = np.zeros((n, layer.heads, k * k))
    for i in range(k):
        for j in range(k):
            scores[:, :, i * k + j] = np.einsum(
                "nhd,hd->nh", q[:, :, 0], w["keys"][:, 0, i]
            ) + np.einsum("nhd,hd->nh", q[:, :, 1], w["keys"][:, 1, j])
    return scores


def _top_k(scores, k):
    indices = np.argsort(-scores, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(scores, indices, -1), indices


def _output(layer, w, x, training=False):
    """The layer's output by the paper's formula, from the brute force."""
    scores, indices = _top_k(_full_scores(layer, w, x, training), layer.top_k)
    rows = w["values"][indices]  # (n, heads, k, value_dim)
    out = np.einsum("nhk,nhkv->nv", _softmax(scores), rows)
    return out.reshape(x.shape[:-1] + (layer.value_dim,))


def _layer(query_norm="batch", **kwargs):
    config = dict(num_keys=7, value_dim=3, heads=3, top_k=5, key_dim=6)
    config.update(kwargs)
    return ProductKeyMemory(query_norm=query_norm, **config)


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# ---------------------------------------------------------------------------
# The search and the read.


@pytest.mark.parametrize(
    "query_norm,top_k", [("batch", 5), ("layer", 7), (None, 1), (None, 3)]
)
def test_lookup_is_the_true_top_k_of_the_full_scores(query_norm, top_k):
    layer = _layer(query_norm, top_k=top_k)
    x = _inputs((4, 3, 5))
    layer(x)
    # Trained-looking normalisation state, so that it is not the identity.
    if query_norm == "batch":
        layer.query_normalization.moving_mean.assign(
            np.linspace(-0.5, 0.5, 18).astype("float32")
        )
        layer.query_normalization.moving_variance.assign(
            np.linspace(0.5, 2.0, 18).astype("float32")
        )
    w = _weights(layer)
    full = _full_scores(layer, w, x)
    np.testing.assert_allclose(
        _np(layer.full_scores(x)).reshape(full.shape), full, atol=1e-5
    )
    scores, indices = layer.lookup(x)
    assert tuple(scores.shape) == (4, 3, 3, top_k)
    assert tuple(indices.shape) == (4, 3, 3, top_k)
    assert "int32" in str(indices.dtype)
    ref_scores, ref_indices = _top_k(full, top_k)
    np.testing.assert_array_equal(
        _np(indices).reshape(ref_indices.shape), ref_indices
    )
    np.testing.assert_allclose(
        _np(scores).reshape(ref_scores.shape), ref_scores, atol=1e-5
    )


@pytest.mark.parametrize("top_k", [2, 10])
def test_product_search_on_many_random_queries(top_k):
    rng = np.random.default_rng(top_k)
    query = rng.normal(size=(300, 2, 2, 3)).astype("float32")
    keys = rng.normal(size=(2, 2, 10, 3)).astype("float32")
    scores, indices = product_top_k(
        keras.ops.convert_to_tensor(query),
        keras.ops.convert_to_tensor(keys),
        top_k,
    )
    half = np.einsum("nhpd,hpkd->nhpk", query, keys)
    full = (half[:, :, 0, :, None] + half[:, :, 1, None, :]).reshape(
        300, 2, 100
    )
    ref_scores, ref_indices = _top_k(full, top_k)
    np.testing.assert_array_equal(_np(indices), ref_indices)
    np.testing.assert_allclose(_np(scores), ref_scores, atol=1e-5)


@pytest.mark.parametrize("top_k", [1, 5, 32])
def test_the_best_sums_of_two_sorted_lists_are_among_the_candidates(top_k):
    first_rank, second_rank = candidate_ranks(top_k)
    pairs = set(zip(first_rank, second_rank))
    assert len(pairs) == len(first_rank)
    assert len(pairs) == sum(top_k // i for i in range(1, top_k + 1))
    assert all((i + 1) * (j + 1) <= top_k for i, j in pairs)
    # The best `top_k` of all `top_k**2` sums of 500 random pairs of
    # sorted lists: every one is a candidate.
    rng = np.random.default_rng(top_k)
    a = -np.sort(-rng.normal(size=(500, top_k)), axis=1)
    b = -np.sort(-rng.normal(size=(500, top_k)), axis=1)
    sums = (a[:, :, None] + b[:, None, :]).reshape(500, -1)
    best = np.argsort(-sums, axis=1)[:, :top_k]
    for i, j in zip(*np.divmod(best.ravel(), top_k)):
        assert (i, j) in pairs


@pytest.mark.parametrize("training", [False, True])
def test_output_is_softmax_weighted_values_summed_over_heads(training):
    layer = _layer()
    x = _inputs((6, 2, 5), seed=1)
    layer(x)
    w = _weights(layer)
    out = _np(layer(x, training=training))
    assert out.shape == (6, 2, 3)
    np.testing.assert_allclose(out, _output(layer, w, x, training), atol=1e-5)


def test_search_and_output_inside_compiled_fit_and_predict():
    # The loss that `fit` reports for its one step is computed by the
    # compiled training step before the update: it must be the loss of the
    # brute-force top-k read with batch statistics.
    inputs = keras.Input((3, 5))
    layer = _layer()
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = _inputs((8, 3, 5), seed=2), _inputs((8, 3, 3), seed=3)
    w = _weights(layer)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    expected = np.mean((_output(layer, w, x, training=True) - y) ** 2)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)
    # The step moved the moving statistics by one batch's worth.
    q = x.reshape(-1, 5) @ w["query/kernel"]
    np.testing.assert_allclose(
        _np(layer.query_normalization.moving_mean), 0.01 * q.mean(0), atol=1e-6
    )
    # Compiled inference reads with the updated moving statistics, and
    # `lookup` called inside another layer's `call` finds the true top k.
    w = _weights(layer)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), _output(layer, w, x), atol=1e-5
    )

    class Lookup(keras.layers.Layer):
        def call(self, inputs):
            scores, indices = layer.lookup(inputs)
            return scores, keras.ops.cast(indices, "float32")

    scores, indices = keras.Model(inputs, Lookup()(inputs)).predict(
        x, verbose=0
    )
    ref_scores, ref_indices = _top_k(_full_scores(layer, w, x), 5)
    np.testing.assert_array_equal(indices.reshape(-1, 3, 5), ref_indices)
    np.testing.assert_allclose(scores.reshape(-1, 3, 5), ref_scores, atol=1e-5)


def test_default_initializers_follow_the_paper():
    layer = ProductKeyMemory(num_keys=64, value_dim=16, heads=2, key_dim=32)
    layer.build((None, 8))
    keys, values = _np(layer.keys), _np(layer.values)
    assert keys.shape == (2, 2, 64, 16) and values.shape == (4096, 16)
    # Keys uniform in ±1/sqrt(key_dim / 2), values normal with std
    # value_dim**-0.5 (the reference implementation's draws).
    bound = 1 / np.sqrt(16)
    assert np.abs(keys).max() <= bound
    assert np.abs(keys).max() > 0.95 * bound
    np.testing.assert_allclose(values.std(), 16**-0.5, rtol=0.03)
    assert layer.values.path == f"{layer.name}/values"
    assert layer.keys.path == f"{layer.name}/keys"


# ---------------------------------------------------------------------------
# Gradients.


def _gradients(layer, x, upstream, training):
    """d sum(layer(x) * upstream) / d trainable variables, as raw tensors."""
    variables = layer.trainable_variables
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def f(values):
            out, _ = layer.stateless_call(
                values, non_trainable, x, training=training
            )
            return jnp.sum(out * upstream)

        grads = jax.jit(jax.grad(f))([v.value for v in variables])
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = tf.reduce_sum(layer(x, training=training) * upstream)
        grads = tape.gradient(value, variables)
    else:
        import torch

        for v in variables:
            v.value.grad = None
        out = layer(x, training=training)
        (out * torch.as_tensor(upstream)).sum().backward()
        grads = [v.value.grad for v in variables]
    prefix = len(layer.name) + 1
    return {v.path[prefix:]: g for v, g in zip(variables, grads)}


def _dense(gradient, shape):
    if gradient is None:
        return np.zeros(shape)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        gradient = tf.convert_to_tensor(gradient)
    return _np(gradient)


@pytest.mark.parametrize("query_norm", ["batch", "layer"])
def test_gradients_match_finite_differences(query_norm):
    # The backend's float32 gradient against central differences of the
    # float64 numpy forward pass at the same weights.
    layer = _layer(query_norm, num_keys=3, top_k=2, heads=2, key_dim=4)
    x = _inputs((5, 3), seed=4)
    upstream = _inputs((5, 3), seed=5)
    layer(x)
    w = _weights(layer)
    grads = _gradients(layer, x, upstream, training=True)

    def objective(weights):
        return np.sum(_output(layer, weights, x, training=True) * upstream)

    h = 1e-6
    for name in ("values", "keys", "query/kernel", "query_norm/gamma"):
        numeric = np.zeros_like(w[name])
        for index in np.ndindex(w[name].shape):
            plus = {**w, name: w[name].copy()}
            minus = {**w, name: w[name].copy()}
            plus[name][index] += h
            minus[name][index] -= h
            numeric[index] = (objective(plus) - objective(minus)) / (2 * h)
        analytic = _dense(grads[name], w[name].shape)
        assert np.abs(numeric).max() > 1e-3, name
        np.testing.assert_allclose(
            analytic, numeric, rtol=1e-4, atol=1e-6, err_msg=name
        )


def test_value_rows_not_read_get_exactly_zero_gradient():
    layer = _layer(num_keys=8, top_k=2, heads=2, value_dim=4)
    x = _inputs((3, 5), seed=6)
    layer(x)
    _, indices = layer.lookup(x)
    read = np.unique(_np(indices))
    assert 0 < len(read) <= 12
    grads = _gradients(layer, x, _inputs((3, 4), seed=7), training=False)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        # A gather's gradient: only the rows read, never the whole table.
        assert isinstance(grads["values"], tf.IndexedSlices)
        assert set(_np(grads["values"].indices).tolist()) == set(read)
    values_grad = _dense(grads["values"], (64, 4))
    unread = np.setdiff1d(np.arange(64), read)
    assert np.all(values_grad[unread] == 0.0)
    assert np.all(np.abs(values_grad[read]).sum(-1) > 0)


def _optimizer_rows(optimizer, variable):
    """`(momentum, velocity)` of `variable` in a LazyAdam, by path."""
    found = {}
    for v in optimizer.variables:
        for kind in ("momentum", "velocity"):
            if v.path.endswith(f"{variable.name}_{kind}"):
                found[kind] = _np(v).copy()
    return found["momentum"], found["velocity"]


def test_lazy_adam_in_fit_leaves_the_rows_not_read_bit_identical():
    from keras_memnets.optimizers import LazyAdam

    # `layer` normalisation: the rows read in training are `lookup`'s.
    layer = _layer("layer", num_keys=8, top_k=2, heads=2, value_dim=4)
    inputs = keras.Input((5,))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=LazyAdam(0.05), loss="mse")
    x, y = _inputs((6, 5), seed=9), _inputs((6, 4), seed=10)
    model.fit(x, y, batch_size=6, verbose=0)  # one step: every state made
    before = (_np(layer.values).copy(),) + _optimizer_rows(
        model.optimizer, layer.values
    )
    read = np.unique(_np(layer.lookup(x[:3])[1]))
    model.fit(x[:3], y[:3], batch_size=3, verbose=0)
    after = (_np(layer.values),) + _optimizer_rows(
        model.optimizer, layer.values
    )
    unread = np.setdiff1d(np.arange(64), read)
    assert 0 < len(read) <= 12
    for old, new in zip(before, after):
        np.testing.assert_array_equal(new[unread], old[unread])
        assert np.all(new[read] != old[read])
    if BACKEND == "torch":
        # The table's gradient was a sparse tensor of the rows read.
        gradient = layer.values.value.grad
        assert gradient.is_sparse
        rows = gradient.coalesce().indices()[0].numpy()
        np.testing.assert_array_equal(np.sort(rows), read)


# ---------------------------------------------------------------------------
# Batch-norm state, masks, edge inputs.


def _moving(layer):
    norm = layer.query_normalization
    return [_np(norm.moving_mean).copy(), _np(norm.moving_variance).copy()]


def test_empty_and_non_finite_batches_leave_batch_norm_state_alone():
    layer = _layer()
    x = _inputs((6, 5), seed=8)
    layer(x, training=True)
    before = _moving(layer)
    empty = layer(np.zeros((0, 5), "float32"), training=True)
    assert tuple(empty.shape) == (0, 3)
    empty = layer(np.zeros((0, 4, 5), "float32"), training=True)
    assert tuple(empty.shape) == (0, 4, 3)
    for a, b in zip(before, _moving(layer)):
        np.testing.assert_array_equal(a, b)
    bad = x.copy()
    bad[2, 1] = np.nan
    layer(bad, training=True)
    bad[2, 1] = np.inf
    layer(bad, training=True)
    for a, b in zip(before, _moving(layer)):
        np.testing.assert_array_equal(a, b)
    # A clean batch still updates them.
    layer(x, training=True)
    assert not np.array_equal(before[0], _moving(layer)[0])
    # Inference on an empty batch: an empty output, no NaN anywhere.
    assert tuple(layer(np.zeros((0, 5), "float32")).shape) == (0, 3)
    scores, indices = layer.lookup(np.zeros((0, 2, 5), "float32"))
    assert tuple(scores.shape) == (0, 2, 3, 5)
    assert np.all(np.isfinite(_moving(layer)[1]))


def test_masked_positions_are_left_out_of_batch_statistics():
    layer = _layer()
    x = _inputs((2, 4, 5), seed=9)
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    layer(x)
    w = _weights(layer)
    layer(x, training=True, mask=mask)
    q = x[mask] @ w["query/kernel"]
    np.testing.assert_allclose(_moving(layer)[0], 0.01 * q.mean(0), atol=1e-6)
    before = _moving(layer)
    layer(x, training=True, mask=np.zeros((2, 4), bool))
    for a, b in zip(before, _moving(layer)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(num_keys=0), ValueError, "`num_keys` must be a positive int"),
        (dict(num_keys=50000), ValueError, r"`num_keys` must be an int in"),
        (dict(num_keys=4.0), TypeError, "`num_keys` must be a positive int"),
        (dict(heads=0), ValueError, "`heads` must be a positive int"),
        (dict(top_k=0), ValueError, "`top_k` must be a positive int"),
        (dict(top_k=8), ValueError, r"`top_k` must be an int in \[1, num_k"),
        (dict(key_dim=0), ValueError, "`key_dim` must be a positive int"),
        (dict(key_dim=5), ValueError, "`key_dim` must be an even int"),
        (dict(value_dim=0), ValueError, "`value_dim` must be a positive int"),
        (dict(query_norm="group"), ValueError, "`query_norm` must be one of"),
    ],
)
def test_bad_arguments_name_the_layer_and_argument(kwargs, error, match):
    config = dict(num_keys=7, value_dim=3, heads=3, top_k=5, key_dim=6)
    config.update(kwargs)
    with pytest.raises(error, match=f"ProductKeyMemory: {match}"):
        ProductKeyMemory(**config)


KNOWN = "ProductKeyMemory: `inputs` must have a known last axis"


def test_bad_input_shapes_name_the_layer():
    layer = _layer()
    with pytest.raises(ValueError, match=KNOWN):
        layer.build((None, None))
    with pytest.raises(ValueError, match="ProductKeyMemory: `inputs` must"):
        layer.build((5,))
    with pytest.raises(ValueError, match=KNOWN):
        layer(keras.Input((3, None)))
    layer(_inputs((2, 5)))
    with pytest.raises(ValueError, match="`inputs` must have last axis 5"):
        layer(_inputs((2, 4)))
    with pytest.raises(ValueError, match="`inputs` must have last axis 5"):
        layer.lookup(_inputs((2, 4)))
    with pytest.raises(ValueError, match=r"ProductKeyMemory.lookup: `input"):
        layer.lookup(keras.Input((5,)))


# ---------------------------------------------------------------------------
# Shapes, saving, mixed precision.


def test_symbolic_and_eager_shapes_for_any_rank():
    layer = _layer()
    symbolic = layer(keras.Input((None, 5)))
    assert tuple(symbolic.shape) == (None, None, 3)
    assert layer.compute_output_shape((None, None, 5)) == (None, None, 3)
    assert tuple(layer(_inputs((2, 3, 4, 5))).shape) == (2, 3, 4, 3)
    assert tuple(layer(_inputs((2, 5))).shape) == (2, 3)
    scores, indices = layer.lookup(_inputs((2, 3, 4, 5)))
    assert tuple(indices.shape) == (2, 3, 4, 3, 5)
    assert tuple(layer.full_scores(_inputs((2, 5))).shape) == (2, 3, 49)


def test_lookup_builds_an_unbuilt_layer():
    layer = _layer()
    scores, indices = layer.lookup(_inputs((2, 5)))
    assert layer.built and tuple(indices.shape) == (2, 3, 5)


def test_keras_round_trip_gives_identical_outputs_in_both_modes():
    inputs = keras.Input((4, 5))
    model = keras.Model(inputs, _layer(name="memory")(inputs))
    model.compile(optimizer="adam", loss="mse")
    x, y = _inputs((8, 4, 5), seed=10), _inputs((8, 4, 3), seed=11)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    layer = loaded.get_layer("memory")
    assert isinstance(layer, ProductKeyMemory)
    assert layer.get_config() == model.get_layer("memory").get_config()
    for training in (False, True):
        np.testing.assert_array_equal(
            _np(loaded(x, training=training)), _np(model(x, training=training))
        )


def test_mixed_precision_scores_in_float32():
    layer = _layer(dtype="mixed_float16")
    x = _inputs((4, 2, 5), seed=12)
    out = layer(x, training=True)
    assert "float16" in str(out.dtype)
    assert all(str(v.dtype) == "float32" for v in layer.weights)
    scores, _ = layer.lookup(x)
    assert "float32" in str(scores.dtype)
    assert "float32" in str(layer.full_scores(x).dtype)
    assert np.all(np.isfinite(_np(out)))
    reference = _layer()
    reference.build((None, 5))
    reference.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        _np(out).astype("float32"),
        _np(reference(x, training=True)),
        atol=5e-3,
    )


@pytest.mark.slow
def test_guide_snippets_run():
    # Trains two small models (about a minute of compiling on JAX).
    from tests.test_guides import run_guide

    namespace, _ = run_guide("product_key_memory.rst")
    assert tuple(namespace["scores"].shape)[-2:] == (4, 8)
