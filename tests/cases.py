"""Every public keras_memnets object, as the shared harness exercises it.

Adding a public object to the library means adding one `Case` to the list
of its subject below; the registry test (`tests/test_public_api.py`) fails
for an exported object that has no case and no entry in
`NOT_KERAS_OBJECTS`. Layer and model cases state their weight counts; a
layer case may give a numpy reference of its output (`expected_output`).
"""

import keras
import numpy as np

import keras_memnets
from keras_memnets import callbacks
from keras_memnets import layers
from keras_memnets import losses
from keras_memnets import metrics
from keras_memnets import models
from keras_memnets import regularizers
from keras_memnets.optimizers import SignSGD
from keras_memnets.optimizers import SkipNonFiniteOptimizer
from tests.harness import Case


def _variant_heads_model(metrics=None):
    """Case.build for objects needing a (batch, K, D) model with SetMinLoss."""

    def build(obj, x, rng):
        inputs = keras.Input(shape=x.shape[1:])
        outputs = keras_memnets.layers.VariantHeads(4, 3, hidden_units=5)(
            inputs
        )
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer="adam",
            loss=keras_memnets.losses.SetMinLoss(seed=0),
            metrics=[obj] if metrics else None,
        )
        y = rng.random((len(x), 4)).astype("float32")
        return model, x, y

    return build


def _variants_and_targets(rng, batch):
    """`[variants, targets]` for SetMinSelection: K=3 variants of width 4."""
    return [
        rng.random((batch, 3, 4)).astype("float32"),
        rng.random((batch, 4)).astype("float32"),
    ]


def _selection_model(callback, x, rng):
    """A set_min_autoencoder (it holds a SetMinSelection) for LogStdSchedule."""
    model = models.set_min_autoencoder(
        x.shape[1], latent_dim=2, num_variants=3, hidden_units=5, seed=0
    )
    model.compile(optimizer="adam", loss=None)
    return model, x, x


def _x_and_selection(rng, batch):
    """`[x, selection]` for MemoryInformedLayer: a width-3 softmax selection."""
    logits = rng.standard_normal((batch, 3))
    selection = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return [
        rng.standard_normal((batch, 6)).astype("float32"),
        selection.astype("float32"),
    ]


def _restart_model(callback, x, rng):
    """A small memory_decoder whose data the restart callback samples from."""
    model = models.memory_decoder(6, 5, memory_size=3, hidden_units=8)
    y = rng.random((len(x), 5)).astype("float32")
    callback.set_data(x, y)
    model.compile(optimizer="adam", loss={"memory": "mse", "informed": "mse"})
    return model, x, {"memory": y, "informed": y}


def _monitor_model(callback, x, rng):
    """A small memory_decoder whose selection the monitor reports on."""
    model = models.memory_decoder(6, 5, memory_size=3, hidden_units=8)
    y = rng.random((len(x), 5)).astype("float32")
    callback.set_data(x, labels=np.arange(len(x)) % 2)
    model.compile(optimizer="adam", loss={"memory": "mse", "informed": "mse"})
    return model, x, {"memory": y, "informed": y}


def _embedding_model(optimizer, x, rng):
    """A model that gathers from a table (an Embedding), for LazyAdam."""
    ids = rng.integers(0, 20, (len(x), 3)).astype("int32")
    model = keras.Sequential(
        [
            keras.Input((3,), dtype="int32"),
            keras.layers.Embedding(20, 4),
            keras.layers.Flatten(),
            keras.layers.Dense(4),
        ]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model, ids, rng.random((len(x), 4)).astype("float32")


def _memory_model_arguments():
    """`inputs` and `outputs` of a small model with a ProductKeyMemory."""
    inputs = keras.Input((6,))
    memory = layers.ProductKeyMemory(
        num_keys=4, value_dim=5, heads=2, top_k=3, key_dim=4
    )
    outputs = keras.layers.Dense(3)(memory(inputs))
    return dict(inputs=inputs, outputs=outputs)


def _compile_with_lazy_adam(model, x, rng):
    """The model itself, trained with LazyAdam (its row-sparse step)."""
    model.compile(optimizer=keras_memnets.optimizers.LazyAdam(0.01), loss="mse")
    return model, x, rng.random((len(x), 3)).astype("float32")


def _softmax_regularized_model(regularizer, x, rng):
    """A softmax layer with `regularizer` on its output (OneMax needs
    probability rows)."""
    inputs = keras.Input(shape=x.shape[1:])
    outputs = keras.layers.Dense(
        4, activation="softmax", activity_regularizer=regularizer
    )(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    return model, x, rng.random((len(x), 4)).astype("float32")


# ---------------------------------------------------------------------------
# Numpy references of layer outputs (float64, from the layer's weights).


def _np(weights):
    return [
        np.asarray(keras.ops.convert_to_numpy(w), "float64") for w in weights
    ]


def _relu(z):
    return np.maximum(z, 0.0)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _approximator_output(layer, x):
    w1, b1, w2, b2 = _np(layer.weights)
    h = _relu(np.asarray(x, "float64") @ w1 + b1) @ w2 + b2
    return h.reshape((len(x),) + tuple(np.atleast_1d(layer.units)))


def _memory_output(layer, x):
    """softmax(approximator) . sigmoid(memory), top-k renormalised."""
    selection = _softmax(_approximator_output(layer.selector, x))
    if layer.top_k is not None:
        kth = np.sort(selection, -1)[:, [-layer.top_k]]
        selection = np.where(selection >= kth, selection, 0.0)
        selection /= selection.sum(-1, keepdims=True)
    (memory,) = _np([layer.memory])
    flat = _sigmoid(layer.memory_scale * memory).reshape(layer.memory_size, -1)
    output = (selection @ flat).reshape((len(x),) + memory.shape[1:])
    return [output, selection] if layer.return_selection else output


def _informed_output(layer, inputs):
    x, selection = inputs
    candidates = _sigmoid(_approximator_output(layer.candidates, x))
    return np.einsum("bk,bku->bu", selection, candidates)


def _variant_heads_output(layer, x):
    weights = _np(layer.weights)
    h = np.asarray(x, "float64")[:, None, :]  # (batch, 1, features)
    if layer.hidden_units is not None:
        kernel, bias, *weights = weights
        h = _relu(np.einsum("bki,kih->bkh", h, kernel) + bias)
    kernel, bias = weights
    h = np.einsum("bki,kio->bko", h, kernel) + bias
    if layer.output_activation is keras.activations.sigmoid:
        h = _sigmoid(h)
    return h.reshape((len(x), layer.num_variants) + layer._units_shape)


def _pca_output(layer, x):
    mean, components, variance, _ = _np(layer.weights)
    z = (np.asarray(x, "float64") - mean) @ components
    return z / np.sqrt(variance + layer.epsilon) if layer.whiten else z


# ---------------------------------------------------------------------------
# The cases, by subject.

# Memory networks: the layers, the decoder built from them, and the
# callbacks that act on a trained memory.
MEMORY = [
    Case(
        layers.ApproximatorLayer,
        "layer",
        dict(hidden_units=8, units=(3, 2)),
        trainable_weights=4,
        non_trainable_weights=0,
        expected_output=_approximator_output,
    ),
    Case(
        layers.MemoryLayer,
        "layer",
        dict(memory_size=3, units=5, hidden_units=8),
        trainable_weights=5,
        non_trainable_weights=0,
        expected_output=_memory_output,
    ),
    Case(
        layers.MemoryLayer,
        "layer",
        dict(
            memory_size=3,
            units=(2, 2),
            hidden_units=8,
            return_selection=True,
            selection_regularizer=regularizers.OneMax(0.1),
        ),
        id="selection",
        trainable_weights=5,
        non_trainable_weights=0,
        expected_output=_memory_output,
    ),
    Case(
        layers.MemoryLayer,
        "layer",
        dict(
            memory_size=3,
            units=(2, 2),
            hidden_units=8,
            top_k=2,
            return_selection=True,
        ),
        id="top_k",
        trainable_weights=5,
        non_trainable_weights=0,
        expected_output=_memory_output,
    ),
    Case(
        layers.MemoryLayer,
        "layer",
        dict(memory_size=3, units=5, hidden_units=8, memory_scale=1.0),
        id="notes",
        trainable_weights=5,
        non_trainable_weights=0,
        expected_output=_memory_output,
    ),
    Case(
        layers.MemoryInformedLayer,
        "layer",
        dict(memory_size=3, units=5, hidden_units=8),
        make_inputs=_x_and_selection,
        trainable_weights=4,
        non_trainable_weights=0,
        expected_output=_informed_output,
    ),
    Case(
        layers.MemoryInformedLayer,
        "layer",
        dict(
            memory_size=3, units=5, hidden_units=8, top_k=1, capacity_factor=1.5
        ),
        make_inputs=_x_and_selection,
        id="top_k",
        trainable_weights=4,
        non_trainable_weights=0,
    ),
    Case(
        models.memory_decoder,
        "model",
        dict(input_dim=6, output_dim=5, memory_size=3, hidden_units=8),
        trainable_weights=9,
        non_trainable_weights=0,
    ),
    Case(
        models.memory_decoder,
        "model",
        dict(
            input_dim=6,
            output_dim=(2, 3),
            memory_size=3,
            hidden_units=8,
            return_selection=True,
            selection_regularizer=regularizers.OneMax(0.1),
        ),
        id="selection",
        trainable_weights=9,
        non_trainable_weights=0,
    ),
    Case(
        callbacks.RestartDeadSlots,
        "callback",
        dict(threshold=0.3, seed=0),
        build=_restart_model,
    ),
    Case(
        callbacks.SelectionMonitor,
        "callback",
        dict(prefix="memory_", keys=["slots_used", "purity"]),
        build=_monitor_model,
    ),
]

# The selection: its regularizers, loss and metrics.
SELECTION = [
    Case(
        losses.OneMaxLoss, "loss", y_pred_shape=(4,), pred_activation="softmax"
    ),
    Case(
        regularizers.OneMax,
        "regularizer",
        dict(weight=0.1),
        build=_softmax_regularized_model,
    ),
    Case(
        regularizers.LoadBalance,
        "regularizer",
        dict(weight=0.5, mode="entropy"),
        pred_activation="softmax",
    ),
    Case(
        metrics.SelectionPerplexity,
        "metric",
        dict(memory_size=4),
        pred_activation="softmax",
    ),
    Case(
        metrics.DeadSlots,
        "metric",
        dict(memory_size=4, threshold=0.2),
        pred_activation="softmax",
    ),
    Case(
        metrics.SlotsForMass,
        "metric",
        dict(memory_size=4, mass=0.9),
        pred_activation="softmax",
    ),
    Case(metrics.MeanMaxSelection, "metric", pred_activation="softmax"),
    Case(
        metrics.SlotUsage,
        "metric",
        dict(memory_size=4),
        pred_activation="softmax",
    ),
    Case(
        metrics.UsageKL,
        "metric",
        dict(memory_size=4),
        pred_activation="softmax",
    ),
]

# The set-min random loss and K-variant networks.
SET_MIN = [
    Case(
        keras_memnets.losses.SetMinLoss,
        kind="loss",
        kwargs={"seed": 0},
        y_pred_shape=(3, 4),
        y_true_shape=(4,),
    ),
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
        id="noisy_bce",
    ),
    Case(
        keras_memnets.layers.VariantHeads,
        kind="layer",
        kwargs={"units": 4, "num_variants": 3, "hidden_units": 5},
        trainable_weights=4,
        non_trainable_weights=0,
        expected_output=_variant_heads_output,
    ),
    Case(
        keras_memnets.layers.VariantHeads,
        kind="layer",
        kwargs={
            "units": (2, 3),
            "num_variants": 2,
            "hidden_units": None,
            "output_activation": "sigmoid",
        },
        id="no_hidden_tuple_units",
        trainable_weights=2,
        non_trainable_weights=0,
        expected_output=_variant_heads_output,
    ),
    Case(
        keras_memnets.layers.SetMinSelection,
        kind="layer",
        kwargs={"log_std": 1.0, "relaxation": 0.1, "seed": 3},
        make_inputs=_variants_and_targets,
        trainable_weights=0,
        non_trainable_weights=1,
        expected_output=lambda layer, inputs: inputs[0],
    ),
    Case(
        keras_memnets.metrics.VariantWins,
        kind="metric",
        kwargs={"num_variants": 3, "variant": 1},
        build=_variant_heads_model(metrics=True),
    ),
    Case(
        keras_memnets.callbacks.LogStdSchedule,
        kind="callback",
        kwargs={"schedule": [(1, 1.0), (1, 10.0)], "unit": "epoch"},
        build=_selection_model,
    ),
    Case(
        keras_memnets.models.set_min_autoencoder,
        kind="model",
        kwargs={
            "input_dim": 6,
            "latent_dim": 2,
            "num_variants": 3,
            "hidden_units": 4,
            "log_std": 1.0,
            "seed": 2,
        },
        trainable_weights=8,
        non_trainable_weights=1,
    ),
]

# Normalisation and reduction of hidden layers.
NORMALISATION = [
    Case(
        keras_memnets.layers.CorrelationNorm,
        "layer",
        {"block_size": 4, "seed": 1},
        input_shape=(6,),
        id="dense",
        trainable_weights=0,
        non_trainable_weights=3,
        expected_output=lambda layer, x: x,  # the identity at inference
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
        trainable_weights=0,
        non_trainable_weights=3,
    ),
    Case(
        layers.PCAReduction,
        "layer",
        dict(units=3, whiten=True),
        input_shape=(6,),
        setup=lambda layer, x: layer.adapt(x),
        trainable_weights=0,
        non_trainable_weights=4,
        expected_output=_pca_output,
    ),
]

# Optimizers.
OPTIMIZERS = [
    Case(SignSGD, "optimizer", dict(learning_rate=0.01), id="sign"),
    Case(
        SignSGD,
        "optimizer",
        dict(
            learning_rate=0.01, momentum=0.9, nesterov=True, weight_decay=0.01
        ),
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
    # The non-finite-step wrapper, around a Keras optimizer.
    Case(
        SkipNonFiniteOptimizer,
        "optimizer",
        dict(inner_optimizer="adam"),
        id="adam",
    ),
    Case(
        keras_memnets.optimizers.LazyAdam, "optimizer", dict(learning_rate=0.01)
    ),
    Case(
        keras_memnets.optimizers.LazyAdam,
        "optimizer",
        dict(learning_rate=0.01, amsgrad=True, weight_decay=0.01, clipnorm=1.0),
        build=_embedding_model,
        id="embedding",
    ),
]

# Product-key memory.
PRODUCT_KEYS = [
    Case(
        layers.ProductKeyMemory,
        "layer",
        dict(num_keys=4, value_dim=5, heads=2, top_k=3, key_dim=4),
        trainable_weights=5,
        non_trainable_weights=2,
    ),
    Case(
        layers.ProductKeyMemory,
        "layer",
        dict(
            num_keys=3,
            value_dim=4,
            heads=1,
            top_k=2,
            key_dim=6,
            query_norm="layer",
            values_regularizer="l2",
        ),
        input_shape=(3, 6),
        id="layer_norm_sequence",
        trainable_weights=5,
        non_trainable_weights=0,
    ),
    # Row-sparse training of the tables on JAX.
    Case(
        models.RowSparseModel,
        "model",
        _memory_model_arguments,
        build=_compile_with_lazy_adam,
        trainable_weights=7,
        non_trainable_weights=2,
    ),
]

# Capacity: autoencoders, the summed BCE and convergence.
CAPACITY = [
    Case(
        models.autoencoder,
        "model",
        dict(encoder_sizes=[6, 4], latent_dim=2),
        trainable_weights=8,
        non_trainable_weights=0,
    ),
    Case(
        models.autoencoder,
        "model",
        dict(
            encoder_sizes=[6, 5, 4],
            latent_dim=3,
            relu_placement="symmetric",
            use_bias=False,
        ),
        id="symmetric_no_bias",
        trainable_weights=6,
        non_trainable_weights=0,
    ),
    Case(losses.SummedBinaryCrossentropy, "loss", pred_activation="sigmoid"),
    Case(
        losses.SummedBinaryCrossentropy,
        "loss",
        dict(from_logits=True),
        y_pred_shape=(2, 3),
        id="logits_rank3",
    ),
    Case(
        callbacks.ConvergenceStopping,
        "callback",
        dict(monitor="loss", rel_tol=0.5, patience=1),
    ),
]

# Weight statistics over training.
WEIGHT_STATISTICS = [
    Case(
        callbacks.WeightHistory,
        "callback",
        dict(every=2, keep_weights=True, bins=[-1.0, 0.0, 1.0]),
    ),
    Case(
        models.relu_mlp,
        "model",
        dict(widths=[8, 8, 8]),
        input_shape=(1,),
        trainable_weights=8,
        non_trainable_weights=0,
    ),
    Case(
        models.relu_mlp,
        "model",
        dict(widths=[4, 3], input_dim=2, output_dim=2, instances=3),
        input_shape=(2,),
        id="instances",
        trainable_weights=6,
        non_trainable_weights=0,
    ),
]

CASES = (
    MEMORY
    + PRODUCT_KEYS
    + SELECTION
    + SET_MIN
    + NORMALISATION
    + OPTIMIZERS
    + CAPACITY
    + WEIGHT_STATISTICS
)

# Public callables that are not Keras objects (plain functions, constants):
# they have no config to round-trip and are tested in their own modules.
# Map each to the reason it is outside the harness.
NOT_KERAS_OBJECTS = {
    layers.memory_layout_map: (
        "a function returning a keras.distribution.LayoutMap (data, not a "
        "Keras object); tested in tests/layers/test_memory_layout_map.py and, "
        "on eight devices, tests/test_model_parallel.py"
    ),
    models.pretrain_memory_decoder: (
        "a training recipe that changes a model's weights in place and "
        "returns a dict; tested in tests/models/test_pretrain.py"
    ),
}
