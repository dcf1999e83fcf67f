"""Sparse top-k memory: `top_k` on MemoryLayer and MemoryInformedLayer.

Forward values and gradients against numpy references of the documented
rules (top-k renormalisation, the straight-through normaliser, the capacity
rule and the overflow order).
"""

import math

import keras
import numpy as np
import pytest

from keras_memnets.layers import MemoryInformedLayer
from keras_memnets.layers import MemoryLayer
from keras_memnets.layers.routing import capacity
from keras_memnets.layers.routing import dispatch
from keras_memnets.layers.routing import top_k_weights

BACKEND = keras.backend.backend()


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _selection(rng, batch, memory_size):
    return _softmax(2 * rng.normal(size=(batch, memory_size))).astype("float32")


def _np_top_k(selection, k):
    indices = np.argsort(-selection, axis=-1, kind="stable")[..., :k]
    values = np.take_along_axis(selection, indices, -1)
    return values / values.sum(-1, keepdims=True), indices


def _np_dispatch(indices, memory_size, rows):
    """Kept flags and within-slot positions: choice-major, then batch order."""
    batch, k = indices.shape
    kept = np.zeros((batch, k), bool)
    count = np.zeros(memory_size, int)
    for j in range(k):
        for b in range(batch):
            n = indices[b, j]
            kept[b, j] = count[n] < rows
            count[n] += 1
    return kept


def _one(xs):
    """The layer's inputs: one tensor, or the list of several."""
    return xs[0] if len(xs) == 1 else xs


def _grads(layer, inputs, upstream):
    """d sum(layer(inputs) * upstream) / d (trainable variables, inputs)."""
    backend = keras.backend.backend()
    variables = layer.trainable_variables
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def f(values, xs):
            out, _ = layer.stateless_call(values, non_trainable, _one(xs))
            return jnp.sum(out * upstream)

        g_vars, g_in = jax.grad(f, argnums=(0, 1))(
            [v.value for v in variables], [jnp.asarray(x) for x in inputs]
        )
    elif backend == "tensorflow":
        import tensorflow as tf

        xs = [tf.constant(x) for x in inputs]
        with tf.GradientTape() as tape:
            tape.watch(xs)
            value = tf.reduce_sum(layer(_one(xs)) * upstream)
        g = tape.gradient(value, list(variables) + xs)
        g_vars, g_in = g[: len(variables)], g[len(variables) :]
        g_in = [
            np.zeros_like(x) if d is None else d for x, d in zip(inputs, g_in)
        ]
        g_vars = [
            np.zeros(v.shape, "float32")
            if d is None
            else tf.convert_to_tensor(d)
            for v, d in zip(variables, g_vars)
        ]
    else:
        import torch

        xs = [torch.tensor(x, requires_grad=True) for x in inputs]
        for v in variables:
            v.value.grad = None
        value = (layer(_one(xs)) * torch.tensor(upstream)).sum()
        value.backward()
        g_vars = [
            np.zeros(v.shape, "float32")
            if v.value.grad is None
            else v.value.grad
            for v in variables
        ]
        g_in = [x.grad for x in xs]
    names = [v.path.split("/", 1)[1] for v in variables]
    return dict(zip(names, (_np(g) for g in g_vars))), [_np(g) for g in g_in]


# --- validation ---------------------------------------------------------


@pytest.mark.parametrize("cls", [MemoryLayer, MemoryInformedLayer])
def test_top_k_is_validated(cls):
    with pytest.raises(
        ValueError, match=rf"{cls.__name__}.*top_k.*memory_size=4"
    ):
        cls(3, 4, hidden_units=2, top_k=5)
    with pytest.raises(ValueError, match=rf"{cls.__name__}.*top_k"):
        cls(3, 4, hidden_units=2, top_k=0)
    with pytest.raises(TypeError, match=rf"{cls.__name__}.*top_k"):
        cls(3, 4, hidden_units=2, top_k=1.5)
    assert cls(3, 4, hidden_units=2, top_k=np.int64(4)).top_k == 4
    assert cls(3, 4, hidden_units=2).get_config()["top_k"] is None


def test_capacity_factor_is_validated():
    with pytest.raises(
        ValueError, match="MemoryInformedLayer.*capacity_factor"
    ):
        MemoryInformedLayer(3, 4, hidden_units=2, top_k=1, capacity_factor=0.0)
    with pytest.raises(TypeError, match="MemoryInformedLayer.*capacity_factor"):
        MemoryInformedLayer(3, 4, hidden_units=2, top_k=1, capacity_factor="2")
    config = MemoryInformedLayer(3, 4, hidden_units=2, top_k=1).get_config()
    assert config["capacity_factor"] == 2.0


# --- routing functions --------------------------------------------------


def test_top_k_weights_renormalise_over_the_k_largest():
    rng = np.random.default_rng(0)
    selection = _selection(rng, 6, 7)
    weights, indices = top_k_weights(keras.ops.convert_to_tensor(selection), 3)
    expected_w, expected_i = _np_top_k(selection, 3)
    np.testing.assert_array_equal(_np(indices), expected_i)
    np.testing.assert_allclose(_np(weights), expected_w, rtol=1e-6)


@pytest.mark.parametrize(
    "batch,k,memory_size,factor",
    [
        (256, 1, 16, 2.0),
        (256, 2, 256, 2.0),
        (10, 2, 3, 1.0),
        (5, 1, 4, None),
        (3, 1, 64, 0.1),
    ],
)
def test_capacity_rule(batch, k, memory_size, factor):
    expected = (
        batch
        if factor is None
        else max(1, min(batch, math.ceil(factor * batch * k / memory_size)))
    )
    assert capacity(batch, k, memory_size, factor) == expected


def test_dispatch_groups_pairs_by_slot_and_drops_overflow_in_order():
    rng = np.random.default_rng(1)
    batch, k, memory_size, rows = 12, 2, 4, 4
    indices = np.stack(
        [rng.permutation(memory_size)[:k] for _ in range(batch)]
    ).astype("int32")
    buffer_sample, pair_row, kept = (
        _np(t)
        for t in dispatch(
            keras.ops.convert_to_tensor(indices), memory_size, rows
        )
    )
    expected_kept = _np_dispatch(indices, memory_size, rows)
    np.testing.assert_array_equal(kept, expected_kept)
    assert 0 < (~expected_kept).sum() < batch * k  # some overflow, not all
    # Each kept pair's buffer row lies in its slot's block and holds it.
    for b in range(batch):
        for j in range(k):
            row = pair_row[b, j]
            assert row // rows == indices[b, j]
            if kept[b, j]:
                assert buffer_sample[row] == b
    # Kept rows are distinct.
    assert len(set(pair_row[kept].tolist())) == kept.sum()


# --- MemoryLayer --------------------------------------------------------


def test_memory_layer_sparse_read_equals_numpy_reference():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(9, 5)).astype("float32")
    layer = MemoryLayer(
        (3, 2), 6, hidden_units=8, top_k=2, return_selection=True
    )
    out, used = (_np(t) for t in layer(x))
    selection = _np(layer.compute_selection(x))
    weights, indices = _np_top_k(selection, 2)
    memory = _sigmoid(layer.memory_scale * _np(layer.memory).reshape(6, 6))
    expected = np.einsum("bj,bju->bu", weights, memory[indices])
    np.testing.assert_allclose(
        out, expected.reshape(9, 3, 2), rtol=1e-5, atol=1e-6
    )
    expected_used = np.zeros_like(selection)
    np.put_along_axis(expected_used, indices, weights, -1)
    np.testing.assert_allclose(used, expected_used, rtol=1e-5, atol=1e-7)


def test_memory_layer_top_k_equal_memory_size_matches_dense():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 5)).astype("float32")
    dense = MemoryLayer(7, 5, hidden_units=8)
    sparse = MemoryLayer(7, 5, hidden_units=8, top_k=5)
    dense(x), sparse(x)
    sparse.set_weights(dense.get_weights())
    np.testing.assert_allclose(
        _np(sparse(x)), _np(dense(x)), rtol=1e-5, atol=1e-6
    )


def test_memory_layer_gradients_reach_selected_slots_and_selector(k=1):
    rng = np.random.default_rng(4)
    batch, features, units, memory_size = 6, 5, 4, 8
    x = rng.normal(size=(batch, features)).astype("float32")
    upstream = rng.normal(size=(batch, units)).astype("float32")
    layer = MemoryLayer(units, memory_size, hidden_units=7, top_k=k)
    layer(x)
    grads, _ = _grads(layer, [x], upstream)
    w1, b1, w2, b2 = (_np(w) for w in layer.selector.weights)
    hidden = np.maximum(x @ w1 + b1, 0)
    selection = _softmax(hidden @ w2 + b2)
    weights, indices = _np_top_k(selection, k)
    activated = _sigmoid(layer.memory_scale * _np(layer.memory))
    # Memory: only the read rows, weighted by the renormalised selection.
    expected_memory = np.zeros_like(activated)
    for b in range(batch):
        for j in range(k):
            n = indices[b, j]
            expected_memory[n] += (
                weights[b, j]
                * upstream[b]
                * (activated[n] * (1 - activated[n]))
                * layer.memory_scale
            )
    np.testing.assert_allclose(
        grads["memory"], expected_memory, rtol=1e-4, atol=1e-6
    )
    unread = np.setdiff1d(np.arange(memory_size), indices)
    assert np.all(grads["memory"][unread] == 0)
    # Selector: the straight-through selection gradient through the softmax.
    d_selection = np.zeros_like(selection)
    np.put_along_axis(
        d_selection,
        indices,
        np.einsum("bu,bju->bj", upstream, activated[indices]),
        -1,
    )
    d_logits = selection * (
        d_selection - (selection * d_selection).sum(-1, keepdims=True)
    )
    np.testing.assert_allclose(
        grads["selector/output/kernel"],
        hidden.T @ d_logits,
        rtol=1e-4,
        atol=1e-6,
    )
    assert np.abs(grads["selector/output/kernel"]).max() > 0


def test_memory_layer_sparse_read_scales_to_large_memory():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4)).astype("float32")
    layer = MemoryLayer(2, 65_536, hidden_units=4, top_k=2)
    out = _np(layer(x))
    weights, indices = _np_top_k(_np(layer.compute_selection(x)), 2)
    memory = _sigmoid(layer.memory_scale * _np(layer.memory))
    expected = np.einsum("bj,bju->bu", weights, memory[indices])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def _read_slots(layer, x, k):
    """The slots that `layer` reads for the rows of `x` (sorted, unique)."""
    _, indices = keras.ops.top_k(layer.compute_selection(x), k)
    return np.unique(_np(indices))


def test_memory_layer_top_k_gradient_is_row_sparse():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 5)).astype("float32")
    layer = MemoryLayer(4, 32, hidden_units=8, top_k=2)
    layer(x)
    read = _read_slots(layer, x, 2)
    upstream = rng.normal(size=(3, 4)).astype("float32")
    grads, _ = _grads(layer, [x], upstream)
    unread = np.setdiff1d(np.arange(32), read)
    assert np.all(grads["memory"][unread] == 0.0)
    assert np.all(np.abs(grads["memory"][read]).sum(-1) > 0)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        # A gather from the variable: only the rows read, never the table.
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(layer(x) * upstream)
        gradient = tape.gradient(value, layer.memory.value)
        assert isinstance(gradient, tf.IndexedSlices)
        assert set(_np(gradient.indices).tolist()) == set(read.tolist())


def _lazy_adam_state(optimizer, layer):
    """`(memory, momentum, velocity)` of a layer's memory in a LazyAdam."""
    found = {"memory": _np(layer.memory).copy()}
    for v in optimizer.variables:
        for kind in ("momentum", "velocity"):
            if v.path.endswith(f"{layer.memory.name}_{kind}"):
                found[kind] = _np(v).copy()
    return found["memory"], found["momentum"], found["velocity"]


@pytest.mark.parametrize("units", [4, (2, 3)], ids=["units", "units_tuple"])
def test_memory_layer_top_k_lazy_adam_leaves_slots_not_read_alone(units):
    from keras_memnets.optimizers import LazyAdam

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(7)
    inputs = keras.Input((5,))
    layer = MemoryLayer(units, 32, hidden_units=8, top_k=2)
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=LazyAdam(0.01), loss="mse")
    x = rng.normal(size=(6, 5)).astype("float32")
    y = rng.random((6,) + tuple(np.atleast_1d(units))).astype("float32")
    model.fit(x, y, batch_size=6, verbose=0)  # one step: every state made
    before = _lazy_adam_state(model.optimizer, layer)
    read = _read_slots(layer, x[:3], 2)
    model.fit(x[:3], y[:3], batch_size=3, verbose=0)
    after = _lazy_adam_state(model.optimizer, layer)
    unread = np.setdiff1d(np.arange(32), read)
    assert 0 < len(read) <= 6
    for old, new in zip(before, after):
        np.testing.assert_array_equal(new[unread], old[unread])
        assert np.all(new[read] != old[read])
    if BACKEND == "torch" and np.ndim(units) == 0:
        # A 2-D table read by rows gets a sparse tensor of the rows read.
        gradient = layer.memory.value.grad
        assert gradient.is_sparse
        rows = gradient.coalesce().indices()[0].numpy()
        np.testing.assert_array_equal(np.sort(rows), read)


def test_memory_layer_marks_its_memory_as_a_table_only_with_top_k():
    from keras_memnets.utils.row_sparse import is_table

    sparse = MemoryLayer(4, 8, hidden_units=4, top_k=2)
    dense = MemoryLayer(4, 8, hidden_units=4)
    for layer in (sparse, dense):
        layer.build((None, 3))
    assert is_table(sparse.memory) and not is_table(dense.memory)


# --- MemoryInformedLayer ------------------------------------------------


def _np_candidates(layer, x, memory_size, size):
    w1, b1 = (_np(w) for w in layer.candidates.hidden.weights)
    w2, b2 = (_np(w) for w in layer.candidates.output_dense.weights)
    z = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    return _sigmoid(z.reshape(len(x), memory_size, size))


@pytest.mark.parametrize("k,factor", [(2, None), (1, 0.5)])
def test_informed_sparse_equals_numpy_reference_with_overflow(k, factor):
    rng = np.random.default_rng(6)
    batch, memory_size = 10, 4
    x = rng.normal(size=(batch, 5)).astype("float32")
    selection = _selection(rng, batch, memory_size)
    layer = MemoryInformedLayer(
        (3, 2), memory_size, hidden_units=8, top_k=k, capacity_factor=factor
    )
    out = _np(layer([x, selection]))
    candidates = _np_candidates(layer, x, memory_size, 6)
    weights, indices = _np_top_k(selection, k)
    rows = capacity(batch, k, memory_size, factor)
    kept = _np_dispatch(indices, memory_size, rows)
    expected = np.einsum(
        "bj,bju->bu",
        weights * kept,
        np.take_along_axis(candidates, indices[..., None], 1),
    )
    np.testing.assert_allclose(
        out, expected.reshape(batch, 3, 2), rtol=1e-5, atol=1e-6
    )
    if factor is not None and factor < 1:
        assert not kept.all()  # the case exercises overflow


@pytest.mark.parametrize("k,factor", [(1, 1.0), (2, None)])
def test_informed_sparse_gradients_match_dense_layer_on_kept_selection(
    k, factor
):
    rng = np.random.default_rng(7)
    batch, memory_size, units = 8, 5, 3
    x = rng.normal(size=(batch, 4)).astype("float32")
    selection = _selection(rng, batch, memory_size)
    upstream = rng.normal(size=(batch, units)).astype("float32")
    sparse = MemoryInformedLayer(
        units, memory_size, hidden_units=6, top_k=k, capacity_factor=factor
    )
    dense = MemoryInformedLayer(units, memory_size, hidden_units=6)
    sparse([x, selection]), dense([x, selection])
    dense.set_weights(sparse.get_weights())
    weights, indices = _np_top_k(selection, k)
    kept = _np_dispatch(
        indices, memory_size, capacity(batch, k, memory_size, factor)
    )
    used = np.zeros_like(selection)
    np.put_along_axis(used, indices, weights * kept, -1)
    g_sparse, (_, g_sel) = _grads(sparse, [x, selection], upstream)
    g_dense, _ = _grads(dense, [x, used], upstream)
    for name in g_dense:
        np.testing.assert_allclose(
            g_sparse[name], g_dense[name], rtol=1e-4, atol=1e-6, err_msg=name
        )
    # Unused slots' output columns get no gradient.
    kernel = g_sparse["candidates/output/kernel"].reshape(6, memory_size, units)
    unused = np.setdiff1d(np.arange(memory_size), indices[kept])
    assert np.all(kernel[:, unused] == 0)
    # Selection: straight-through, d out / d s_j = candidate j for kept pairs.
    candidates = _np_candidates(sparse, x, memory_size, units)
    expected = np.zeros_like(selection)
    picked = np.take_along_axis(candidates, indices[..., None], 1)
    np.put_along_axis(
        expected, indices, np.einsum("bu,bju->bj", upstream, picked) * kept, -1
    )
    np.testing.assert_allclose(g_sel, expected, rtol=1e-4, atol=1e-6)


def test_informed_sparse_in_a_jitted_training_step():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = np.repeat(rng.random((1, 5)), 16, axis=0).astype("float32")
    inputs = keras.Input((6,))
    # The notes' memory (Adam's step at 0.05 would move logits stored with
    # the default scale by 5 per step).
    memory, selection = MemoryLayer(
        5, 8, hidden_units=8, top_k=1, return_selection=True, memory_scale=1.0
    )(inputs)
    # No capacity limit: with 16 samples the selection soon prefers a few
    # slots, and the default capacity (4 rows per slot) would drop most.
    informed = MemoryInformedLayer(
        5, 8, hidden_units=8, top_k=1, capacity_factor=None
    )([inputs, selection])
    model = keras.Model(inputs, [memory, informed])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    before = model.evaluate(x, [y, y], verbose=0)[0]
    model.fit(x, [y, y], epochs=30, batch_size=16, verbose=0)
    after = model.evaluate(x, [y, y], verbose=0)[0]
    assert np.isfinite(after) and after < 0.5 * before
