"""memory_layout_map: a LayoutMap that shards memory tables along slots."""

import re
import warnings

import keras
import numpy as np

from keras_memnets.layers.memory import MemoryLayer
from keras_memnets.layers.product_key_memory import ProductKeyMemory

_OWNER = "memory_layout_map"

# The memory tables: the layer class, the table's attribute (also the last
# component of its variable path) and the regex over `variable.path` that
# finds it whatever the layer's name.
_TABLES = (
    (ProductKeyMemory, "values", ".*/values"),
    (MemoryLayer, "memory", ".*/memory"),
)


def memory_layout_map(
    device_mesh,
    model=None,
    model_parallel_dim_name="model",
    layout_map=None,
):
    """A `keras.distribution.LayoutMap` that shards memory tables by slot.

    The layout map for `keras.distribution.ModelParallel` that splits every
    memory table of keras_memnets, `ProductKeyMemory`'s `values` and
    `MemoryLayer`'s `memory`, along its first (slot) axis over the mesh axis
    `model_parallel_dim_name`: with `d` devices on that axis each holds
    `1/d` of the slots, and the optimizer's state of the table (Adam's
    moments) is split the same way. Its keys are regexes over
    `variable.path` that match a table by its variable's name
    (`".*/values"`, `".*/memory"`), so they match whatever the layers are
    named, and the map can be made before the model that it lays out.

    A variable that no key of a `LayoutMap` matches is replicated on every
    device, silently. Pass the `model` (built, inside or outside the
    distribution's scope, or a copy of it with the same layers) to check the
    map against it: every memory table must be laid out by this function's
    keys (not left to an entry of `layout_map` that keeps it whole), no
    other variable may be caught by them, and each table's slot count must
    be a multiple of the size of the mesh axis.

    On JAX, XLA's partitioner reads a sharded table in place: each device
    looks up the ids that fall in its slice of slots, and the partial reads
    are summed across the mesh axis. Where one mesh axis splits both the
    batch and a table, it gathers the table whole onto every device instead
    when that moves less data: when the table is no larger than what the
    step reads from it (the rows read, or a dense read's selection).

    Only JAX shards variables: on TensorFlow and PyTorch,
    `keras.distribution.ModelParallel` accepts a layout map and ignores it
    (every variable stays whole, on one device), so there this function
    returns the map with a warning that says so.

    Args:
        device_mesh: `keras.distribution.DeviceMesh`. The mesh the tables
            are sharded over.
        model: optional built `keras.Model` (or layer) whose tables the map
            is checked against (see above). `None` checks nothing.
        model_parallel_dim_name: str. The mesh axis that splits the slots.
            Defaults to `"model"`.
        layout_map: optional `keras.distribution.LayoutMap` on `device_mesh`
            with the layouts of the model's other variables (for example a
            backbone's `get_layout_map`). Its entries are copied into the
            returned map; it is not modified. An exact variable path in it
            takes precedence over this function's regexes (Keras looks up
            exact keys first).

    Returns:
        A new `keras.distribution.LayoutMap` on `device_mesh`: the entries
        of `layout_map`, plus `".*/values"` -> `(model_parallel_dim_name,
        None)` and `".*/memory"` -> `(model_parallel_dim_name,)` (the other
        axes of a table whole).

    Raises:
        TypeError: `device_mesh`, `model` or `layout_map` of the wrong type.
        ValueError: `model_parallel_dim_name` not an axis of the mesh;
            `layout_map` on another mesh or holding one of the two keys;
            with `model`: a model that is not built or holds no memory
            table, a table that `layout_map` would keep whole, a variable
            that is not a table caught by the keys, or a table whose slot
            count is not a multiple of the mesh axis' size.

    Example:

    >>> mesh = keras.distribution.DeviceMesh(
    ...     shape=(1, 1), axis_names=("batch", "model"), devices=["cpu:0"])
    >>> layout_map = keras_memnets.layers.memory_layout_map(mesh)
    >>> sorted(layout_map)
    ['.*/memory', '.*/values']
    >>> layout_map["decoder/product_key_memory/values"].axes
    ('model', None)

    With 8 accelerators, on JAX (not run here):

    .. code-block:: python

        mesh = keras.distribution.DeviceMesh(
            shape=(2, 4),
            axis_names=("batch", "model"),
            devices=keras.distribution.list_devices(),
        )
        layout_map = keras_memnets.layers.memory_layout_map(mesh)
        distribution = keras.distribution.ModelParallel(
            layout_map=layout_map, batch_dim_name="batch"
        )
        with distribution.scope():
            model = make_model()  # each device holds 1/4 of every table
        keras_memnets.layers.memory_layout_map(mesh, model=model)  # the check

    Reference:
        The guide *Memory at scale* on the docs site
        (https://keras-memnets.readthedocs.io/), section "Sharded memory".
    """
    if not isinstance(device_mesh, keras.distribution.DeviceMesh):
        raise TypeError(
            f"{_OWNER}: `device_mesh` must be a "
            f"keras.distribution.DeviceMesh, got {device_mesh!r}."
        )
    axis_names = tuple(device_mesh.axis_names)
    if model_parallel_dim_name not in axis_names:
        raise ValueError(
            f"{_OWNER}: `model_parallel_dim_name` must be an axis of "
            f"`device_mesh` (one of {list(axis_names)}), got "
            f"{model_parallel_dim_name!r}."
        )
    if model is not None and not isinstance(model, keras.layers.Layer):
        raise TypeError(
            f"{_OWNER}: `model` must be a keras.Model or a keras layer, "
            f"got {model!r}."
        )
    result = _copy(layout_map, device_mesh)
    layouts = {}
    for _, _, key in _TABLES:
        axes = (model_parallel_dim_name, None)
        if key == ".*/memory":
            axes = (model_parallel_dim_name,)
        # `in` would look the key up as a path (always true): list the keys.
        if key in list(result):
            raise ValueError(
                f"{_OWNER}: `layout_map` already has the key {key!r}, which "
                "this function sets; remove it."
            )
        layouts[key] = keras.distribution.TensorLayout(axes, device_mesh)
        result[key] = layouts[key]
    if model is not None:
        _check(model, result, layouts, device_mesh)
    backend = keras.config.backend()
    if backend != "jax":
        # TensorFlow's keras.distribution is a prototype that creates no
        # sharded variable; PyTorch has none.
        warnings.warn(
            f"{_OWNER}: on the {backend} backend keras.distribution does "
            "not shard variables: a ModelParallel with this layout map is "
            "accepted and ignored, and every memory table stays whole on "
            "one device. Sharding needs the JAX backend.",
            stacklevel=2,
        )
    return result


def _copy(layout_map, device_mesh):
    """A new LayoutMap on `device_mesh` with the entries of `layout_map`."""
    result = keras.distribution.LayoutMap(device_mesh)
    if layout_map is None:
        return result
    if not isinstance(layout_map, keras.distribution.LayoutMap):
        raise TypeError(
            f"{_OWNER}: `layout_map` must be a keras.distribution.LayoutMap "
            f"or None, got {layout_map!r}."
        )
    if not _same_mesh(layout_map.device_mesh, device_mesh):
        raise ValueError(
            f"{_OWNER}: `layout_map` must be on `device_mesh` "
            f"({device_mesh}), got a map on {layout_map.device_mesh}."
        )
    for key in layout_map:
        result[key] = layout_map[key]
    return result


def _same_mesh(a, b):
    return a is b or (
        a is not None
        and tuple(a.shape) == tuple(b.shape)
        and tuple(a.axis_names) == tuple(b.axis_names)
        and np.array_equal(a.devices, b.devices)
    )


def _tables(model):
    """`{id(variable): (variable, key)}` of the model's memory tables."""
    tables = {}
    # `_flatten_layers` is how Keras itself walks nested layers (custom
    # layers holding memory layers included); there is no public walk.
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for cls, attribute, key in _TABLES:
            if not isinstance(layer, cls):
                continue
            if not layer.built:
                raise ValueError(
                    f"{_OWNER}: `model` must be built (call it once, or "
                    f"build it), but its layer {layer.name!r} is not."
                )
            variable = getattr(layer, attribute)
            tables[id(variable)] = (variable, key)
    return tables


def _check(model, layout_map, layouts, device_mesh):
    tables = _tables(model)
    if not tables:
        raise ValueError(
            f"{_OWNER}: `model` holds no memory table (a ProductKeyMemory's "
            "values or a MemoryLayer's memory), so the map would shard "
            f"nothing; got {model.name!r}."
        )
    sizes = dict(zip(device_mesh.axis_names, device_mesh.shape))
    for variable, _ in tables.values():
        path = variable.path
        try:
            layout = layout_map[path]
        except ValueError as error:
            raise ValueError(
                f"{_OWNER}: the memory table `{path}` matches several keys "
                f"of the map (`layout_map` holds one that matches it): "
                f"{error}"
            ) from error
        if layout is None or not layout.axes or layout.axes[0] is None:
            axes = None if layout is None else tuple(layout.axes)
            raise ValueError(
                f"{_OWNER}: `layout_map` lays out the memory table `{path}` "
                f"as {axes}, which keeps its slots whole on every device; "
                "remove that entry, or shard the table's first axis."
            )
        axis_name = layout.axes[0]
        shards = sizes[axis_name]
        slots = int(variable.shape[0])
        if slots % shards:
            argument = (
                "model_parallel_dim_name"
                if any(layout is known for known in layouts.values())
                else "layout_map"
            )
            raise ValueError(
                f"{_OWNER}: the mesh axis {axis_name!r} of `device_mesh` "
                f"(from `{argument}`) has {shards} devices, which must "
                f"divide the {slots} slots of the memory table `{path}`; "
                f"choose a memory size that is a multiple of {shards}, or "
                "another mesh."
            )
    exact = set(layout_map)
    for variable in model.variables:
        if id(variable) in tables or variable.path in exact:
            continue
        for key in layouts:
            if re.fullmatch(key, variable.path):
                raise ValueError(
                    f"{_OWNER}: the key {key!r} also matches `"
                    f"{variable.path}`, which is not a memory table, and "
                    "would shard it; give it its own layout in `layout_map` "
                    "under its exact path."
                )
