"""The JAX training step of `RowSparseModel` (private).

Keras' JAX step differentiates the loss with respect to every trainable
variable, so a table read by gather gets a dense gradient of its own shape.
This step differentiates with respect to the rows read instead:

1. A first trace of the loss (a jaxpr, built once per compilation) runs
   under a `RowReads` scope that routes every trainable variable: it finds
   the tables read through `sparse_take`, the shape of each read, and
   whether a table's value is used anywhere else (a regularizer of the whole
   table, a dense read): such a table keeps the dense gradient.
2. The step proper differentiates with respect to the other variables and
   to one zero offset per read of a routed table (`take(stop_gradient(
   table), ids) + offset`): the gradient of an offset is the gradient of
   the rows that read returned.
3. Each routed table's gradient is the `BCOO` of its reads' row ids and
   offset gradients, which `LazyAdam` applies to those rows only.
"""

import keras

from keras_memnets.utils.row_sparse import RowReads


def train_step(model, state, data, keras_step):
    """`model.train_step(state, data)` of Keras' JAX trainer, with the
    tables read through `sparse_take` given row-sparse gradients.

    `keras_step(state, data)` is Keras' own step, which runs instead when
    no table is read only by rows.
    """
    import jax
    import jax.numpy as jnp
    from jax.experimental import sparse

    trainable, non_trainable, optimizer_values, metrics_values = state
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    variables = list(model.trainable_variables)

    def loss_and_updates(values, scope):
        with scope:
            return model.compute_loss_and_updates(
                values,
                non_trainable,
                metrics_values,
                x,
                y,
                sample_weight,
                training=True,
                optimizer_variables=optimizer_values,
            )

    # 1. The reads: which variable, which shape; and the tables whose value
    # is used only under the `stop_gradient` of their reads.
    reads = []

    def probe(values):
        scope = RowReads(variables)
        loss, _ = loss_and_updates(values, scope)
        positions = {id(v): i for i, v in enumerate(variables)}
        reads.extend(
            (positions[id(v)], tuple(ids.shape)) for v, ids in scope.reads
        )
        return loss

    jaxpr = jax.make_jaxpr(probe)(list(trainable)).jaxpr
    read = {i for i, _ in reads}
    dense = _used_beyond_stop_gradient(jaxpr, jaxpr.invars[: len(variables)])
    tables = sorted(read - dense)
    if not tables:
        return keras_step(state, data)
    reads = [(i, shape) for i, shape in reads if i in tables]
    routed = [variables[i] for i in tables]
    others = [i for i in range(len(variables)) if i not in tables]

    def merge(other_values, table_values):
        values = list(trainable)
        for i, value in zip(others, other_values):
            values[i] = value
        for i, value in zip(tables, table_values):
            values[i] = value
        return values

    def loss_fn(other_values, offsets, table_values):
        scope = RowReads(routed, offsets)
        loss, aux = loss_and_updates(merge(other_values, table_values), scope)
        return loss, (aux, [ids for _, ids in scope.reads])

    # 2. Gradients of the other variables and of the offsets (zeros).
    offsets = [
        jnp.zeros(shape + tuple(variables[i].shape[1:]), variables[i].dtype)
        for i, shape in reads
    ]
    (_, (aux, ids)), (other_grads, offset_grads) = jax.value_and_grad(
        loss_fn, argnums=(0, 1), has_aux=True
    )(
        [trainable[i] for i in others],
        offsets,
        [trainable[i] for i in tables],
    )
    unscaled_loss, y_pred, non_trainable, metrics_values = aux

    # 3. Each routed table's gradient: the rows its reads returned.
    table_grads = []
    for i in tables:
        row_shape = tuple(variables[i].shape[1:])
        mine = [k for k, (j, _) in enumerate(reads) if j == i]
        rows = jnp.concatenate([ids[k].reshape(-1) for k in mine])
        values = jnp.concatenate(
            [offset_grads[k].reshape((-1,) + row_shape) for k in mine]
        )
        table_grads.append(
            sparse.BCOO(
                (values, rows[:, None]), shape=tuple(variables[i].shape)
            )
        )
    grads = merge(other_grads, table_grads)

    trainable, optimizer_values = model.optimizer.stateless_apply(
        optimizer_values, grads, trainable
    )
    # Keras' JAX trainer updates the compiled metrics and the loss tracker
    # this way in its own `train_step`.
    logs, metrics_values = model._update_metrics_variables(
        metrics_values, unscaled_loss, x, y, y_pred, sample_weight
    )
    return logs, (trainable, non_trainable, optimizer_values, metrics_values)


def _used_beyond_stop_gradient(jaxpr, invars):
    """The positions in `invars` of the inputs of `jaxpr` that an equation
    other than `stop_gradient` takes, or that are outputs."""
    position = {id(v): i for i, v in enumerate(invars)}
    used = set()
    for equation in jaxpr.eqns:
        if equation.primitive.name == "stop_gradient":
            continue
        used.update(
            position[id(v)] for v in equation.invars if id(v) in position
        )
    used.update(position[id(v)] for v in jaxpr.outvars if id(v) in position)
    return used
