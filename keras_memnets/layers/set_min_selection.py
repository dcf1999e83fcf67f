"""The set-min random loss as a layer that owns its noise state."""

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.layers.state import load_with_seed
from keras_memnets.layers.state import rewind_seed_unless
from keras_memnets.layers.state import save_with_seed
from keras_memnets.layers.state import seed_state
from keras_memnets.losses._variants import check_set_min_arguments
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

    The selection noise has state, as in `Dropout`: its standard deviation
    `log_std` is a non-trainable weight (which
    `keras_memnets.callbacks.LogStdSchedule` changes during training) and
    the noise comes from a `keras.random.SeedGenerator`. Both are saved with
    the model, so training continued after `keras.saving.load_model` draws
    the same noise as uninterrupted training. A batch whose losses are not
    finite (one holding NaN or Inf) leaves the random stream where it was,
    also inside compiled train steps, so training that skips such a step
    goes on as if the batch had never come.

    The noise is only drawn when `training=True`; in `evaluate` the added
    loss is the noise-free set-min loss (the loss of each sample's best
    variant, mixed with the losers by `relaxation`). An empty batch adds 0.
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
        The guide *Set-min random loss and K-variant networks* on the docs
        site (https://keras-memnets.readthedocs.io/). Lee et al.,
        "Stochastic Multiple Choice Learning for Training Diverse Deep
        Ensembles", NeurIPS 2016.
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

    def _check_inputs(self, input_shape):
        """`(variants_shape, targets_shape)` if they fit, else raises."""
        name = type(self).__name__
        if not (
            isinstance(input_shape, (list, tuple))
            and len(input_shape) == 2
            and all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"{name}: `inputs` must be a list `[variants, targets]` of two "
                f"tensors, got input shape {input_shape}."
            )
        variants, targets = (tuple(s) for s in input_shape)
        expected = "(batch, num_variants, *target_shape)"
        if len(variants) != len(targets) + 1 or variants[2:] != targets[1:]:
            raise ValueError(
                f"{name}: `variants` must have shape {expected} with "
                f"target_shape = targets.shape[1:] = {targets[1:]}, got "
                f"variants {variants} and targets {targets}."
            )
        if variants[1] is None or variants[1] < 2:
            raise ValueError(
                f"{name}: `variants` must hold a known number of at least 2 "
                f"variants on axis 1, got shape {variants}."
            )
        if self.built and (
            variants[1] != self.num_variants
            or targets[1:] != self._target_shape
        ):
            built = ", ".join(
                str(d) for d in (self.num_variants,) + self._target_shape
            )
            raise ValueError(
                f"{name}: `variants` must have shape (batch, {built}), as "
                f"when the layer was built, got {variants}."
            )
        return variants, targets

    def build(self, input_shape):
        variants, targets = self._check_inputs(input_shape)
        self.num_variants = int(variants[1])
        self._target_shape = targets[1:]
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
        self._check_inputs([tuple(variants.shape), tuple(targets.shape)])
        losses = variant_losses(
            ops.cast(targets, variants.dtype), variants, self._base_loss_fn
        )
        noise = None
        if training:
            before = seed_state(self.seed_generator)
            eps = keras.random.normal(
                ops.shape(losses), dtype="float32", seed=self.seed_generator
            )
            noise = ops.cast(self.log_std, "float32") * eps
            finite = ops.all(ops.isfinite(losses))
            rewind_seed_unless(finite, self.seed_generator, before)
        per_sample = set_min_per_sample(
            losses, noise, self.relaxation, self.num_variants, self.noise_space
        )
        # The mean over the batch; 0 for an empty batch.
        batch_size = ops.cast(ops.shape(per_sample)[0], "float32")
        total = ops.sum(ops.cast(per_sample, "float32"))
        self.add_loss(total / ops.maximum(batch_size, 1.0))
        return variants

    def save_own_variables(self, store):
        save_with_seed(store, [self.log_std], self.seed_generator)

    def load_own_variables(self, store):
        load_with_seed(store, [self.log_std], self.seed_generator)

    def compute_output_shape(self, input_shape):
        return self._check_inputs(input_shape)[0]

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
