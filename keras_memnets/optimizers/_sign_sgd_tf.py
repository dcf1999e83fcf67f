"""TensorFlow's fused update for `SignSGD` (private).

Keras runs TensorFlow optimizers in a `tf.function` without XLA on CPU, so
`variable - lr * sign(direction)` is three kernels with two temporaries.
Here the SignSGD / Signum step of one large variable (`SignSGD._sign_step`)
runs as a `tf.function(jit_compile=True)`, which XLA fuses into one pass over
the gradient, the momentum and the variable, updated in place. `SignSGD`
mixes this class in on the TensorFlow backend.
"""

import math

import keras
import tensorflow as tf

# Smaller variables keep the `keras.ops` update: XLA compiles once per
# variable shape, which a model with many small variables would pay at its
# first step for no gain.
MIN_COMPILED_SIZE = 65536


class CompiledSignStep(keras.optimizers.Optimizer):
    """Runs `SignSGD._sign_step` of a large variable XLA-compiled."""

    _compiled_sign_step = None

    def _sign_step(self, variable, momentum, gradient, learning_rate):
        if (
            math.prod(variable.shape) < MIN_COMPILED_SIZE
            # Under a multi-replica strategy a mirrored momentum passed into
            # the compiled function does not resolve to the updating
            # replica's copy; Keras' `assign` does.
            or tf.distribute.get_strategy().num_replicas_in_sync > 1
        ):
            return super()._sign_step(
                variable, momentum, gradient, learning_rate
            )
        if self._compiled_sign_step is None:
            # One function per optimizer: a shared one would keep traces
            # that refer to the variables of models already deleted.
            self._compiled_sign_step = tf.function(
                super()._sign_step, jit_compile=True
            )
        self._compiled_sign_step(
            _tf_variable(variable),
            _tf_variable(momentum),
            gradient,
            learning_rate,
        )


def _tf_variable(variable):
    """The `tf.Variable` behind a Keras variable (or the argument as is)."""
    if isinstance(variable, keras.Variable):
        return variable.value
    return variable
