"""Set-min random loss: the loss of the best of K variant predictions."""

import math
import random

import keras
import numpy as np
from keras import ops

from keras_memnets.api_export import register

# log(0) guard for the winner selection: per-variant losses are clamped to at
# least this before the log. It is representable in float32 (the dtype the
# selection runs in), so ties only occur below 1e-30.
_LOG_FLOOR = 1e-30


def resolve_base_loss(base_loss, owner):
    """Returns the per-sample loss function named or given by `base_loss`.

    `owner` names the class in error messages. The function must follow the
    Keras convention of `keras.losses.mean_squared_error`: it takes
    `(y_true, y_pred)` of equal shapes and reduces only the last axis.
    """
    if isinstance(base_loss, str):
        try:
            fn = keras.losses.get(base_loss)
        except ValueError as e:
            raise ValueError(
                f"{owner}: `base_loss` must name a Keras loss function such "
                f"as 'mse', 'mae' or 'binary_crossentropy'; got "
                f"{base_loss!r}, which Keras does not know."
            ) from e
    elif isinstance(base_loss, keras.losses.Loss):
        raise TypeError(
            f"{owner}: `base_loss` must be a loss *function* (or its name), "
            "which returns one value per sample and position, not a "
            f"`keras.losses.Loss` instance, which reduces over the batch; got "
            f"{base_loss!r}. Pass e.g. 'binary_crossentropy' or "
            "keras.losses.binary_crossentropy."
        )
    elif callable(base_loss):
        fn = base_loss
    else:
        raise TypeError(
            f"{owner}: `base_loss` must be a string or a callable "
            f"`fn(y_true, y_pred)`; got {base_loss!r} of type "
            f"{type(base_loss).__name__}."
        )
    if isinstance(fn, keras.losses.Loss):
        raise TypeError(
            f"{owner}: `base_loss={base_loss!r}` names a `keras.losses.Loss` "
            "class, which reduces over the batch; pass the name of the loss "
            "function instead, e.g. 'binary_crossentropy' rather than "
            "'BinaryCrossentropy'."
        )
    return fn


def serialize_base_loss(base_loss):
    if isinstance(base_loss, str):
        return base_loss
    return keras.saving.serialize_keras_object(base_loss)


def deserialize_base_loss(config_value):
    if isinstance(config_value, dict):
        return keras.saving.deserialize_keras_object(config_value)
    return config_value


def check_variant_shapes(y_true_shape, y_pred_shape, owner):
    """Validates `y_pred` (batch, K, *target) against `y_true` (batch, *target).

    Returns K. Raises a ValueError naming `owner` for a missing variant axis,
    a rank mismatch, K=1 or an unknown K.
    """
    y_true_shape = tuple(y_true_shape)
    y_pred_shape = tuple(y_pred_shape)
    expected = "(batch, num_variants, *target_shape) with target_shape = " + (
        f"y_true.shape[1:] = {y_true_shape[1:]}"
    )
    if len(y_pred_shape) != len(y_true_shape) + 1:
        raise ValueError(
            f"{owner}: `y_pred` must have a variant axis after the batch "
            f"axis, i.e. the shape {expected}; got y_pred.shape="
            f"{y_pred_shape} and y_true.shape={y_true_shape} (y_pred must "
            "have exactly one more axis than y_true)."
        )
    for t, p in zip(y_true_shape[1:], y_pred_shape[2:]):
        if t is not None and p is not None and t != p:
            raise ValueError(
                f"{owner}: `y_pred` must have the shape {expected}; got "
                f"y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}."
            )
    num_variants = y_pred_shape[1]
    if num_variants is None:
        raise ValueError(
            f"{owner}: the variant axis (axis 1) of `y_pred` must have a "
            f"known size; got y_pred.shape={y_pred_shape}."
        )
    if num_variants < 2:
        raise ValueError(
            f"{owner}: `y_pred` must hold at least 2 variants along axis 1, "
            f"got y_pred.shape={y_pred_shape} (num_variants="
            f"{num_variants}). With one variant there is nothing to choose "
            "from: use the base loss directly."
        )
    return num_variants


def variant_losses(y_true, y_pred, loss_fn):
    """Per-sample, per-variant losses `L[b, k]`, shape (batch, K).

    `y_true` (batch, *target) is broadcast against the variant axis of
    `y_pred` (batch, K, *target); `loss_fn` reduces the last axis and the
    result is averaged over the remaining target axes.
    """
    if len(y_true.shape) == 1:
        # Scalar targets: give both a feature axis of size 1 for `loss_fn`.
        y_true = ops.expand_dims(y_true, -1)
        y_pred = ops.expand_dims(y_pred, -1)
    y_true = ops.broadcast_to(ops.expand_dims(y_true, 1), ops.shape(y_pred))
    per_position = loss_fn(y_true, y_pred)
    rank = len(per_position.shape)
    if rank > 2:
        per_position = ops.mean(per_position, axis=tuple(range(2, rank)))
    return per_position


def winner_weights(losses, noise, relaxation, num_variants):
    """Stop-gradient weights (batch, K) that pick out each sample's winner.

    The winner of row b is `argmin_k log(L[b, k]) + noise[b, k]`; it gets
    weight `1 - relaxation`, every other variant `relaxation / (K - 1)`.
    """
    scores = ops.log(ops.maximum(ops.cast(losses, "float32"), _LOG_FLOOR))
    if noise is not None:
        scores = scores + ops.cast(noise, "float32")
    winners = ops.argmin(ops.stop_gradient(scores), axis=1)
    one_hot = ops.one_hot(winners, num_variants, dtype=losses.dtype)
    others = (1.0 - one_hot) / float(num_variants - 1)
    weights = (1.0 - relaxation) * one_hot + relaxation * others
    return ops.stop_gradient(weights), winners


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
    standard deviation `log_std` in log space before the minimum is taken.
    The comparison runs in log space, so `log_std=100` neither overflows nor
    gives NaN. The loss of the sample is

    `(1 - relaxation) * L[b, k*] + relaxation * mean_{k != k*} L[b, k]`.

    The noise only decides *which* variant wins: the value and the gradients
    come from the real, unperturbed losses, and the winner selection is
    under `stop_gradient`. With `log_std=0` and `relaxation=0` this is
    winner-take-all multiple-choice learning: only the winner of each sample
    receives gradient. Large `log_std` makes the assignment nearly uniformly
    random; `relaxation > 0` keeps losing variants from dying
    (relaxed winner-take-all).

    This is our reading of the research note's "set min random loss": the
    earlier note it builds on is not available (see the guide
    `docs/guides/set_min.rst`).

    `log_std` is held in a non-trainable `keras.Variable`
    (the `log_std` attribute), so `keras_memnets.callbacks.LogStdSchedule`
    or `loss.log_std.assign(v)` changes it without recompiling; the compiled
    train step reads the current value on every step on all backends. On
    JAX, whose compiled steps only receive the model's own variables as
    state, the loss reads `log_std` and its noise seed from the host through
    `jax.experimental.io_callback` (one explicit JAX branch); on TensorFlow
    and PyTorch the variable and a `keras.random.SeedGenerator` are read
    directly.

    Args:
        base_loss: str or callable. The per-sample loss function, by name
            (`"mse"`, `"mae"`, `"binary_crossentropy"` or any Keras loss
            *function* name) or as a callable `fn(y_true, y_pred)` that
            reduces only the last axis, as `keras.losses.mean_squared_error`
            does. The result is averaged over the other target axes.
            `keras.losses.Loss` instances are rejected: they reduce over the
            batch. Defaults to `"mse"`.
        log_std: float. Standard deviation of the winner-selection noise in
            log space, `>= 0`. Defaults to `0.0` (exact minimum).
        relaxation: float in `[0, 1]`. Share of the loss given to the mean
            of the losing variants. Defaults to `0.0`.
        seed: int or `None`. Seed of the selection noise. Two losses with
            the same seed draw the same noise sequence.
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
    >>> loss.log_std = 1.0  # assigns the variable, e.g. from a callback

    Reference:
        Research note `000-memory-and-set-min-notes.txt` (first part, "set
        min random loss based net"). Guzman-Rivera et al., "Multiple Choice
        Learning", NeurIPS 2012. Lee et al., "Stochastic Multiple Choice
        Learning for Training Diverse Deep Ensembles", NeurIPS 2016.
        Rupprecht et al., "Learning in an Uncertain World: Representing
        Ambiguity Through Multiple Hypotheses", ICCV 2017.
    """

    def __init__(
        self, base_loss="mse", log_std=0.0, relaxation=0.0, seed=None, **kwargs
    ):
        kwargs.setdefault("name", "set_min_loss")
        super().__init__(**kwargs)
        self._base_loss_fn = resolve_base_loss(base_loss, "SetMinLoss")
        self.base_loss = base_loss
        _check_log_std(log_std, "SetMinLoss")
        if isinstance(relaxation, bool) or not isinstance(
            relaxation, (int, float)
        ):
            raise TypeError(
                "SetMinLoss: `relaxation` must be a float in [0, 1]; got "
                f"{relaxation!r}."
            )
        if not 0.0 <= float(relaxation) <= 1.0:
            raise ValueError(
                "SetMinLoss: `relaxation` must be in [0, 1]; got "
                f"{relaxation!r}."
            )
        self.relaxation = float(relaxation)
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int)
        ):
            raise TypeError(
                f"SetMinLoss: `seed` must be an int or None; got {seed!r}."
            )
        self.seed = seed
        # The seed actually used; drawn from Python's `random` (seeded by
        # `keras.utils.set_random_seed`) when none is given.
        self._seed_value = seed if seed is not None else random.randint(1, 10**9)
        self._log_std = keras.Variable(
            float(log_std),
            trainable=False,
            dtype="float32",
            name="log_std",
        )
        if keras.config.backend() == "jax":
            # Host-side seed state [seed, counter] for the JAX branch of
            # `_selection_state` (a jax key must be uint32).
            self._jax_counter = 0
        else:
            self._seed_generator = keras.random.SeedGenerator(
                self._seed_value
            )

    @property
    def log_std(self):
        """The `keras.Variable` holding the selection noise's log-space std."""
        return self._log_std

    @log_std.setter
    def log_std(self, value):
        _check_log_std(value, "SetMinLoss")
        self._log_std.assign(float(value))

    def _jax_host_state(self):
        log_std = np.asarray(keras.ops.convert_to_numpy(self._log_std), "float32")
        seed = np.array(
            [self._seed_value % 2**32, self._jax_counter % 2**32], "uint32"
        )
        self._jax_counter += 1
        return log_std, seed

    def _selection_state(self):
        """Returns `(log_std, seed)` for this step's noise."""
        if keras.config.backend() == "jax":
            # JAX quirk: Keras compiles the JAX train/test step as a pure
            # function of the model's own variables. A variable owned by the
            # loss (log_std, the seed state) would be frozen into the compiled
            # step as a constant at trace time, so a callback's change would
            # never reach it and every step would draw the same noise. Read
            # both from the host at run time instead.
            import jax
            from jax.experimental import io_callback

            return io_callback(
                self._jax_host_state,
                (
                    jax.ShapeDtypeStruct((), "float32"),
                    jax.ShapeDtypeStruct((2,), "uint32"),
                ),
                ordered=True,
            )
        return ops.cast(self._log_std.value, "float32"), self._seed_generator

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
        log_std, seed = self._selection_state()
        eps = keras.random.normal(ops.shape(losses), dtype="float32", seed=seed)
        weights, _ = winner_weights(
            losses, log_std * eps, self.relaxation, num_variants
        )
        return ops.sum(weights * losses, axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "base_loss": serialize_base_loss(self.base_loss),
                # The current value, as Keras optimizers do for a learning
                # rate held in a variable.
                "log_std": float(keras.ops.convert_to_numpy(self._log_std)),
                "relaxation": self.relaxation,
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


def _check_log_std(value, owner):
    if isinstance(value, bool) or not isinstance(
        value, (int, float, np.floating, np.integer)
    ):
        raise TypeError(
            f"{owner}: `log_std` must be a non-negative float; got {value!r}."
        )
    if not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(
            f"{owner}: `log_std` must be a finite float >= 0 (the standard "
            f"deviation of the selection noise in log space); got {value!r}."
        )
