"""Skipping an optimizer step whose gradients are not all finite."""

import keras
from keras import ops

from keras_memnets.api_export import register


class SkipsNonFiniteSteps(keras.optimizers.Optimizer):
    """Base class of the optimizers that skip a step with non-finite gradients.

    `apply` and `stateless_apply` take the step only when every gradient
    entry is finite; otherwise nothing changes (no weight, no optimizer
    state, not `iterations`) but the counter `skipped_steps`. The step is
    `_take_step` / `_take_stateless_step`: this optimizer's own update by
    default (`SignSGD` is built on this class), the inner optimizer's in
    `SkipNonFiniteOptimizer`.
    """

    def build(self, var_list):
        super().build(var_list)
        # "only_first_replica" lets every replica add to it in a replica
        # context, as Keras' own `iterations` counter does.
        self._skipped_steps = self.add_variable(
            shape=(),
            dtype="int",
            initializer="zeros",
            aggregation="only_first_replica",
            name="skipped_steps",
        )

    @property
    def skipped_steps(self):
        """Non-trainable int variable: the steps skipped so far.

        A step is skipped when any gradient holds a NaN or an infinity. The
        value is saved in `.keras` files with the optimizer state. `None`
        until the optimizer is built.
        """
        return getattr(self, "_skipped_steps", None)

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if not self.built and trainable_variables is not None:
            # Built here: variables must not be created in a `cond` branch.
            with keras.name_scope(self.name, caller=self):
                self.build(list(trainable_variables))
        if not self.built or all(g is None for g in grads):
            # Keras raises or warns for these cases itself.
            return self._take_step(grads, trainable_variables)

        def step():
            self._take_step(grads, trainable_variables)

        def skip():
            self._skipped_steps.assign_add(1)

        if keras.config.backend() == "tensorflow":
            return self._tf_apply(grads, trainable_variables, skip)
        finite = _all_finite(grads)
        if _is_jax_tracer(finite):
            self._masked_step(finite, step, trainable_variables)
        elif bool(finite):
            step()
        else:
            skip()

    def _tf_apply(self, grads, trainable_variables, skip):
        import tensorflow as tf

        if (
            tf.distribute.get_strategy().num_replicas_in_sync == 1
            or tf.distribute.in_cross_replica_context()
            or tf.__internal__.distribute.strategy_supports_no_merge_call()
        ):
            # One `tf.cond` (a Python `if` in eager mode). Under a strategy
            # without merge calls (collective all-reduce; TensorFlow's
            # `tf.__internal__` test, as `LossScaleOptimizer._tf_apply` uses
            # it) the flag is all-reduced first, so that every replica takes
            # the same branch.
            ops.cond(
                _all_finite(grads),
                lambda: self._take_step(grads, trainable_variables),
                skip,
            )
            return

        # Under `MirroredStrategy` Keras' `apply` synchronises the replicas
        # with `merge_call`, which may not sit in a `cond` branch taken in a
        # replica context. As `keras.optimizers.LossScaleOptimizer._tf_apply`
        # does (keras/src/optimizers/loss_scale_optimizer.py), the decision
        # is taken in the cross-replica context, from every replica's flag,
        # and the finite branch re-enters each replica.
        def cross_replica(distribution, grads, trainable_variables):
            flags = distribution.extended.call_for_each_replica(
                _all_finite, args=(grads, False)
            )
            finite = tf.reduce_all(
                tf.stack(distribution.experimental_local_results(flags))
            )

            def step_in_replicas():
                distribution.extended.call_for_each_replica(
                    self._take_step, args=(grads, trainable_variables)
                )

            ops.cond(finite, step_in_replicas, skip)

        tf.distribute.get_replica_context().merge_call(
            cross_replica, args=(grads, trainable_variables)
        )

    def _masked_step(self, finite, step, trainable_variables):
        # JAX, traced, but not through `stateless_apply` (a user's own
        # `jax.jit` around a `StatelessScope`): a `lax.cond` whose branches
        # assign variables would leak tracers. The step runs, and every value
        # it may change is kept at its old value where `finite` is false.
        if trainable_variables is None:
            trainable_variables = self._built_variables()
        state = [
            v
            for v in list(trainable_variables) + self.variables
            if v is not self._skipped_steps
        ]
        old = [v.value for v in state]
        step()
        for variable, old_value in zip(state, old):
            variable.assign(ops.where(finite, variable.value, old_value))
        skipped = ops.cast(ops.logical_not(finite), self._skipped_steps.dtype)
        self._skipped_steps.assign_add(skipped)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        if keras.config.backend() == "tensorflow" or not self.built:
            # Keras' own errors: no `stateless_apply` on TensorFlow, or not
            # built yet.
            return super().stateless_apply(
                optimizer_variables, grads, trainable_variables
            )
        # Values, also where a caller passes variables (as
        # `LossScaleOptimizer.stateless_apply` does inside its scope).
        optimizer_variables = [
            ops.convert_to_tensor(v) for v in optimizer_variables
        ]
        trainable_variables = [
            ops.convert_to_tensor(v) for v in trainable_variables
        ]
        if len(optimizer_variables) != len(self.variables):
            raise ValueError(
                f"{self.__class__.__name__}: `optimizer_variables` must hold "
                f"one value per optimizer variable ({len(self.variables)}), "
                f"got {len(optimizer_variables)}."
            )

        # As in `keras.optimizers.LossScaleOptimizer.stateless_apply`: one
        # `cond` (a `lax.cond` in JAX's compiled train step) chooses between
        # the whole step and a branch that returns every value unchanged but
        # the counter.
        def step():
            return self._take_stateless_step(
                optimizer_variables, grads, trainable_variables
            )

        def skip():
            mapping = list(zip(self.variables, optimizer_variables))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                self._skipped_steps.assign_add(1)
            return trainable_variables, [
                scope.get_current_value(v) for v in self.variables
            ]

        return ops.cond(_all_finite(grads), step, skip)

    def _built_variables(self):
        # The model variables `build` saw, in order. Keras keeps them in
        # `BaseOptimizer._trainable_variables` (set in `build`, read by
        # `stateless_apply`: keras/src/optimizers/base_optimizer.py; read by
        # `LossScaleOptimizer` too); a copy in an attribute of ours would be
        # tracked as optimizer variables.
        return self._trainable_variables

    def _take_step(self, grads, trainable_variables=None):
        return super().apply(grads, trainable_variables)

    def _take_stateless_step(
        self, optimizer_variables, grads, trainable_variables
    ):
        # Keras' `stateless_apply`, around `_take_step` instead of `apply`.
        model_variables = self._built_variables()
        mapping = list(zip(model_variables, trainable_variables))
        mapping += list(zip(self.variables, optimizer_variables))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            self._take_step(grads)
        return (
            [scope.get_current_value(v) for v in model_variables],
            [scope.get_current_value(v) for v in self.variables],
        )


@register
class SkipNonFiniteOptimizer(SkipsNonFiniteSteps):
    """Wraps an optimizer so that a step with non-finite gradients is skipped.

    A step whose gradients hold any NaN or infinity changes nothing: no
    weight, no state of the inner optimizer (moments, EMA weights, gradient
    accumulators) and not `iterations`. The non-trainable int counter
    `skipped_steps` counts it instead and is saved in `.keras` files with the
    inner optimizer's variables; every other step is the inner optimizer's.
    Under a multi-replica `tf.distribute` strategy all replicas skip when any
    replica's gradients are not finite. `keras.optimizers.LossScaleOptimizer`
    skips such steps too, to lower its loss scale; it may wrap this wrapper
    but not be wrapped by it.

    Args:
        inner_optimizer: `keras.optimizers.Optimizer`, or a name or config
            that `keras.optimizers.get` accepts. The optimizer whose steps
            are taken.
        name: str or None. The name of the wrapper.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> import keras_memnets
    >>> optimizer = keras_memnets.optimizers.SkipNonFiniteOptimizer(
    ...     keras.optimizers.SGD(learning_rate=0.1)
    ... )
    >>> w = keras.Variable(np.array([1.0, 1.0], "float32"))
    >>> optimizer.apply([keras.ops.array([np.nan, 2.0])], [w])
    >>> keras.ops.convert_to_numpy(w)
    array([1., 1.], dtype=float32)
    >>> optimizer.apply([keras.ops.array([1.0, 2.0])], [w])
    >>> keras.ops.convert_to_numpy(w)
    array([0.9, 0.8], dtype=float32)
    >>> int(keras.ops.convert_to_numpy(optimizer.skipped_steps))
    1
    >>> int(keras.ops.convert_to_numpy(optimizer.iterations))
    1

    Reference:
        The guide *SignSGD* on the docs site (section "Non-finite
        gradients").
    """

    def __init__(self, inner_optimizer, name=None):
        inner_optimizer = _get_optimizer(inner_optimizer)
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer

    def build(self, var_list):
        if self.built:
            return
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        own = [self._skipped_steps] if self.built else []
        return own + self.inner_optimizer.variables

    def _take_step(self, grads, trainable_variables=None):
        self.inner_optimizer.apply(grads, trainable_variables)

    def _take_stateless_step(
        self, optimizer_variables, grads, trainable_variables
    ):
        trainable_variables, inner_variables = (
            self.inner_optimizer.stateless_apply(
                optimizer_variables[1:], grads, trainable_variables
            )
        )
        return list(trainable_variables), optimizer_variables[:1] + list(
            inner_variables
        )

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        # Not `super().get_config()`: the wrapper has no update of its own,
        # so the base optimizer arguments belong to the inner optimizer.
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(
                self.inner_optimizer
            ),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner_optimizer = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        return cls(inner_optimizer, **config)


def _get_optimizer(identifier):
    owner = "SkipNonFiniteOptimizer"
    expected = "a keras.optimizers.Optimizer, a name or a config"
    if not isinstance(identifier, keras.optimizers.Optimizer):
        if not isinstance(identifier, (str, dict)):
            raise TypeError(
                f"{owner}: `inner_optimizer` must be {expected}, "
                f"got {identifier!r}."
            )
        try:
            identifier = keras.optimizers.get(identifier)
        except ValueError as error:
            raise ValueError(
                f"{owner}: `inner_optimizer` must be {expected}, "
                f"got {identifier!r}."
            ) from error
    if isinstance(identifier, keras.optimizers.LossScaleOptimizer):
        raise ValueError(
            f"{owner}: `inner_optimizer` must not be a LossScaleOptimizer "
            "(it must see non-finite steps to lower its loss scale; wrap this "
            f"optimizer in it instead), got {identifier!r}."
        )
    return identifier


def _all_finite(grads, across_replicas=True):
    """A scalar bool tensor: whether every gradient entry is finite.

    A float sum per gradient (one read, no boolean tensor), and the exact
    check only when a sum is not finite, which a sum of large finite entries
    can also be by overflowing; `ops.cond` runs one branch, so a finite step
    pays for the sums alone. In a replica context of a multi-replica
    `tf.distribute` strategy, with `across_replicas=True`, the flag is
    reduced over the replicas, so that all replicas take the same decision.
    """
    grads = [_entries(g) for g in grads if g is not None]
    sums = ops.stack(
        [
            ops.sum(ops.cast(g, "float32") if g.dtype != "float64" else g)
            for g in grads
        ]
    )

    def exact():
        return ops.all(ops.stack([ops.all(ops.isfinite(g)) for g in grads]))

    finite = ops.cond(
        ops.all(ops.isfinite(sums)), lambda: ops.convert_to_tensor(True), exact
    )
    if across_replicas and keras.config.backend() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        strategy = tf.distribute.get_strategy()
        if context is not None and strategy.num_replicas_in_sync > 1:
            bad = context.all_reduce(
                tf.distribute.ReduceOp.SUM,
                tf.cast(tf.logical_not(finite), tf.float32),
            )
            finite = tf.equal(bad, 0.0)
    return finite


def _entries(gradient):
    """The gradient's entries as a tensor (a `tf.IndexedSlices`' values)."""
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return gradient.values
    return ops.convert_to_tensor(gradient)


def _is_jax_tracer(value):
    if keras.config.backend() != "jax":
        return False
    import jax

    return isinstance(value, jax.core.Tracer)
