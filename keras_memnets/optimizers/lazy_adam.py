"""LazyAdam: Adam that updates only the rows a gather read."""

import math

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.optimizers._arguments import check_base_arguments
from keras_memnets.utils import row_sparse
from keras_memnets.utils.validation import number_in_range


@register
class LazyAdam(keras.optimizers.Adam):
    """Adam that updates only the rows of a table that a step read.

    A table read by gather (an embedding, a memory's values) gets a
    gradient in which only the rows read are nonzero, but Adam still decays
    both moments of every row and moves every row on its momentum, so a
    step costs the whole table. LazyAdam, as the former
    `tfa.optimizers.LazyAdam`, updates only the rows present in a
    row-sparse gradient. For those rows, with their gradient `g` summed
    over repeated row ids, `m <- m + (g - m) * (1 - beta_1)`,
    `v <- v + (g**2 - v) * (1 - beta_2)` and
    `w <- w - alpha * m / (sqrt(v) + epsilon)`, with
    `alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)` and `t`
    the global step (`iterations + 1`), as in Keras' `Adam`. The other rows
    of the variable and of its moments are neither read nor written: they
    stay bit-identical, and the update costs the rows read. A row's moments
    decay only in the steps that read it, which is where LazyAdam departs
    from Adam.

    A dense gradient gets exactly Keras' `Adam`, with the same arguments
    (`amsgrad` included), except for a table's (below). What arrives
    row-sparse depends on the backend:

    - TensorFlow: any gather's gradient, a `tf.IndexedSlices` (Keras'
      `Embedding` included). The rows of the variable and both moments are
      updated by in-place scatters.
    - PyTorch: a sparse COO gradient, as
      `torch.nn.functional.embedding(..., sparse=True)` makes; keras_memnets'
      memory layers read their tables that way when a LazyAdam trains them
      (Keras' own layers read densely). Rows are updated with
      `index_select` / `index_copy_`.
    - JAX: a `jax.experimental.sparse.BCOO` whose only sparse axis is the
      first, as the training step of `keras_memnets.models.RowSparseModel`
      passes for the tables of keras_memnets' memory layers (Keras' own
      training step differentiates every gather into a dense array).

    A variable that keras_memnets' memory layers read by gather is marked
    as a table; its dense gradient (on JAX outside a `RowSparseModel`; on
    PyTorch under a `LossScaleOptimizer`, which cannot take sparse
    gradients) counts the
    rows whose gradient is exactly zero as not read, and leaves them with
    their moments. That update still costs the whole table, and unlike
    tfa's LazyAdam it also leaves a row that was read but got an exactly
    zero gradient.

    Weight decay (`weight_decay`) is Keras' decoupled decay,
    `w <- w - learning_rate * weight_decay * w` before the step, applied
    only to the rows updated. Gradient clipping (`clipnorm`, `clipvalue`,
    `global_clipnorm`) sees the gradient with its repeated rows summed, so
    a norm is the dense gradient's. With `gradient_accumulation_steps` the
    gradients are summed into dense accumulators and the accumulated step
    is Adam's; `use_ema` averages every row.

    Row ids of a row-sparse gradient outside `[0, rows)`, or rows of the
    wrong shape, raise a `ValueError` naming `LazyAdam` and the variable,
    before anything is written. Inside a compiled TensorFlow step (`fit`)
    the id check is an assertion that fails the step with
    `tf.errors.InvalidArgumentError` before any row is written; inside
    `jax.jit` ids cannot be checked and an id out of range is skipped.

    Args:
        learning_rate: float, `keras.optimizers.schedules.LearningRateSchedule`
            or callable. A finite number `>= 0`. Defaults to `1e-3`.
        beta_1: float. The decay rate of the first moment, in `[0, 1)`.
            Defaults to `0.9`.
        beta_2: float. The decay rate of the second moment, in `[0, 1)`.
            Defaults to `0.999`.
        epsilon: float. Added to `sqrt(v)` in the denominator ("epsilon
            hat" of Kingma and Ba, as in Keras' `Adam`), a finite number
            `> 0`. Defaults to `1e-7`.
        amsgrad: bool. Whether to use the AMSGrad variant (the maximum of
            the second moments, kept per row). Defaults to `False`.
        **kwargs: the Keras base optimizer arguments: `weight_decay`,
            `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`,
            `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor`,
            `gradient_accumulation_steps`, `name`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> import keras_memnets
    >>> optimizer = keras_memnets.optimizers.LazyAdam(learning_rate=0.1)
    >>> w = keras.Variable(np.zeros((3, 2), "float32"))
    >>> optimizer.apply([np.full((3, 2), 2.0, "float32")], [w])
    >>> np.round(keras.ops.convert_to_numpy(w), 4)  # a dense Adam step
    array([[-0.1, -0.1],
           [-0.1, -0.1],
           [-0.1, -0.1]], dtype=float32)
    >>> model = keras.Sequential(
    ...     [keras.Input((2,), dtype="int32"), keras.layers.Embedding(100, 4)]
    ... )
    >>> model.compile(
    ...     optimizer=keras_memnets.optimizers.LazyAdam(1e-3), loss="mse"
    ... )

    Reference:
        Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR
        2015; the guide *Memory at scale* on the docs site
        (https://keras-memnets.readthedocs.io/).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        learning_rate, kwargs = check_base_arguments(
            "LazyAdam", learning_rate, kwargs
        )
        beta_1 = number_in_range(
            beta_1, "beta_1", "LazyAdam", 0.0, 1.0, high_inclusive=False
        )
        beta_2 = number_in_range(
            beta_2, "beta_2", "LazyAdam", 0.0, 1.0, high_inclusive=False
        )
        epsilon = number_in_range(
            epsilon,
            "epsilon",
            "LazyAdam",
            0.0,
            math.inf,
            low_inclusive=False,
            high_inclusive=False,
        )
        if not isinstance(amsgrad, bool):
            raise TypeError(
                f"LazyAdam: `amsgrad` must be a bool, got {amsgrad!r}."
            )
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            **kwargs,
        )

    def _clip_gradients(self, grads):
        # Row-sparse gradients arrive coalesced: a norm or a clipped value
        # is the dense gradient's.
        if not any(row_sparse.is_row_sparse(g) for g in grads):
            return super()._clip_gradients(grads)
        if self.clipnorm and self.clipnorm > 0:
            return [
                None if g is None else self._clip_rows(g, self._clip_by_norm)
                for g in grads
            ]
        if self.global_clipnorm and self.global_clipnorm > 0:
            values = [
                row_sparse.rows_and_values(g)[1]
                if row_sparse.is_row_sparse(g)
                else g
                for g in grads
            ]
            clipped = super()._clip_gradients(values)
            return [
                row_sparse.with_values(g, c)
                if row_sparse.is_row_sparse(g)
                else c
                for g, c in zip(grads, clipped)
            ]
        if self.clipvalue and self.clipvalue > 0:
            limit = self.clipvalue
            return [
                None
                if g is None
                else self._clip_rows(g, lambda x: ops.clip(x, -limit, limit))
                for g in grads
            ]
        return grads

    def _clip_rows(self, gradient, clip):
        if not row_sparse.is_row_sparse(gradient):
            return clip(gradient)
        values = row_sparse.rows_and_values(gradient)[1]
        return row_sparse.with_values(gradient, clip(values))

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        if keras.config.backend() == "torch":
            # PyTorch: tables read by `sparse_take` get sparse gradients
            # from now on, unless a LossScaleOptimizer, which cannot check
            # sparse gradients, sees them first.
            wrapped = getattr(self, "_in_loss_scale_optimizer", False)
            for variable in variables:
                row_sparse.allow_sparse_gradient(
                    variable, None if wrapped else self
                )

    @property
    def loss_scale_factor(self):
        return self._loss_scale_factor

    @loss_scale_factor.setter
    def loss_scale_factor(self, value):
        if hasattr(self, "_loss_scale_factor"):
            # Set again after construction: Keras' LossScaleOptimizer turns
            # its inner optimizer's own loss scaling off this way.
            self._in_loss_scale_optimizer = True
            if self.built:
                for variable in self._trainable_variables:
                    row_sparse.allow_sparse_gradient(variable, None)
        self._loss_scale_factor = value

    def _backend_apply_gradients(self, grads, trainable_variables):
        # Duplicate rows are summed first, so that clipping sees the dense
        # gradient's norm and values, and every row-sparse gradient is
        # checked before anything is read or written (in a TensorFlow
        # graph the checks are assertions that the gradient's ids wait
        # for).
        grads = [
            row_sparse.check_rows("LazyAdam", g, v)
            if row_sparse.is_row_sparse(g)
            else g
            for g, v in zip(grads, trainable_variables)
        ]
        grads = [row_sparse.coalesce(g) for g in grads]
        super()._backend_apply_gradients(grads, trainable_variables)

    def _apply_weight_decay(self, variables):
        # Weight decay is applied in the update itself, where the gradient
        # says which rows are updated.
        return

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if keras.config.backend() == "torch":
            # PyTorch: every variable of the step at once, with the
            # `torch._foreach_*` kernels of Keras' own PyTorch Adam.
            self._torch_update_step(grads, trainable_variables, learning_rate)
            return
        super()._backend_update_step(grads, trainable_variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        backend = keras.config.backend()
        if backend == "torch":
            self._torch_update_step([gradient], [variable], learning_rate)
            return
        gradient = self._rows(gradient, variable)
        if row_sparse.is_row_sparse(gradient):
            # TensorFlow: a `tf.IndexedSlices` gradient, or the nonzero rows
            # of a table's dense gradient. JAX: a row-sparse BCOO gradient
            # (from a custom training step).
            self._rows_update_step(gradient, variable, learning_rate)
        elif backend == "jax" and self._is_table(variable):
            # JAX: a table's gradient is dense; its all-zero rows were not
            # read (shapes are static, so the update is a masked one).
            self._jax_update_step(gradient, variable, learning_rate)
        else:
            self._decay(variable, learning_rate)
            super().update_step(gradient, variable, learning_rate)

    def _is_table(self, variable):
        # TensorFlow hands `update_step` the `tf.Variable`; the mark is on
        # the Keras variable.
        keras_variable = self._trainable_variables[
            self._get_variable_index(variable)
        ]
        return row_sparse.is_table(keras_variable)

    def _rows(self, gradient, variable):
        """The gradient with duplicate rows summed; a table's dense
        gradient as its nonzero rows (TensorFlow, PyTorch)."""
        gradient = row_sparse.coalesce(gradient)
        if (
            keras.config.backend() != "jax"
            and not row_sparse.is_row_sparse(gradient)
            and len(variable.shape) > 0
            and self._is_table(variable)
        ):
            gradient = row_sparse.nonzero_rows(gradient)
        return gradient

    def _alpha(self, learning_rate, dtype):
        """`lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`, as Keras' Adam."""
        lr = ops.cast(learning_rate, dtype)
        local_step = ops.cast(self.iterations + 1, dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, dtype), local_step)
        beta_2_power = ops.power(ops.cast(self.beta_2, dtype), local_step)
        return lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)

    def _decays(self, variable):
        return self.weight_decay is not None and self._use_weight_decay(
            variable
        )

    def _decay(self, variable, learning_rate):
        """Keras' decoupled weight decay of a whole variable."""
        if self._decays(variable):
            lr = ops.cast(learning_rate, variable.dtype)
            wd = ops.cast(self.weight_decay, variable.dtype)
            self.assign(variable, variable - variable * wd * lr)

    def _moments(self, variable):
        index = self._get_variable_index(variable)
        v_hat = self._velocity_hats[index] if self.amsgrad else None
        return self._momentums[index], self._velocities[index], v_hat

    def _adam_rule(self, gradient, m, v, v_hat, alpha):
        """New `(m, v, v_hat, step)` from tensors, in Keras' Adam's
        arithmetic (`v_hat` is `None` without AMSGrad)."""
        m = ops.add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        v = ops.add(
            v,
            ops.multiply(
                ops.subtract(ops.square(gradient), v), 1 - self.beta_2
            ),
        )
        denominator = v
        if v_hat is not None:
            v_hat = ops.maximum(v_hat, v)
            denominator = v_hat
        step = ops.divide(
            ops.multiply(m, alpha), ops.add(ops.sqrt(denominator), self.epsilon)
        )
        return m, v, v_hat, step

    def _rows_update_step(self, gradient, variable, learning_rate):
        """Adam on the rows of a coalesced row-sparse gradient: the rows of
        the variable and its moments are read, updated and written back;
        no other row is read or written."""
        rows, values = row_sparse.rows_and_values(gradient)
        dtype = variable.dtype
        values = ops.cast(values, dtype)
        m, v, v_hat = self._moments(variable)

        def read(var):
            return row_sparse.read_rows(var, rows)

        def write(var, value):
            row_sparse.write_rows(self, var, rows, value)

        new_m, new_v, new_v_hat, step = self._adam_rule(
            values,
            read(m),
            read(v),
            None if v_hat is None else read(v_hat),
            self._alpha(learning_rate, dtype),
        )
        new_rows = read(variable)
        if self._decays(variable):
            lr = ops.cast(learning_rate, dtype)
            wd = ops.cast(self.weight_decay, dtype)
            new_rows = new_rows - new_rows * wd * lr
        write(m, new_m)
        write(v, new_v)
        if v_hat is not None:
            write(v_hat, new_v_hat)
        write(variable, new_rows - step)

    def _jax_update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        m, v, v_hat = self._moments(variable)
        if len(variable.shape) > 1:
            axes = tuple(range(1, len(variable.shape)))
            read = ops.any(ops.not_equal(gradient, 0), axis=axes, keepdims=True)
        else:
            read = ops.not_equal(gradient, 0)
        new_value = variable.value
        if self._decays(variable):
            lr = ops.cast(learning_rate, dtype)
            wd = ops.cast(self.weight_decay, dtype)
            new_value = new_value - new_value * wd * lr
        new_m, new_v, new_v_hat, step = self._adam_rule(
            gradient,
            m.value,
            v.value,
            None if v_hat is None else v_hat.value,
            self._alpha(learning_rate, dtype),
        )
        self.assign(m, ops.where(read, new_m, m.value))
        self.assign(v, ops.where(read, new_v, v.value))
        if v_hat is not None:
            self.assign(v_hat, ops.where(read, new_v_hat, v_hat.value))
        self.assign(variable, ops.where(read, new_value - step, variable.value))

    def _torch_update_step(self, grads, trainable_variables, learning_rate):
        import torch

        values, gradients, rows, decayed = [], [], [], []
        momentums, velocities, velocity_hats = [], [], []
        for gradient, variable in zip(grads, trainable_variables):
            gradient = self._rows(gradient, variable)
            if row_sparse.is_row_sparse(gradient):
                ids, gradient = row_sparse.rows_and_values(gradient)
                rows.append(ids)
            else:
                rows.append(None)
            gradients.append(ops.cast(gradient, variable.dtype))
            values.append(variable.value)
            decayed.append(self._decays(variable))
            m, v, v_hat = self._moments(variable)
            momentums.append(m.value)
            velocities.append(v.value)
            if v_hat is not None:
                velocity_hats.append(v_hat.value)
        decay_factor = None
        if self.weight_decay is not None:
            decay_factor = 1 - self.weight_decay * (
                self._get_current_learning_rate()
            )
        with torch.no_grad():
            alpha = self._alpha(learning_rate, values[0].dtype)
        row_sparse.torch_adam_step(
            values,
            gradients,
            rows,
            momentums,
            velocities,
            velocity_hats if self.amsgrad else None,
            decayed,
            decay_factor,
            alpha,
            self.beta_1,
            self.beta_2,
            self.epsilon,
        )
