"""Reading a table sharded along its slot axis by `keras.distribution`.

On JAX, `keras.distribution.ModelParallel` may shard a memory table along its
first (slot) axis over one axis of the device mesh (see
`keras_memnets.layers.memory_layout_map`). A gather from such a table is
left to XLA's SPMD partitioner, which reads each shard locally when the
batch is not split over the table's mesh axis, but gathers the whole table
onto every device when it is (the usual layout where one mesh axis splits
both the batch and the table). `sharded_take` reads such a table shard by
shard instead, with explicit collectives: every device looks up, in its own
rows, the ids that fall in its slice of slots, and the partial reads are
summed (or summed and scattered back over the batch) across the table's
mesh axis. No device ever holds more than its shard of the table, in the
forward or the backward pass.
"""

import keras
from keras import ops


def slot_axis(table_variable):
    """The mesh axis name `table_variable`'s first axis is sharded over, or
    `None` (not JAX, no distribution, or a table kept whole)."""
    if keras.config.backend() != "jax":
        return None
    distribution = keras.distribution.distribution()
    if distribution is None:
        return None
    layout = distribution.get_variable_layout(table_variable)
    if layout is None or not layout.axes or layout.axes[0] is None:
        return None
    return layout.axes[0]


def sharded_take(table_variable, indices):
    """`ops.take(table_variable, indices, axis=0)` for a table sharded along
    its first axis (JAX under `keras.distribution`), read shard by shard.

    Args:
        table_variable: `keras.Variable` of shape `(slots, ...)`, whose
            first axis is sharded over the mesh axis `slot_axis` returns.
        indices: integer tensor `(n, ...)` of ids in `[0, slots)`.

    Returns:
        The rows, `indices.shape + table_variable.shape[1:]`, split over the
        batch's mesh axis where `n` divides it.
    """
    import jax
    from jax.sharding import PartitionSpec

    try:
        shard_map = jax.shard_map
    except AttributeError:  # JAX < 0.6
        from jax.experimental.shard_map import shard_map

    distribution = keras.distribution.distribution()
    layout = distribution.get_variable_layout(table_variable)
    mesh = layout.device_mesh
    table_axis = layout.axes[0]
    batch_axis = distribution.batch_dim_name
    sizes = dict(zip(mesh.axis_names, mesh.shape))
    indices = ops.convert_to_tensor(indices)
    n = indices.shape[0]
    table = table_variable.value
    rows_per_shard = table.shape[0] // sizes[table_axis]

    # Where the ids come from and where the rows go: the batch stays split
    # over its own mesh axis when that is not the table's; when it is, each
    # device needs every id, and gets back its part of the batch.
    if batch_axis != table_axis and n % sizes[batch_axis] == 0:
        ids_spec = out_spec = PartitionSpec(batch_axis)
        scatter = False
    elif batch_axis == table_axis and n % sizes[table_axis] == 0:
        ids_spec, out_spec = PartitionSpec(), PartitionSpec(table_axis)
        scatter = True
    else:
        ids_spec = out_spec = PartitionSpec()
        scatter = False

    def read_shard(shard, ids):
        first = jax.lax.axis_index(table_axis) * rows_per_shard
        local = ids - first.astype(ids.dtype)
        inside = (local >= 0) & (local < rows_per_shard)
        rows = jax.numpy.take(shard, jax.numpy.where(inside, local, 0), axis=0)
        inside = inside.reshape(inside.shape + (1,) * (rows.ndim - ids.ndim))
        rows = jax.numpy.where(inside, rows, jax.numpy.zeros_like(rows))
        if scatter:
            return jax.lax.psum_scatter(
                rows, table_axis, scatter_dimension=0, tiled=True
            )
        return jax.lax.psum(rows, table_axis)

    return shard_map(
        read_shard,
        mesh=mesh.backend_mesh,
        in_specs=(PartitionSpec(table_axis), ids_spec),
        out_specs=out_spec,
    )(table, indices)
