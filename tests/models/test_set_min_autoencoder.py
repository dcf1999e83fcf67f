"""set_min_autoencoder: architecture, parameter count, winner-only updates."""

import copy

import keras
import numpy as np
import pytest

from keras_memnets.analysis import best_variant
from keras_memnets.losses import SetMinLoss
from keras_memnets.models import set_min_autoencoder


def test_architecture_and_parameter_count():
    d, dl, k, h = 12, 3, 4, 7
    model = set_min_autoencoder(
        input_dim=d, latent_dim=dl, num_variants=k, hidden_units=h
    )
    assert model.output_shape == (None, k, d)
    assert [layer.name for layer in model.layers] == [
        "image",
        "encoder_hidden",
        "code",
        "variant_decoders",
        "set_min_selection",
    ]
    encoder = d * h + h + h * dl + dl
    decoders = k * (dl * h + h + h * d + d)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == encoder + decoders
    assert model.count_params() == encoder + decoders + 1  # + log_std
    out = keras.ops.convert_to_numpy(
        model(np.random.default_rng(0).random((5, d)))
    )
    assert (
        out.shape == (5, k, d) and out.min() >= 0 and out.max() <= 1
    )  # sigmoid


def test_config_round_trip():
    model = set_min_autoencoder(
        input_dim=6, latent_dim=2, num_variants=3, hidden_units=4
    )
    config = model.get_config()
    # Functional.from_config consumes its argument: give it a copy.
    clone = model.__class__.from_config(copy.deepcopy(config))
    assert clone.get_config() == config
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_only_winning_decoders_are_updated():
    # With log_std=0 and relaxation=0, a decoder that wins no sample of the
    # batch gets zero gradient, so plain SGD leaves its weights unchanged.
    rng = np.random.default_rng(1)
    model = set_min_autoencoder(
        input_dim=8, latent_dim=2, num_variants=5, hidden_units=6
    )
    model.compile(keras.optimizers.SGD(0.5), loss=None)
    x = rng.random((3, 8)).astype("float32")
    winners = set(
        keras.ops.convert_to_numpy(best_variant(x, model(x))).tolist()
    )
    assert len(winners) < 5  # 3 samples cannot be won by 5 decoders
    heads = model.get_layer("variant_decoders")
    before = [keras.ops.convert_to_numpy(w).copy() for w in heads.weights]
    loss = float(model.train_on_batch(x))
    assert loss > 0
    after = [keras.ops.convert_to_numpy(w) for w in heads.weights]
    for k in range(5):
        changed = any(
            not np.array_equal(b[k], a[k]) for b, a in zip(before, after)
        )
        assert changed == (k in winners), (k, winners)


def test_carried_loss_is_the_set_min_loss():
    rng = np.random.default_rng(3)
    model = set_min_autoencoder(
        input_dim=8,
        latent_dim=2,
        num_variants=3,
        hidden_units=6,
        relaxation=0.2,
    )
    model.compile("sgd", loss=None)
    x = rng.random((10, 8)).astype("float32")
    variants = keras.ops.convert_to_numpy(model(x))
    expected = SetMinLoss(relaxation=0.2)(x, variants)
    np.testing.assert_allclose(
        model.evaluate(x, verbose=0), float(expected), rtol=1e-5
    )


@pytest.mark.parametrize(
    "arg", ["input_dim", "latent_dim", "num_variants", "hidden_units"]
)
def test_bad_arguments(arg):
    with pytest.raises(ValueError, match=f"set_min_autoencoder.*{arg}"):
        set_min_autoencoder(**{arg: 0})
    with pytest.raises(TypeError, match=f"set_min_autoencoder.*{arg}"):
        set_min_autoencoder(**{arg: 2.5})
