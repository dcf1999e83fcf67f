"""An autoencoder with K variant decoders, for training with `SetMinLoss`."""

import keras

from keras_memnets.layers.variant_heads import VariantHeads


def set_min_autoencoder(
    input_dim=784,
    latent_dim=10,
    num_variants=5,
    hidden_units=512,
    activation="relu",
    output_activation="sigmoid",
    name="set_min_autoencoder",
):
    """Builds an autoencoder whose decoder has K variant heads.

    The architecture follows the research note's building block, the
    "ApproximatorLayer" (an activated linear layer into another linear
    layer):

    - encoder: `Dense(hidden_units, activation)` then a linear
      `Dense(latent_dim)` (the code, the note's `dl`), shared by all
      variants;
    - decoder: `keras_memnets.layers.VariantHeads` with `num_variants`
      heads, each `Dense(hidden_units, activation)` then
      `Dense(input_dim, output_activation)`, computed batched.

    Train it with `keras_memnets.losses.SetMinLoss` against the input
    itself: `model.fit(x, x)`. With the defaults the outputs are sigmoid
    pixels in [0, 1] for flattened MNIST digits.

    Args:
        input_dim: int. Size of the flat input and of each reconstruction.
            Defaults to 784.
        latent_dim: int. Size of the code. Defaults to 10.
        num_variants: int. Number of decoder variants K. Defaults to 5.
        hidden_units: int. Width of the encoder's hidden layer and of each
            decoder head's hidden layer. Defaults to 512.
        activation: str or callable. Hidden activation. Defaults to
            `"relu"`.
        output_activation: str, callable or `None`. Activation of the
            reconstructions. Defaults to `"sigmoid"`.
        name: str. The model's name.

    Returns:
        A functional `keras.Model` mapping `(batch, input_dim)` to
        `(batch, num_variants, input_dim)`; its layers are named
        `"encoder_hidden"`, `"code"` and `"variant_decoders"`.

    Example:

    >>> model = keras_memnets.models.set_min_autoencoder(
    ...     input_dim=784, latent_dim=10, num_variants=5)
    >>> model.output_shape
    (None, 5, 784)
    >>> model.compile("adam", loss=keras_memnets.losses.SetMinLoss())

    Reference:
        Research note `000-memory-and-set-min-notes.txt` (first part: an
        MNIST autoencoder with `dl=10` trained with the set-min random
        loss).
    """
    for arg, value in (
        ("input_dim", input_dim),
        ("latent_dim", latent_dim),
        ("num_variants", num_variants),
        ("hidden_units", hidden_units),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"set_min_autoencoder: `{arg}` must be a positive int; got "
                f"{value!r}."
            )
    inputs = keras.Input(shape=(input_dim,), name="image")
    hidden = keras.layers.Dense(
        hidden_units, activation=activation, name="encoder_hidden"
    )(inputs)
    code = keras.layers.Dense(latent_dim, name="code")(hidden)
    outputs = VariantHeads(
        num_variants=num_variants,
        units=input_dim,
        hidden_units=hidden_units,
        activation=activation,
        output_activation=output_activation,
        name="variant_decoders",
    )(code)
    return keras.Model(inputs, outputs, name=name)
