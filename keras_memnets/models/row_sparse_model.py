"""RowSparseModel: a Keras model whose JAX training step passes the memory
tables' gradients row-sparse."""

import keras

from keras_memnets.api_export import register
from keras_memnets.models import _row_sparse_step
from keras_memnets.optimizers.lazy_adam import LazyAdam


@register
class RowSparseModel(keras.Model):
    """A `keras.Model` whose JAX training step costs the rows a table read.

    Built and used as `keras.Model` (`RowSparseModel(inputs, outputs)`, or
    subclassed). keras_memnets' memory layers read their tables by gather
    (`keras_memnets.layers.ProductKeyMemory`'s values), and
    `keras_memnets.optimizers.LazyAdam` updates only the rows read; but JAX
    differentiates a gather into a dense array of the table's shape, so in
    a plain `keras.Model` a step still writes, and LazyAdam still scans,
    the whole table and both its moments. On JAX this model's `train_step`
    differentiates with respect to the rows each read returned instead (the
    table read under `stop_gradient`, plus a zero offset per read), and
    hands LazyAdam each table's gradient as a
    `jax.experimental.sparse.BCOO` of those rows: no array of the table's
    shape is formed, and under the jitted, donated step of `fit` XLA writes
    the rows of the table and its moments in place.

    The step is Keras' own otherwise: the same loss, metrics, loss scaling
    and non-trainable updates, and the same updates as a `keras.Model` with
    LazyAdam, to float rounding, except for a row that was read but got a
    gradient of exactly zero: this step moves it on its momentum, as the
    former `tfa.optimizers.LazyAdam` did, where the dense route leaves it.
    Its cost: the loss is traced twice when the step is compiled (once to
    find the tables and the shapes of their reads), and the step keeps one
    zero offset per row read (`rows read × row size` numbers).

    Keras' own JAX step runs instead when the optimizer is not a `LazyAdam`
    (also a `LazyAdam` inside a `keras.optimizers.LossScaleOptimizer`, as
    `compile` wraps it under the `"mixed_float16"` policy), when it
    accumulates gradients (`gradient_accumulation_steps`), or when a
    `keras.distribution` is set; and, per table, for a table whose value is
    used other than through its layer's reads (a regularizer of the whole
    table, a dense read elsewhere), which gets its dense gradient. On
    TensorFlow and PyTorch this model is a plain `keras.Model`: their
    gathers already give LazyAdam row-sparse gradients.

    Args:
        *args: `keras.Model`'s arguments (`inputs`, `outputs`, `name`, ...).
        **kwargs: `keras.Model`'s keyword arguments.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> import keras_memnets
    >>> inputs = keras.Input((8,))
    >>> memory = keras_memnets.layers.ProductKeyMemory(
    ...     num_keys=16, value_dim=4, heads=2, top_k=4, key_dim=8,
    ...     query_norm="layer")
    >>> model = keras_memnets.models.RowSparseModel(inputs, memory(inputs))
    >>> model.compile(
    ...     optimizer=keras_memnets.optimizers.LazyAdam(1e-2), loss="mse")
    >>> x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    >>> read = np.unique(keras.ops.convert_to_numpy(memory.lookup(x)[1]))
    >>> before = keras.ops.convert_to_numpy(memory.values)
    >>> _ = model.fit(x, np.zeros((32, 4)), batch_size=32, verbose=0)
    >>> after = keras.ops.convert_to_numpy(memory.values)
    >>> unread = np.setdiff1d(np.arange(256), read)
    >>> bool(np.array_equal(after[unread], before[unread]))
    True
    >>> bool(np.all(after[read] != before[read]))
    True

    Reference:
        The guide *Memory at scale* on the docs site
        (https://keras-memnets.readthedocs.io/).
    """

    def train_step(self, *args, **kwargs):
        if keras.config.backend() == "jax" and self._steps_rows():
            # JAX: `train_step(state, data)`, stateless.
            return _row_sparse_step.train_step(
                self, *args, keras_step=super().train_step, **kwargs
            )
        return super().train_step(*args, **kwargs)

    def _steps_rows(self):
        """Whether the row-sparse step applies to this compiled model."""
        optimizer = self.optimizer
        return (
            isinstance(optimizer, LazyAdam)
            and not optimizer.gradient_accumulation_steps
            and keras.distribution.distribution() is None
        )
