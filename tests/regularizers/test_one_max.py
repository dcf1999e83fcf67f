import keras
import numpy as np
import pytest

from keras_memnets.losses import OneMaxLoss
from keras_memnets.regularizers import OneMax


def _np(t):
    return keras.ops.convert_to_numpy(t)


def test_value_is_weighted_sum_of_one_minus_max():
    p = np.random.default_rng(0).dirichlet(np.ones(5), size=6).astype("float32")
    np.testing.assert_allclose(
        _np(OneMax(0.3)(p)), 0.3 * np.sum(1 - p.max(-1)), rtol=1e-5
    )


def test_as_activity_regularizer_equals_weight_times_loss():
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    layer = keras.layers.Dense(
        4, activation="softmax", activity_regularizer=OneMax(0.7)
    )
    p = layer(x)
    expected = 0.7 * _np(OneMaxLoss()(None, p))
    np.testing.assert_allclose(_np(layer.losses[0]), expected, rtol=1e-5)


def test_gradient_reaches_only_the_max_entry():
    p = keras.ops.convert_to_tensor(np.array([[0.2, 0.5, 0.3]], "float32"))
    if keras.backend.backend() == "jax":
        import jax

        grad = np.asarray(jax.grad(lambda t: OneMax(2.0)(t))(p))
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(p)
            value = OneMax(2.0)(p)
        grad = tape.gradient(value, p).numpy()
    else:
        p = p.clone().requires_grad_(True)
        OneMax(2.0)(p).backward()
        grad = p.grad.numpy()
    np.testing.assert_allclose(grad, [[0.0, -2.0, 0.0]])


@pytest.mark.parametrize("weight,error", [(-1.0, ValueError), ("a", TypeError)])
def test_bad_weight(weight, error):
    with pytest.raises(error, match="OneMax.*weight"):
        OneMax(weight)


def test_batch_of_zero_rows_adds_zero():
    # Before: Keras' max refused the empty batch on TensorFlow and torch.
    value = OneMax(2.0)(np.zeros((0, 3), "float32"))
    assert float(keras.ops.convert_to_numpy(value)) == 0.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="OneMax: `x` must have shape"):
        OneMax()(np.array([0.5, 0.5], "float32"))
    with pytest.raises(ValueError, match="OneMax: `x` must hold probability"):
        OneMax()(np.array([[2.0, 1.0]], "float32"))
