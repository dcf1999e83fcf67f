"""LazyAdam against Keras' Adam and a numpy reference, on the current
backend; `sparse_take`'s gradients; rows not read in `fit`."""

import os
import tempfile

import keras
import numpy as np
import pytest
from keras import ops

from keras_memnets.optimizers import LazyAdam
from keras_memnets.utils import row_sparse
from keras_memnets.utils.row_sparse import sparse_take

BACKEND = keras.config.backend()


def _row_sparse_gradient(rows, values, shape):
    """The backend's row-sparse gradient: rows may repeat (JAX: a BCOO, as
    a custom training step would pass)."""
    rows = np.asarray(rows, "int64")
    values = np.asarray(values, "float32")
    if BACKEND == "jax":
        from jax.experimental import sparse

        return sparse.BCOO((values, rows[:, None]), shape=tuple(shape))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.IndexedSlices(
            tf.constant(values), tf.constant(rows), tf.constant(shape)
        )
    import torch

    # Unchecked, like the gradients autograd makes (and so that the test
    # of bad row ids reaches LazyAdam's own check).
    return torch.sparse_coo_tensor(
        torch.from_numpy(rows)[None],
        torch.from_numpy(values),
        shape,
        check_invariants=False,
    )


def _densify(gradient):
    """The backend's own densification (duplicate rows summed)."""
    if BACKEND == "jax":
        return gradient.todense()
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.convert_to_tensor(gradient)
    return gradient.to_dense()


def _numpy(values):
    return [ops.convert_to_numpy(v) for v in values]


def _state(optimizer):
    return {v.path: ops.convert_to_numpy(v) for v in optimizer.variables}


def _moments(optimizer, variable):
    """`(momentum, velocity)` of `variable`, found by path."""
    found = {}
    for v in optimizer.variables:
        for kind in ("momentum", "velocity"):
            if v.path.endswith(f"{variable.name}_{kind}"):
                found[kind] = ops.convert_to_numpy(v)
    return found["momentum"], found["velocity"]


# ---------------------------------------------------------------------------
# The numpy reference: tfa's LazyAdam, in float64.


def lazy_adam_reference(
    weights, steps, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs
):
    """`steps` are `(rows, values)` pairs; returns `(w, m, v)`."""
    amsgrad = kwargs.get("amsgrad", False)
    weight_decay = kwargs.get("weight_decay")
    w = np.array(weights, "float64")
    m, v, v_hat = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, (rows, values) in enumerate(steps, start=1):
        summed = np.zeros_like(w)
        np.add.at(summed, np.asarray(rows), np.asarray(values, "float64"))
        u = np.unique(rows)
        g = summed[u]
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        if weight_decay is not None:
            w[u] -= lr * weight_decay * w[u]
        m[u] = beta_1 * m[u] + (1 - beta_1) * g
        v[u] = beta_2 * v[u] + (1 - beta_2) * g * g
        v_hat[u] = np.maximum(v_hat[u], v[u])
        denominator = np.sqrt(v_hat[u] if amsgrad else v[u]) + epsilon
        w[u] -= alpha * m[u] / denominator
    return w, m, v


def _sparse_problem(seed=0, rows=12, dim=3, steps=4):
    """Steps reading four ids each, some repeated; rows 3, 6, 10 and 11 are
    never read."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((rows, dim)).astype("float32")
    schedule = [[0, 1, 1, 4], [2, 4, 4, 4], [0, 5, 9, 9], [1, 1, 7, 8]]
    sparse_steps = []
    for ids in schedule[:steps]:
        sparse_steps.append(
            (ids, rng.standard_normal((len(ids), dim)).astype("float32"))
        )
    return weights, sparse_steps


def _modes(names):
    """Parameters for `names`; on JAX only the first, since every new shape
    of an eager BCOO update compiles its small ops anew (seconds each)."""
    return [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                BACKEND == "jax" and i > 0,
                reason="the same row update runs on TensorFlow",
            ),
        )
        for i, name in enumerate(names)
    ]


# ---------------------------------------------------------------------------
# A dense gradient: exactly Keras' Adam.

DENSE_MODES = {
    "default": dict(),
    "amsgrad": dict(amsgrad=True),
    "weight_decay": dict(weight_decay=0.1),
    "clipnorm": dict(clipnorm=0.5),
    "global_clipnorm": dict(global_clipnorm=0.5),
    "clipvalue": dict(clipvalue=0.3),
    "betas": dict(beta_1=0.5, beta_2=0.9, epsilon=1e-3),
}


@pytest.mark.parametrize("mode", list(DENSE_MODES))
def test_dense_gradients_give_keras_adam_bit_for_bit(mode):
    kwargs = DENSE_MODES[mode]
    rng = np.random.default_rng(1)
    shapes = [(5, 3), (3,)]
    start = [rng.standard_normal(s).astype("float32") for s in shapes]
    steps = [
        [rng.standard_normal(s).astype("float32") for s in shapes]
        for _ in range(4)
    ]
    results = []
    for cls in (keras.optimizers.Adam, LazyAdam):
        variables = [
            keras.Variable(w, name=f"w{i}") for i, w in enumerate(start)
        ]
        optimizer = cls(learning_rate=0.01, **kwargs)
        for grads in steps:
            optimizer.apply(
                [ops.convert_to_tensor(g) for g in grads], variables
            )
        results.append(_numpy(variables) + _numpy(optimizer.variables))
    for expected, got in zip(*results):
        np.testing.assert_array_equal(got, expected)
    assert np.abs(results[1][0] - start[0]).max() > 0.01


def test_learning_rate_schedule_matches_keras_adam():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5)
    rng = np.random.default_rng(2)
    start = rng.standard_normal((4, 2)).astype("float32")
    results = []
    for cls in (keras.optimizers.Adam, LazyAdam):
        w = keras.Variable(start)
        optimizer = cls(learning_rate=schedule)
        for _ in range(3):
            g = rng.standard_normal((4, 2)).astype("float32")
            optimizer.apply([ops.convert_to_tensor(g)], [w])
        results.append(ops.convert_to_numpy(w))
        rng = np.random.default_rng(2)
        rng.standard_normal((4, 2))
    np.testing.assert_array_equal(results[1], results[0])


def _dense_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(2),
        ]
    )


def test_fit_of_a_dense_model_gives_keras_adam_bit_for_bit():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 4)).astype("float32")
    y = rng.standard_normal((32, 2)).astype("float32")
    results = []
    for optimizer in (
        keras.optimizers.Adam(0.01, amsgrad=True, weight_decay=0.01),
        LazyAdam(0.01, amsgrad=True, weight_decay=0.01),
    ):
        model = _dense_model(0)
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, batch_size=8, shuffle=False, verbose=0)
        results.append(model.get_weights() + _numpy(optimizer.variables))
    for expected, got in zip(*results):
        np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------------
# Row-sparse gradients (TensorFlow's IndexedSlices, PyTorch's sparse COO).

SPARSE_MODES = {
    "default": dict(),
    "amsgrad": dict(amsgrad=True),
    "weight_decay": dict(weight_decay=0.2),
}


@pytest.mark.parametrize("mode", _modes(SPARSE_MODES))
def test_row_sparse_gradients_update_only_their_rows(mode):
    kwargs = SPARSE_MODES[mode]
    weights, steps = _sparse_problem()
    lr = 0.05
    w = keras.Variable(weights, name="table")
    optimizer = LazyAdam(learning_rate=lr, **kwargs)
    for rows, values in steps:
        optimizer.apply([_row_sparse_gradient(rows, values, w.shape)], [w])
    expected_w, expected_m, expected_v = lazy_adam_reference(
        weights, steps, lr, **kwargs
    )
    got = ops.convert_to_numpy(w)
    m, v = _moments(optimizer, w)
    np.testing.assert_allclose(got, expected_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m, expected_m, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(v, expected_v, rtol=1e-5, atol=1e-9)
    # Rows never read: bit-identical, moments untouched (weight decay
    # included).
    never = [3, 6, 10, 11]
    np.testing.assert_array_equal(got[never], weights[never])
    np.testing.assert_array_equal(m[never], 0.0)
    np.testing.assert_array_equal(v[never], 0.0)
    assert int(ops.convert_to_numpy(optimizer.iterations)) == len(steps)


def test_rows_not_read_in_a_step_keep_weights_and_moments():
    weights, steps = _sparse_problem(steps=3)
    w = keras.Variable(weights, name="table")
    optimizer = LazyAdam(learning_rate=0.05)
    for rows, values in steps[:2]:
        optimizer.apply([_row_sparse_gradient(rows, values, w.shape)], [w])
    before = ops.convert_to_numpy(w)
    m_before, v_before = _moments(optimizer, w)
    rows, values = steps[2]  # reads rows 0, 5, 9
    optimizer.apply([_row_sparse_gradient(rows, values, w.shape)], [w])
    after = ops.convert_to_numpy(w)
    m_after, v_after = _moments(optimizer, w)
    other = np.setdiff1d(np.arange(12), rows)
    rows = np.unique(rows)
    np.testing.assert_array_equal(after[other], before[other])
    np.testing.assert_array_equal(m_after[other], m_before[other])
    np.testing.assert_array_equal(v_after[other], v_before[other])
    assert np.all(np.abs(after[rows] - before[rows]) > 0)


@pytest.mark.parametrize("mode", _modes(SPARSE_MODES))
def test_a_row_sparse_gradient_of_every_row_gives_keras_adam(mode):
    kwargs = SPARSE_MODES[mode]
    rng = np.random.default_rng(4)
    start = rng.standard_normal((3, 3)).astype("float32")
    grads = []
    for _ in range(3):
        # Every row at least once, shuffled, one twice.
        rows = rng.permutation([0, 1, 2, rng.integers(3)])
        values = rng.standard_normal((len(rows), 3)).astype("float32")
        grads.append(_row_sparse_gradient(rows, values, (3, 3)))
    lazy_w = keras.Variable(start, name="table")
    adam_w = keras.Variable(start, name="table")
    lazy = LazyAdam(0.01, **kwargs)
    adam = keras.optimizers.Adam(0.01, **kwargs)
    for g in grads:
        lazy.apply([g], [lazy_w])
        adam.apply([_densify(g)], [adam_w])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(lazy_w), ops.convert_to_numpy(adam_w)
    )
    for got, expected in zip(_numpy(lazy.variables), _numpy(adam.variables)):
        np.testing.assert_array_equal(got, expected)


CLIPPING = {
    "clipnorm": dict(clipnorm=0.5),
    "global_clipnorm": dict(global_clipnorm=0.5),
    "clipvalue": dict(clipvalue=0.3),
}


@pytest.mark.parametrize("mode", _modes(CLIPPING))
def test_clipping_sees_duplicate_rows_summed(mode):
    kwargs = CLIPPING[mode]
    # Rows 1 and 3 appear twice; clipping the unsummed values would give
    # another norm and other clipped values.
    rows = [1, 3, 1, 3]
    values = np.array(
        [[0.4, -0.2], [0.3, 0.3], [0.4, -0.2], [0.3, 0.3]], "float32"
    )
    start = np.ones((5, 2), "float32")
    lazy_w = keras.Variable(start, name="table")
    adam_w = keras.Variable(start, name="table")
    bias_lazy = keras.Variable(np.zeros(2, "float32"), name="bias")
    bias_adam = keras.Variable(np.zeros(2, "float32"), name="bias")
    bias_grad = np.array([0.5, -0.5], "float32")
    g = _row_sparse_gradient(rows, values, (5, 2))
    LazyAdam(0.1, **kwargs).apply(
        [g, ops.convert_to_tensor(bias_grad)], [lazy_w, bias_lazy]
    )
    keras.optimizers.Adam(0.1, **kwargs).apply(
        [_densify(g), ops.convert_to_tensor(bias_grad)], [adam_w, bias_adam]
    )
    got = ops.convert_to_numpy(lazy_w)
    expected = ops.convert_to_numpy(adam_w)
    np.testing.assert_allclose(got[[1, 3]], expected[[1, 3]], rtol=1e-6)
    np.testing.assert_array_equal(got[[0, 2, 4]], start[[0, 2, 4]])
    np.testing.assert_allclose(
        ops.convert_to_numpy(bias_lazy), ops.convert_to_numpy(bias_adam)
    )


@pytest.mark.parametrize("bad_row", [12, -1])
def test_row_ids_out_of_range_raise_before_any_write(bad_row):
    weights, steps = _sparse_problem(steps=1)
    w = keras.Variable(weights, name="table")
    bias = keras.Variable(np.zeros(3, "float32"), name="bias")
    optimizer = LazyAdam(learning_rate=0.05)
    optimizer.build([w, bias])
    state = _state(optimizer)
    values = np.ones((4, 3), "float32")
    gradient = _row_sparse_gradient([0, bad_row, 1, 2], values, (13, 3))
    with pytest.raises(ValueError, match=r"LazyAdam.*`table`.*\[0, 12\)"):
        optimizer.apply(
            [ops.convert_to_tensor(np.ones(3, "float32")), gradient],
            [bias, w],
        )
    np.testing.assert_array_equal(ops.convert_to_numpy(w), weights)
    for path, value in _state(optimizer).items():
        np.testing.assert_array_equal(value, state[path], err_msg=path)


def test_rows_of_the_wrong_shape_raise():
    w = keras.Variable(np.zeros((4, 3), "float32"), name="table")
    gradient = _row_sparse_gradient([0], np.ones((1, 2), "float32"), (4, 2))
    with pytest.raises(ValueError, match=r"LazyAdam.*`table`.*\(4, 3\)"):
        LazyAdam().apply([gradient], [w])


@pytest.mark.skipif(BACKEND != "tensorflow", reason="a tf.function")
def test_compiled_tensorflow_step_fails_on_bad_rows_before_writing():
    import tensorflow as tf

    weights, _ = _sparse_problem(steps=1)
    w = keras.Variable(weights, name="table")
    optimizer = LazyAdam(learning_rate=0.05)
    optimizer.build([w])

    @tf.function
    def step(rows):
        gradient = tf.IndexedSlices(tf.ones((2, 3)), rows, tf.constant([12, 3]))
        optimizer.apply([gradient], [w])

    step(tf.constant([0, 3]))
    after_good = ops.convert_to_numpy(w)
    state = _state(optimizer)
    with pytest.raises(tf.errors.InvalidArgumentError, match="LazyAdam"):
        step(tf.constant([0, 12]))
    np.testing.assert_array_equal(ops.convert_to_numpy(w), after_good)
    for path, value in _state(optimizer).items():
        if "iteration" not in path:
            np.testing.assert_array_equal(value, state[path], err_msg=path)


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit")
def test_compiled_jax_step_skips_bad_rows_and_writes_in_place():
    import jax
    from jax.experimental import sparse

    weights, _ = _sparse_problem(steps=1)
    w = keras.Variable(weights, name="table")
    optimizer = LazyAdam(learning_rate=0.05)
    optimizer.build([w])

    @jax.jit
    def step(optimizer_variables, trainable_variables, rows):
        gradient = sparse.BCOO(
            (np.ones((3, 3), "float32"), rows[:, None]), shape=(12, 3)
        )
        return optimizer.stateless_apply(
            optimizer_variables, [gradient], trainable_variables
        )

    new_w, _ = step(
        [v.value for v in optimizer.variables], [w.value], np.array([0, 12, 0])
    )
    new_w = np.asarray(new_w[0])
    # Row 0 (read twice) moved by one Adam step; id 12 was dropped.
    np.testing.assert_allclose(new_w[0], weights[0] - 0.05, rtol=1e-5)
    np.testing.assert_array_equal(new_w[1:], weights[1:])


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit")
def test_compiled_jax_step_with_more_entries_than_rows_is_adams():
    # 40 entries (an id out of range among them) on a 4-row table: the
    # summed rows fit in 4 entries, and every row is read, so the step is
    # Adam's on the summed gradient.
    import jax
    from jax.experimental import sparse

    rng = np.random.default_rng(9)
    start = rng.standard_normal((4, 3)).astype("float32")
    rows = np.concatenate([np.arange(4), rng.integers(0, 4, 35), [4]])
    values = rng.standard_normal((40, 3)).astype("float32")
    w = keras.Variable(start, name="table")
    optimizer = LazyAdam(learning_rate=0.05)
    optimizer.build([w])

    @jax.jit
    def step(optimizer_variables, trainable_variables):
        gradient = sparse.BCOO((values, rows[:, None]), shape=(4, 3))
        return optimizer.stateless_apply(
            optimizer_variables, [gradient], trainable_variables
        )

    (new_w,), _ = step([v.value for v in optimizer.variables], [w.value])
    summed = np.zeros((4, 3), "float32")
    np.add.at(summed, rows[:-1], values[:-1])
    reference = keras.Variable(start, name="table")
    keras.optimizers.Adam(learning_rate=0.05).apply([summed], [reference])
    np.testing.assert_allclose(
        np.asarray(new_w), ops.convert_to_numpy(reference), rtol=1e-5
    )


# ---------------------------------------------------------------------------
# A table's dense gradient (JAX always; TensorFlow and PyTorch when the read
# is dense): its all-zero rows were not read.


def test_a_tables_dense_gradient_leaves_its_zero_rows():
    rng = np.random.default_rng(5)
    start = rng.standard_normal((4, 2)).astype("float32")
    table = keras.Variable(start, name="table")
    plain = keras.Variable(start, name="plain")
    plain_ref = keras.Variable(start, name="plain")
    row_sparse.mark_table(table)  # as a layer marks its table
    optimizer = LazyAdam(learning_rate=0.1)
    reference = keras.optimizers.Adam(learning_rate=0.1)
    first = rng.standard_normal((4, 2)).astype("float32")
    second = first.copy()
    second[1:3] = 0.0  # rows 1 and 2 not read in the second step
    snapshots = []
    for g in (first, second):
        g = ops.convert_to_tensor(g)
        optimizer.apply([g, g], [table, plain])
        reference.apply([g], [plain_ref])
        snapshots.append(
            (ops.convert_to_numpy(table),) + _moments(optimizer, table)
        )
    # The variable that is not a table gets Adam: rows 1 and 2 move on
    # their momentum.
    np.testing.assert_array_equal(
        ops.convert_to_numpy(plain), ops.convert_to_numpy(plain_ref)
    )
    for before, after in zip(*snapshots):
        np.testing.assert_array_equal(after[1:3], before[1:3])
    expected, _, _ = lazy_adam_reference(
        start, [(np.arange(4), first), ([0, 3], second[[0, 3]])], 0.1
    )
    np.testing.assert_allclose(snapshots[1][0], expected, rtol=1e-5, atol=1e-6)
    moved = ops.convert_to_numpy(plain)[1:3] - snapshots[0][0][1:3]
    assert np.abs(moved).min() > 1e-3


# ---------------------------------------------------------------------------
# The sparse read.


def test_sparse_take_reads_like_take():
    table = keras.Variable(
        np.arange(12, dtype="float32").reshape(6, 2), name="table"
    )
    indices = np.array([[0, 5, -1], [2, 2, -6]], "int32")
    expected = ops.convert_to_numpy(ops.take(table, indices, axis=0))
    got = ops.convert_to_numpy(sparse_take(table, indices))
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (2, 3, 2)
    np.testing.assert_array_equal(got[0, 2], [10.0, 11.0])


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's tape")
def test_sparse_take_gives_indexed_slices_on_tensorflow():
    import tensorflow as tf

    table = keras.Variable(np.ones((6, 2), "float32"), name="table")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(sparse_take(table, np.array([1, 3, 1])))
    gradient = tape.gradient(loss, table.value)
    assert isinstance(gradient, tf.IndexedSlices)
    np.testing.assert_array_equal(np.sort(gradient.indices.numpy()), [1, 1, 3])


@pytest.mark.skipif(BACKEND != "torch", reason="PyTorch's autograd")
def test_sparse_take_gradient_is_sparse_on_torch_once_lazy_adam_owns_it():
    table = keras.Variable(np.ones((6, 2), "float32"), name="table")

    def gradient():
        table.value.grad = None
        ops.sum(sparse_take(table, np.array([1, 3, 1]))).backward()
        return table.value.grad

    dense = gradient()  # no optimizer that takes sparse gradients yet
    assert not dense.is_sparse
    optimizer = LazyAdam()
    optimizer.build([table])
    sparse = gradient()
    assert sparse.is_sparse
    np.testing.assert_array_equal(sparse.to_dense().numpy(), dense.numpy())
    np.testing.assert_array_equal(sparse.coalesce().indices().numpy(), [[1, 3]])
    del optimizer  # gone, as after compiling again with another one
    assert not gradient().is_sparse


@keras.saving.register_keras_serializable(package="test_lazy_adam")
class _Table(keras.layers.Layer):
    """A gather from a table through `sparse_take` (as the memory layers
    read their values)."""

    def __init__(self, rows, dim, **kwargs):
        super().__init__(**kwargs)
        self.rows = rows
        self.dim = dim

    def build(self, input_shape):
        self.table = self.add_weight(
            shape=(self.rows, self.dim),
            initializer="random_normal",
            name="table",
            autocast=False,
        )
        row_sparse.mark_table(self.table)

    def call(self, ids):
        rows = sparse_take(self.table, ids)
        return ops.cast(ops.sum(rows, axis=1), self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "rows": self.rows, "dim": self.dim}


def _table_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((3,), dtype="int32"),
            _Table(32, 4),
            keras.layers.Dense(1),
        ]
    )


def _table_snapshot(model):
    table = model.layers[0].table
    m, v = _moments(model.optimizer, table)
    return ops.convert_to_numpy(table), m, v


@pytest.mark.parametrize("optimizer", ["lazy_adam", "adam"])
def test_fit_leaves_rows_not_read_untouched(optimizer):
    rng = np.random.default_rng(6)
    first_ids = rng.integers(0, 8, (16, 3)).astype("int32")  # rows 0-7
    second_ids = rng.integers(8, 16, (16, 3)).astype("int32")  # rows 8-15
    y = rng.standard_normal((16, 1)).astype("float32")
    model = _table_model()
    model.compile(
        optimizer=LazyAdam(0.05)
        if optimizer == "lazy_adam"
        else keras.optimizers.Adam(0.05),
        loss="mse",
    )
    start = ops.convert_to_numpy(model.layers[0].table)
    model.fit(first_ids, y, batch_size=16, verbose=0)
    w1, m1, v1 = _table_snapshot(model)
    model.fit(second_ids, y, batch_size=16, verbose=0)
    w2, m2, v2 = _table_snapshot(model)
    assert np.all(np.abs(w1[:8] - start[:8]) > 0)
    assert np.all(np.abs(w2[8:16] - w1[8:16]) > 0)
    np.testing.assert_array_equal(w2[16:], start[16:])  # never read
    if optimizer == "adam":
        # Adam moves rows 0-7 on their momentum in the second step.
        assert np.all(np.abs(w2[:8] - w1[:8]) > 0)
        return
    np.testing.assert_array_equal(w2[:8], w1[:8])
    np.testing.assert_array_equal(m2[:8], m1[:8])
    np.testing.assert_array_equal(v2[:8], v1[:8])
    np.testing.assert_array_equal(m2[16:], 0.0)
    np.testing.assert_array_equal(v2[16:], 0.0)
    if BACKEND == "torch":
        # The last step's gradient of the table was sparse.
        assert model.layers[0].table.value.grad.is_sparse


def test_fit_under_mixed_precision_leaves_rows_not_read_untouched():
    # PyTorch: Keras' LossScaleOptimizer cannot check sparse gradients, so
    # the read stays dense there and LazyAdam finds the rows read from it.
    keras.config.set_dtype_policy("mixed_float16")
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 8, (16, 3)).astype("int32")
    y = rng.standard_normal((16, 1)).astype("float32")
    model = _table_model()
    model.compile(optimizer=LazyAdam(0.05), loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    start = ops.convert_to_numpy(model.layers[0].table)
    history = model.fit(ids, y, batch_size=8, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    after = ops.convert_to_numpy(model.layers[0].table)
    np.testing.assert_array_equal(after[8:], start[8:])
    assert np.all(np.abs(after[:8] - start[:8]) > 0)


def test_keras_file_round_trip_resumes_training_exactly():
    rng = np.random.default_rng(8)
    ids = rng.integers(0, 16, (32, 3)).astype("int32")
    y = rng.standard_normal((32, 1)).astype("float32")
    model = _table_model()
    model.compile(optimizer=LazyAdam(0.05, amsgrad=True), loss="mse")
    model.fit(ids, y, batch_size=16, verbose=0, shuffle=False)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.optimizer, LazyAdam)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(
        _numpy(loaded.optimizer.variables), _numpy(model.optimizer.variables)
    ):
        np.testing.assert_array_equal(a, b)
    model.fit(ids, y, batch_size=16, verbose=0, shuffle=False)
    loaded.fit(ids, y, batch_size=16, verbose=0, shuffle=False)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Arguments.


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        (dict(learning_rate=-0.1), "learning_rate"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(learning_rate=float("inf")), "learning_rate"),
        (dict(beta_1=1.0), "beta_1"),
        (dict(beta_1=-0.1), "beta_1"),
        (dict(beta_2=1.0), "beta_2"),
        (dict(beta_2=float("nan")), "beta_2"),
        (dict(epsilon=0.0), "epsilon"),
        (dict(epsilon=-1e-7), "epsilon"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(clipnorm=float("inf")), "clipnorm"),
    ],
)
def test_out_of_range_hyper_parameters_raise(kwargs, argument):
    with pytest.raises(ValueError, match=rf"LazyAdam: `{argument}`"):
        LazyAdam(**kwargs)


def test_wrong_types_raise():
    with pytest.raises(TypeError, match="LazyAdam: `amsgrad`"):
        LazyAdam(amsgrad="yes")
    with pytest.raises(TypeError, match="LazyAdam: `beta_1`"):
        LazyAdam(beta_1="0.9")


def test_config_round_trip():
    optimizer = LazyAdam(
        learning_rate=0.01,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-6,
        amsgrad=True,
        weight_decay=0.01,
        clipnorm=1.0,
    )
    config = optimizer.get_config()
    restored = LazyAdam.from_config(config)
    assert restored.get_config() == config
    assert config["beta_1"] == 0.8 and config["amsgrad"] is True
    serialized = keras.saving.serialize_keras_object(optimizer)
    assert serialized["registered_name"] == "keras_memnets>LazyAdam"
    assert isinstance(
        keras.saving.deserialize_keras_object(serialized), LazyAdam
    )


def test_row_sparse_helpers_leave_dense_gradients_alone():
    g = ops.convert_to_tensor(np.ones((3, 2), "float32"))
    assert not row_sparse.is_row_sparse(g)
    assert row_sparse.coalesce(g) is g


def test_memory_at_scale_guide_runs():
    from tests.test_guides import run_guide

    namespace, _ = run_guide("memory_at_scale.rst")
    model = namespace["model"]
    assert isinstance(model.optimizer, LazyAdam)
    assert np.isfinite(model.history.history["loss"][-1])
