"""The set-min random loss as a layer that owns its noise state."""

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.losses._variants import check_set_min_arguments
from keras_memnets.losses._variants import check_variant_shapes
from keras_memnets.losses._variants import deserialize_base_loss
from keras_memnets.losses._variants import serialize_base_loss
from keras_memnets.losses._variants import set_min_per_sample
from keras_memnets.losses._variants import variant_losses


@register
class SetMinSelection(keras.layers.Layer):
    """Adds the set-min random loss of K variants, with its noise as state.

    The layer takes the variant predictions `(batch, K, *target_shape)` and
    the targets `(batch, *target_shape)`, adds the set-min random loss of
    `keras_memnets.losses.SetMinLoss` to the model with `add_loss`, and
    returns the variants unchanged. It is an "endpoint layer": the model is
    compiled without a loss for this output (`loss=None`) and the targets
    reach the layer as a model input (for an autoencoder, the input itself).

    Why a layer: the selection noise has state, the current `log_std` (which
    `keras_memnets.callbacks.LogStdSchedule` changes during training) and
    the position in the random stream. Keras compiles a train step as a
    function of the *model's* variables, so state held by a loss is invisible
    to a compiled JAX step. Here both are model state, as in `Dropout` and
    `BatchNormalization`: `log_std` is a non-trainable weight and the noise
    comes from a `keras.random.SeedGenerator`. The same code runs on every
    backend, a schedule assigns a model weight, and both are saved with the
    model, so training continued after `keras.saving.load_model` draws the
    same noise as uninterrupted training.

    As `Dropout` does, the noise is only drawn when `training=True`; in
    `evaluate` the added loss is the noise-free set-min loss (the loss of
    each sample's best variant, mixed with the losers by `relaxation`).
    `sample_weight` passed to `fit` does not reach an added loss.

    Args:
        base_loss: str or callable. The per-sample loss function, as for
            `SetMinLoss`. Defaults to `"mse"`.
        log_std: float. Initial standard deviation of the selection noise,
            `>= 0`. Defaults to `0.0`.
        relaxation: float in `[0, 1]`. Share of the loss given to the mean
            of the losing variants. Defaults to `0.0`.
        noise_space: `"log"` (noise added to the log-losses, default) or
            `"linear"` (noise added to the raw losses), as for `SetMinLoss`.
        seed: int or `None`. Seed of the noise stream.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a list `[variants, targets]` of shapes
            `(batch, K, *target_shape)` and `(batch, *target_shape)`.
        training: bool. Whether to draw selection noise.

    Returns:
        `variants`, unchanged.

    Input shape:
        `[(batch, K, *target_shape), (batch, *target_shape)]`.

    Output shape:
        `(batch, K, *target_shape)`.

    Example:

    >>> image = keras.Input((4,))
    >>> variants = keras_memnets.layers.VariantHeads(4, 3)(image)
    >>> selection = keras_memnets.layers.SetMinSelection(log_std=1.0, seed=0)
    >>> outputs = selection([variants, image])
    >>> model = keras.Model(image, outputs)
    >>> model.compile("adam", loss=None)
    >>> tuple(model.output_shape)
    (None, 3, 4)
    >>> float(keras.ops.convert_to_numpy(selection.log_std))
    1.0

    Reference:
        The guide `docs/guides/set_min.rst`. Lee et al., "Stochastic
        Multiple Choice Learning for Training Diverse Deep Ensembles",
        NeurIPS 2016.
    """

    def __init__(
        self,
        base_loss="mse",
        log_std=0.0,
        relaxation=0.0,
        noise_space="log",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        (
            self._base_loss_fn,
            self.initial_log_std,
            self.relaxation,
            self.noise_space,
            self.seed,
        ) = check_set_min_arguments(
            base_loss, log_std, relaxation, noise_space, seed, "SetMinSelection"
        )
        self.base_loss = base_loss
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def _shapes(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or not isinstance(input_shape[0], (list, tuple))
        ):
            raise ValueError(
                "SetMinSelection: expected inputs [variants, targets]; got "
                f"input shape {input_shape}."
            )
        return tuple(input_shape[0]), tuple(input_shape[1])

    def build(self, input_shape):
        variants_shape, targets_shape = self._shapes(input_shape)
        self.num_variants = check_variant_shapes(
            targets_shape, variants_shape, "SetMinSelection"
        )
        self.log_std = self.add_weight(
            name="log_std",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_log_std),
            trainable=False,
            dtype="float32",
            autocast=False,
        )

    def call(self, inputs, training=None):
        variants, targets = inputs
        losses = variant_losses(
            ops.cast(targets, variants.dtype), variants, self._base_loss_fn
        )
        noise = None
        if training:
            eps = keras.random.normal(
                ops.shape(losses), dtype="float32", seed=self.seed_generator
            )
            noise = ops.cast(self.log_std, "float32") * eps
        per_sample = set_min_per_sample(
            losses, noise, self.relaxation, self.num_variants, self.noise_space
        )
        self.add_loss(ops.mean(ops.cast(per_sample, "float32")))
        return variants

    def save_own_variables(self, store):
        # Keras does not save a SeedGenerator's state with its layer (a
        # reloaded Dropout restarts its stream); this layer saves it so that
        # training continued after loading draws the noise it would have.
        store["0"] = self.log_std
        store["1"] = self.seed_generator.state

    def load_own_variables(self, store):
        self.log_std.assign(store["0"])
        if "1" in store:
            self.seed_generator.state.assign(store["1"])

    def compute_output_shape(self, input_shape):
        return self._shapes(input_shape)[0]

    def get_config(self):
        config = super().get_config()
        log_std = self.initial_log_std
        if self.built:
            log_std = float(keras.ops.convert_to_numpy(self.log_std))
        config.update(
            {
                "base_loss": serialize_base_loss(self.base_loss),
                "log_std": log_std,
                "relaxation": self.relaxation,
                "noise_space": self.noise_space,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "base_loss" in config:
            config["base_loss"] = deserialize_base_loss(config["base_loss"])
        return cls(**config)
