"""Row-sparse reads and row-sparse gradients, per backend.

A table read by gather (an embedding, a memory's values) gets a gradient in
which only the rows read are nonzero. TensorFlow represents it as a
`tf.IndexedSlices`; PyTorch as a sparse COO tensor when the read is
`torch.nn.functional.embedding(..., sparse=True)`; JAX differentiates into
the dense array, unless a training step differentiates with respect to the
rows read (`RowReads`) and passes a `BCOO`. This module holds every
backend branch of that story:

- `sparse_take(table_variable, indices)`, the read that layers call: it
  reads the table so that its gradient is row-sparse where the backend can
  say so;
- `mark_table` / `is_table`: a layer marks, in `build`, the variables it
  reads by rows, so that `LazyAdam` knows that the all-zero rows of such a
  variable's dense gradient were not read;
- `allow_sparse_gradient`: `LazyAdam.build` lets the tables it trains get
  sparse gradients on PyTorch;
- `RowReads`: the JAX scope in which `sparse_take` reads rows under
  `stop_gradient` plus a differentiable offset, for a training step that
  differentiates with respect to the rows read;
- `is_row_sparse`, `coalesce`, `nonzero_rows`, `check_rows`,
  `rows_and_values`, `with_values`, `read_rows`, `write_rows`: what
  `LazyAdam` asks of a row-sparse gradient (duplicate rows summed, row ids
  in range) and of the variables it updates row by row;
- `torch_adam_step`: Adam on PyTorch with `torch._foreach_*` kernels (the
  kernels of Keras' own PyTorch Adam, so that a dense gradient gets its
  arithmetic exactly), with the rows of row-sparse gradients gathered into
  the same lists and written back in place.

The two marks are plain attributes of the Keras variables (never saved),
each written by the object that owns the fact, as Keras' layers set
`variable.overwrite_with_gradient` for its optimizers to read: the layer
says that it reads a variable by rows (`mark_table`, in `build`), the
optimizer says that it takes a variable's sparse gradients
(`allow_sparse_gradient`, in `build`). Other Keras optimizers (RMSprop,
Adagrad) and Keras' `LossScaleOptimizer` fail on a sparse PyTorch
gradient, so without the second mark the read stays dense.
"""

import threading
import weakref

import keras
from keras import ops

_TABLE = "_keras_memnets_read_by_rows"
_SPARSE_GRADIENT = "_keras_memnets_sparse_gradient"


def mark_table(variable):
    """Marks `variable` as a table that its layer reads by rows only
    through `sparse_take` (a layer calls this in `build`)."""
    setattr(variable, _TABLE, True)


def is_table(variable):
    """Whether a layer marked `variable` with `mark_table`."""
    return getattr(variable, _TABLE, False)


def allow_sparse_gradient(variable, optimizer):
    """Lets `sparse_take` give `variable` a sparse gradient on PyTorch
    while `optimizer` exists (`None`: stops it; other backends ignore it).

    The mark holds a weak reference, so that a model compiled again with
    another optimizer gets dense gradients once the old one is gone.
    """
    setattr(
        variable,
        _SPARSE_GRADIENT,
        None if optimizer is None else weakref.ref(optimizer),
    )


def _sparse_gradient_allowed(variable):
    owner = getattr(variable, _SPARSE_GRADIENT, None)
    return owner is not None and owner() is not None


# The `RowReads` scopes open in this thread, innermost last. A scope, like
# Keras' own `StatelessScope`, lives only for the trace of one training
# step; nothing stays here between steps.
_SCOPES = threading.local()


class RowReads:
    """JAX: a scope in which `sparse_take` reads rows of given tables
    without a gradient to the table, plus an offset, recording the rows.

    Inside the scope a read of one of `tables` returns
    `take(stop_gradient(table), ids) + offset`, the offsets being given in
    the order of the reads. A training step that differentiates with
    respect to the offsets (zeros) gets, for each read, the gradient of the
    rows it read; with the recorded ids that is the table's gradient, as
    row-sparse data, and no array of the table's shape is formed. Reads of
    other variables are `sparse_take`'s usual ones.

    Args:
        tables: the Keras variables whose reads are routed.
        offsets: `None` (the rows alone, to find the reads' shapes), or a
            list of one tensor per routed read, shaped like its rows.

    Attributes:
        reads: list of `(variable, ids)` of each routed read, in order: the
            variable read and the row ids, negative ids counted from the
            end.
    """

    def __init__(self, tables, offsets=None):
        self._tables = {id(v) for v in tables}
        self._offsets = offsets
        self.reads = []

    def routes(self, variable):
        return id(variable) in self._tables

    def read(self, variable, indices):
        import jax
        import jax.numpy as jnp

        table = variable.value
        indices = jnp.where(indices < 0, indices + table.shape[0], indices)
        rows = jnp.take(jax.lax.stop_gradient(table), indices, axis=0)
        if self._offsets is not None:
            rows = rows + self._offsets[len(self.reads)]
        self.reads.append((variable, indices))
        return rows

    def __enter__(self):
        if not hasattr(_SCOPES, "stack"):
            _SCOPES.stack = []
        _SCOPES.stack.append(self)
        return self

    def __exit__(self, *exc_info):
        _SCOPES.stack.pop()


def _row_reads():
    """The innermost open `RowReads` scope of this thread, or `None`."""
    stack = getattr(_SCOPES, "stack", None)
    return stack[-1] if stack else None


def sparse_take(table_variable, indices):
    """Rows of a table variable, read so that its gradient is row-sparse.

    The read of `ops.take(table_variable, indices, axis=0)`, with the same
    values and the same index rules (`-rows <= index < rows`, a negative
    index counting from the end), but the gradient of the table comes out
    row-sparse wherever the backend can represent that:

    - TensorFlow: a gather from the resource variable itself, whose
      gradient is a `tf.IndexedSlices` holding one row per index read.
      (`ops.take` first reads the whole variable into a tensor; while that
      tensor lives, an in-place update of the variable copies the table.)
    - PyTorch: `torch.nn.functional.embedding(..., sparse=True)`, so that
      `variable.value.grad` is a sparse COO tensor (one row per index read,
      uncoalesced), when the table is trained by a `LazyAdam` (outside a
      `LossScaleOptimizer`), is 2-D and is read without autocasting (see
      below); otherwise `ops.take`, whose gradient is dense, as every
      Keras optimizer expects.
    - JAX: inside a `RowReads` scope that routes the table, the scope's
      read (rows under `stop_gradient`, plus an offset); otherwise
      `ops.take`, which JAX differentiates into a dense array of the
      table's shape.

    The rows come back in the table's own dtype. Create the table with
    `add_weight(..., autocast=False)` and cast the rows to the layer's
    compute dtype after the read, as `keras.layers.Embedding` does: an
    autocast table would be cast whole (every row, every step) before the
    gather, and on PyTorch its gradient would be dense. A layer that reads
    a table only this way marks it with `mark_table` in `build`.

    Args:
        table_variable: `keras.Variable` of shape `(rows, ...)`.
        indices: integer tensor of any shape (other dtypes are cast to
            `int32`), the rows to read.

    Returns:
        Tensor of shape `indices.shape + table_variable.shape[1:]`.
    """
    indices = ops.convert_to_tensor(indices)
    if not keras.backend.is_int_dtype(indices.dtype):
        indices = ops.cast(indices, "int32")
    backend = keras.config.backend()
    if backend == "tensorflow":
        # TensorFlow: `tf.gather` on the `tf.Variable` is a ResourceGather,
        # which reads only the rows (an autocast read is a cast tensor,
        # gathered as such).
        import tensorflow as tf

        table = table_variable.value
        rows = tf.shape(table, out_type=indices.dtype)[0]
        indices = tf.where(indices < 0, indices + rows, indices)
        return tf.gather(table, indices)
    if backend == "jax":
        # JAX: a training step that differentiates with respect to the
        # rows read routes the read through its scope.
        scope = _row_reads()
        if scope is not None and scope.routes(table_variable):
            return scope.read(table_variable, indices)
    if (
        backend == "torch"
        and _sparse_gradient_allowed(table_variable)
        and len(table_variable.shape) == 2
    ):
        # PyTorch: an embedding read with `sparse=True` makes autograd
        # produce a sparse COO gradient for the table. It must read the
        # parameter itself: the backward of a dtype cast cannot carry a
        # sparse gradient, so an autocast read keeps the dense route.
        import torch

        table = table_variable.value
        if isinstance(table, torch.nn.Parameter):
            rows = table.shape[0]
            indices = torch.where(indices < 0, indices + rows, indices)
            return torch.nn.functional.embedding(indices, table, sparse=True)
    return ops.take(table_variable, indices, axis=0)


def is_row_sparse(gradient):
    """Whether `gradient` is a row-sparse gradient of this backend."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return isinstance(gradient, tf.IndexedSlices)
    if backend == "torch":
        import torch

        return isinstance(gradient, torch.Tensor) and gradient.is_sparse
    # JAX: Keras' training steps make dense arrays; a custom step may pass
    # a BCOO whose only sparse axis is the first (rows of values).
    from jax.experimental import sparse

    return (
        isinstance(gradient, sparse.BCOO)
        and gradient.n_batch == 0
        and gradient.n_sparse == 1
    )


def coalesce(gradient):
    """A row-sparse gradient with each row once, its duplicates summed.

    Returns a gradient of the same backend type (`tf.IndexedSlices` with
    unique indices, a coalesced torch sparse tensor); a dense gradient is
    returned unchanged. On PyTorch, a sparse gradient sparse in more than
    its first axis is returned dense.
    """
    if not is_row_sparse(gradient):
        return gradient
    if keras.config.backend() == "tensorflow":
        # TensorFlow: the unique ids, and a segment sum of their rows.
        import tensorflow as tf

        rows, position = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(
            gradient.values, position, tf.shape(rows)[0]
        )
        return tf.IndexedSlices(values, rows, gradient.dense_shape)
    if keras.config.backend() == "jax":
        # JAX: static shapes, so the summed rows keep the count of entries,
        # or the variable's number of rows where that is smaller (no more
        # ids can be distinct and in range); the unused entries get the id
        # `rows` (out of range), which `read_rows` and `write_rows` skip.
        return gradient.sum_duplicates(nse=min(gradient.nse, gradient.shape[0]))
    # PyTorch: coalescing sorts the ids and sums duplicates; it is a no-op
    # on a gradient that is coalesced already.
    if gradient.sparse_dim() != 1:
        return gradient.to_dense()
    return gradient.coalesce()


def nonzero_rows(gradient):
    """The rows of a dense gradient that are not all zero, as a coalesced
    row-sparse gradient (TensorFlow and PyTorch; a NaN counts as nonzero)."""
    if keras.config.backend() == "tensorflow":
        # TensorFlow: the ids have a dynamic count, which graphs allow.
        import tensorflow as tf

        gradient = tf.convert_to_tensor(gradient)
        flat = tf.reshape(gradient, (tf.shape(gradient)[0], -1))
        rows = tf.where(tf.reduce_any(tf.not_equal(flat, 0), axis=1))[:, 0]
        return tf.IndexedSlices(
            tf.gather(gradient, rows), rows, tf.shape(gradient)
        )
    # PyTorch: eager, so the ids are found before the update.
    import torch

    flat = gradient.reshape(gradient.shape[0], -1)
    rows = torch.nonzero((flat != 0).any(dim=1)).squeeze(1)
    return torch.sparse_coo_tensor(
        rows[None],
        gradient[rows],
        gradient.shape,
        is_coalesced=True,
        check_invariants=False,
    )


def rows_and_values(gradient):
    """`(rows, values)` of a row-sparse gradient: the row ids (1-D) and
    their gradients `(len(rows),) + variable.shape[1:]`."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        return gradient.indices, gradient.values
    if backend == "jax":
        return gradient.indices[:, 0], gradient.data
    # PyTorch: a hybrid sparse tensor with one sparse axis.
    return gradient.indices()[0], gradient.values()


def with_values(gradient, values):
    """The row-sparse `gradient` with its values replaced (same rows)."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.IndexedSlices(values, gradient.indices, gradient.dense_shape)
    if backend == "jax":
        from jax.experimental import sparse

        return sparse.BCOO((values, gradient.indices), shape=gradient.shape)
    import torch

    return torch.sparse_coo_tensor(
        gradient.indices(),
        values,
        gradient.shape,
        is_coalesced=gradient.is_coalesced(),
        check_invariants=False,
    )


def check_rows(owner, gradient, variable):
    """Checks a row-sparse gradient against the variable it updates.

    Rows whose shape differs from the variable's, or row ids outside
    `[0, variable.shape[0])`, raise `ValueError` when the ids are known
    (PyTorch, TensorFlow eager). In a TensorFlow graph (a compiled step)
    the id check is a pair of assertions that fail the step with
    `tf.errors.InvalidArgumentError`: the returned gradient's ids depend on
    them, so that nothing computed from the ids (a read or a write of the
    rows) runs before they pass.

    Returns:
        The gradient (on TensorFlow in a graph, the same rows with ids
        that depend on the checks).
    """
    name = getattr(variable, "path", None) or variable.name
    if keras.config.backend() == "torch":
        if gradient.sparse_dim() != 1:
            return gradient  # not row-sparse: `coalesce` makes it dense
        # PyTorch: the gradient may be uncoalesced (and coalescing bad ids
        # is unsafe), so its raw ids and values are read.
        rows, values = gradient._indices()[0], gradient._values()
    else:
        rows, values = rows_and_values(gradient)
    shape = tuple(variable.shape)
    if tuple(values.shape[1:]) != shape[1:]:
        raise ValueError(
            f"{owner}: the row-sparse gradient of variable `{name}` has "
            f"rows of shape {tuple(values.shape[1:])}, but the variable "
            f"has shape {shape}."
        )
    num_rows = shape[0]
    message = (
        f"{owner}: the row-sparse gradient of variable `{name}` has row "
        f"ids outside [0, {num_rows})"
    )
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            # TensorFlow graph: the ids are not known here. The ids used
            # from here on wait for the assertions (an assertion and a
            # gather of the same ids are otherwise unordered).
            checks = [
                tf.debugging.assert_non_negative(rows, message=message),
                tf.debugging.assert_less(
                    rows, tf.cast(num_rows, rows.dtype), message=message
                ),
            ]
            with tf.control_dependencies(checks):
                rows = tf.identity(rows)
            return tf.IndexedSlices(values, rows, gradient.dense_shape)
    if backend == "jax":
        import jax

        if isinstance(rows, jax.core.Tracer):
            # JAX under `jit`: the ids are not known, and a compiled JAX
            # function cannot raise; ids out of range are skipped by the
            # row reads and writes (JAX's "fill" and "drop" modes).
            return gradient
    if rows.shape[0] == 0:
        return gradient
    low = int(ops.convert_to_numpy(ops.min(rows)))
    high = int(ops.convert_to_numpy(ops.max(rows)))
    if low < 0 or high >= num_rows:
        raise ValueError(f"{message}, got {low if low < 0 else high}.")
    return gradient


def read_rows(variable, rows):
    """The rows `rows` of a Keras variable (TensorFlow: also of a
    `tf.Variable`), reading nothing else (TensorFlow, JAX)."""
    if keras.config.backend() == "tensorflow":
        # TensorFlow: a ResourceGather from the variable.
        import tensorflow as tf

        return tf.gather(_tf_variable(variable), rows)
    # JAX: an id out of range (a padding entry) reads zeros.
    return variable.value.at[rows].get(mode="fill", fill_value=0)


def write_rows(optimizer, variable, rows, values):
    """Writes the rows `rows` of a variable through `optimizer.assign`,
    writing nothing else (TensorFlow, JAX)."""
    if keras.config.backend() == "tensorflow":
        # TensorFlow: Keras' TensorFlow optimizer turns an IndexedSlices
        # assignment into an in-place scatter of the rows.
        import tensorflow as tf

        optimizer.assign(variable, tf.IndexedSlices(values, rows))
        return
    # JAX: a functional scatter; under `jit` with the state donated (as in
    # Keras' training steps) XLA writes the rows in place. An id out of
    # range (a padding entry) is dropped.
    optimizer.assign(variable, variable.value.at[rows].set(values, mode="drop"))


def _tf_variable(variable):
    """The `tf.Variable` behind a Keras variable (a `tf.Variable` as is)."""
    if isinstance(variable, keras.Variable):
        return variable.value
    return variable


def torch_adam_step(
    variables,
    gradients,
    rows,
    momentums,
    velocities,
    velocity_hats,
    decayed,
    decay_factor,
    alpha,
    beta_1,
    beta_2,
    epsilon,
):
    """One Adam step of several variables on PyTorch, in place.

    The arithmetic and kernels of Keras' PyTorch Adam. For a variable with
    `rows[i]` set, the step reads the rows `rows[i]` of the variable and its
    moments, updates them like dense tensors, and writes them back with
    `index_copy_`: the other rows are not read and not written.

    Args:
        variables: list of the variables' torch tensors.
        gradients: list of gradients: dense tensors shaped like the
            variables, or, for a row-sparse variable, the summed gradient
            of its rows `(len(rows[i]),) + shape[1:]`.
        rows: list of `None` (dense) or 1-D int64 tensors of unique row ids.
        momentums: list of the first-moment tensors.
        velocities: list of the second-moment tensors.
        velocity_hats: list of the AMSGrad maxima, or `None` without
            AMSGrad.
        decayed: list of bools, whether weight decay applies.
        decay_factor: `1 - weight_decay * learning_rate`, or `None`.
        alpha: the bias-corrected step size (a 0-d tensor).
        beta_1: float.
        beta_2: float.
        epsilon: float.
    """
    import torch

    with torch.no_grad():

        def pick(tensors):
            return [
                t if r is None else t.index_select(0, r)
                for t, r in zip(tensors, rows)
            ]

        params = pick(variables)
        m = pick(momentums)
        v = pick(velocities)
        v_hat = None if velocity_hats is None else pick(velocity_hats)

        if decay_factor is not None:
            to_decay = [p for p, d in zip(params, decayed) if d]
            if to_decay:
                torch._foreach_mul_(to_decay, decay_factor)

        torch._foreach_mul_(m, beta_1)
        torch._foreach_add_(m, gradients, alpha=1 - beta_1)
        torch._foreach_mul_(v, beta_2)
        torch._foreach_add_(
            v, torch._foreach_mul(gradients, gradients), alpha=1 - beta_2
        )
        denominator = v
        if v_hat is not None:
            torch._foreach_maximum_(v_hat, v)
            denominator = v_hat
        torch._foreach_add_(
            params,
            torch._foreach_div(
                torch._foreach_mul(m, alpha),
                torch._foreach_add(torch._foreach_sqrt(denominator), epsilon),
            ),
            alpha=-1,
        )

        for i, r in enumerate(rows):
            if r is None:
                continue
            variables[i].index_copy_(0, r, params[i])
            momentums[i].index_copy_(0, r, m[i])
            velocities[i].index_copy_(0, r, v[i])
            if v_hat is not None:
                velocity_hats[i].index_copy_(0, r, v_hat[i])
