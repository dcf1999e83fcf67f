"""RowSparseModel: on JAX, LazyAdam's updates of a plain `keras.Model` from
row-sparse gradients, and Keras' own step where the route does not apply;
`fit`, rows not read and the `.keras` round trip on every backend."""

import os
import tempfile

import keras
import numpy as np
import pytest

from keras_memnets.layers import MemoryLayer
from keras_memnets.layers import ProductKeyMemory
from keras_memnets.models import RowSparseModel
from keras_memnets.optimizers import LazyAdam

BACKEND = keras.backend.backend()
jax_only = pytest.mark.skipif(BACKEND != "jax", reason="the JAX step")


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _model(cls, seed=0, **layer_kwargs):
    """Input 6 -> ProductKeyMemory (64 slots) -> Dense(2)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    config = dict(num_keys=8, value_dim=4, heads=2, top_k=3, key_dim=4)
    memory = ProductKeyMemory(**{**config, **layer_kwargs}, name="memory")
    outputs = keras.layers.Dense(2, name="head")(memory(inputs))
    return cls(inputs, outputs)


def _data(n=32, seed=1):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, 6)).astype("float32"),
        rng.standard_normal((n, 2)).astype("float32"),
    )


def _fit(model, optimizer, epochs=2):
    model.compile(optimizer=optimizer, loss="mse")
    x, y = _data()
    history = model.fit(
        x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0
    )
    return history.history["loss"]


def _spy(monkeypatch):
    """Records, per LazyAdam route, the names of the variables it updated
    (when the step is traced)."""
    seen = {"rows": [], "masked": []}
    for route, method in (
        ("rows", "_rows_update_step"),
        ("masked", "_jax_update_step"),
    ):
        original = getattr(LazyAdam, method)

        def spy(self, gradient, variable, lr, original=original, route=route):
            seen[route].append(variable.name)
            return original(self, gradient, variable, lr)

        monkeypatch.setattr(LazyAdam, method, spy)
    return seen


def _assert_same_training(a, b, rtol=1e-5, atol=1e-6):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=rtol, atol=atol)
    for va, vb in zip(a.optimizer.variables, b.optimizer.variables):
        np.testing.assert_allclose(
            _np(va), _np(vb), rtol=rtol, atol=atol, err_msg=va.path
        )


@jax_only
def test_row_sparse_step_gives_the_dense_routes_updates(monkeypatch):
    seen = _spy(monkeypatch)
    rows = _model(RowSparseModel)
    rows_loss = _fit(rows, LazyAdam(0.05))
    assert seen["rows"] == ["values"] and seen["masked"] == []
    dense = _model(keras.Model)
    dense_loss = _fit(dense, LazyAdam(0.05))
    assert "values" in seen["masked"]
    np.testing.assert_allclose(rows_loss, dense_loss, rtol=1e-5)
    _assert_same_training(rows, dense)
    # Rows never read kept their initial value and zero moments.
    values = _np(rows.get_layer("memory").values)
    moments = [_np(v) for v in rows.optimizer.variables if "values_" in v.path]
    unread = np.all(moments[0] == 0.0, axis=1)
    assert 0 < unread.sum() < 64
    start = _np(_model(keras.Model).get_layer("memory").values)
    np.testing.assert_array_equal(values[unread], start[unread])
    for moment in moments:
        np.testing.assert_array_equal(moment[unread], 0.0)


@jax_only
def test_a_table_used_beyond_its_reads_keeps_the_dense_gradient(monkeypatch):
    # A regularizer of the whole table reads every row: its gradient is
    # dense, and LazyAdam's masked rule applies, as in a `keras.Model`.
    seen = _spy(monkeypatch)
    rows = _model(RowSparseModel, values_regularizer="l2")
    _fit(rows, LazyAdam(0.05), epochs=1)
    assert seen["rows"] == [] and "values" in seen["masked"]
    dense = _model(keras.Model, values_regularizer="l2")
    _fit(dense, LazyAdam(0.05), epochs=1)
    _assert_same_training(rows, dense)


@jax_only
@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: keras.optimizers.Adam(0.05),
        lambda: LazyAdam(0.05, gradient_accumulation_steps=2),
    ],
    ids=["adam", "accumulated_lazy_adam"],
)
def test_keras_step_runs_where_the_route_does_not_apply(optimizer, monkeypatch):
    seen = _spy(monkeypatch)
    rows = _model(RowSparseModel)
    _fit(rows, optimizer(), epochs=1)
    assert seen["rows"] == []
    dense = _model(keras.Model)
    _fit(dense, optimizer(), epochs=1)
    _assert_same_training(rows, dense, rtol=0, atol=0)


@jax_only
def test_a_subclass_that_builds_its_graph_gets_the_row_sparse_step(
    monkeypatch,
):
    class Memory(RowSparseModel):
        """keras-hub's form: the graph built in `__init__`."""

        def __init__(self, value_dim, **kwargs):
            inputs = keras.Input((6,))
            outputs = ProductKeyMemory(
                num_keys=8, value_dim=value_dim, heads=2, top_k=3, key_dim=4
            )(inputs)
            super().__init__(inputs, outputs, **kwargs)

    seen = _spy(monkeypatch)
    model = Memory(2)
    loss = _fit(model, LazyAdam(0.05), epochs=3)
    assert seen["rows"] == ["values"]
    assert loss[-1] < loss[0]


@jax_only
def test_mixed_bfloat16_keeps_the_row_sparse_step(monkeypatch):
    # No LossScaleOptimizer under bfloat16; the table stays float32.
    keras.config.set_dtype_policy("mixed_bfloat16")
    seen = _spy(monkeypatch)
    model = _model(RowSparseModel)
    loss = _fit(model, LazyAdam(0.05), epochs=1)
    assert seen["rows"] == ["values"]
    assert np.all(np.isfinite(loss))
    assert model.get_layer("memory").values.dtype == "float32"


def _memory_layer_model(cls, top_k, seed=0):
    """Input 6 -> MemoryLayer (32 slots) -> Dense(2)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    memory = MemoryLayer(4, 32, hidden_units=8, top_k=top_k, name="memory")
    outputs = keras.layers.Dense(2, name="head")(memory(inputs))
    return cls(inputs, outputs)


@jax_only
def test_memory_layer_top_k_gets_the_row_sparse_step(monkeypatch):
    seen = _spy(monkeypatch)
    rows = _memory_layer_model(RowSparseModel, top_k=2)
    rows_loss = _fit(rows, LazyAdam(0.01))
    assert seen["rows"] == ["memory"] and seen["masked"] == []
    dense = _memory_layer_model(keras.Model, top_k=2)
    dense_loss = _fit(dense, LazyAdam(0.01))
    assert "memory" in seen["masked"]
    np.testing.assert_allclose(rows_loss, dense_loss, rtol=1e-5)
    _assert_same_training(rows, dense)
    # Slots never read kept their initial value and zero moments.
    memory = _np(rows.get_layer("memory").memory)
    moments = [
        _np(v)
        for v in rows.optimizer.variables
        if v.path.endswith(("memory_momentum", "memory_velocity"))
    ]
    assert len(moments) == 2
    unread = np.all(moments[0] == 0.0, axis=1)
    assert 0 < unread.sum() < 32
    start = _np(_memory_layer_model(keras.Model, 2).get_layer("memory").memory)
    np.testing.assert_array_equal(memory[unread], start[unread])
    for moment in moments:
        np.testing.assert_array_equal(moment[unread], 0.0)


@jax_only
def test_a_dense_memory_layer_keeps_keras_step(monkeypatch):
    seen = _spy(monkeypatch)
    rows = _memory_layer_model(RowSparseModel, top_k=None)
    _fit(rows, LazyAdam(0.01), epochs=1)
    assert seen["rows"] == [] and seen["masked"] == []
    dense = _memory_layer_model(keras.Model, top_k=None)
    _fit(dense, LazyAdam(0.01), epochs=1)
    _assert_same_training(rows, dense, rtol=0, atol=0)


def test_fit_trains_and_leaves_rows_not_read_on_every_backend():
    model = _model(RowSparseModel, query_norm="layer")
    model.compile(optimizer=LazyAdam(0.05), loss="mse")
    x, y = _data(8)
    model.fit(x, y, batch_size=8, verbose=0)  # every state made
    memory = model.get_layer("memory")
    read = np.unique(_np(memory.lookup(x)[1]))
    before = _np(memory.values).copy()
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = _np(memory.values)
    assert np.isfinite(history.history["loss"][0])
    unread = np.setdiff1d(np.arange(64), read)
    np.testing.assert_array_equal(after[unread], before[unread])
    assert np.all(after[read] != before[read])


def test_keras_file_round_trip_is_a_row_sparse_model_that_resumes():
    model = _model(RowSparseModel)
    _fit(model, LazyAdam(0.05), epochs=1)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is RowSparseModel
    x, y = _data()
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    for m in (model, loaded):
        m.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    _assert_same_training(loaded, model, rtol=0, atol=0)
