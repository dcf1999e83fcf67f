"""Memory tables sharded along their slots with keras.distribution (JAX).

One subprocess with eight XLA host devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=8`, set before JAX
starts) trains a small model holding every kind of memory table (a
`ProductKeyMemory`, a `MemoryLayer` read densely and one read by `top_k`)
for two steps on one device, then under `keras.distribution.ModelParallel`
with `keras_memnets.layers.memory_layout_map`, and writes to an `.npz` file
what the assertions here compare: losses, outputs, weights and the tables'
optimizer moments, the shape of each device's shard, and the result types
of the compiled training step's all-gathers. Two meshes: `(1, 8)`, the
batch whole and the tables split eight ways over `"model"`; and `(8,)`, one
axis splitting both the batch and the tables.
"""

import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

DEVICES = 8
LEARNING_RATE = 0.01
# Adam divides by sqrt(v) + epsilon: where a gradient sums to nearly zero,
# its rounding (which the sharded sums change) would swing the step by up to
# the learning rate. An epsilon well above rounding keeps such steps small,
# so that one and eight devices can be compared to 1e-5.
EPSILON = 1e-3
BATCH = 32
NUM_KEYS = 32  # 1,024 product-key slots, 128 per device
MEMORY_SIZE = 16  # 2 slots per device

only_jax = pytest.mark.skipif(
    keras.config.backend() != "jax",
    reason="keras.distribution shards variables on JAX only",
)


def _model():
    from keras_memnets.layers import MemoryLayer
    from keras_memnets.layers import ProductKeyMemory

    inputs = keras.Input((12,))
    pkm = ProductKeyMemory(
        NUM_KEYS, 8, heads=2, top_k=4, key_dim=8, name="pkm"
    )(inputs)
    dense = MemoryLayer(
        8, memory_size=MEMORY_SIZE, hidden_units=8, name="dense_memory"
    )(inputs)
    sparse = MemoryLayer(
        (2, 4),
        memory_size=MEMORY_SIZE,
        hidden_units=8,
        top_k=2,
        name="sparse_memory",
    )(inputs)
    sparse = keras.layers.Reshape((8,))(sparse)
    mixed = keras.layers.Add()([pkm, dense, sparse])
    outputs = keras.layers.Dense(3, name="head")(mixed)
    return keras.Model(inputs, outputs)


TABLES = ("pkm/values", "dense_memory/memory", "sparse_memory/memory")


def _data(step=0):
    """The batch of training step `step` (0 or 1)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, BATCH, 12)).astype("float32")
    y = rng.standard_normal((2, BATCH, 3)).astype("float32")
    return x[step], y[step]


def _optimizer(name):
    from keras_memnets.optimizers import LazyAdam

    if name == "adam":
        return keras.optimizers.Adam(LEARNING_RATE, epsilon=EPSILON)
    return LazyAdam(LEARNING_RATE, epsilon=EPSILON)


def _mark_table(model):
    """Marks the product-key table as read by rows, as the layer's read does
    when it goes through `sparse_take`: LazyAdam then leaves the rows that
    a step did not read, with their moments."""
    from keras_memnets.utils import row_sparse

    row_sparse.sparse_take(model.get_layer("pkm").values, np.zeros(1, "int32"))


def _train(model, optimizer_name, initial):
    """Two training steps from `initial`: losses, outputs, weights, and the
    tables' optimizer moments. (Two, so that LazyAdam's update of a row
    read in the first step and not in the second differs from Adam's.)"""
    model.set_weights(initial)
    if optimizer_name == "lazy_adam":
        _mark_table(model)
    model.compile(optimizer=_optimizer(optimizer_name), loss="mse")
    losses = [model.train_on_batch(*_data(step)) for step in (0, 1)]
    results = {
        "loss": np.asarray(losses),
        "outputs": keras.ops.convert_to_numpy(
            model(_data(0)[0], training=False)
        ),
    }
    for variable in model.weights:
        results[variable.path] = keras.ops.convert_to_numpy(variable)
    for variable in model.optimizer.variables:
        if _is_table(variable.path):
            results[variable.path.split("/", 1)[1]] = (
                keras.ops.convert_to_numpy(variable)
            )
    return results


_ALL_GATHER = re.compile(r"= (.+?) all-gather(?:-start)?\(")


def _all_gathers(model, mesh):
    """The result types of the compiled training step's all-gathers.

    The step is Keras' own stateless `train_step`, jitted as the JAX
    trainer jits it (state donated, the state's shardings as the output
    shardings), on the model's current state and a batch laid out as
    `ModelParallel` lays out data (split over `"batch"`).
    """
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec

    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    shardings = jax.tree_util.tree_map(lambda a: a.sharding, state)
    data_sharding = NamedSharding(mesh.backend_mesh, PartitionSpec("batch"))
    data = tuple(jax.device_put(a, data_sharding) for a in _data())
    # A new function each time, so that JAX traces the step again.
    step = jax.jit(
        lambda state, data: model.train_step(state, data),
        donate_argnums=0,
        out_shardings=(None, shardings),
    )
    text = step.lower(state, data).compile().as_text()
    return [m.group(1) for m in _ALL_GATHER.finditer(text)]


def _shard_shapes(variable):
    """The shape of each device's piece of a variable."""
    return np.array([s.data.shape for s in variable.value.addressable_shards])


def _is_table(path):
    return any(t.replace("/", "_") in path or t == path for t in TABLES)


def worker(out_path):
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec

    from keras_memnets.layers import memory_layout_map

    results = {"devices": len(jax.devices())}
    keras.utils.set_random_seed(0)
    model = _model()
    initial = model.get_weights()
    results["initial/pkm/values"] = keras.ops.convert_to_numpy(
        model.get_layer("pkm").values
    )
    optimizers = ("adam", "lazy_adam")
    for name in optimizers:
        for key, value in _train(_model(), name, initial).items():
            results[f"single/{name}/{key}"] = value

    devices = keras.distribution.list_devices("cpu")
    meshes = {
        # The batch whole, the tables split over "model".
        "model_axis": keras.distribution.DeviceMesh(
            (1, DEVICES), ("batch", "model"), devices
        ),
        # One axis splits both the batch and the tables.
        "shared_axis": keras.distribution.DeviceMesh(
            (DEVICES,), ("batch",), devices
        ),
    }
    for mesh_name, mesh in meshes.items():
        axis = mesh.axis_names[-1]
        layout_map = memory_layout_map(mesh, model_parallel_dim_name=axis)
        distribution = keras.distribution.ModelParallel(
            layout_map=layout_map, batch_dim_name="batch"
        )
        with distribution.scope():
            # LazyAdam's masked update is elementwise: one mesh shows it.
            names = optimizers if mesh_name == "model_axis" else ("adam",)
            for name in names:
                model = _model()
                memory_layout_map(mesh, model, model_parallel_dim_name=axis)
                for key, value in _train(model, name, initial).items():
                    results[f"{mesh_name}/{name}/{key}"] = value
                for variable in model.weights + model.optimizer.variables:
                    if _is_table(variable.path):
                        key = f"{mesh_name}/{name}/shards/{variable.path}"
                        results[key] = _shard_shapes(variable)
            results[f"{mesh_name}/all_gathers"] = np.array(
                _all_gathers(model, mesh), dtype=str
            )
    # The detector's own check: a step that replicates a sharded table on
    # purpose compiles to an all-gather of the whole table.
    table = model.get_layer("pkm").values.value
    replicated = NamedSharding(mesh.backend_mesh, PartitionSpec())
    text = (
        jax.jit(lambda t: jax.lax.with_sharding_constraint(t, replicated) * 2)
        .lower(table)
        .compile()
        .as_text()
    )
    results["replicated/all_gathers"] = np.array(
        [m.group(1) for m in _ALL_GATHER.finditer(text)], dtype=str
    )
    np.savez(out_path, **{k: np.asarray(v) for k, v in results.items()})


_SCRIPT = """
import sys
from tests import test_model_parallel
test_model_parallel.worker(sys.argv[1])
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("model_parallel") / "out.npz")
    env = dict(os.environ)
    env.update(
        {
            "KERAS_BACKEND": "jax",
            "JAX_PLATFORMS": "cpu",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}",
        }
    )
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SCRIPT), out],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"The model-parallel worker failed:\n{proc.stderr[-5000:]}"
        )
    with np.load(out, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


RUNS = [
    ("model_axis", "adam"),
    ("model_axis", "lazy_adam"),
    ("shared_axis", "adam"),
]
TABLE_SHAPES = {
    "pkm/values": (NUM_KEYS**2, 8),
    "dense_memory/memory": (MEMORY_SIZE, 8),
    "sparse_memory/memory": (MEMORY_SIZE, 2, 4),
}


@pytest.mark.distributed
@only_jax
@pytest.mark.parametrize("mesh,optimizer", RUNS)
def test_sharded_step_equals_single_device(results, mesh, optimizer):
    assert int(results["devices"]) == DEVICES
    single = f"single/{optimizer}/"
    keys = [k[len(single) :] for k in results if k.startswith(single)]
    # Losses, outputs, every weight and the tables' moments.
    assert {"loss", "outputs", *TABLES} <= set(keys)
    assert sum("momentum" in k or "velocity" in k for k in keys) == 6
    for key in keys:
        np.testing.assert_allclose(
            results[f"{mesh}/{optimizer}/{key}"],
            results[single + key],
            rtol=0,
            atol=1e-5,
            err_msg=key,
        )
    moved = results[single + "pkm/values"] - results["initial/pkm/values"]
    assert np.abs(moved).max() > 1e-3


@pytest.mark.distributed
@only_jax
def test_lazy_adam_leaves_unread_rows_when_sharded(results):
    initial = results["initial/pkm/values"]
    adam = results["model_axis/adam/pkm/values"]
    lazy = results["model_axis/lazy_adam/pkm/values"]
    # Rows read in the first step and not in the second: Adam moves them on
    # their momentum, LazyAdam does not, also with the table sharded.
    assert np.any(adam != lazy, axis=1).sum() > 0
    unread = np.all(results["single/lazy_adam/pkm/values"] == initial, axis=1)
    assert 0 < unread.sum() < len(initial)
    np.testing.assert_array_equal(lazy[unread], initial[unread])


@pytest.mark.distributed
@only_jax
@pytest.mark.parametrize("mesh,optimizer", RUNS)
def test_each_device_holds_an_eighth_of_each_table(results, mesh, optimizer):
    prefix = f"{mesh}/{optimizer}/shards/"
    shards = {k[len(prefix) :]: results[k] for k in results if prefix in k}
    assert len(shards) == 9  # three tables and their two moments each
    for path, shapes in shards.items():
        table = next(
            t for t in TABLES if t == path or t.replace("/", "_") in path
        )
        full = TABLE_SHAPES[table]
        expected = (full[0] // DEVICES,) + full[1:]
        assert shapes.tolist() == [list(expected)] * DEVICES, path


def _gathered_tables(all_gathers, tables):
    """The tables whose whole shape is the result of an all-gather."""
    found = []
    for table in tables:
        hlo = "f32[" + ",".join(str(d) for d in TABLE_SHAPES[table]) + "]"
        if any(
            re.search(rf"(^|[ (]){re.escape(hlo)}\{{", t) for t in all_gathers
        ):
            found.append(table)
    return found


@pytest.mark.distributed
@only_jax
def test_no_table_is_gathered_whole(results):
    # The tables are read in place: no all-gather has a table's shape.
    assert _gathered_tables(results["model_axis/all_gathers"], TABLES) == []
    # One axis splitting the batch and the tables: the product-key table,
    # larger than the rows a step reads from it, is read in place too.
    # (XLA gathers the two 16-slot memories there, smaller than their
    # reads: it moves less data.)
    shared = results["shared_axis/all_gathers"]
    assert _gathered_tables(shared, ["pkm/values"]) == []


@pytest.mark.distributed
@only_jax
def test_the_check_finds_a_gathered_table(results):
    gathered = _gathered_tables(results["replicated/all_gathers"], TABLES)
    assert gathered == ["pkm/values"]
