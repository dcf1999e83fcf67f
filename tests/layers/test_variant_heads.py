"""VariantHeads against a per-head numpy MLP; initialization; bad input."""

import math

import keras
import numpy as np
import pytest

from keras_memnets.layers import VariantHeads


def numpy_heads(x, weights, hidden=True, output_activation=None):
    if hidden:
        w1, b1, w2, b2 = weights
        h = np.maximum(np.einsum("bi,kih->bkh", x, w1) + b1, 0.0)
        out = np.einsum("bkh,kho->bko", h, w2) + b2
    else:
        w, b = weights
        out = np.einsum("bi,kio->bko", x, w) + b
    if output_activation == "sigmoid":
        out = 1 / (1 + np.exp(-out))
    return out


def test_matches_k_separate_numpy_mlps():
    rng = np.random.default_rng(0)
    layer = VariantHeads(4, 3, hidden_units=5, output_activation="sigmoid")
    x = rng.standard_normal((7, 6)).astype("float32")
    layer.build((None, 6))
    weights = [
        rng.standard_normal(w.shape).astype("float32") for w in layer.weights
    ]
    layer.set_weights(weights)
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (7, 3, 4)
    # Head by head, as a plain loop over K two-layer perceptrons.
    w1, b1, w2, b2 = weights
    for k in range(3):
        h = np.maximum(x @ w1[k] + b1[k], 0)
        expected = 1 / (1 + np.exp(-(h @ w2[k] + b2[k])))
        np.testing.assert_allclose(out[:, k], expected, rtol=1e-5, atol=1e-6)


def test_tuple_units_and_no_hidden_layer():
    rng = np.random.default_rng(1)
    layer = VariantHeads((2, 3), 2, hidden_units=None)
    x = rng.standard_normal((5, 4)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (5, 2, 2, 3)
    assert [tuple(w.shape) for w in layer.weights] == [(2, 4, 6), (2, 6)]
    flat = numpy_heads(x, layer.get_weights(), hidden=False)
    np.testing.assert_allclose(
        out, flat.reshape(5, 2, 2, 3), rtol=1e-5, atol=1e-6
    )
    assert layer.compute_output_shape((None, 4)) == (None, 2, 2, 3)
    no_bias = VariantHeads(3, 2, hidden_units=4, use_bias=False)
    no_bias.build((None, 4))
    assert [tuple(w.shape) for w in no_bias.weights] == [(2, 4, 4), (2, 4, 3)]


def test_each_head_is_initialized_like_one_dense_layer():
    k, fan_in, fan_out = 6, 64, 32
    layer = VariantHeads(fan_out, k, hidden_units=None)
    layer.build((None, fan_in))
    kernel = keras.ops.convert_to_numpy(layer.output_kernel)
    limit = math.sqrt(6 / (fan_in + fan_out))  # glorot_uniform of one head
    assert np.abs(kernel).max() <= limit
    for head in kernel:
        # Uniform(-limit, limit) has std limit / sqrt(3); drawing with the
        # stacked shape would give a std sqrt(K) = 2.4 times smaller.
        assert abs(head.std() / (limit / math.sqrt(3)) - 1) < 0.1
    # Heads differ from each other.
    assert not np.allclose(kernel[0], kernel[1])
    # A seeded initializer reproduces the same heads.
    seeded = [
        VariantHeads(
            3,
            k,
            None,
            kernel_initializer=keras.initializers.GlorotUniform(seed=9),
        )
        for _ in range(2)
    ]
    for layer in seeded:
        layer.build((None, 4))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(seeded[0].output_kernel),
        keras.ops.convert_to_numpy(seeded[1].output_kernel),
    )


def test_trains_inside_a_model():
    rng = np.random.default_rng(2)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, VariantHeads(2, 2, hidden_units=4)(inputs))
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    x = rng.standard_normal((32, 3)).astype("float32")
    y = rng.standard_normal((32, 2, 2)).astype("float32")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"num_variants": 0, "units": 3}, ValueError, "num_variants"),
        ({"num_variants": 2, "units": 0}, ValueError, "units"),
        ({"num_variants": 2, "units": (3, -1)}, ValueError, "units"),
        (
            {"num_variants": 2, "units": 3, "hidden_units": 0},
            ValueError,
            "hidden_units",
        ),
        ({"num_variants": 2.5, "units": 3}, TypeError, "num_variants"),
        ({"num_variants": 2, "units": "3"}, TypeError, "units"),
        (
            {"num_variants": 2, "units": 3, "hidden_units": 4.0},
            TypeError,
            "hidden_units",
        ),
        (
            {"num_variants": 2, "units": 3, "activation": "nope"},
            ValueError,
            "activation",
        ),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"VariantHeads.*{match}"):
        VariantHeads(**kwargs)


def test_units_first_default_hidden_units_and_numpy_ints():
    layer = VariantHeads(np.int64(7), np.int64(3))
    assert (layer.units, layer.num_variants, layer.hidden_units) == (7, 3, 512)
    assert type(layer.units) is int and type(layer.num_variants) is int
    assert tuple(layer(np.zeros((2, 4), "float32")).shape) == (2, 3, 7)
    config = layer.get_config()
    assert (config["units"], config["num_variants"]) == (7, 3)


def test_bad_input_shape():
    layer = VariantHeads(3, 2, hidden_units=4)
    with pytest.raises(ValueError, match="VariantHeads.*\\(batch, features\\)"):
        layer.build((None, 5, 4))
    with pytest.raises(ValueError, match="VariantHeads.*known last axis"):
        layer.compute_output_shape((None, None))


@pytest.mark.parametrize("hidden_units", [5, None])
def test_implementations_agree_and_auto_follows_the_backend(hidden_units):
    from keras_memnets.layers.variant_heads import resolve_implementation

    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 4)).astype("float32")
    layers = {
        name: VariantHeads((2, 3), 3, hidden_units, implementation=name)
        for name in ("batched", "per_head", "auto")
    }
    for layer in layers.values():
        layer.build((None, 4))
        layer.set_weights(layers["batched"].get_weights())
    outputs = {
        n: keras.ops.convert_to_numpy(layer(x)) for n, layer in layers.items()
    }
    np.testing.assert_allclose(
        outputs["per_head"], outputs["batched"], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        outputs["auto"], outputs["batched"], rtol=1e-5, atol=1e-6
    )
    assert resolve_implementation("auto", "tensorflow") == "per_head"
    assert resolve_implementation("auto", "jax") == "batched"
    assert resolve_implementation("auto", "torch") == "batched"
    assert resolve_implementation("per_head", "jax") == "per_head"
    with pytest.raises(ValueError, match="VariantHeads.*implementation"):
        VariantHeads(3, 2, implementation="fast")
