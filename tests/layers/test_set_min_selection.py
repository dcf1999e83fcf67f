"""SetMinSelection: its added loss against numpy, its state, save/load."""

import os

import keras
import numpy as np
import pytest

from keras_memnets.layers import SetMinSelection
from tests.losses.test_set_min import numpy_set_min
from tests.losses.test_set_min import numpy_variant_losses


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def fixed_two_variant_model(run_eagerly=False, **layer_kwargs):
    """A model whose variants lose exactly 1 and 4 on a zero target.

    Returns `(model, selection_layer, inputs)`; train with
    `model.fit(inputs)` (the targets are the second model input).
    """
    x_in = keras.Input(shape=(1,), name="x")
    y_in = keras.Input(shape=(1,), name="target")
    variants = keras.layers.Dense(
        2,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant([1.0, 2.0]),
    )(x_in)
    variants = keras.layers.Reshape((2, 1))(variants)
    layer_kwargs.setdefault("seed", 5)
    selection = SetMinSelection(**layer_kwargs)
    outputs = selection([variants, y_in])
    model = keras.Model([x_in, y_in], outputs)
    # Learning rate 0: the outputs never change, only the selection does.
    model.compile(
        optimizer=keras.optimizers.SGD(0.0), loss=None, run_eagerly=run_eagerly
    )
    inputs = [np.ones((64, 1), "float32"), np.zeros((64, 1), "float32")]
    return model, selection, inputs


def test_added_loss_is_the_numpy_set_min_loss_without_noise():
    rng = np.random.default_rng(0)
    y_true = rng.random((16, 6)).astype("float32")
    y_pred = rng.random((16, 4, 6)).astype("float32")
    for relaxation in (0.0, 0.3):
        layer = SetMinSelection(relaxation=relaxation, log_std=5.0, seed=1)
        out = layer([y_pred, y_true], training=False)
        np.testing.assert_array_equal(to_numpy(out), y_pred)
        expected = numpy_set_min(
            numpy_variant_losses(y_true, y_pred), relaxation
        )[0].mean()
        assert len(layer.losses) == 1
        np.testing.assert_allclose(
            float(to_numpy(layer.losses[0])), expected, rtol=1e-5
        )


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_log_std_weight_reaches_the_compiled_step_and_noise_is_fresh(
    run_eagerly,
):
    model, selection, inputs = fixed_two_variant_model(run_eagerly)
    assert selection.log_std in model.non_trainable_weights
    at_zero = [float(model.train_on_batch(inputs)) for _ in range(3)]
    assert at_zero == [1.0, 1.0, 1.0]
    selection.log_std.assign(100.0)  # no recompiling
    noisy = [float(model.train_on_batch(inputs)) for _ in range(6)]
    # Random winners: about half the samples lose 4 instead of 1.
    assert all(1.5 < v < 3.5 for v in noisy), noisy
    assert len(set(noisy)) > 1, (
        f"the noise must be fresh on every step: {noisy}"
    )
    # No noise outside training, as in Dropout.
    assert float(model.evaluate(inputs, verbose=0)) == 1.0
    selection.log_std.assign(0.0)
    assert float(model.train_on_batch(inputs)) == 1.0


def _noisy_trainable_model(seed):
    inputs = keras.Input((3,))
    targets = keras.Input((2,))
    variants = keras.layers.Reshape((4, 2))(
        keras.layers.Dense(8, kernel_initializer="ones")(inputs)
    )
    outputs = SetMinSelection(log_std=3.0, seed=seed, name="selection")(
        [variants, targets]
    )
    model = keras.Model([inputs, targets], outputs)
    model.compile(keras.optimizers.SGD(0.05), loss=None)
    return model


def _train(model, data, steps):
    for _ in range(steps):
        model.train_on_batch(data)
    return [to_numpy(w) for w in model.weights]


def test_noise_stream_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(2)
    data = [
        rng.standard_normal((32, 3)).astype("float32"),
        rng.standard_normal((32, 2)).astype("float32"),
    ]
    model = _noisy_trainable_model(seed=7)
    _train(model, data, 3)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    state = to_numpy(model.get_layer("selection").seed_generator.state)
    np.testing.assert_array_equal(
        to_numpy(loaded.get_layer("selection").seed_generator.state), state
    )
    assert float(to_numpy(loaded.get_layer("selection").log_std)) == 3.0
    continued = _train(model, data, 4)
    reloaded = _train(loaded, data, 4)
    for a, b in zip(continued, reloaded):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # The check is sensitive: restarting the stream changes the training.
    restarted = keras.saving.load_model(path, safe_mode=True)
    restarted.get_layer("selection").seed_generator.state.assign(
        keras.random.SeedGenerator(7).state
    )
    diverged = _train(restarted, data, 4)
    assert any(
        not np.allclose(a, b, rtol=1e-6, atol=1e-7)
        for a, b in zip(continued, diverged)
    )


def test_config_keeps_the_current_log_std():
    layer = SetMinSelection(
        base_loss=keras.losses.mean_absolute_error,
        log_std=1.0,
        relaxation=0.2,
        noise_space="linear",
        seed=4,
    )
    layer.build([(None, 3, 2), (None, 2)])
    layer.log_std.assign(2.5)
    config = layer.get_config()
    assert config["log_std"] == 2.5 and config["noise_space"] == "linear"
    clone = SetMinSelection.from_config(config)
    assert clone.get_config() == config


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="SetMinSelection.*log_std"):
        SetMinSelection(log_std=-1.0)
    with pytest.raises(TypeError, match="SetMinSelection.*log_std"):
        SetMinSelection(log_std="1")
    with pytest.raises(ValueError, match="SetMinSelection.*relaxation"):
        SetMinSelection(relaxation=2.0)
    with pytest.raises(TypeError, match="SetMinSelection.*seed"):
        SetMinSelection(seed=1.5)
    with pytest.raises(ValueError, match="SetMinSelection.*noise_space"):
        SetMinSelection(noise_space="exp")
    with pytest.raises(
        ValueError, match="SetMinSelection.*\\[variants, targets\\]"
    ):
        SetMinSelection().build((None, 3, 2))
    with pytest.raises(ValueError, match="SetMinSelection.*target_shape"):
        SetMinSelection().build([(None, 3, 2), (None, 5)])
    with pytest.raises(ValueError, match="SetMinSelection.*at least 2"):
        SetMinSelection().build([(None, 1, 2), (None, 2)])
