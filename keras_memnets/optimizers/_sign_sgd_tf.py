"""The TensorFlow backend's compiled update for `SignSGD` (private).

Keras runs TensorFlow optimizers in a `tf.function` without XLA on CPU, so
`variable - lr * sign(direction)` is three kernels with two temporaries
(sign, scale, subtract), where Keras' SGD needs two. Here one variable's
update is a `tf.function(jit_compile=True)`: XLA fuses it into one pass over
the gradient, the momentum and the variable (TF-XLA updates resource
variables in place). It is used outside multi-replica `tf.distribute`
strategies only (see `sign_sgd._tf_single_replica`). Each optimizer makes
its own compiled function (`make_update`): a function shared by all optimizers
would keep traces that refer to the variables of models already deleted.
JAX compiles the `keras.ops` code itself and PyTorch has `_sign_sgd_torch`.
"""

import tensorflow as tf

from keras_memnets.optimizers.sign_sgd import _signum_direction


def _update(variable, momentum, gradient, learning_rate, beta, nesterov):
    if momentum is None:
        direction = gradient
    else:
        new_momentum, direction = _signum_direction(
            momentum, gradient, beta, nesterov
        )
        momentum.assign(new_momentum)
    variable.assign_sub(learning_rate * tf.sign(direction))


def make_update():
    """A new compiled update: `update(variable, momentum, gradient,
    learning_rate, beta, nesterov)` does one SignSGD / Signum step of one
    variable in place.

    Args (of the returned function):
        variable: the `tf.Variable` to update.
        momentum: its momentum `tf.Variable`, or `None` for SignSGD.
        gradient: dense gradient tensor in the variable's dtype.
        learning_rate: scalar tensor in the variable's dtype.
        beta: scalar tensor in the variable's dtype, the momentum
            coefficient (unused without momentum).
        nesterov: bool.
    """
    return tf.function(_update, jit_compile=True)
