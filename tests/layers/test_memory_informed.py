import keras
import numpy as np
import pytest

from keras_memnets.layers import MemoryInformedLayer


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _inputs(rng, batch, features, memory_size):
    x = rng.normal(size=(batch, features)).astype("float32")
    logits = rng.normal(size=(batch, memory_size))
    selection = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return x, selection.astype("float32")


def test_output_equals_einsum_reference():
    rng = np.random.default_rng(0)
    x, selection = _inputs(rng, 5, 6, 4)
    layer = MemoryInformedLayer((3, 2), 4, hidden_units=8)
    out = _np(layer([x, selection]))
    assert out.shape == (5, 3, 2)
    w1, b1 = (_np(w) for w in layer.candidates.hidden.weights)
    w2, b2 = (_np(w) for w in layer.candidates.output_dense.weights)
    candidates = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    candidates = 1 / (1 + np.exp(-candidates.reshape(5, 4, 3, 2)))
    expected = np.einsum("bk,bkij->bij", selection, candidates)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_one_hot_selection_picks_one_candidate():
    rng = np.random.default_rng(1)
    x, _ = _inputs(rng, 3, 6, 4)
    layer = MemoryInformedLayer(5, 4, hidden_units=8)
    one_hot = np.eye(4, dtype="float32")[[2, 0, 3]]
    out = _np(layer([x, one_hot]))
    candidates = _np(layer.candidates(x))
    np.testing.assert_allclose(
        out, candidates[np.arange(3), [2, 0, 3]], rtol=1e-6
    )


def test_selection_width_must_equal_memory_size():
    layer = MemoryInformedLayer(5, 4, hidden_units=8)
    with pytest.raises(ValueError, match="MemoryInformedLayer.*memory_size=4"):
        layer([np.zeros((2, 6), "float32"), np.zeros((2, 3), "float32")])


def test_inputs_must_be_a_pair_of_matching_rank():
    layer = MemoryInformedLayer(5, 4, hidden_units=8)
    with pytest.raises(
        ValueError, match=r"MemoryInformedLayer.*\[x, selection\]"
    ):
        layer.build((None, 6))
    with pytest.raises(ValueError, match="MemoryInformedLayer.*same rank"):
        layer.build([(None, 2, 6), (None, 4)])
    with pytest.raises(ValueError, match="MemoryInformedLayer.*rank >= 2"):
        layer.build([(6,), (4,)])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(memory_size=0, units=3), "memory_size"),
        (dict(memory_size=2, units=-1), "units"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"MemoryInformedLayer.*{match}"):
        MemoryInformedLayer(**kwargs)


def test_higher_rank_inputs_and_tuple_units():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 6)).astype("float32")
    logits = rng.normal(size=(2, 3, 4))
    selection = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(
        "float32"
    )
    layer = MemoryInformedLayer((2, 5), 4, hidden_units=8)
    out = _np(layer([x, selection]))
    assert out.shape == (2, 3, 2, 5)
    candidates = _np(layer.candidates(x))
    assert candidates.shape == (2, 3, 4, 2, 5)
    np.testing.assert_allclose(
        out,
        np.einsum("btk,btkij->btij", selection, candidates),
        rtol=1e-5,
        atol=1e-6,
    )


def test_units_first_and_default_hidden_units():
    layer = MemoryInformedLayer(784, 10)
    assert (layer.units, layer.memory_size, layer.hidden_units) == (
        784,
        10,
        512,
    )


@pytest.mark.parametrize("argument", ["activation", "output_activation"])
def test_unknown_activation_names_layer_and_argument(argument):
    with pytest.raises(
        ValueError,
        match=(
            f"MemoryInformedLayer: unknown activation 'sigmod' for `{argument}`"
        ),
    ):
        MemoryInformedLayer(3, 2, **{argument: "sigmod"})


def test_different_batch_sizes_name_the_layer_and_both_shapes():
    layer = MemoryInformedLayer(4, 3, hidden_units=5, name="informed")
    x = np.zeros((5, 6), "float32")
    selection = np.full((4, 3), 1 / 3, "float32")
    layer([x[:4], selection])  # builds
    with pytest.raises(
        ValueError,
        match=r"MemoryInformedLayer: `x` \(5, 6\).*\(4, 3\).*batch",
    ):
        layer([x, selection])
    # Also for symbolic inputs whose batch sizes are known.
    with pytest.raises(ValueError, match=r"\(5, 6\).*\(4, 3\)"):
        layer(
            [keras.Input((6,), batch_size=5), keras.Input((3,), batch_size=4)]
        )
    # Unknown batch sizes are not refused.
    out = layer([keras.Input((6,)), keras.Input((3,), batch_size=4)])
    assert tuple(out.shape)[1:] == (4,)
