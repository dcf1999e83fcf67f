"""Every public keras_memnets object, as the shared harness exercises it.

Adding a public object to the library means adding one `Case` here; the
registry test (`tests/test_public_api.py`) fails for an exported object that
has no case and no entry in `NOT_KERAS_OBJECTS`.
"""

import keras

import keras_memnets
from keras_memnets.optimizers import SignSGD
from tests.harness import Case  # noqa: F401


def _variant_heads_model(metrics=None):
    """Case.build for objects that need a (batch, K, D) model with SetMinLoss."""

    def build(obj, x, rng):
        inputs = keras.Input(shape=x.shape[1:])
        outputs = keras_memnets.layers.VariantHeads(3, 4, hidden_units=5)(inputs)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer="adam",
            loss=keras_memnets.losses.SetMinLoss(seed=0),
            metrics=[obj] if metrics else None,
        )
        y = rng.random((len(x), 4)).astype("float32")
        return model, x, y

    return build


CASES = [
    # --- issue 4: SignSGD ---
    Case(SignSGD, "optimizer", dict(learning_rate=0.01), id="sign"),
    Case(
        SignSGD,
        "optimizer",
        dict(learning_rate=0.01, momentum=0.9, nesterov=True, weight_decay=0.01),
        id="signum_nesterov",
    ),
    Case(
        SignSGD,
        "optimizer",
        dict(learning_rate=0.01, error_feedback=True, clipnorm=1.0),
        id="error_feedback",
    ),
    Case(
        SignSGD,
        "optimizer",
        dict(learning_rate=0.01, majority_vote=True),
        id="majority_vote",
    ),
    # --- issue 6: set-min random loss and K-variant networks ---
    Case(
        keras_memnets.losses.SetMinLoss,
        kind="loss",
        kwargs={"seed": 0},
        y_pred_shape=(3, 4),
        y_true_shape=(4,),
    ),
    # Selection noise is drawn from a seed stream that a reloaded loss
    # restarts, so evaluate() after loading draws different winners.
    Case(
        keras_memnets.losses.SetMinLoss,
        kind="loss",
        kwargs={
            "base_loss": "binary_crossentropy",
            "log_std": 1.0,
            "relaxation": 0.1,
            "seed": 3,
        },
        y_pred_shape=(3, 4),
        y_true_shape=(4,),
        pred_activation="sigmoid",
        compare_evaluate=False,
        id="noisy_bce",
    ),
    Case(
        keras_memnets.layers.VariantHeads,
        kind="layer",
        kwargs={"num_variants": 3, "units": 4, "hidden_units": 5},
    ),
    Case(
        keras_memnets.layers.VariantHeads,
        kind="layer",
        kwargs={
            "num_variants": 2,
            "units": (2, 3),
            "hidden_units": None,
            "output_activation": "sigmoid",
        },
        id="no_hidden_tuple_units",
    ),
    Case(
        keras_memnets.metrics.VariantWins,
        kind="metric",
        kwargs={"num_variants": 3},
        build=_variant_heads_model(metrics=True),
    ),
    Case(
        keras_memnets.callbacks.LogStdSchedule,
        kind="callback",
        kwargs={"schedule": [(1, 1.0), (1, 10.0)], "unit": "epoch"},
        build=_variant_heads_model(),
    ),
    Case(
        keras_memnets.models.set_min_autoencoder,
        kind="model",
        kwargs={
            "input_dim": 6,
            "latent_dim": 2,
            "num_variants": 3,
            "hidden_units": 4,
        },
    ),
    # --- issue 5: CorrelationNorm ---
    Case(
        keras_memnets.layers.CorrelationNorm,
        "layer",
        {"block_size": 4, "seed": 1},
        input_shape=(6,),
        id="dense",
    ),
    Case(
        keras_memnets.layers.CorrelationNorm,
        "layer",
        {
            "block_size": None,
            "num_pair_offsets": None,
            "hurdle_momentum": 0.9,
            "seed": 1,
        },
        input_shape=(5, 5, 3),
        id="conv2d",
    ),
]

# Public callables that are not Keras objects (plain functions, constants):
# they have no config to round-trip and are tested in their own modules.
# Map each to the reason it is outside the harness.
NOT_KERAS_OBJECTS = {
    keras_memnets.metrics.best_variant: (
        "a plain function of (y_true, y_pred) returning winner indices; "
        "tested in tests/metrics/test_variant_wins.py"
    ),
    keras_memnets.metrics.class_winner_distribution: (
        "a numpy analysis function (winners, labels) -> tables; tested in "
        "tests/metrics/test_variant_wins.py"
    ),
}
