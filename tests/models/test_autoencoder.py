"""autoencoder: layer structure and parameter counts against the note's code."""

import keras
import numpy as np
import pytest

import keras_memnets
from keras_memnets.analysis import relu_layers
from keras_memnets.models import autoencoder


def note_layers(encoder_layer_sizes, latent_size, decoder_layer_sizes):
    """The research note's PyTorch `AE.__init__`, transcribed loop by loop.

    Returns the module sequence as ("linear", in, out) / ("relu",) /
    ("sigmoid",) tuples, with the note's conditions kept verbatim
    (including `i != len(layer_sizes)`, which is always true).
    """
    layers = []
    layer_sizes = encoder_layer_sizes
    for i, (in_size, out_size) in enumerate(
        zip(layer_sizes[:-1], layer_sizes[1:])
    ):
        layers.append(("linear", in_size, out_size))
        if i != len(layer_sizes):
            layers.append(("relu",))
    layers.append(("linear", layer_sizes[-1], latent_size))
    layer_sizes = decoder_layer_sizes
    input_size = latent_size
    for i, (in_size, out_size) in enumerate(
        zip([input_size] + layer_sizes[:-1], layer_sizes)
    ):
        layers.append(("linear", in_size, out_size))
        if i + 1 < len(layer_sizes):
            if i != 0:
                layers.append(("relu",))
        else:
            layers.append(("sigmoid",))
    return layers


def keras_layers(model):
    """The same tuple sequence read off a built autoencoder."""
    out = []
    for layer in model.layers[1:]:
        assert isinstance(layer, keras.layers.Dense)
        out.append(("linear", layer.input.shape[-1], layer.units))
        name = keras.activations.serialize(layer.activation)
        name = name if isinstance(name, str) else name["config"]
        if name != "linear":
            out.append((name,))
    return out


NOTE_ARCHITECTURES = [
    ([784, 256], 512),
    ([784, 32, 32], 128),
    ([784, 256, 128], 128),
]


@pytest.mark.parametrize("sizes,latent", NOTE_ARCHITECTURES)
def test_linear_after_code_matches_the_reference_code(sizes, latent):
    model = autoencoder(sizes, latent)
    expected = note_layers(sizes, latent, list(reversed(sizes)))
    assert keras_layers(model) == expected
    params = sum(
        i * o + o for kind, *io in expected if kind == "linear" for i, o in [io]
    )
    assert model.count_params() == params
    # relu_layers reports the same activations as the model has.
    widths = [
        layer.units
        for layer in model.layers[1:]
        if layer.activation is keras.activations.relu
    ]
    assert relu_layers(sizes) == widths


def test_one_relu_for_784_256_and_parameter_count():
    model = autoencoder([784, 256], 32)
    relus = [
        layer for layer in model.layers[1:] if "relu" in str(layer.activation)
    ]
    assert [layer.name for layer in relus] == ["encoder_0"]
    # 784*256+256 + 256*32+32 + 32*256+256 + 256*784+784
    assert model.count_params() == 419_120
    assert model.output_shape == (None, 784)


def test_symmetric_placement_activates_every_hidden_layer():
    model = autoencoder([10, 8, 6], 3, relu_placement="symmetric")
    acts = [layer.activation for layer in model.layers[1:]]
    names = [layer.name for layer in model.layers[1:]]
    assert names == [
        "encoder_0",
        "encoder_1",
        "code",
        "decoder_0",
        "decoder_1",
        "decoder_2",
    ]
    relu = keras.activations.relu
    assert acts[:2] == [relu, relu]
    assert acts[2] is keras.activations.linear
    assert acts[3:5] == [relu, relu]
    assert acts[5] is keras.activations.sigmoid
    assert relu_layers([10, 8, 6], "symmetric") == [8, 6, 6, 8]


def test_decoder_sizes_no_bias_and_output_activation():
    model = autoencoder(
        [12, 8],
        2,
        decoder_sizes=[5, 7, 12],
        use_bias=False,
        output_activation=None,
    )
    dense = model.layers[1:]
    assert [layer.units for layer in dense] == [8, 2, 5, 7, 12]
    assert not any(layer.use_bias for layer in dense)
    assert model.count_params() == 12 * 8 + 8 * 2 + 2 * 5 + 5 * 7 + 7 * 12
    assert dense[-1].activation is keras.activations.linear
    # linear_after_code: decoder_0 is linear, decoder_1 is activated.
    assert dense[2].activation is keras.activations.linear
    assert dense[3].activation is keras.activations.relu
    assert relu_layers([12, 8], decoder_sizes=[5, 7, 12]) == [8, 7]


def test_forward_pass_matches_numpy():
    keras.utils.set_random_seed(0)
    model = autoencoder([6, 4], 3)
    x = np.random.default_rng(0).random((5, 6)).astype("float32")
    h = x
    for i, layer in enumerate(model.layers[1:]):
        w, b = (keras.ops.convert_to_numpy(v) for v in layer.weights)
        h = h @ w + b
        if i == 0:
            h = np.maximum(h, 0)
    h = 1 / (1 + np.exp(-h))
    y = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(y, h, rtol=1e-5, atol=1e-6)


def test_matches_the_reference_torch_module():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    sizes, latent = [20, 8, 6], 4

    # The note's Encoder and Decoder, without the prints.
    encoder = nn.Sequential()
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        encoder.add_module(f"L{i}", nn.Linear(a, b))
        if i != len(sizes):
            encoder.add_module(f"A{i}", nn.ReLU())
    encoder.add_module("linear", nn.Linear(sizes[-1], latent))
    dec_sizes = list(reversed(sizes))
    decoder = nn.Sequential()
    for i, (a, b) in enumerate(zip([latent] + dec_sizes[:-1], dec_sizes)):
        decoder.add_module(f"L{i}", nn.Linear(a, b))
        if i + 1 < len(dec_sizes):
            if i != 0:
                decoder.add_module(f"A{i}", nn.ReLU())
        else:
            decoder.add_module("sigmoid", nn.Sigmoid())
    net = nn.Sequential(encoder, decoder)

    model = autoencoder(sizes, latent)
    assert model.count_params() == sum(p.numel() for p in net.parameters())
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    for layer, linear in zip(model.layers[1:], linears):
        layer.set_weights(
            [
                linear.weight.detach().numpy().T,
                linear.bias.detach().numpy(),
            ]
        )
    x = np.random.default_rng(1).random((7, 20)).astype("float32")
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    y = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(encoder_sizes=784, latent_dim=2), TypeError),
        (dict(encoder_sizes=[784, 2.5], latent_dim=2), TypeError),
        (dict(encoder_sizes=[784, 0], latent_dim=2), ValueError),
        (dict(encoder_sizes=[], latent_dim=2), ValueError),
        (dict(encoder_sizes=[784], latent_dim=0), ValueError),
        (dict(encoder_sizes=[784], latent_dim="2"), TypeError),
        (
            dict(encoder_sizes=[784], latent_dim=2, relu_placement="x"),
            ValueError,
        ),
        (dict(encoder_sizes=[784], latent_dim=2, use_bias=1), TypeError),
        (
            dict(encoder_sizes=[784], latent_dim=2, activation="nope"),
            ValueError,
        ),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error, match="autoencoder"):
        autoencoder(**kwargs)


def test_numpy_ints_are_accepted():
    model = keras_memnets.models.autoencoder(
        np.array([8, 4]), np.int64(2), decoder_sizes=(np.int32(4), 8)
    )
    assert model.output_shape == (None, 8)


def test_placement_notes_is_a_deprecated_name_of_linear_after_code():
    with pytest.warns(DeprecationWarning, match="'linear_after_code'"):
        old = autoencoder([10, 8], 3, relu_placement="notes")
    new = autoencoder([10, 8], 3, relu_placement="linear_after_code")
    assert keras_layers(old) == keras_layers(new)
    with pytest.warns(DeprecationWarning, match="relu_layers"):
        assert relu_layers([10, 8, 6], "notes") == relu_layers([10, 8, 6])
    with pytest.raises(ValueError, match="autoencoder: `relu_placement`"):
        autoencoder([10, 8], 3, relu_placement="note")
