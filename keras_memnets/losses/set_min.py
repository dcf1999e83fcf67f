"""Set-min random loss: the loss of the best of K variant predictions."""

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.losses._variants import base_loss_from_config
from keras_memnets.losses._variants import check_set_min_arguments
from keras_memnets.losses._variants import check_variant_shapes
from keras_memnets.losses._variants import serialize_base_loss
from keras_memnets.losses._variants import set_min_per_sample
from keras_memnets.losses._variants import variant_losses


@register
class SetMinLoss(keras.losses.Loss):
    """The loss of the best of K variant predictions, chosen under noise.

    A model with K variant outputs (for example
    `keras_memnets.layers.VariantHeads`) predicts `y_pred` of shape
    `(batch, K, *target_shape)` for a target `y_true` of shape
    `(batch, *target_shape)`. For each sample b and variant k the base loss
    `L[b, k]` is averaged over the target axes. The sample's winner is

    `k* = argmin_k log(L[b, k]) + log_std * eps[b, k]`,  `eps ~ N(0, 1)`,

    i.e. the per-variant losses are multiplied by log-normal noise with
    standard deviation `log_std` in log space before the minimum is taken
    (`noise_space="log"`). The comparison runs in log space, so
    `log_std=100` neither overflows nor gives NaN. With
    `noise_space="linear"` the noise is added to the raw losses instead:
    `k* = argmin_k L[b, k] + log_std * eps[b, k]`. Under the log reading a
    `log_std` of about 1 already makes the winner nearly random when the
    variants' losses are within a factor of e of each other; under the
    linear reading the same `log_std` is measured in loss units. The loss
    of the sample is

    `(1 - relaxation) * L[b, k*] + relaxation * mean_{k != k*} L[b, k]`.

    The noise only decides *which* variant wins: the value and the gradients
    come from the real, unperturbed losses, and the winner selection is
    under `stop_gradient`. With `log_std=0` and `relaxation=0` this is
    winner-take-all multiple-choice learning: only the winner of each sample
    receives gradient. Large `log_std` makes the assignment nearly uniformly
    random; `relaxation > 0` keeps losing variants from dying
    (relaxed winner-take-all).

    `SetMinLoss` is a plain, stateless loss: `log_std` is a constant and its
    noise is drawn from the fixed `seed`, so a given batch position and
    variant gets the same `eps` on every step. For noise drawn afresh at
    every step, a scheduled `log_std`
    (`keras_memnets.callbacks.LogStdSchedule`) and a noise stream that is
    saved with the model, use a `keras_memnets.layers.SetMinSelection`
    layer instead, which holds both as model state.

    Args:
        base_loss: str or callable. The per-sample loss function, by name
            (`"mse"`, `"mae"`, `"binary_crossentropy"` or any Keras loss
            *function* name) or as a callable `fn(y_true, y_pred)` that
            reduces only the last axis, as `keras.losses.mean_squared_error`
            does. The result is averaged over the other target axes.
            `keras.losses.Loss` instances are rejected: they reduce over the
            batch. Defaults to `"mse"`.
        log_std: float. Standard deviation of the winner-selection noise,
            `>= 0`. Defaults to `0.0` (exact minimum).
        relaxation: float in `[0, 1]`. Share of the loss given to the mean
            of the losing variants. Defaults to `0.0`.
        noise_space: `"log"` or `"linear"`. Where the noise is added:
            `"log"` (default) compares `log(L) + log_std * eps`
            (multiplicative, scale-free noise); `"linear"` compares
            `L + log_std * eps` (additive noise on the raw losses, so
            `log_std` is in the loss's own units).
        seed: int or `None`. Seed of the selection noise (`None` means 0).
        **kwargs: `name`, `reduction` and `dtype` of `keras.losses.Loss`.

    Call arguments:
        y_true: target, shape `(batch, *target_shape)`.
        y_pred: variant predictions, shape `(batch, K, *target_shape)`,
            `K >= 2` and known.
        sample_weight: optional per-sample weights, shape `(batch,)`.

    Returns:
        The reduced loss (a scalar with the default reduction).

    Example:

    >>> loss = keras_memnets.losses.SetMinLoss(log_std=0.0)
    >>> y_true = np.zeros((1, 2), "float32")
    >>> y_pred = np.array([[[1.0, 1.0], [0.1, 0.1], [2.0, 0.0]]], "float32")
    >>> round(float(loss(y_true, y_pred)), 6)  # variant 1 wins: 0.1 ** 2
    0.01

    Reference:
        Guzman-Rivera et al., "Multiple Choice Learning", NeurIPS 2012. Lee
        et al., "Stochastic Multiple Choice Learning for Training Diverse
        Deep Ensembles", NeurIPS 2016. Rupprecht et al., "Learning in an
        Uncertain World: Representing Ambiguity Through Multiple
        Hypotheses", ICCV 2017. The guide *Set-min random loss and
        K-variant networks* on the docs site,
        https://keras-memnets.readthedocs.io/.
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
        kwargs.setdefault("name", "set_min_loss")
        super().__init__(**kwargs)
        (
            self._base_loss_fn,
            self.log_std,
            self.relaxation,
            self.noise_space,
            self.seed,
        ) = check_set_min_arguments(
            base_loss, log_std, relaxation, noise_space, seed, "SetMinLoss"
        )
        self.base_loss = base_loss

    def variant_losses(self, y_true, y_pred):
        """Returns the per-sample, per-variant base losses, shape (batch, K).

        Args:
            y_true: target, shape `(batch, *target_shape)`.
            y_pred: variant predictions, shape `(batch, K, *target_shape)`.

        Returns:
            A tensor `L` of shape `(batch, K)`: the base loss of each variant,
            averaged over the target axes.
        """
        y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        check_variant_shapes(y_true.shape, y_pred.shape, "SetMinLoss")
        return variant_losses(y_true, y_pred, self._base_loss_fn)

    def call(self, y_true, y_pred):
        num_variants = check_variant_shapes(
            y_true.shape, y_pred.shape, "SetMinLoss"
        )
        losses = variant_losses(y_true, y_pred, self._base_loss_fn)
        noise = None
        if self.log_std > 0:
            eps = keras.random.normal(
                ops.shape(losses), dtype="float32", seed=self.seed or 0
            )
            noise = self.log_std * eps
        return set_min_per_sample(
            losses, noise, self.relaxation, num_variants, self.noise_space
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "base_loss": serialize_base_loss(self.base_loss),
                "log_std": self.log_std,
                "relaxation": self.relaxation,
                "noise_space": self.noise_space,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return base_loss_from_config(cls, config)
