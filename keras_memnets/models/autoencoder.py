"""A fully connected autoencoder whose ReLU placement is explicit."""

import keras

from keras_memnets.utils.validation import boolean
from keras_memnets.utils.validation import deprecated_value
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import one_of
from keras_memnets.utils.validation import positive_int
from keras_memnets.utils.validation import positive_int_list

PLACEMENTS = ("linear_after_code", "symmetric")
# Former names of the placements, accepted with a DeprecationWarning.
_RENAMED_PLACEMENTS = {"notes": "linear_after_code"}


def check_relu_placement(value, owner):
    """Returns a valid `relu_placement`, mapping a deprecated name.

    Args:
        value: the argument's value.
        owner: str. The function that takes it, for messages.

    Returns:
        One of `PLACEMENTS`.
    """
    value = deprecated_value(
        value, "relu_placement", owner, _RENAMED_PLACEMENTS, stacklevel=4
    )
    return one_of(value, "relu_placement", owner, PLACEMENTS)


def autoencoder(
    encoder_sizes,
    latent_dim,
    decoder_sizes=None,
    activation="relu",
    output_activation="sigmoid",
    relu_placement="linear_after_code",
    use_bias=True,
    name="autoencoder",
):
    """Builds a fully connected autoencoder whose ReLU placement is explicit.

    `encoder_sizes` includes the input size: `[784, 256]` means a 784-pixel
    input and one hidden layer of 256 units. `decoder_sizes` (default:
    `encoder_sizes` reversed) includes the output size, e.g. `[256, 784]`.
    The encoder is `Dense(encoder_sizes[i + 1], activation)` for every
    consecutive pair of `encoder_sizes`, then a linear `Dense(latent_dim)`
    (the code); the decoder is `Dense(decoder_sizes[i])` for every entry,
    the last with `output_activation`.

    With `relu_placement="linear_after_code"` the decoder's first layer,
    right after the code, has **no** activation and its other hidden
    layers have `activation`: `[784, 256]` has one activated layer (the
    encoder's) and its decoder `latent -> 256 -> 784` is linear up to the
    output sigmoid; `[784, 256, 256]` has activations after both encoder
    layers and after the decoder's second layer. With
    `relu_placement="symmetric"` every hidden layer on both sides has
    `activation`.

    Layers are named `encoder_{i}`, `code`, `decoder_{i}`, with activations
    inside the `Dense` layers, so `model.summary()` shows the structure.

    Args:
        encoder_sizes: list of ints. Input size followed by the encoder's
            hidden widths (at least the input size).
        latent_dim: int. Size of the code.
        decoder_sizes: list of ints or `None`. The decoder's widths ending
            with the output size; defaults to `encoder_sizes` reversed.
        activation: str or callable. Hidden activation. Defaults to
            `"relu"`.
        output_activation: str, callable or `None`. Output activation.
            Defaults to `"sigmoid"`.
        relu_placement: `"linear_after_code"` or `"symmetric"`. Where the
            hidden activations go (see above). Defaults to
            `"linear_after_code"`. The former name `"notes"` is deprecated.
        use_bias: bool. Whether the `Dense` layers have biases. Defaults to
            `True` (without biases, stacked ReLUs do not train here).
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from `(batch, encoder_sizes[0])` to
        `(batch, decoder_sizes[-1])`.

    Example:

    >>> model = keras_memnets.models.autoencoder([784, 256], latent_dim=32)
    >>> model.output_shape
    (None, 784)
    >>> [layer.name for layer in model.layers[1:]]
    ['encoder_0', 'code', 'decoder_0', 'decoder_1']
    >>> model.count_params()
    419120

    Reference:
        The guide *Over-fitting an MNIST autoencoder* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    owner = "autoencoder"
    encoder_sizes = positive_int_list(encoder_sizes, "encoder_sizes", owner)
    if decoder_sizes is None:
        decoder_sizes = list(reversed(encoder_sizes))
    decoder_sizes = positive_int_list(decoder_sizes, "decoder_sizes", owner)
    latent_dim = positive_int(latent_dim, "latent_dim", owner)
    relu_placement = check_relu_placement(relu_placement, owner)
    use_bias = boolean(use_bias, "use_bias", owner)
    get_activation(activation, "activation", owner)
    get_activation(output_activation, "output_activation", owner)
    inputs = keras.Input(shape=(encoder_sizes[0],), name="image")
    h = inputs
    for i, units in enumerate(encoder_sizes[1:]):
        h = keras.layers.Dense(
            units, activation=activation, use_bias=use_bias, name=f"encoder_{i}"
        )(h)
    h = keras.layers.Dense(latent_dim, use_bias=use_bias, name="code")(h)
    last = len(decoder_sizes) - 1
    for i, units in enumerate(decoder_sizes):
        if i == last:
            act = output_activation
        elif i == 0 and relu_placement == "linear_after_code":
            act = None
        else:
            act = activation
        h = keras.layers.Dense(
            units, activation=act, use_bias=use_bias, name=f"decoder_{i}"
        )(h)
    return keras.Model(inputs, h, name=name)
