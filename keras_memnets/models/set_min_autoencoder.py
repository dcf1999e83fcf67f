"""An autoencoder with K variant decoders, trained with the set-min loss."""

import keras

from keras_memnets.layers.set_min_selection import SetMinSelection
from keras_memnets.layers.variant_heads import VariantHeads
from keras_memnets.utils.validation import positive_int


def set_min_autoencoder(
    input_dim=784,
    latent_dim=10,
    num_variants=5,
    hidden_units=512,
    activation="relu",
    output_activation="sigmoid",
    base_loss="mse",
    log_std=0.0,
    relaxation=0.0,
    noise_space="log",
    seed=None,
    name="set_min_autoencoder",
):
    """Builds an autoencoder whose decoder has K variant heads.

    - encoder: `Dense(hidden_units, activation)` then a linear
      `Dense(latent_dim)` (the code), shared by all variants;
    - decoder: `keras_memnets.layers.VariantHeads` with `num_variants`
      heads, each `Dense(hidden_units, activation)` then
      `Dense(input_dim, output_activation)`, computed batched;
    - a `keras_memnets.layers.SetMinSelection` layer that adds the set-min
      random loss of the variants against the input itself, with its
      `log_std` and noise stream as model state.

    The model carries its loss: compile it with `loss=None` and train with
    `model.fit(x)` (or `model.fit(x, x)` to give metrics such as
    `keras_memnets.metrics.VariantWins` a target). A
    `keras_memnets.callbacks.LogStdSchedule` controls the selection layer's
    `log_std`. With the defaults the outputs are sigmoid pixels in [0, 1]
    for flattened MNIST digits.

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
        base_loss: str or callable. Per-sample loss of a variant, as for
            `SetMinSelection`. Defaults to `"mse"`.
        log_std: float. Initial selection noise, `>= 0`. Defaults to 0.
        relaxation: float in `[0, 1]`. Share of the loss given to the
            losing variants. Defaults to 0.
        noise_space: `"log"` or `"linear"`: where the selection noise is
            added (see `SetMinSelection`). Defaults to `"log"`.
        seed: int or `None`. Seed of the selection noise.
        name: str. The model's name.

    Returns:
        A functional `keras.Model` mapping `(batch, input_dim)` to
        `(batch, num_variants, input_dim)`; its layers are named
        `"encoder_hidden"`, `"code"`, `"variant_decoders"` and
        `"set_min_selection"`.

    Example:

    >>> model = keras_memnets.models.set_min_autoencoder(
    ...     input_dim=784, latent_dim=10, num_variants=5)
    >>> model.output_shape
    (None, 5, 784)
    >>> model.compile("adam", loss=None)

    Reference:
        The guide *Set-min random loss and K-variant networks* on the docs
        site, https://keras-memnets.readthedocs.io/.
    """
    for arg, value in (
        ("input_dim", input_dim),
        ("latent_dim", latent_dim),
        ("num_variants", num_variants),
        ("hidden_units", hidden_units),
    ):
        positive_int(value, arg, "set_min_autoencoder")
    inputs = keras.Input(shape=(input_dim,), name="image")
    hidden = keras.layers.Dense(
        hidden_units, activation=activation, name="encoder_hidden"
    )(inputs)
    code = keras.layers.Dense(latent_dim, name="code")(hidden)
    variants = VariantHeads(
        input_dim,
        num_variants,
        hidden_units=hidden_units,
        activation=activation,
        output_activation=output_activation,
        name="variant_decoders",
    )(code)
    outputs = SetMinSelection(
        base_loss=base_loss,
        log_std=log_std,
        relaxation=relaxation,
        noise_space=noise_space,
        seed=seed,
        name="set_min_selection",
    )([variants, inputs])
    return keras.Model(inputs, outputs, name=name)
