"""Private helpers shared by the set-min loss, layer and metrics.

Per-variant losses, shape checks, base-loss (de)serialization and the
winner selection live here so that `losses/`, `layers/` and `metrics/` do
not import each other's modules.
"""

import keras
from keras import ops

from keras_memnets.utils.validation import non_negative_int
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import one_of

NOISE_SPACES = ("log", "linear")

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


def base_loss_from_config(cls, config):
    """`cls(**config)` with the `base_loss` entry deserialized.

    The `from_config` of every object that takes a `base_loss` (a name or a
    serialized loss function).
    """
    config = dict(config)
    if "base_loss" in config:
        config["base_loss"] = deserialize_base_loss(config["base_loss"])
    return cls(**config)


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


def winner_weights(losses, noise, relaxation, num_variants, noise_space="log"):
    """Stop-gradient weights (batch, K) that pick out each sample's winner.

    `noise` is `log_std * eps` (or `None`). With `noise_space="log"` the
    winner of row b is `argmin_k log(L[b, k]) + noise[b, k]` (log-normal,
    multiplicative noise); with `"linear"` it is `argmin_k L[b, k] +
    noise[b, k]` (additive noise on the raw losses). The winner gets weight
    `1 - relaxation`, every other variant `relaxation / (K - 1)`.
    """
    scores = ops.cast(losses, "float32")
    if noise_space == "log":
        scores = ops.log(ops.maximum(scores, _LOG_FLOOR))
    if noise is not None:
        scores = scores + ops.cast(noise, "float32")
    winners = ops.argmin(ops.stop_gradient(scores), axis=1)
    one_hot = ops.one_hot(winners, num_variants, dtype=losses.dtype)
    others = (1.0 - one_hot) / float(num_variants - 1)
    weights = (1.0 - relaxation) * one_hot + relaxation * others
    return ops.stop_gradient(weights), winners


def set_min_per_sample(losses, noise, relaxation, num_variants, noise_space):
    """Per-sample set-min loss (batch,) from per-variant losses (batch, K)."""
    weights, _ = winner_weights(
        losses, noise, relaxation, num_variants, noise_space
    )
    return ops.sum(weights * losses, axis=1)


def check_noise_space(value, owner):
    """Returns `value` if it is `"log"` or `"linear"`, else raises."""
    return one_of(value, "noise_space", owner, NOISE_SPACES)


def check_set_min_arguments(
    base_loss, log_std, relaxation, noise_space, seed, owner
):
    """Validates the arguments that `SetMinLoss` and `SetMinSelection` share.

    Returns:
        A tuple `(base_loss_fn, log_std, relaxation, noise_space, seed)`:
        the resolved base loss function and the checked values (`seed` is
        `None` or a non-negative int).
    """
    return (
        resolve_base_loss(base_loss, owner),
        number_in_range(
            log_std,
            "log_std",
            owner,
            low=0.0,
            high=float("inf"),
            high_inclusive=False,
        ),
        number_in_range(relaxation, "relaxation", owner, low=0.0, high=1.0),
        check_noise_space(noise_space, owner),
        None if seed is None else non_negative_int(seed, "seed", owner),
    )
