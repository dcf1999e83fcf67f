"""SignSGD, Signum, EF-SignSGD and signSGD with majority vote."""

import math

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.validation import number_in_range


@register
class SignSGD(keras.optimizers.Optimizer):
    """Sign-based gradient descent: SignSGD, Signum, EF-SignSGD, majority vote.

    Every parameter moves by the same step size in the direction of the sign
    of its gradient (or of a statistic of it), whatever the gradient's
    magnitude. `ops.sign(0)` is `0`, so a parameter whose gradient (or
    momentum, or error-corrected step) is exactly zero does not move. The
    modes, for a parameter `w` with gradient `g` and learning rate `lr`:

    - `momentum=0` (SignSGD): `w <- w - lr * sign(g)`.
    - `momentum=beta > 0` (Signum): `m <- beta * m + (1 - beta) * g`, then
      `w <- w - lr * sign(m)`. With `nesterov=True` the step is
      `sign(beta * m + (1 - beta) * g)` with the already updated `m`.
    - `error_feedback=True` (EF-SignSGD): `p = lr * g + e`,
      `delta = (||p||_1 / d) * sign(p)` with `d` the number of entries of
      `w`, `e <- p - delta`, `w <- w - delta`. The step keeps the mean
      magnitude of `p`, and the error memory `e` carries what the sign
      dropped into the next step.
    - `majority_vote=True`: in data-parallel training each replica's
      gradient is reduced to its sign *before* the cross-replica sum, and
      the update uses `vote = sign(sum_r sign(g_r))` in place of `g`:
      `w <- w - lr * vote`, or with `momentum=beta`,
      `m <- beta * m + (1 - beta) * vote`, `w <- w - lr * sign(m)`. The
      momentum is kept on the voted direction, identically on every
      replica, so the down-link stays one bit per entry; this differs from
      Bernstein et al. (2019, Algorithm 1), whose workers each keep their
      own momentum and vote on its sign.

    Weight decay (`weight_decay`) is decoupled and applied by the Keras base
    class before the step: `w <- w - lr * weight_decay * w`, skipping the
    variables named in `exclude_from_weight_decay()`. Gradient clipping
    (`clipnorm`, `clipvalue`, `global_clipnorm`) is applied to `g` before
    everything above; it never changes a sign, so it only matters for the
    momentum and error-feedback modes, where magnitudes are accumulated.

    Majority vote needs the gradients of each replica before they are
    summed. The TensorFlow backend exposes them under every
    `tf.distribute` strategy that all-reduces in a replica context
    (`MirroredStrategy`, `MultiWorkerMirroredStrategy`), and the vote is
    implemented there; applying gradients outside `strategy.run` of a
    multi-replica strategy raises a `ValueError`, since those gradients are
    no longer each replica's own. The JAX backend (`keras.distribution`)
    and the PyTorch backend (`torch.distributed`) hand the optimizer
    gradients that are already averaged over replicas, so when
    `majority_vote=True` meets more than one replica on those backends the
    optimizer raises a `ValueError` when it is built (first `apply`)
    instead of silently averaging. With a single replica, every backend
    accepts `majority_vote=True`: the vote of one replica is the sign of its
    gradient, so with `momentum=0` it trains exactly like
    `majority_vote=False`, and with momentum the momentum accumulates
    `sign(g)` instead of `g`.

    Non-finite gradients: a step whose gradients hold any NaN or infinity
    is skipped on every backend, as `keras.optimizers.LossScaleOptimizer`
    skips one: no weight and no optimizer state changes (not the
    momentum, the error memory, the EMA weights, the gradient accumulators
    or `iterations`), and the non-trainable int counter `skipped_steps` is
    incremented instead. Read it as
    `int(keras.ops.convert_to_numpy(optimizer.skipped_steps))`, e.g. in a
    callback that logs it; it is saved in `.keras` files with the other
    optimizer variables. Under a multi-replica `tf.distribute` strategy
    all replicas skip if any replica's gradient is non-finite.

    The optimizer variables (`momentum` when `momentum > 0`, `error` when
    `error_feedback=True`, one per trainable variable, in the model's
    variable order) are created deterministically, so a `.keras` file
    restores them and training resumed from it continues exactly as
    uninterrupted training would.

    Args:
        learning_rate: float, `keras.optimizers.schedules.LearningRateSchedule`
            or callable. The step size of every parameter, a finite number
            `>= 0`. Sign updates are as large as the learning rate in every
            entry, so it is typically 10 to 100 times smaller than for SGD.
            Defaults to `1e-3`.
        momentum: float. The momentum coefficient `beta`, in `[0, 1)`. `0`
            is SignSGD, larger values Signum. Defaults to `0.0`.
        nesterov: bool. Whether to take the sign of the Nesterov look-ahead
            `beta * m + (1 - beta) * g`; needs `momentum > 0`. Defaults to
            `False`.
        error_feedback: bool. Whether to use EF-SignSGD (scaled sign plus an
            error memory). Cannot be combined with `momentum > 0` or
            `majority_vote=True`. Defaults to `False`.
        majority_vote: bool. Whether replicas vote with the signs of their
            gradients (see above). Cannot be combined with
            `error_feedback=True`. Defaults to `False`.
        **kwargs: the Keras base optimizer arguments: `weight_decay`,
            `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`,
            `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor`,
            `gradient_accumulation_steps`, `name`.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> import keras_memnets
    >>> optimizer = keras_memnets.optimizers.SignSGD(learning_rate=0.1)
    >>> w = keras.Variable(np.array([1.0, 1.0, 1.0], "float32"))
    >>> optimizer.apply([np.array([0.5, -3.0, 0.0], "float32")], [w])
    >>> keras.ops.convert_to_numpy(w)
    array([0.9, 1.1, 1. ], dtype=float32)
    >>> optimizer.apply([np.array([np.nan, 1.0, 1.0], "float32")], [w])
    >>> keras.ops.convert_to_numpy(w)  # the step was skipped
    array([0.9, 1.1, 1. ], dtype=float32)
    >>> int(keras.ops.convert_to_numpy(optimizer.skipped_steps))
    1
    >>> signum = keras_memnets.optimizers.SignSGD(1e-3, momentum=0.9)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=signum, loss="mse")

    Reference:
        The guide `docs/guides/sign_sgd.rst` (update rules, modes, speed);
        Bernstein et al., "signSGD: Compressed Optimisation for Non-Convex
        Problems", ICML 2018 (SignSGD, Signum); Bernstein et al., "signSGD
        with Majority Vote is Communication Efficient and Fault Tolerant",
        ICLR 2019; Karimireddy et al., "Error Feedback Fixes SignSGD and
        other Gradient Compression Schemes", ICML 2019.
    """

    # On TensorFlow, the SignSGD / Signum update of each variable of at
    # least `_TF_COMPILED_MIN_SIZE` entries is one XLA-compiled function
    # (`_sign_sgd_tf`); the benchmark's "before" variant turns it off.
    _tf_compiled_update = True

    def __init__(
        self,
        learning_rate=1e-3,
        momentum=0.0,
        nesterov=False,
        error_feedback=False,
        majority_vote=False,
        **kwargs,
    ):
        if not isinstance(
            learning_rate, keras.optimizers.schedules.LearningRateSchedule
        ) and not callable(learning_rate):
            # Keras only checks that the learning rate is a float; a negative
            # one would silently ascend the loss.
            learning_rate = _non_negative(learning_rate, "learning_rate")
        for arg_name in (
            "weight_decay",
            "clipnorm",
            "clipvalue",
            "global_clipnorm",
        ):
            if kwargs.get(arg_name) is not None:
                kwargs[arg_name] = _non_negative(kwargs[arg_name], arg_name)
        super().__init__(learning_rate=learning_rate, **kwargs)
        momentum = number_in_range(
            momentum, "momentum", "SignSGD", 0.0, 1.0, high_inclusive=False
        )
        for arg_name, value in (
            ("nesterov", nesterov),
            ("error_feedback", error_feedback),
            ("majority_vote", majority_vote),
        ):
            if not isinstance(value, bool):
                raise TypeError(
                    f"SignSGD: `{arg_name}` must be a bool. "
                    f"Received: {arg_name}={value!r}"
                )
        if nesterov and momentum == 0:
            raise ValueError(
                "SignSGD: `nesterov=True` needs `momentum > 0` (Nesterov "
                "look-ahead is defined on the momentum). Received: "
                f"momentum={momentum!r}"
            )
        if error_feedback and momentum > 0:
            raise ValueError(
                "SignSGD: `error_feedback=True` (EF-SignSGD) cannot be "
                "combined with `momentum > 0`; choose one of EF-SignSGD or "
                f"Signum. Received: momentum={momentum!r}"
            )
        if error_feedback and majority_vote:
            raise ValueError(
                "SignSGD: `error_feedback=True` cannot be combined with "
                "`majority_vote=True`: the vote sends only signs, so there "
                "is no magnitude for the error memory to correct."
            )
        self.momentum = float(momentum)
        self.nesterov = nesterov
        self.error_feedback = error_feedback
        self.majority_vote = majority_vote

    def build(self, variables):
        if self.built:
            return
        if self.majority_vote:
            self._check_majority_vote_is_possible()
        super().build(variables)
        # Counts the steps skipped for a non-finite gradient. An optimizer
        # variable, so `.keras` files save it with the rest of the state;
        # "only_first_replica" lets every replica increment it in a replica
        # context, as Keras' own `iterations` counter does.
        self._skipped_steps = self.add_variable(
            shape=(),
            dtype="int",
            initializer="zeros",
            aggregation="only_first_replica",
            name="skipped_steps",
        )
        self._momentums = []
        self._errors = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(
                variables, "momentum"
            )
        if self.error_feedback:
            self._errors = self.add_optimizer_variables(variables, "error")

    def _check_majority_vote_is_possible(self):
        replicas = _replicas_hidden_from_optimizer()
        if replicas > 1:
            raise ValueError(
                "SignSGD(majority_vote=True) needs each replica's gradient "
                f"before the cross-replica reduction, but on the "
                f"{keras.config.backend()} backend the {replicas} replicas "
                "of this run hand the optimizer gradients that are already "
                "averaged. Train with the TensorFlow backend and a "
                "`tf.distribute` strategy (e.g. MirroredStrategy), or use "
                "`majority_vote=False`."
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
            # Built here (not inside the base `apply`) because the
            # finiteness check below must not create variables inside a
            # conditional branch.
            with keras.name_scope(self.name, caller=self):
                self.build(list(trainable_variables))
        if not self.built or not any(g is not None for g in grads):
            # The base class raises its own clear errors for these cases.
            return super().apply(grads, trainable_variables)

        def step():
            self._apply_unchecked(grads, trainable_variables)

        def skip():
            self._skipped_steps.assign_add(1)

        backend = keras.config.backend()
        if backend == "jax":
            if getattr(self, "_finiteness_checked", False):
                # Inside the finite branch of `stateless_apply` below.
                step()
                return
            finite = _all_finite(grads)
            if isinstance(finite, _jax_tracer_type()):
                # Traced, but not through `stateless_apply` (a user's own
                # `jax.jit` around a `StatelessScope`).
                self._jax_masked_apply(finite, step, trainable_variables)
            elif bool(finite):
                step()
            else:
                skip()
        elif backend == "tensorflow":
            self._tf_apply(grads, trainable_variables, step, skip)
        else:
            # torch: a Python `if` on the flag.
            ops.cond(_all_finite(grads), step, skip)

    def _tf_apply(self, grads, trainable_variables, step, skip):
        import tensorflow as tf

        strategy = tf.distribute.get_strategy()
        if (
            strategy.num_replicas_in_sync == 1
            or tf.distribute.in_cross_replica_context()
            or tf.__internal__.distribute.strategy_supports_no_merge_call()
        ):
            # One `tf.cond` (a Python `if` in eager mode). Under a strategy
            # without merge calls (collective all-reduce) the flag is
            # all-reduced first, so that every replica takes the same branch.
            ops.cond(_all_finite(grads), step, skip)
            return

        # Under `MirroredStrategy` the base `apply` synchronises replicas with
        # `merge_call`, which may not sit in a `tf.cond` branch taken in a
        # replica context. As `keras.optimizers.LossScaleOptimizer` does, the
        # decision is taken in the cross-replica context, from the flags of
        # all replicas, and the finite branch re-enters each replica.
        def cross_replica(distribution, grads, trainable_variables):
            flags = distribution.extended.call_for_each_replica(
                _all_finite, args=(grads, False)
            )
            finite = tf.reduce_all(
                tf.stack(distribution.experimental_local_results(flags))
            )

            def step_in_replicas():
                distribution.extended.call_for_each_replica(
                    self._apply_unchecked,
                    args=(grads, trainable_variables),
                )

            ops.cond(finite, step_in_replicas, skip)

        tf.distribute.get_replica_context().merge_call(
            cross_replica, args=(grads, trainable_variables)
        )

    def _apply_unchecked(self, grads, trainable_variables=None):
        # The base class's `apply`, without the finiteness check.
        return super().apply(grads, trainable_variables)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        if keras.config.backend() != "jax" or not self.built:
            return super().stateless_apply(
                optimizer_variables, grads, trainable_variables
            )
        # JAX's trainers call this inside the compiled train step. As
        # `keras.optimizers.LossScaleOptimizer` does, one `ops.cond` (a
        # `lax.cond`) chooses between the whole stateless step and a branch
        # that returns every value unchanged but the skipped-step counter.
        optimizer_variables = list(optimizer_variables)
        trainable_variables = list(trainable_variables)

        def step():
            self._finiteness_checked = True
            try:
                return super(SignSGD, self).stateless_apply(
                    optimizer_variables, grads, trainable_variables
                )
            finally:
                self._finiteness_checked = False

        def skip():
            mapping = list(zip(self.variables, optimizer_variables))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                self._skipped_steps.assign_add(1)
            return trainable_variables, [
                scope.get_current_value(v) for v in self.variables
            ]

        return ops.cond(_all_finite(grads), step, skip)

    def _jax_masked_apply(self, finite, step, trainable_variables):
        # Under a `jax.jit` that does not go through `stateless_apply`, a
        # `lax.cond` whose branches assign variables would leak tracers.
        # Instead the step runs and every value it may change (the model's
        # trainable variables and all optimizer variables) is kept at its
        # old value where the flag is false (slower: the old values stay
        # alive beside the new ones).
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
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

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if keras.config.backend() == "torch" and not self.error_feedback:
            # The torch backend runs the generic per-variable `update_step`
            # as separate eager kernels; Keras' own torch SGD and Adam use
            # `torch._foreach_*` kernels over all variables at once. This is
            # the same update rule as `update_step`, written that way.
            return self._torch_foreach_update_step(
                grads, trainable_variables, learning_rate
            )
        return super()._backend_update_step(
            grads, trainable_variables, learning_rate
        )

    def _torch_foreach_update_step(self, grads, trainable_variables, lr):
        from keras_memnets.optimizers import _sign_sgd_torch

        momentums = (
            [
                self._momentums[self._get_variable_index(v)].value
                for v in trainable_variables
            ]
            if self.momentum > 0
            else []
        )
        if getattr(self, "_torch_scratch", None) is None:
            # Plain torch tensors, not optimizer variables: scratch space
            # for the signs (one float per parameter), never saved.
            self._torch_scratch = _Scratch(self._trainable_variables)
        _sign_sgd_torch.sign_update(
            [v.value for v in trainable_variables],
            [ops.cast(g, v.dtype) for g, v in zip(grads, trainable_variables)],
            momentums,
            [
                self._torch_scratch.buffers[self._get_variable_index(v)]
                for v in trainable_variables
            ],
            float(ops.convert_to_numpy(lr)),
            self.momentum,
            self.nesterov,
            self.majority_vote,
        )

    def update_step(self, gradient, variable, learning_rate):
        gradient = _dense(gradient)
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        if self.majority_vote:
            # The gradient is the sum of the replicas' signs; its sign is the
            # vote (a tie gives 0).
            gradient = ops.sign(gradient)

        if self.error_feedback:
            error = self._errors[index]
            p = ops.add(ops.multiply(lr, gradient), error)
            scale = ops.mean(ops.abs(p))
            delta = ops.multiply(scale, ops.sign(p))
            self.assign(error, ops.subtract(p, delta))
            self.assign_sub(variable, delta)
            return

        if (
            self._tf_compiled_update
            and math.prod(variable.shape) >= _TF_COMPILED_MIN_SIZE
            and _tf_single_replica()
        ):
            if getattr(self, "_tf_update", None) is None:
                from keras_memnets.optimizers import _sign_sgd_tf

                self._tf_update = _sign_sgd_tf.make_update()
            momentum = None
            if self.momentum > 0:
                momentum = _tf_variable(self._momentums[index])
            self._tf_update(
                _tf_variable(variable),
                momentum,
                gradient,
                lr,
                ops.cast(self.momentum, variable.dtype),
                self.nesterov,
            )
            return

        if self.momentum > 0:
            m = self._momentums[index]
            beta = ops.cast(self.momentum, variable.dtype)
            new_m, direction = _signum_direction(
                m, gradient, beta, self.nesterov
            )
            self.assign(m, new_m)
        else:
            direction = gradient
        self.assign_sub(variable, ops.multiply(lr, ops.sign(direction)))

    def _all_reduce_sum_gradients(self, grads_and_vars):
        # Only the TensorFlow backend's optimizer (TFOptimizer) has and calls
        # this method: it sums the replicas' gradients in the replica context
        # of a `tf.distribute` strategy. Majority vote replaces each
        # replica's gradient by its sign before that sum.
        if not self.majority_vote:
            return super()._all_reduce_sum_gradients(grads_and_vars)
        import tensorflow as tf

        # The optimizer's own strategy (captured at construction) or the
        # current one may have several replicas; the gradients are only each
        # replica's own inside `strategy.run` of a strategy with that many.
        current = tf.distribute.get_strategy().num_replicas_in_sync
        replicas = max(
            current, self._distribution_strategy.num_replicas_in_sync
        )
        in_replica_context = (
            tf.distribute.get_replica_context() is not None
            and current == replicas
        )
        if replicas > 1 and not in_replica_context:
            raise ValueError(
                "SignSGD(majority_vote=True) must be applied in a replica "
                "context (inside `strategy.run`, as `model.fit` does), where "
                "each replica's gradient is still its own."
            )
        signed = [
            (None if g is None else tf.sign(_dense(g)), v)
            for g, v in grads_and_vars
        ]
        return super()._all_reduce_sum_gradients(signed)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "nesterov": self.nesterov,
                "error_feedback": self.error_feedback,
                "majority_vote": self.majority_vote,
            }
        )
        return config


class _Scratch:
    """Holds torch tensors shaped like the variables (kept out of Keras'
    variable tracking on purpose)."""

    def __init__(self, variables):
        import torch

        self.buffers = [torch.empty_like(v.value) for v in variables]


# Smaller variables keep the `keras.ops` update: XLA compiles once per
# variable shape (about 0.1 s each on 2 CPU cores), which a model with many
# small variables would pay at its first step for no measurable gain.
_TF_COMPILED_MIN_SIZE = 65536


def _tf_single_replica():
    """Whether this is TensorFlow outside a multi-replica `tf.distribute`
    strategy, where `_sign_sgd_tf`'s compiled update is used. Under
    `MirroredStrategy` a mirrored momentum variable passed into the compiled
    function does not resolve to the updating replica's copy, so there the
    update stays in `keras.ops` (Keras' `assign` resolves it)."""
    if keras.config.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync == 1


def _tf_variable(variable):
    """The `tf.Variable` behind a Keras variable (as Keras' TF optimizer
    unwraps it in `assign`); a `tf.Variable` is returned as is."""
    if isinstance(variable, keras.Variable):
        return variable.value
    return variable


def _signum_direction(momentum, gradient, beta, nesterov):
    """Signum's rule: returns `(new_momentum, direction)`, whose sign is
    the step. Plain arithmetic, so that the `keras.ops` update and
    TensorFlow's compiled one (`_sign_sgd_tf`) share it."""
    new_momentum = beta * momentum + (1.0 - beta) * gradient
    if nesterov:
        return new_momentum, beta * new_momentum + (1.0 - beta) * gradient
    return new_momentum, new_momentum


def _jax_tracer_type():
    import jax

    return jax.core.Tracer


def _non_negative(value, argument):
    # A finite number >= 0 (infinity is refused too).
    return number_in_range(
        value, argument, "SignSGD", 0.0, math.inf, high_inclusive=False
    )


def _all_finite(grads, across_replicas=True):
    """A scalar bool tensor: whether every gradient entry is finite.

    A float sum per gradient (one read, no boolean tensor; XLA:CPU reduces
    `all(isfinite(g))` about three times as slowly), and the exact check
    only when a sum is not finite, which a sum of large finite entries can
    also be by overflowing. `ops.cond` runs one branch (a Python `if` on
    PyTorch), so a finite step pays for the sums alone. In a replica
    context of a multi-replica `tf.distribute` strategy, with
    `across_replicas=True`, the flag is reduced over the replicas, so that
    all replicas take the same decision.
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


def _dense(gradient):
    if keras.config.backend() == "tensorflow":
        # Embedding gradients arrive as `tf.IndexedSlices`, possibly with a
        # row repeated; densify so repeated rows are summed before the sign.
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return tf.convert_to_tensor(gradient)
    return gradient


def _replicas_hidden_from_optimizer():
    """Number of replicas whose gradients are reduced before `apply`.

    Returns 1 where the optimizer sees each replica's own gradient (a single
    device, or TensorFlow with `tf.distribute`).
    """
    replicas = 1
    distribution = keras.distribution.distribution()
    if distribution is not None:
        # `keras.distribution` (JAX; a prototype on TensorFlow) shards the
        # batch and reduces gradients inside the compiled step.
        replicas = max(replicas, int(distribution.device_mesh.devices.size))
    if keras.config.backend() == "torch":
        # Under torch.distributed (e.g. DistributedDataParallel) gradients
        # are all-reduced during the backward pass.
        import torch.distributed

        if (
            torch.distributed.is_available()
            and torch.distributed.is_initialized()
        ):
            replicas = max(replicas, torch.distributed.get_world_size())
    return replicas
