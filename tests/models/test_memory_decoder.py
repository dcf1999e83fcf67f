import keras
import numpy as np
import pytest

from keras_memnets import layers
from keras_memnets import models
from keras_memnets import regularizers


def _np(t):
    return keras.ops.convert_to_numpy(t)


def test_notes_sizes_count_params():
    model = models.memory_decoder(6, 784)
    # Approximator[512, 10] on 6 inputs + the 10 x 784 memory
    # + Approximator[512, (10, 784)] on 6 inputs.
    selector = 6 * 512 + 512 + 512 * 10 + 10
    memory = 10 * 784
    informed = 6 * 512 + 512 + 512 * 7840 + 7840
    assert model.count_params() == selector + memory + informed == 4_042_058
    assert sorted(model.output_names) == ["informed", "memory"]


def test_outputs_are_the_two_layers_sharing_one_selection():
    model = models.memory_decoder(
        5, (3, 4), memory_size=6, hidden_units=16, return_selection=True
    )
    x = np.random.default_rng(0).normal(size=(7, 5)).astype("float32")
    out = {k: _np(v) for k, v in model(x).items()}
    assert out["memory"].shape == out["informed"].shape == (7, 3, 4)
    memory_layer = model.get_layer("memory_layer")
    informed_layer = model.get_layer("informed_layer")
    assert isinstance(memory_layer, layers.MemoryLayer)
    selection = _np(memory_layer.compute_selection(x))
    np.testing.assert_allclose(out["selection"], selection, rtol=1e-6)
    np.testing.assert_allclose(out["selection"].sum(-1), 1.0, rtol=1e-6)
    logits = memory_layer.memory_scale * _np(memory_layer.memory)
    sig_memory = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(
        out["memory"],
        np.einsum("bk,kij->bij", selection, sig_memory),
        rtol=1e-5,
        atol=1e-6,
    )
    candidates = _np(informed_layer.candidates(x))
    np.testing.assert_allclose(
        out["informed"],
        np.einsum("bk,bkij->bij", selection, candidates),
        rtol=1e-5,
        atol=1e-6,
    )


def test_selection_reachable_without_third_output():
    model = models.memory_decoder(4, 8, memory_size=3, hidden_units=8)
    selection = model.get_layer("memory_layer").output[1]
    sub = keras.Model(model.inputs, selection)
    assert tuple(sub.output.shape) == (None, 3)


def test_training_both_outputs_lowers_both_losses():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (rng.random((64, 10)) < (x[:, :1] > 0)).astype("float32")
    model = models.memory_decoder(
        4,
        10,
        memory_size=3,
        hidden_units=16,
        selection_regularizer=regularizers.OneMax(0.01),
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-2),
        loss={"memory": "mse", "informed": "mse"},
    )
    history = model.fit(
        x, {"memory": y, "informed": y}, epochs=5, batch_size=8, verbose=0
    )
    for key in ("memory_loss", "informed_loss"):
        assert history.history[key][-1] < 0.8 * history.history[key][0], key
    # The total loss adds 0.01 * mean(1 - max selection) to the two outputs.
    result = model.evaluate(
        x,
        {"memory": y, "informed": y},
        batch_size=64,
        verbose=0,
        return_dict=True,
    )
    selection = _np(model.get_layer("memory_layer").compute_selection(x))
    one_max = 0.01 * np.mean(1 - selection.max(-1))
    np.testing.assert_allclose(
        result["loss"] - result["memory_loss"] - result["informed_loss"],
        one_max,
        rtol=1e-3,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs,error,argument",
    [
        (dict(input_dim=0, output_dim=8), ValueError, "input_dim"),
        (dict(input_dim=4, output_dim=0), ValueError, "output_dim"),
        (dict(input_dim=4, output_dim=(4, 0)), ValueError, "output_dim"),
        (
            dict(input_dim=4, output_dim=8, memory_size=0),
            ValueError,
            "memory_size",
        ),
        (
            dict(input_dim=4, output_dim=8, hidden_units=0),
            ValueError,
            "hidden_units",
        ),
        (dict(input_dim=4.0, output_dim=8), TypeError, "input_dim"),
        (
            dict(input_dim=4, output_dim=8, return_selection=1),
            TypeError,
            "return_selection",
        ),
    ],
)
def test_bad_arguments_name_the_builder_and_argument(kwargs, error, argument):
    # Before: input_dim=0 built a model, and output_dim=0 blamed
    # `MemoryLayer.units`.
    with pytest.raises(error, match=f"memory_decoder: .*`{argument}`"):
        models.memory_decoder(**kwargs)
