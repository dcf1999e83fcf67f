"""memory_layout_map: the keys, the layouts, and the checks against a model.

The map is data (no device is touched), so these run in-process on every
backend, with meshes of placeholder devices. What a ModelParallel with the
map does on eight devices is checked in tests/test_model_parallel.py.
"""

import contextlib
import math
import re

import keras
import pytest

from keras_memnets.layers import MemoryLayer
from keras_memnets.layers import ProductKeyMemory
from keras_memnets.layers import memory_layout_map

JAX = keras.config.backend() == "jax"

# Off JAX the function warns that nothing is sharded; `_map` checks it.
pytestmark = pytest.mark.filterwarnings("ignore:memory_layout_map:UserWarning")


def _mesh(shape=(2, 4), axis_names=("batch", "model")):
    devices = [f"cpu:{i}" for i in range(math.prod(shape))]
    return keras.distribution.DeviceMesh(shape, axis_names, devices)


def _map(*args, **kwargs):
    """`memory_layout_map` that succeeds, with its warning off JAX."""
    expect = (
        contextlib.nullcontext()
        if JAX
        else pytest.warns(UserWarning, match="does not shard variables")
    )
    with expect:
        return memory_layout_map(*args, **kwargs)


class _Block(keras.layers.Layer):
    """A custom layer holding both kinds of memory (nested paths)."""

    def __init__(self, memory_size=8, **kwargs):
        super().__init__(**kwargs)
        self.memory_size = memory_size
        self.pkm = ProductKeyMemory(
            4, 6, heads=1, top_k=2, key_dim=4, name="pkm"
        )
        self.memory = MemoryLayer(
            (2, 3), memory_size=memory_size, hidden_units=4, name="memory"
        )

    def build(self, input_shape):
        self.pkm.build(input_shape)
        self.memory.build(input_shape)

    def call(self, x):
        return self.pkm(x) + keras.ops.reshape(self.memory(x), (-1, 6))


def _model(memory_size=8):
    inputs = keras.Input((5,))
    block = _Block(memory_size, name="block")(inputs)
    outputs = ProductKeyMemory(8, 3, heads=1, top_k=2, key_dim=4, name="top")(
        block
    )
    return keras.Model(inputs, outputs)


def test_keys_and_layouts():
    mesh = _mesh()
    layout_map = _map(mesh)
    assert sorted(layout_map) == [".*/memory", ".*/values"]
    assert layout_map.device_mesh is mesh
    values = layout_map["encoder/block_3/product_key_memory_2/values"]
    assert values.axes == ("model", None)
    assert values.device_mesh is mesh
    assert layout_map["memory_layer/memory"].axes == ("model",)
    # Other variables, the layers' sub-layers and the optimizer's copies of
    # the tables (which take the table's own layout) are not matched.
    for path in (
        "product_key_memory/keys",
        "product_key_memory/query/kernel",
        "memory_layer/selector/output/kernel",
        "adam/product_key_memory_values_momentum",
        "dense/kernel",
    ):
        assert layout_map[path] is None, path


def test_other_mesh_axis_and_a_model_that_checks():
    mesh = _mesh((4, 2), ("data", "slots"))
    model = _model()
    layout_map = _map(mesh, model=model, model_parallel_dim_name="slots")
    paths = [v.path for v in model.weights]
    tables = [p for p in paths if re.search(r"/(values|memory)$", p)]
    assert sorted(tables) == [
        "block/memory/memory",
        "block/pkm/values",
        "top/values",
    ]
    for path in tables:
        assert layout_map[path].axes[0] == "slots"
    for path in set(paths) - set(tables):
        assert layout_map[path] is None, path


def test_layout_map_entries_are_copied_not_modified():
    mesh = _mesh()
    backbone = keras.distribution.LayoutMap(mesh)
    backbone[".*dense.*kernel"] = (None, "model")
    layout_map = _map(mesh, model=_model(), layout_map=backbone)
    assert sorted(layout_map) == [".*/memory", ".*/values", ".*dense.*kernel"]
    assert sorted(backbone) == [".*dense.*kernel"]
    assert layout_map["block/dense/kernel"].axes == (None, "model")


def test_an_exact_path_in_layout_map_takes_a_non_table_out():
    # A user layer's variable named `values` would be caught by the key;
    # its exact path in `layout_map` gives it its own layout.
    class Scores(keras.layers.Layer):
        def build(self, input_shape):
            self.values = self.add_weight(name="values", shape=(3,))

        def call(self, x):
            return x * keras.ops.sum(self.values)

    inputs = keras.Input((5,))
    outputs = Scores(name="scores")(MemoryLayer(5, 8, hidden_units=4)(inputs))
    model = keras.Model(inputs, outputs)
    mesh = _mesh()
    with pytest.raises(
        ValueError,
        match=r"memory_layout_map: the key '\.\*/values' also matches "
        r"`scores/values`, which is not a memory table",
    ):
        memory_layout_map(mesh, model=model)
    own = keras.distribution.LayoutMap(mesh)
    own["scores/values"] = (None,)
    layout_map = _map(mesh, model=model, layout_map=own)
    assert layout_map["scores/values"].axes == (None,)


def test_slots_must_be_a_multiple_of_the_mesh_axis():
    mesh = _mesh((1, 3))
    with pytest.raises(
        ValueError,
        match=r"memory_layout_map: the mesh axis 'model' of `device_mesh` "
        r"\(from `model_parallel_dim_name`\) has 3 devices, which must "
        r"divide the (16|8) slots of the memory table `block/(pkm|memory)/",
    ):
        memory_layout_map(mesh, model=_model())
    # 16, 8 and 64 slots on 4 devices.
    _map(_mesh((1, 4)), model=_model())
    with pytest.raises(ValueError, match="divide the 6 slots"):
        memory_layout_map(_mesh((1, 4)), model=_model(memory_size=6))


@pytest.mark.parametrize(
    "entry",
    [
        ("block/pkm/values", (None, None)),  # exact path
        ("top/values", ()),  # exact path, empty layout
    ],
)
def test_a_table_that_layout_map_keeps_whole(entry):
    mesh = _mesh()
    own = keras.distribution.LayoutMap(mesh)
    own[entry[0]] = entry[1]
    with pytest.raises(
        ValueError,
        match=rf"memory_layout_map: `layout_map` lays out the memory table "
        rf"`{entry[0]}` as {re.escape(str(entry[1]))}, which keeps its "
        r"slots whole on every device",
    ):
        memory_layout_map(mesh, model=_model(), layout_map=own)


def test_a_table_that_layout_map_also_matches():
    mesh = _mesh()
    own = keras.distribution.LayoutMap(mesh)
    own["block/.*"] = (None, None)
    with pytest.raises(
        ValueError,
        match=r"memory_layout_map: the memory table `block/\S+` matches "
        r"several keys of the map",
    ):
        memory_layout_map(mesh, model=_model(), layout_map=own)


def test_argument_errors():
    mesh = _mesh()
    with pytest.raises(
        TypeError,
        match="memory_layout_map: `device_mesh` must be a "
        "keras.distribution.DeviceMesh, got",
    ):
        memory_layout_map((2, 4))
    with pytest.raises(
        ValueError,
        match=r"memory_layout_map: `model_parallel_dim_name` must be an axis "
        r"of `device_mesh` \(one of \['batch', 'model'\]\), got 'slots'",
    ):
        memory_layout_map(mesh, model_parallel_dim_name="slots")
    with pytest.raises(
        ValueError, match="`model_parallel_dim_name` must be an axis"
    ):
        memory_layout_map(_mesh((8,), ("batch",)))
    with pytest.raises(
        TypeError, match="memory_layout_map: `model` must be a keras.Model"
    ):
        memory_layout_map(mesh, model="model")
    with pytest.raises(
        TypeError, match="memory_layout_map: `layout_map` must be a keras"
    ):
        memory_layout_map(mesh, layout_map={".*": (None,)})
    other = keras.distribution.LayoutMap(_mesh((4, 2)))
    with pytest.raises(
        ValueError, match="memory_layout_map: `layout_map` must be on"
    ):
        memory_layout_map(mesh, layout_map=other)
    same = keras.distribution.LayoutMap(mesh)
    same[".*/values"] = ("model", None)
    with pytest.raises(
        ValueError,
        match=r"memory_layout_map: `layout_map` already has the key "
        r"'\.\*/values'",
    ):
        memory_layout_map(mesh, layout_map=same)


def test_model_errors():
    mesh = _mesh()
    with pytest.raises(
        ValueError,
        match="memory_layout_map: `model` holds no memory table",
    ):
        memory_layout_map(
            mesh,
            model=keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]),
        )
    unbuilt = keras.Sequential([ProductKeyMemory(4, 2, top_k=2, key_dim=4)])
    with pytest.raises(
        ValueError,
        match=r"memory_layout_map: `model` must be built .* but its layer "
        r"'product_key_memory\S*' is not",
    ):
        memory_layout_map(mesh, model=unbuilt)


@pytest.mark.skipif(JAX, reason="the warning is for the other backends")
def test_other_backends_are_told_nothing_is_sharded():
    with pytest.warns(
        UserWarning,
        match=rf"memory_layout_map: on the {keras.config.backend()} backend "
        r"keras.distribution does not shard variables: a ModelParallel with "
        r"this layout map is accepted and ignored",
    ):
        memory_layout_map(_mesh())
