"""MemoryLayer slot initialisation: k-means, target ranges."""

import keras
import numpy as np
import pytest

from keras_memnets.layers import MemoryLayer


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, "float64")))


def _binary_clusters(seed, k=5, per=40, dim=(4, 3)):
    """k clusters around distinct binary patterns, in [0, 1]."""
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 2, size=(k,) + dim).astype("float64")
    flat = patterns.reshape(k, -1)  # a view
    for bit in range(3):  # the first 3 entries keep the patterns distinct
        flat[:, bit] = np.arange(k) // 2**bit % 2
    labels = np.repeat(np.arange(k), per)
    noise = 0.1 * rng.random((k * per,) + dim)
    x = np.abs(patterns[labels] - noise)
    return x, labels, patterns


def test_set_memory_from_kmeans_writes_cluster_means():
    targets, labels, _ = _binary_clusters(0)
    layer = MemoryLayer((4, 3), memory_size=5, hidden_units=4)
    layer.build((None, 2))
    result = layer.set_memory_from_kmeans(targets, seed=0)
    memory = _sigmoid(layer.memory_scale * _np(layer.memory))
    # One slot per cluster, holding the cluster's mean (clipped by epsilon).
    for slot in range(5):
        members = result.assignments == slot
        assert len(np.unique(labels[members])) == 1
        mean = targets[members].mean(0)
        np.testing.assert_allclose(result.centroids[slot], mean, atol=1e-12)
        np.testing.assert_allclose(
            memory[slot], np.clip(mean, 1e-3, 1 - 1e-3), rtol=1e-4, atol=1e-6
        )
    assert sorted(np.unique(result.assignments).tolist()) == list(range(5))
    # The reported MSE is that of a memory outputting each target's slot.
    expected = np.mean((targets - memory[result.assignments]) ** 2)
    assert result.mse == pytest.approx(expected, rel=1e-3)


def test_kmeans_memory_matches_hard_selection_output():
    # With a one-hot selection on the right slot, the layer's output is the
    # centroid: check through the layer itself (linear memory, no clipping).
    targets, _, _ = _binary_clusters(1, dim=(6,))
    layer = MemoryLayer(
        6, memory_size=5, hidden_units=4, memory_activation="linear"
    )
    layer.build((None, 2))
    result = layer.set_memory_from_kmeans(targets, seed=1)
    one_hot = np.eye(5, dtype="float32")
    memory = _np(keras.ops.matmul(one_hot, layer.memory_values()))
    np.testing.assert_allclose(memory, result.centroids, rtol=1e-6)


def test_set_memory_from_kmeans_errors():
    layer = MemoryLayer(3, memory_size=4, hidden_units=4)
    with pytest.raises(ValueError, match="build the layer"):
        layer.set_memory_from_kmeans(np.zeros((8, 3)))
    layer.build((None, 2))
    with pytest.raises(ValueError, match="at least memory_size=4"):
        layer.set_memory_from_kmeans(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        layer.set_memory_from_kmeans(np.zeros((8, 2)))
    with pytest.raises(ValueError, match=r"divide them by 255"):
        layer.set_memory_from_kmeans(np.full((8, 3), 255, "uint8"))
    with pytest.raises(TypeError, match="restarts"):
        layer.set_memory_from_kmeans(np.zeros((8, 3)), restarts=1.5)


@pytest.mark.parametrize(
    "activation,bad",
    [
        ("sigmoid", 255.0),
        ("sigmoid", -0.5),
        ("tanh", 1.5),
        ("softplus", -1.0),
        ("relu", -0.1),
    ],
)
def test_targets_outside_the_activation_range_are_refused(activation, bad):
    layer = MemoryLayer(
        3, memory_size=2, hidden_units=4, memory_activation=activation
    )
    layer.build((None, 2))
    before = _np(layer.memory).copy()
    samples = np.array([[0.0, 0.5, bad]])
    with pytest.raises(ValueError, match=f"MemoryLayer.*range.*{activation}"):
        layer.set_memory_from_samples(samples)
    np.testing.assert_array_equal(_np(layer.memory), before)


def test_uint8_images_for_a_sigmoid_memory_get_a_hint():
    layer = MemoryLayer(4, memory_size=2, hidden_units=4)
    layer.build((None, 2))
    pixels = np.array([[0, 17, 200, 255]], "uint8")
    with pytest.raises(ValueError, match=r"\[0, 255\].*divide them by 255"):
        layer.set_memory_from_samples(pixels)
    layer.set_memory_from_samples(pixels / 255.0)  # the fix works


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_targets_are_refused(value):
    layer = MemoryLayer(
        2, memory_size=2, hidden_units=4, memory_activation="linear"
    )
    layer.build((None, 2))
    with pytest.raises(ValueError, match="NaN or Inf"):
        layer.set_memory_from_samples(np.array([[0.0, value]]))


def test_boundary_values_and_any_value_for_linear_are_accepted():
    layer = MemoryLayer(2, memory_size=2, hidden_units=4)
    layer.build((None, 2))
    layer.set_memory_from_samples(np.array([[0.0, 1.0]]))
    linear = MemoryLayer(
        2, memory_size=2, hidden_units=4, memory_activation="linear"
    )
    linear.build((None, 2))
    linear.set_memory_from_samples(np.array([[-300.0, 255.0]]))
    np.testing.assert_allclose(
        _np(linear.memory_values())[0], [-300.0, 255.0], rtol=1e-6
    )


def _collapsed_layer():
    """A MemoryLayer whose selector gives slot 0 every row."""
    layer = MemoryLayer(3, memory_size=4, hidden_units=6)
    layer.build((None, 5))
    bias = np.array([6.0, -6.0, -6.0, -6.0])
    layer.selector.output_dense.bias.assign(bias)
    return layer


def test_reset_slots_splits_the_busiest_slot_and_writes_targets():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 5)).astype("float32")
    targets = rng.random((100, 3))
    layer = _collapsed_layer()
    before = _np(layer.compute_selection(x))
    assert (before.argmax(-1) == 0).all()
    memory_before = _np(layer.memory).copy()
    records = layer.reset_slots([1, 3], x, targets=targets, split=4.0, seed=0)
    assert [r["slot"] for r in records] == [1, 3]
    assert records[0]["from"] == 0
    after = _np(layer.compute_selection(x))
    winners = after.argmax(-1)
    assert (winners == 1).any() and (winners == 3).any()
    assert not (winners == 2).any()
    # The restarted slots output the chosen rows' targets; the others keep
    # their memory.
    memory = _sigmoid(layer.memory_scale * _np(layer.memory))
    for r in records:
        np.testing.assert_allclose(
            memory[r["slot"]], targets[r["row"]], rtol=1e-4, atol=1e-6
        )
    np.testing.assert_array_equal(
        _np(layer.memory)[[0, 2]], memory_before[[0, 2]]
    )
    # The last split's chosen row prefers its new slot by the split margin
    # (an earlier split's source may have been split again since).
    dense = layer.selector.output_dense
    h = _np(layer.selector.hidden(x))
    logits = h @ _np(dense.kernel) + _np(dense.bias)
    last = records[-1]
    margin = (
        logits[last["row"], last["slot"]] - logits[last["row"], last["from"]]
    )
    assert margin == pytest.approx(4.0, rel=1e-4)


def test_reset_slots_errors_change_nothing():
    layer = _collapsed_layer()
    x = np.zeros((10, 5), "float32")
    kernel = _np(layer.selector.output_dense.kernel).copy()
    with pytest.raises(ValueError, match="reset_slots.*distinct indices"):
        layer.reset_slots([1, 1], x)
    with pytest.raises(ValueError, match=r"reset_slots.*\[0, 4\)"):
        layer.reset_slots([4], x)
    with pytest.raises(ValueError, match="reset_slots.*same number of rows"):
        layer.reset_slots([1], x, targets=np.zeros((9, 3)))
    with pytest.raises(ValueError, match=r"reset_slots.*divide them by 255"):
        layer.reset_slots([1], x, targets=np.full((10, 3), 255.0))
    with pytest.raises(ValueError, match=r"reset_slots.*\(n, features\)"):
        layer.reset_slots([1], np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="reset_slots.*split"):
        layer.reset_slots([1], x, split=-1.0)
    np.testing.assert_array_equal(
        _np(layer.selector.output_dense.kernel), kernel
    )
    with pytest.raises(ValueError, match="build the layer"):
        MemoryLayer(3, memory_size=2, hidden_units=4).reset_slots([1], x)


@pytest.mark.parametrize(
    "activation", ["sigmoid", "tanh", "softplus", "linear"]
)
def test_slot_writes_give_the_same_read_at_any_memory_scale(activation):
    # The weight holds logits / memory_scale: a layer at scale 100 written
    # from the same samples or centroids reads what the notes' layer reads.
    targets, _, _ = _binary_clusters(2, dim=(4, 3))
    targets = 0.1 + 0.8 * targets  # inside every activation's range
    x = np.random.default_rng(3).normal(size=(7, 2)).astype("float32")
    layers = {
        scale: MemoryLayer(
            (4, 3),
            memory_size=5,
            hidden_units=4,
            memory_activation=activation,
            memory_scale=scale,
        )
        for scale in (1.0, 100.0)
    }
    for layer in layers.values():
        layer(x)
    layers[100.0].set_weights(layers[1.0].get_weights())
    results = {
        scale: layer.set_memory_from_kmeans(targets, seed=0)
        for scale, layer in layers.items()
    }
    np.testing.assert_array_equal(
        results[1.0].centroids, results[100.0].centroids
    )
    np.testing.assert_allclose(
        _np(layers[100.0].memory), _np(layers[1.0].memory) / 100.0, rtol=1e-6
    )
    reads = {scale: _np(layer(x)) for scale, layer in layers.items()}
    np.testing.assert_allclose(reads[100.0], reads[1.0], rtol=1e-6, atol=1e-7)
    # One slot written from a sample, by index.
    for layer in layers.values():
        layer.set_memory_from_samples(targets[:1], slots=[3])
    np.testing.assert_allclose(
        _np(layers[100.0].memory_values())[3],
        _np(layers[1.0].memory_values())[3],
        rtol=1e-6,
        atol=1e-7,
    )
    np.testing.assert_allclose(
        _np(layers[100.0](x)), _np(layers[1.0](x)), rtol=1e-6, atol=1e-7
    )


def test_reset_slots_writes_the_scaled_logits():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 5)).astype("float32")
    targets = rng.random((60, 3))
    layer = _collapsed_layer()
    assert layer.memory_scale == 100.0
    records = layer.reset_slots([2], x, targets=targets, split=2.0, seed=0)
    logits = 100.0 * _np(layer.memory)[2].astype("float64")
    expected = np.clip(targets[records[0]["row"]], 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(_sigmoid(logits), expected, rtol=1e-5)
