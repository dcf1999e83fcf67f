import json
import zipfile

import keras
import numpy as np
import pytest

from keras_memnets.layers import MemoryLayer
from keras_memnets.regularizers import LoadBalance
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


# ---------------------------------------------------------------------------
# memory_scale and the default selection regularizer.


def _activation(name, z):
    return {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "linear": lambda z: z,
    }[name](z)


@pytest.mark.parametrize(
    "activation,scale,top_k",
    [("sigmoid", 100.0, None), ("tanh", 7.5, None), ("sigmoid", 100.0, 2)],
)
def test_read_is_activation_of_scaled_memory(activation, scale, top_k):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(9, 5)).astype("float32")
    layer = MemoryLayer(
        (3, 2),
        6,
        hidden_units=8,
        memory_activation=activation,
        memory_scale=scale,
        top_k=top_k,
        memory_initializer=keras.initializers.RandomNormal(stddev=2.0),
    )
    output = _np(layer(x))
    selection = _np(layer.compute_selection(x)).astype("float64")
    if top_k is not None:
        kth = np.sort(selection, -1)[:, [-top_k]]
        selection = np.where(selection >= kth, selection, 0.0)
        selection /= selection.sum(-1, keepdims=True)
    logits = scale * _np(layer.memory).astype("float64")
    values = _activation(activation, logits)
    np.testing.assert_allclose(
        _np(layer.memory_values()), values, rtol=1e-5, atol=1e-6
    )
    expected = np.einsum("bk,kij->bij", selection, values)
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 100.0, 3.0])
def test_memory_initializer_gives_the_initial_logits(scale):
    initializer = keras.initializers.RandomNormal(stddev=0.5, seed=7)
    layer = MemoryLayer(
        4, 3, hidden_units=2, memory_scale=scale, memory_initializer=initializer
    )
    layer.build((None, 2))
    logits = _np(initializer((3, 4)))
    if scale == 1.0:
        # The notes' layer: the weight is the initializer's output as it is.
        np.testing.assert_array_equal(_np(layer.memory), logits)
    np.testing.assert_allclose(_np(layer.memory), logits / scale, rtol=1e-6)
    np.testing.assert_allclose(
        scale * _np(layer.memory), logits, rtol=1e-6, atol=1e-7
    )


def _np_entropy_gap(selection):
    mean = selection.reshape(-1, selection.shape[-1]).mean(0)
    return np.log(selection.shape[-1]) + np.sum(mean * np.log(mean))


def test_default_selection_regularizer_is_entropy_load_balance():
    x = np.random.default_rng(5).normal(size=(7, 4)).astype("float32")
    layer = MemoryLayer(2, 5, hidden_units=6, return_selection=True)
    regularizer = layer.selection_regularizer
    assert isinstance(regularizer, LoadBalance)
    assert (regularizer.weight, regularizer.mode) == (0.01, "entropy")
    _, selection = layer(x)
    selection = _np(selection).astype("float64")
    expected = 0.01 * _np_entropy_gap(selection)
    assert expected > 0
    assert len(layer.losses) == 1
    np.testing.assert_allclose(_np(layer.losses[0]), expected, rtol=1e-4)
    assert layer.get_config()["selection_regularizer"] == "auto"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(memory_scale=1.0),
        dict(memory_scale=1.0, selection_regularizer="auto"),
        dict(selection_regularizer=None),
    ],
)
def test_no_selection_term_at_scale_one_or_with_none(kwargs):
    x = np.random.default_rng(5).normal(size=(7, 4)).astype("float32")
    layer = MemoryLayer(2, 5, hidden_units=6, **kwargs)
    layer(x)
    assert layer.selection_regularizer is None
    assert layer.losses == []
    config = layer.get_config()
    expected = kwargs.get("selection_regularizer", "auto")
    assert config["selection_regularizer"] == expected
    assert MemoryLayer.from_config(config).selection_regularizer is None


def test_a_given_selection_regularizer_replaces_the_default():
    layer = MemoryLayer(2, 5, selection_regularizer=OneMax(0.5))
    assert isinstance(layer.selection_regularizer, OneMax)
    config = layer.get_config()
    assert config["selection_regularizer"]["class_name"] == "OneMax"
    restored = MemoryLayer.from_config(config)
    assert isinstance(restored.selection_regularizer, OneMax)
    # A config of "auto" resolves again, by its memory_scale.
    auto = MemoryLayer.from_config(MemoryLayer(2, 5).get_config())
    assert isinstance(auto.selection_regularizer, LoadBalance)
    assert auto.memory_scale == 100.0


# The old default (the layer before memory_scale existed), measured with
# keras_memnets 0.2.0's MemoryLayer on every backend: the losses of two
# epochs of Adam(0.05) and the predictions after them, from the weights and
# data of `_golden_model`. TensorFlow's top_k row differs because Keras'
# TensorFlow Adam applies the gathered rows' IndexedSlices gradient with a
# rule of its own.
GOLDEN = {
    None: (
        [0.0815598, 0.0775109],
        [
            [0.483766, 0.502855, 0.550855],
            [0.458465, 0.506163, 0.552829],
            [0.483266, 0.483576, 0.557976],
            [0.418270, 0.512861, 0.554340],
        ],
    ),
    2: (
        [0.0874208, 0.0793160],
        [
            [0.497328, 0.459663, 0.628970],
            [0.506463, 0.453670, 0.632410],
            [0.403793, 0.503955, 0.519618],
            [0.493036, 0.462479, 0.627354],
        ],
    ),
    "tensorflow/2": (
        [0.0871987, 0.0790604],
        [
            [0.490845, 0.455089, 0.628040],
            [0.500635, 0.450635, 0.631548],
            [0.393727, 0.488422, 0.523222],
            [0.486485, 0.457073, 0.626477],
        ],
    ),
}


@pytest.mark.parametrize("top_k", [None, 2])
def test_memory_scale_one_is_the_old_default_layer(top_k):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 2)).astype("float32")
    y = rng.random((16, 3)).astype("float32")
    inputs = keras.Input((2,))
    layer_one = MemoryLayer(
        3, memory_size=4, hidden_units=5, top_k=top_k, memory_scale=1.0
    )
    model = keras.Model(inputs, layer_one(inputs))
    weights = [rng.normal(size=v.shape) * 0.5 for v in model.weights]
    model.set_weights([w.astype("float32") for w in weights])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    key = top_k
    if top_k is not None and keras.backend.backend() == "tensorflow":
        key = f"tensorflow/{top_k}"
    losses, predictions = GOLDEN[key]
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)
    np.testing.assert_allclose(
        model.predict(x[:4], verbose=0), predictions, rtol=1e-5, atol=1e-6
    )
    assert layer_one.losses == []


def _config_of_0_2_0(layer):
    """The layer's config as keras_memnets 0.2.0 saved it."""
    config = layer.get_config()
    del config["memory_scale"]
    config["selection_regularizer"] = None
    return config


def test_a_config_without_memory_scale_loads_as_the_old_layer():
    x = np.random.default_rng(6).normal(size=(5, 3)).astype("float32")
    old = MemoryLayer(
        4, 3, hidden_units=6, memory_scale=1.0, selection_regularizer=None
    )
    expected = _np(old(x))
    layer = MemoryLayer.from_config(_config_of_0_2_0(old))
    assert layer.memory_scale == 1.0 and layer.selection_regularizer is None
    layer(x)
    layer.set_weights(old.get_weights())
    np.testing.assert_array_equal(_np(layer(x)), expected)
    assert layer.losses == []


def test_a_keras_file_saved_without_memory_scale_loads_identically(tmp_path):
    x = np.random.default_rng(7).normal(size=(5, 3)).astype("float32")
    inputs = keras.Input((3,))
    layer = MemoryLayer(4, 3, hidden_units=6, memory_scale=1.0, name="mem")
    model = keras.Model(inputs, layer(inputs))
    model.layers[1].memory.assign(np.linspace(-3, 3, 12).reshape(3, 4))
    path = tmp_path / "new.keras"
    model.save(path)
    # Rewrite the file's config as 0.2.0 wrote it.
    old_path = tmp_path / "old.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old_path, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for entry in config["config"]["layers"]:
                    if entry["class_name"] == "MemoryLayer":
                        entry["config"].pop("memory_scale")
                        entry["config"]["selection_regularizer"] = None
                data = json.dumps(config).encode()
            out.writestr(item, data)
    loaded = keras.saving.load_model(old_path, safe_mode=True)
    assert loaded.get_layer("mem").memory_scale == 1.0
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


@pytest.mark.parametrize(
    "value,error",
    [
        (0.0, ValueError),
        (-1.0, ValueError),
        (float("inf"), ValueError),
        (float("nan"), ValueError),
        ("100", TypeError),
        (True, TypeError),
    ],
)
def test_bad_memory_scale_names_the_layer(value, error):
    with pytest.raises(error, match="MemoryLayer: `memory_scale` must be"):
        MemoryLayer(3, 2, memory_scale=value)


def test_memory_values_needs_a_built_layer():
    with pytest.raises(ValueError, match="MemoryLayer.*build the layer"):
        MemoryLayer(3, 2).memory_values()


def _clusters(n=1024, k=8, dim=64, seed=0):
    """Inputs in k Gaussian clusters; each cluster's target a binary image."""
    rng = np.random.default_rng(seed)
    centers = 1.5 * rng.normal(size=(k, 4))
    patterns = rng.random((k, dim)).round()
    labels = rng.integers(0, k, n)
    x = (centers[labels] + rng.normal(size=(n, 4))).astype("float32")
    y = (0.05 + 0.9 * patterns[labels]).astype("float32")
    return x, y


def _trained_usage(**kwargs):
    """Live slots and memory MSE after 4 epochs of Adam at Keras' rate."""
    keras.utils.set_random_seed(0)
    x, y = _clusters()
    inputs = keras.Input((4,))
    layer = MemoryLayer(64, memory_size=8, hidden_units=256, **kwargs)
    model = keras.Model(inputs, layer(inputs))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    model.fit(x, y, batch_size=32, epochs=4, verbose=0)
    winners = _np(layer.compute_selection(x)).argmax(-1)
    share = np.bincount(winners, minlength=8) / len(x)
    mse = np.mean((model.predict(x, verbose=0) - y) ** 2)
    return int(np.sum(share >= 0.1 / 8)), mse


def test_the_default_uses_more_slots_than_the_notes_layer():
    # Measured (seed 0): 7 to 8 live slots and MSE 0.089 to 0.095 by
    # default, 3 to 5 and 0.188 to 0.190 with memory_scale=1.0, on the three
    # backends.
    live, mse = _trained_usage()
    live_notes, mse_notes = _trained_usage(memory_scale=1.0)
    assert live >= live_notes + 2, (live, live_notes)
    assert mse < 0.6 * mse_notes, (mse, mse_notes)
