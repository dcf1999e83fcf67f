"""Every public layer at the edges: empty batches, bad shapes, bad batches."""

import os
import tempfile

import keras
import numpy as np
import pytest

import keras_memnets
from keras_memnets import layers
from keras_memnets.optimizers import SignSGD
from keras_memnets.regularizers import OneMax


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _x(batch, features=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, features)).astype("float32")


def _selection(batch, width=3):
    return np.full((batch, width), 1.0 / width, "float32")


def _adapted_pca():
    layer = layers.PCAReduction(3)
    layer.adapt(_x(20, seed=1))
    return layer


# name: (make the layer, inputs for a batch size, output shapes per sample)
LAYERS = {
    "approximator": (
        lambda: layers.ApproximatorLayer((2, 3), hidden_units=4),
        _x,
        [(2, 3)],
    ),
    "memory": (
        lambda: layers.MemoryLayer(
            5,
            memory_size=3,
            hidden_units=4,
            return_selection=True,
            selection_regularizer=OneMax(0.1),
        ),
        _x,
        [(5,), (3,)],
    ),
    "memory_top_k": (
        lambda: layers.MemoryLayer(
            (2, 2),
            memory_size=3,
            hidden_units=4,
            top_k=1,
            selection_regularizer=OneMax(0.1),
        ),
        _x,
        [(2, 2)],
    ),
    "informed": (
        lambda: layers.MemoryInformedLayer(5, memory_size=3, hidden_units=4),
        lambda b: [_x(b), _selection(b)],
        [(5,)],
    ),
    "informed_top_k": (
        lambda: layers.MemoryInformedLayer(
            5, memory_size=3, hidden_units=4, top_k=1
        ),
        lambda b: [_x(b), _selection(b)],
        [(5,)],
    ),
    "correlation_norm": (
        lambda: layers.CorrelationNorm(block_size=4, seed=0),
        _x,
        [(6,)],
    ),
    "correlation_norm_conv": (
        lambda: layers.CorrelationNorm(block_size=None, num_pair_offsets=None),
        lambda b: np.ones((b, 3, 3, 2), "float32"),
        [(3, 3, 2)],
    ),
    "pca": (_adapted_pca, _x, [(3,)]),
    "product_key_memory": (
        lambda: layers.ProductKeyMemory(
            num_keys=3, value_dim=5, heads=2, top_k=2, key_dim=4
        ),
        _x,
        [(5,)],
    ),
    "product_key_memory_layer_norm": (
        lambda: layers.ProductKeyMemory(
            num_keys=3,
            value_dim=5,
            heads=2,
            top_k=2,
            key_dim=4,
            query_norm="layer",
        ),
        _x,
        [(5,)],
    ),
    "variant_heads": (
        lambda: layers.VariantHeads(4, 3, hidden_units=5),
        _x,
        [(3, 4)],
    ),
    "set_min": (
        lambda: layers.SetMinSelection(log_std=1.0, seed=0),
        lambda b: [np.ones((b, 3, 4), "float32"), np.ones((b, 4), "float32")],
        [(3, 4)],
    ),
}


def test_every_public_layer_is_covered():
    covered = {type(make()).__name__ for make, _, _ in LAYERS.values()}
    public = keras_memnets.layers.__all__
    classes = {n for n in public if isinstance(getattr(layers, n), type)}
    assert covered == classes


# ---------------------------------------------------------------------------
# Batch size 0: an empty output of the right shape and no NaN loss.


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_empty_batch_gives_empty_output_and_finite_losses(name, training):
    make, inputs, shapes = LAYERS[name]
    layer = make()
    layer(inputs(4), training=training)  # builds on a non-empty batch
    outputs = keras.tree.flatten(layer(inputs(0), training=training))
    assert [tuple(o.shape) for o in outputs] == [(0,) + s for s in shapes]
    losses = [float(_np(loss)) for loss in layer.losses]
    assert losses == [0.0] * len(losses)


def _every_layer_model():
    """A model holding every layer that adds losses or keeps state, whose
    only losses are the layers' own (so that every backend trains on an
    empty batch: Keras' compiled losses refuse one on JAX and PyTorch)."""
    x = keras.Input((6,))
    h = layers.CorrelationNorm(block_size=4, seed=0)(x)
    memory, selection = layers.MemoryLayer(
        6,
        memory_size=4,
        hidden_units=5,
        return_selection=True,
        selection_regularizer=OneMax(0.1),
    )(h)
    informed = layers.MemoryInformedLayer(
        6, memory_size=4, hidden_units=5, top_k=1
    )([h, selection])
    variants = layers.VariantHeads(6, 3, hidden_units=5)(informed + memory)
    outputs = layers.SetMinSelection(log_std=1.0, seed=0)([variants, x])
    model = keras.Model(x, outputs)
    model.compile(optimizer="sgd", loss=None)
    return model


def test_empty_batch_trains_to_a_zero_loss_in_a_compiled_step():
    model = _every_layer_model()
    model.train_on_batch(_x(4))
    model.train_on_batch(_x(3))  # TensorFlow retraces for any batch size
    before = [_np(v).copy() for v in model.trainable_variables]
    logs = model.train_on_batch(np.zeros((0, 6), "float32"), return_dict=True)
    assert {k: float(v) for k, v in logs.items()}["loss"] == 0.0
    for b, v in zip(before, model.trainable_variables):
        np.testing.assert_array_equal(_np(v), b)
    for v in model.variables:
        if "float" in str(v.dtype):
            assert np.all(np.isfinite(_np(v))), v.path


# ---------------------------------------------------------------------------
# Bad shapes: the error names the library class and the argument.


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_wrong_rank_names_the_class_and_argument(name):
    make, inputs, _ = LAYERS[name]
    good = inputs(2)
    if isinstance(good, list):
        bad, argument = [good[0][0], good[1]], "`(x|variants)`"
    else:
        bad, argument = good[0], "`inputs`"  # no batch axis
    cls = type(make()).__name__
    with pytest.raises(ValueError, match=f"{cls}: {argument} must have"):
        make()(bad)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_wrong_width_after_build_names_the_class_and_width(name):
    make, inputs, _ = LAYERS[name]
    layer = make()
    good = inputs(2)
    layer(good)
    if isinstance(good, list):
        bad = [good[0][..., :-1], good[1][..., :-1]]
    else:
        bad = good[..., :-1]
    width = (good[0] if isinstance(good, list) else good).shape[-1]
    cls = type(layer).__name__
    pattern = (
        rf"{cls}: `variants` must have shape \(batch, 3, 4\)"
        if name == "set_min"
        else rf"{cls}: `(inputs|x)` must have last axis {width}, .* got "
        f"{width - 1}"
    )
    with pytest.raises(ValueError, match=pattern):
        layer(bad)
    # Symbolic inputs too (a functional model built on the layer).
    symbolic = keras.tree.map_structure(lambda a: keras.Input(a.shape[1:]), bad)
    with pytest.raises(ValueError, match=f"{cls}: "):
        layer(symbolic)


# ---------------------------------------------------------------------------
# A batch with a NaN leaves no trace: save, reload, resume.


def _stateful_model():
    """PCAReduction, CorrelationNorm and SetMinSelection, trained by SignSGD
    (which skips a step whose gradients are not finite)."""
    keras.utils.set_random_seed(0)
    pca = layers.PCAReduction(4)
    pca.adapt(_x(32, seed=5))
    x = keras.Input((6,))
    h = keras.layers.Dense(8)(pca(x))
    h = layers.CorrelationNorm(
        block_size=4, hurdle_momentum=0.5, seed=3, name="cn"
    )(h)
    variants = layers.VariantHeads(6, 3, hidden_units=5)(h)
    outputs = layers.SetMinSelection(log_std=1.0, seed=3)([variants, x])
    model = keras.Model(x, outputs)
    model.compile(optimizer=SignSGD(learning_rate=0.01), loss=None)
    return model


def _state(model):
    """Every variable (weights, statistics, seed states) in model order."""
    return [(v.path, _np(v).astype("float64")) for v in model.variables]


def test_a_nan_batch_leaves_no_trace_after_save_load_and_resume():
    batches = [_x(8, seed=10 + i) for i in range(6)]
    reference = _stateful_model()
    for x in batches:
        reference.train_on_batch(x)
    expected = _state(reference)
    hurdle = reference.get_layer("cn").current_hurdle
    assert 0.0 < float(_np(hurdle)) < 1.0

    model = _stateful_model()
    for x in batches[:3]:
        model.train_on_batch(x)
    bad = batches[3].copy()
    bad[0, 0] = np.nan
    model.train_on_batch(bad)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        model = keras.saving.load_model(path)
    for x in batches[3:]:
        model.train_on_batch(x)
    got = _state(model)
    assert len(got) == len(expected)
    # The PCA weights, the hurdle and statistics, both random streams.
    paths = " ".join(path for path, _ in expected)
    for name in ("mean", "hurdle", "statistics_total", "log_std"):
        assert f"/{name}" in paths
    assert paths.count("seed_generator_state") == 2
    for (path, value), (_, reloaded) in zip(expected, got):
        np.testing.assert_allclose(reloaded, value, atol=1e-6, err_msg=path)


def test_correlation_norm_state_ignores_a_non_finite_batch_eagerly():
    layer = layers.CorrelationNorm(block_size=4, hurdle_momentum=0.5, seed=1)
    layer(_x(8), training=True)
    before = [_np(v).copy() for v in layer.variables]
    for value in (np.nan, np.inf, -np.inf):
        bad = _x(8, seed=2)
        bad[3, 2] = value
        layer(bad, training=True)
        for b, v in zip(before, layer.variables):
            np.testing.assert_array_equal(_np(v), b, err_msg=v.path)
    layer(_x(8, seed=2), training=True)
    assert float(_np(layer.statistics_count)) == 2.0
