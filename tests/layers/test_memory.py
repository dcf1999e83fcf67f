import keras
import numpy as np
import pytest

from keras_memnets.layers import MemoryLayer
from keras_memnets.regularizers import OneMax


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _reference(layer, x):
    w1, b1 = (_np(w) for w in layer.selector.hidden.weights)
    w2, b2 = (_np(w) for w in layer.selector.output_dense.weights)
    selection = _softmax(np.maximum(x @ w1 + b1, 0.0) @ w2 + b2)
    logits = layer.memory_scale * _np(layer.memory).astype("float64")
    memory = 1 / (1 + np.exp(-logits))
    return selection, np.tensordot(selection, memory, axes=1)


def test_output_is_selection_times_sigmoid_memory():
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    layer = MemoryLayer(
        (3, 2),
        4,
        hidden_units=8,
        return_selection=True,
        memory_initializer=keras.initializers.RandomNormal(stddev=2.0),
    )
    output, selection = (_np(t) for t in layer(x))
    assert layer.memory.path.endswith("memory")
    assert tuple(layer.memory.shape) == (4, 3, 2)
    np.testing.assert_allclose(selection.sum(axis=-1), 1.0, rtol=1e-6)
    ref_selection, ref_output = _reference(layer, x)
    np.testing.assert_allclose(selection, ref_selection, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(output, ref_output, rtol=1e-5, atol=1e-6)
    # Without return_selection only the output comes back.
    plain = MemoryLayer((3, 2), 4, hidden_units=8)
    assert tuple(plain(x).shape) == (6, 3, 2)


def test_selection_over_higher_rank_input_sums_to_one():
    x = np.random.default_rng(2).normal(size=(2, 3, 5)).astype("float32")
    layer = MemoryLayer(7, 6, hidden_units=4, return_selection=True)
    output, selection = layer(x)
    assert tuple(output.shape) == (2, 3, 7)
    np.testing.assert_allclose(_np(selection).sum(-1), 1.0, rtol=1e-6)


def test_set_memory_from_samples_inverts_sigmoid_with_clipping():
    layer = MemoryLayer(4, 3, hidden_units=4)
    layer.build((None, 2))
    samples = np.array([[0.0, 0.25, 0.5, 1.0], [0.1, 0.2, 0.3, 0.4]])
    before = _np(layer.memory).copy()
    slots = layer.set_memory_from_samples(samples, slots=[2, 0], epsilon=1e-3)
    assert slots.tolist() == [2, 0]
    memory = _np(layer.memory)
    np.testing.assert_array_equal(memory[1], before[1])
    logits = layer.memory_scale * memory.astype("float64")
    activated = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(
        activated[2], np.clip(samples[0], 1e-3, 1 - 1e-3), rtol=1e-5
    )
    np.testing.assert_allclose(activated[0], samples[1], rtol=1e-5)
    assert np.all(np.isfinite(memory))


def test_set_memory_from_samples_errors():
    layer = MemoryLayer(3, 2, hidden_units=4)
    with pytest.raises(ValueError, match="build the layer"):
        layer.set_memory_from_samples(np.zeros((1, 3)))
    layer.build((None, 2))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        layer.set_memory_from_samples(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="at most"):
        layer.set_memory_from_samples(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="distinct"):
        layer.set_memory_from_samples(np.zeros((2, 3)), slots=[1, 1])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        layer.set_memory_from_samples(np.zeros((1, 3)), slots=[5])
    gelu = MemoryLayer(3, 2, hidden_units=4, memory_activation="gelu")
    gelu.build((None, 2))
    with pytest.raises(ValueError, match="no known inverse"):
        gelu.set_memory_from_samples(np.zeros((1, 3)))


def test_selection_regularizer_adds_mean_one_max():
    x = np.random.default_rng(3).normal(size=(5, 4)).astype("float32")
    layer = MemoryLayer(
        2,
        3,
        hidden_units=4,
        return_selection=True,
        selection_regularizer=OneMax(0.5),
    )
    _, selection = layer(x)
    expected = 0.5 * np.mean(1 - _np(selection).max(-1))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(_np(layer.losses[0]), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(memory_size=0, units=3), ValueError, "memory_size"),
        (dict(memory_size=-2, units=3), ValueError, "memory_size"),
        (dict(memory_size=(2,), units=3), TypeError, "memory_size"),
        (dict(memory_size=2, units=0), ValueError, "units"),
        (
            dict(memory_size=2, units=3, hidden_units=0),
            ValueError,
            "hidden_units",
        ),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"MemoryLayer.*{match}"):
        MemoryLayer(**kwargs)


def test_rank_one_input_is_rejected():
    with pytest.raises(ValueError, match="MemoryLayer.*rank >= 2"):
        MemoryLayer(3, 2).build((6,))


def test_units_first_and_default_hidden_units():
    layer = MemoryLayer(784, 10)
    assert (layer.units, layer.memory_size, layer.hidden_units) == (
        784,
        10,
        512,
    )


@pytest.mark.parametrize("argument", ["activation", "memory_activation"])
def test_unknown_activation_names_layer_and_argument(argument):
    with pytest.raises(
        ValueError,
        match=f"MemoryLayer: unknown activation 'sigmod' for `{argument}`",
    ):
        MemoryLayer(3, 2, **{argument: "sigmod"})
