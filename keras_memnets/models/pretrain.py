"""Pretraining a memory decoder's parts before they are connected."""

import keras
import numpy as np

from keras_memnets.layers.memory import MemoryLayer
from keras_memnets.layers.memory_informed import MemoryInformedLayer
from keras_memnets.utils.models import get_layer
from keras_memnets.utils.models import input_model
from keras_memnets.utils.validation import positive_int

_OWNER = "pretrain_memory_decoder"


def _fresh_optimizer(optimizer):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return type(optimizer).from_config(optimizer.get_config())
    return keras.optimizers.get(optimizer)


def _features(model, tensor, x):
    """The values of the symbolic `tensor` of `model` on the inputs `x`."""
    features = input_model(model, tensor)
    if features is None:
        return np.asarray(x)
    return features.predict(x, verbose=0)


def pretrain_memory_decoder(
    model,
    x,
    y,
    epochs=2,
    batch_size=64,
    optimizer="adam",
    iterations=20,
    memory_layer="memory_layer",
    informed_layer="informed_layer",
    seed=None,
    verbose=0,
):
    """Pretrains the memory layer and each memory-informed subnet, separately.

    A recipe in three steps on a k-means partition of the targets, run
    before the two parts are trained together:

    1. k-means with `memory_size` clusters on the targets `y` (flattened);
       the centroids are written into the memory slots with
       `MemoryLayer.set_memory_from_kmeans`, so the memory output starts
       at the best hard `memory_size`-slot memory, near enough.
    2. The memory layer's selector is trained alone, as a classifier of
       the inputs into the clusters (sparse categorical cross-entropy),
       for `epochs` epochs.
    3. The memory-informed layer is trained alone with the one-hot cluster
       of each sample as its selection, for `epochs` epochs, so that
       candidate `k` learns only from the samples of cluster `k` (its
       hidden layer is shared by all candidates).

    Afterwards connect them: compile `model` and `fit` it as usual (the
    selection then mixes memory slots and candidates that already differ).
    The model's weights are changed in place; its compile state is not
    touched.

    Args:
        model: a `keras.Model` with a `MemoryLayer` and a
            `MemoryInformedLayer`, for example from
            `keras_memnets.models.memory_decoder`.
        x: array `(n, ...)`: the model's inputs.
        y: array `(n, *units)`: the targets of both outputs.
        epochs: int. Epochs of each of the two training steps.
        batch_size: int. Batch size of both.
        optimizer: str or `keras.optimizers.Optimizer`. Each step gets a
            fresh copy.
        iterations: int. Maximum Lloyd iterations of k-means.
        memory_layer: str. Name of the `MemoryLayer`.
        informed_layer: str. Name of the `MemoryInformedLayer`, or `None`
            to pretrain only the memory layer.
        seed: optional int. Seed of the k-means seeding.
        verbose: int. Passed to `fit`.

    Returns:
        A dict: `"centroids"` `(memory_size, *units)`, `"assignments"`
        `(n,)` (the cluster of each sample), `"kmeans_mse"` (the mean
        squared error of the centroids on `y`), `"selector_accuracy"` (the
        share of samples whose selection argmax is their cluster, after
        step 2) and `"history"` (the two `fit` histories' dicts, keyed
        `"selector"` and `"informed"`).

    Example:

    >>> model = keras_memnets.models.memory_decoder(
    ...     2, 3, memory_size=2, hidden_units=8)
    >>> x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> y = np.array([[0.1] * 3, [0.1] * 3, [0.9] * 3, [0.9] * 3])
    >>> result = keras_memnets.models.pretrain_memory_decoder(
    ...     model, x, y, epochs=1, seed=0)
    >>> np.sort(result["centroids"][:, 0]).round(2).tolist()
    [0.1, 0.9]

    Reference:
        The guide *Memory networks* on the docs site, which measures the
        recipe against the other fixes of a collapsed selection,
        https://keras-memnets.readthedocs.io/.
    """
    epochs = positive_int(epochs, "epochs", _OWNER)
    batch_size = positive_int(batch_size, "batch_size", _OWNER)
    iterations = positive_int(iterations, "iterations", _OWNER)
    memory = get_layer(model, memory_layer, MemoryLayer, _OWNER)
    informed = (
        None
        if informed_layer is None
        else get_layer(model, informed_layer, MemoryInformedLayer, _OWNER)
    )
    if informed is not None and informed.memory_size != memory.memory_size:
        raise ValueError(
            f"{_OWNER}: the memory layer has memory_size={memory.memory_size} "
            f"but the informed layer {informed.memory_size}."
        )
    x = np.asarray(x)
    y = np.asarray(keras.ops.convert_to_numpy(y), "float32")
    k = memory.memory_size
    if len(x) != len(y):
        raise ValueError(
            f"{_OWNER}: `x` and `y` must have the same number of rows, got "
            f"{len(x)} and {len(y)}."
        )
    if len(y) < k:
        raise ValueError(
            f"{_OWNER}: k-means needs at least memory_size={k} samples, got "
            f"{len(y)}."
        )

    # 1. k-means on the targets; the centroids become the memory slots.
    clusters = memory.set_memory_from_kmeans(
        y, seed=seed, max_iterations=iterations
    )
    centroids, assignments = clusters.centroids, clusters.assignments
    kmeans_mse = float(clusters.mse)

    # 2. The selector alone, as a classifier of the clusters.
    features = _features(model, memory.input, x)
    inputs = keras.Input(features.shape[1:])
    selector = keras.Model(inputs, memory.selector(inputs))
    selector.compile(
        optimizer=_fresh_optimizer(optimizer),
        loss="sparse_categorical_crossentropy",
    )
    selector_history = selector.fit(
        features,
        assignments,
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
    )
    selection = selector.predict(features, batch_size=512, verbose=0)
    accuracy = float(np.mean(selection.argmax(axis=-1) == assignments))
    history = {"selector": selector_history.history}

    # 3. Each candidate of the informed layer on its own cluster.
    if informed is not None:
        x_informed = _features(model, informed.input[0], x)
        one_hot = np.eye(k, dtype="float32")[assignments]
        x_in = keras.Input(x_informed.shape[1:])
        s_in = keras.Input((k,))
        candidates = keras.Model([x_in, s_in], informed([x_in, s_in]))
        candidates.compile(optimizer=_fresh_optimizer(optimizer), loss="mse")
        informed_history = candidates.fit(
            [x_informed, one_hot],
            y,
            epochs=epochs,
            batch_size=batch_size,
            verbose=verbose,
        )
        history["informed"] = informed_history.history
    return {
        "centroids": centroids,
        "assignments": assignments,
        "kmeans_mse": kmeans_mse,
        "selector_accuracy": accuracy,
        "history": history,
    }
