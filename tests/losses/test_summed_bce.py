"""SummedBinaryCrossentropy against a numpy formula."""

import re

import keras
import numpy as np
import pytest

from keras_memnets.analysis import bce_floor
from keras_memnets.losses import SummedBinaryCrossentropy

EPS = 1e-7


def numpy_summed_bce(y, p, weights=None):
    p = np.clip(p.astype("float64"), EPS, 1 - EPS)
    y = y.astype("float64")
    per_example = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(axis=-1)
    if weights is not None:
        per_example = per_example * weights
    return per_example.mean()


def test_matches_numpy_on_probabilities():
    rng = np.random.default_rng(0)
    y = rng.random((16, 784)).astype("float32")
    p = rng.random((16, 784)).astype("float32")
    value = float(SummedBinaryCrossentropy()(y, p))
    np.testing.assert_allclose(value, numpy_summed_bce(y, p), rtol=1e-5)
    # 784 times Keras' per-feature mean.
    keras_mean = float(keras.losses.BinaryCrossentropy()(y, p))
    np.testing.assert_allclose(value, 784 * keras_mean, rtol=1e-5)


def test_matches_numpy_on_logits_and_sample_weight():
    rng = np.random.default_rng(1)
    y = rng.random((6, 3, 5)).astype("float32")
    logits = rng.normal(size=(6, 3, 5)).astype("float32")
    weights = rng.random((6, 3)).astype("float32")
    value = float(
        SummedBinaryCrossentropy(from_logits=True)(y, logits, weights)
    )
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    expected = (
        -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(-1) * weights
    ).mean()
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_reduction_sum_and_none():
    rng = np.random.default_rng(2)
    y = rng.random((4, 7)).astype("float32")
    p = rng.random((4, 7)).astype("float32")
    per = keras.ops.convert_to_numpy(
        SummedBinaryCrossentropy(reduction=None)(y, p)
    )
    assert per.shape == (4,)
    np.testing.assert_allclose(per.mean(), numpy_summed_bce(y, p), rtol=1e-5)
    total = float(SummedBinaryCrossentropy(reduction="sum")(y, p))
    np.testing.assert_allclose(total, per.sum(), rtol=1e-5)


def test_loss_of_perfect_reconstruction_is_the_floor():
    rng = np.random.default_rng(3)
    x = rng.random((32, 50)).astype("float32")
    x[:, :10] = 0.0
    x[:, 10:15] = 1.0
    value = float(SummedBinaryCrossentropy()(x, x))
    # Clipping adds at most ~1e-7 nats per saturated pixel; float32 sums.
    np.testing.assert_allclose(value, bce_floor(x), rtol=1e-5, atol=1e-4)


def test_config_round_trip():
    loss = SummedBinaryCrossentropy(from_logits=True, name="rec")
    clone = SummedBinaryCrossentropy.from_config(loss.get_config())
    assert clone.from_logits and clone.name == "rec"


def test_bad_from_logits():
    with pytest.raises(TypeError, match="SummedBinaryCrossentropy"):
        SummedBinaryCrossentropy(from_logits="yes")


MESSAGE = "SummedBinaryCrossentropy: `y_true` must hold targets in [0, 1]"


@pytest.mark.parametrize("scale", [255.0, -1.0, np.nan])
def test_targets_outside_zero_one_raise_eagerly(scale):
    # Before: 0-255 targets gave a plausible number on TensorFlow and JAX
    # and a raw torch error on PyTorch.
    y = np.array([[0.0, 0.5, 1.0]], "float32") * np.float32(scale)
    p = np.array([[0.2, 0.5, 0.9]], "float32")
    with pytest.raises(ValueError, match=re.escape(MESSAGE)):
        SummedBinaryCrossentropy()(y, p)


def test_targets_outside_zero_one_fail_the_compiled_step():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(3, activation="sigmoid")]
    )
    model.compile("sgd", SummedBinaryCrossentropy())
    x = np.ones((4, 3), "float32")
    y = np.full((4, 3), 255.0, "float32")
    # ValueError (eager, torch), InvalidArgumentError (tf.function) or
    # JaxRuntimeError (jax.jit): each carries the message.
    with pytest.raises(Exception, match=re.escape(MESSAGE)):
        model.fit(x, y, epochs=1, verbose=0)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="XLA on TensorFlow only"
)
def test_under_xla_a_bad_batch_gives_a_nan_loss_not_a_number():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(3, activation="sigmoid")]
    )
    model.compile("sgd", SummedBinaryCrossentropy(), jit_compile=True)
    y = np.full((4, 3), 255.0, "float32")
    loss = model.evaluate(np.ones((4, 3)), y, verbose=0)
    assert np.isnan(loss)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="SummedBinaryCrossentropy: `y_true`"):
        SummedBinaryCrossentropy()(np.zeros((4,)), np.zeros((4, 1)))


def test_batch_of_zero_rows_gives_an_empty_or_zero_loss():
    empty = np.zeros((0, 5), "float32")
    value = keras.ops.convert_to_numpy(SummedBinaryCrossentropy()(empty, empty))
    assert value.size == 0 or float(value) == 0.0
    per = SummedBinaryCrossentropy(reduction=None)(empty, empty)
    assert tuple(per.shape) == (0,)
