"""SignSGD, Signum, EF-SignSGD and signSGD with majority vote."""

import keras
from keras import ops

from keras_memnets.api_export import PACKAGE
from keras_memnets.api_export import register
from keras_memnets.optimizers._arguments import check_base_arguments
from keras_memnets.optimizers.skip_non_finite import SkipsNonFiniteSteps
from keras_memnets.utils.validation import number_in_range


@register
class SignSGD(SkipsNonFiniteSteps):
    """Sign-based gradient descent: SignSGD, Signum, EF-SignSGD, majority vote.

    Every entry of a variable moves by the learning rate in the direction of
    the sign of its gradient, or of a statistic of it, whatever the
    gradient's magnitude; an entry whose direction is exactly zero does not
    move. The modes, for a variable `w` with gradient `g`:

    - SignSGD (`momentum=0`): `w <- w - lr * sign(g)`.
    - Signum (`momentum=beta > 0`): `m <- beta * m + (1 - beta) * g`, then
      `w <- w - lr * sign(m)`; with `nesterov=True` the sign of
      `beta * m + (1 - beta) * g` with the updated `m`.
    - EF-SignSGD (`error_feedback=True`): `p = lr * g + e`,
      `delta = mean(|p|) * sign(p)`, `e <- p - delta`, `w <- w - delta`.
    - Majority vote (`majority_vote=True`): `g` above is the sign of the sum
      of the replicas' gradient signs. The replicas' own gradients are only
      seen under a `tf.distribute` strategy; with several replicas on the
      other backends the optimizer raises a `ValueError` when it is built.

    A step whose gradients hold a NaN or an infinity is skipped, as
    `keras_memnets.optimizers.SkipNonFiniteOptimizer` skips one: nothing
    changes but the counter `skipped_steps`, which `.keras` files save with
    the momentum or error memory.

    Args:
        learning_rate: float, `keras.optimizers.schedules.LearningRateSchedule`
            or callable. The step size of every entry; a number must be
            finite and `>= 0`. Defaults to `1e-3`.
        momentum: float. Signum's `beta`, in `[0, 1)`; `0` is SignSGD.
            Defaults to `0.0`.
        nesterov: bool. Whether Signum takes the Nesterov look-ahead; needs
            `momentum > 0`. Defaults to `False`.
        error_feedback: bool. Whether to use EF-SignSGD; not with
            `momentum > 0` nor `majority_vote=True`. Defaults to `False`.
        majority_vote: bool. Whether replicas vote with the signs of their
            gradients. Defaults to `False`.
        **kwargs: the base optimizer arguments (`weight_decay`, `clipnorm`,
            `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
            `ema_overwrite_frequency`, `loss_scale_factor`,
            `gradient_accumulation_steps`, `name`).

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
        - Bernstein et al., "signSGD: Compressed Optimisation for Non-Convex
          Problems", ICML 2018 (SignSGD, Signum).
        - Bernstein et al., "signSGD with Majority Vote is Communication
          Efficient and Fault Tolerant", ICLR 2019.
        - Karimireddy et al., "Error Feedback Fixes SignSGD and other
          Gradient Compression Schemes", ICML 2019.
        - The guide *SignSGD* on the docs site.
    """

    def __new__(cls, *args, **kwargs):
        if cls is SignSGD:
            # As Keras' `TorchOptimizer.__new__` maps `Adam` to its torch
            # class (keras/src/backend/torch/optimizers/torch_optimizer.py):
            # the same rules with the backend's fused update.
            cls = _BackendSignSGD
        return super().__new__(cls)

    def __init__(
        self,
        learning_rate=1e-3,
        momentum=0.0,
        nesterov=False,
        error_feedback=False,
        majority_vote=False,
        **kwargs,
    ):
        learning_rate, kwargs = check_base_arguments(
            "SignSGD", learning_rate, kwargs
        )
        super().__init__(learning_rate=learning_rate, **kwargs)
        momentum = number_in_range(
            momentum, "momentum", "SignSGD", 0.0, 1.0, high_inclusive=False
        )
        for name, value in (
            ("nesterov", nesterov),
            ("error_feedback", error_feedback),
            ("majority_vote", majority_vote),
        ):
            if not isinstance(value, bool):
                raise TypeError(
                    f"SignSGD: `{name}` must be a bool, got {value!r}."
                )
        if nesterov and momentum == 0:
            raise ValueError(
                "SignSGD: `nesterov` must be False when `momentum` is 0 (the "
                "look-ahead acts on the momentum), got True."
            )
        if error_feedback and momentum > 0:
            raise ValueError(
                "SignSGD: `momentum` must be 0 with `error_feedback=True` "
                f"(EF-SignSGD or Signum, not both), got {momentum}."
            )
        if error_feedback and majority_vote:
            raise ValueError(
                "SignSGD: `majority_vote` must be False with "
                "`error_feedback=True` (a vote sends only signs, so the error "
                "memory has no magnitude to keep), got True."
            )
        self.momentum = momentum
        self.nesterov = nesterov
        self.error_feedback = error_feedback
        self.majority_vote = majority_vote

    def build(self, var_list):
        if self.built:
            return
        if self.majority_vote:
            _check_replicas_are_visible()
        super().build(var_list)
        self._momentums = []
        self._errors = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        if self.error_feedback:
            self._errors = self.add_optimizer_variables(var_list, "error")

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(_dense(gradient), variable.dtype)
        if self.majority_vote:
            # The sum of the replicas' signs; its sign is the vote (a tie
            # gives 0).
            gradient = ops.sign(gradient)
        index = self._get_variable_index(variable)
        if self.error_feedback:
            error = self._errors[index]
            p = ops.add(ops.multiply(lr, gradient), error)
            delta = ops.multiply(ops.mean(ops.abs(p)), ops.sign(p))
            self.assign(error, ops.subtract(p, delta))
            self.assign_sub(variable, delta)
            return
        momentum = self._momentums[index] if self.momentum > 0 else None
        self._sign_step(variable, momentum, gradient, lr)

    def _sign_step(self, variable, momentum, gradient, learning_rate):
        # SignSGD's (`momentum` is None) or Signum's step of one variable;
        # TensorFlow's class runs it XLA-compiled for large variables.
        direction = gradient
        if momentum is not None:
            beta = ops.cast(self.momentum, variable.dtype)
            new_momentum = beta * momentum + (1.0 - beta) * gradient
            direction = new_momentum
            if self.nesterov:
                direction = beta * new_momentum + (1.0 - beta) * gradient
            self.assign(momentum, new_momentum)
        self.assign_sub(
            variable, ops.multiply(learning_rate, ops.sign(direction))
        )

    def _all_reduce_sum_gradients(self, grads_and_vars):
        # The TensorFlow backend's hook that sums the replicas' gradients in
        # a `tf.distribute` replica context (`TFOptimizer._backend_update_step`
        # in keras/src/backend/tensorflow/optimizer.py; Keras has no public
        # hook before that sum). Majority vote signs each replica's gradient
        # first.
        if not self.majority_vote:
            return super()._all_reduce_sum_gradients(grads_and_vars)
        import tensorflow as tf

        # The gradients are each replica's own only inside `strategy.run` of
        # a strategy with as many replicas as the optimizer's own strategy
        # (`TFOptimizer._distribution_strategy`, captured at construction).
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


# The class that `SignSGD(...)` makes: on TensorFlow and PyTorch the same
# rules with the backend's fused update mixed in; JAX compiles the
# `keras.ops` update itself. Only `SignSGD` itself is mapped: a subclass
# keeps the `keras.ops` update.
if keras.config.backend() == "tensorflow":
    from keras_memnets.optimizers._sign_sgd_tf import CompiledSignStep as _Fused
elif keras.config.backend() == "torch":
    from keras_memnets.optimizers._sign_sgd_torch import (
        ForeachSignUpdate as _Fused,
    )
else:
    _Fused = None

if _Fused is None:
    _BackendSignSGD = SignSGD
else:

    class _BackendSignSGD(_Fused, SignSGD):
        __doc__ = SignSGD.__doc__

    # Saved as `keras_memnets>SignSGD` (class name "SignSGD"), which loads
    # `SignSGD`, and so this backend's class or another backend's, again.
    _BackendSignSGD.__name__ = "SignSGD"
    keras.saving.register_keras_serializable(PACKAGE, "SignSGD")(
        _BackendSignSGD
    )
    register(SignSGD)


def _dense(gradient):
    if keras.config.backend() == "tensorflow":
        # Embedding gradients arrive as `tf.IndexedSlices`, possibly with a
        # row repeated; densify so repeated rows are summed before the sign.
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return tf.convert_to_tensor(gradient)
    return gradient


def _check_replicas_are_visible():
    """Raises unless the optimizer sees each replica's own gradient.

    That is a single device, or TensorFlow with `tf.distribute`.
    `keras.distribution` (JAX) reduces gradients inside the compiled step,
    and `torch.distributed` (e.g. DistributedDataParallel) during the
    backward pass, before `apply`.
    """
    replicas = 1
    distribution = keras.distribution.distribution()
    if distribution is not None:
        replicas = int(distribution.device_mesh.devices.size)
    if keras.config.backend() == "torch":
        import torch.distributed

        if (
            torch.distributed.is_available()
            and torch.distributed.is_initialized()
        ):
            replicas = max(replicas, torch.distributed.get_world_size())
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
