"""A trained memory decoder measured: errors, utilisation, specialisation,
noise, and the k-means error it should approach."""

import keras
import numpy as np

from keras_memnets.analysis.images import high_frequency_energy
from keras_memnets.analysis.selection import selection_report
from keras_memnets.layers.memory import MemoryLayer
from keras_memnets.layers.memory_informed import MemoryInformedLayer
from keras_memnets.utils.kmeans import kmeans
from keras_memnets.utils.models import get_layer
from keras_memnets.utils.models import layer_selection
from keras_memnets.utils.slots import dead_threshold
from keras_memnets.utils.validation import positive_int


def _finite_array(values, argument, owner):
    array = np.asarray(keras.ops.convert_to_numpy(values), "float64")
    if array.ndim < 1 or not np.all(np.isfinite(array)):
        raise ValueError(
            f"{owner}: `{argument}` must be an array (n, ...) of finite "
            f"values, got shape {array.shape} with NaN or infinite entries."
        )
    return array


def kmeans_baseline(targets, memory_size, test_targets=None, seed=None):
    """The error of the best hard memory, near enough: k-means on targets.

    A memory of `memory_size` slots whose selection is one-hot can do no
    better than `memory_size` centroids, each sample answered by its
    nearest one. K-means (k-means++ seeding, Lloyd iterations) on the
    flattened `targets` finds such centroids; their mean squared error is
    the level a trained memory output should approach.

    Args:
        targets: array `(n, ...)`: training targets.
        memory_size: int. Number of centroids.
        test_targets: optional array `(m, ...)`: also report the error of
            the nearest centroid on these.
        seed: optional int. Seed of the k-means++ seeding.

    Returns:
        A dict: `"centroids"` `(memory_size, ...)`, `"train_mse"` and, with
        `test_targets`, `"test_mse"` (Python floats).

    Example:

    >>> y = np.array([[0.0, 0.0], [0.0, 0.2], [1.0, 1.0], [1.0, 0.8]])
    >>> result = keras_memnets.analysis.kmeans_baseline(y, 2, seed=0)
    >>> round(result["train_mse"], 4)
    0.005
    """
    owner = "kmeans_baseline"
    memory_size = positive_int(memory_size, "memory_size", owner)
    targets = _finite_array(targets, "targets", owner)
    if len(targets) < memory_size:
        raise ValueError(
            f"{owner}: `targets` must hold at least memory_size="
            f"{memory_size} rows, got {len(targets)}."
        )
    flat = targets.reshape(len(targets), -1)
    clusters = kmeans(flat, memory_size, seed=seed)
    centroids = clusters.centroids
    result = {
        "centroids": centroids.reshape((memory_size,) + targets.shape[1:]),
        "train_mse": float(clusters.mse),
    }
    if test_targets is not None:
        test = _finite_array(test_targets, "test_targets", owner)
        test = test.reshape(len(test), -1)
        distances = (
            np.einsum("ij,ij->i", test, test)[:, None]
            - 2 * test @ centroids.T
            + np.einsum("ij,ij->i", centroids, centroids)[None]
        )
        nearest = distances.argmin(axis=1)
        result["test_mse"] = float(np.mean((test - centroids[nearest]) ** 2))
    return result


def memory_report(
    model,
    x,
    y,
    labels=None,
    image_shape=None,
    memory_layer="memory_layer",
    informed_layer="informed_layer",
    batch_size=500,
):
    """Errors, utilisation, specialisation and noise of a memory decoder.

    For a model with a `MemoryLayer` and a `MemoryInformedLayer` (for
    example `keras_memnets.models.memory_decoder`) on inputs `x` and
    targets `y` (both outputs share the target), measured as follows:

    - `"memory_mse"`, `"informed_mse"`: mean squared errors of the two
      outputs (`model.predict` must return a dict with keys `"memory"` and
      `"informed"`);
    - every key of `keras_memnets.analysis.selection_report(selection,
      labels)` (utilisation; with `labels`, purity and mutual information);
    - `"live_slots"`: slots that are the argmax of at least `0.1 /
      memory_size` of the samples (`memory_size` minus `"dead_slots"`);
    - `"specialisation_ratio"`: the candidates' squared error on each
      sample, the chosen candidate (the argmax slot) against the mean of
      the other *used* slots' candidates, as a ratio of the means. 1: the
      candidates are interchangeable; well below 1: each candidate is
      good on its own partition only. `nan` with fewer than 2 used slots;
    - with `image_shape`: `"noise_ratio"` and `"memory_noise_ratio"`,
      the `high_frequency_energy` of the informed and memory outputs over
      that of `y` (<= 1: no noisier than the targets).

    Args:
        model: a `keras.Model` as above.
        x: array: the model's inputs.
        y: array `(n, ...)`: the targets.
        labels: optional array `(n,)` of class labels.
        image_shape: optional `(height, width)` of the flattened targets.
        memory_layer: str. Name of the `MemoryLayer`.
        informed_layer: str. Name of the `MemoryInformedLayer`.
        batch_size: int. Batch size of the predictions.

    Returns:
        A dict of Python numbers (and the arrays of `selection_report`),
        keyed as above.

    Example:

    >>> model = keras_memnets.models.memory_decoder(2, 9, memory_size=3,
    ...                                             hidden_units=8)
    >>> report = keras_memnets.analysis.memory_report(
    ...     model, np.zeros((4, 2)), np.full((4, 9), 0.5),
    ...     labels=np.array([0, 0, 1, 1]), image_shape=(3, 3))
    >>> report["live_slots"], round(report["purity"], 2)
    (1, 0.5)

    Reference:
        The guide *Memory networks* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    batch_size = positive_int(batch_size, "batch_size", "memory_report")
    memory = get_layer(model, memory_layer, MemoryLayer, "memory_report")
    informed = get_layer(
        model, informed_layer, MemoryInformedLayer, "memory_report"
    )
    k = memory.memory_size
    y = np.asarray(keras.ops.convert_to_numpy(y), "float64")
    flat_y = y.reshape(len(y), -1)
    outputs = model.predict(x, batch_size=batch_size, verbose=0)
    memory_in = keras.Model(model.inputs, [memory.input, informed.input[0]])
    memory_x, informed_x = memory_in.predict(
        x, batch_size=batch_size, verbose=0
    )
    selection = layer_selection(memory, memory_x, batch_size)
    selection = selection.astype("float64")
    report = selection_report(selection, labels)
    used = np.flatnonzero(report["slot_share"] >= dead_threshold(k))
    slots = selection.argmax(axis=-1)
    report["live_slots"] = len(used)
    for name in ("memory", "informed"):
        predicted = outputs[name].reshape(len(y), -1)
        report[f"{name}_mse"] = float(np.mean((predicted - flat_y) ** 2))
    # Squared error of every candidate on every sample, in batches.
    errors = []
    for i in range(0, len(informed_x), batch_size):
        c = keras.ops.convert_to_numpy(
            informed.candidates(informed_x[i : i + batch_size])
        )
        c = c.reshape(len(c), k, -1)
        errors.append(np.mean((c - flat_y[i : i + batch_size, None]) ** 2, -1))
    errors = np.concatenate(errors)
    if len(used) >= 2:
        own = errors[np.arange(len(slots)), slots]
        mask = np.zeros_like(errors, bool)
        mask[:, used] = True
        mask[np.arange(len(slots)), slots] = False
        others = (errors * mask).sum(-1) / np.maximum(mask.sum(-1), 1)
        report["specialisation_ratio"] = float(own.mean() / others.mean())
    else:
        report["specialisation_ratio"] = float("nan")
    if image_shape is not None:
        reference = high_frequency_energy(flat_y, image_shape)
        for key, name in (
            ("noise_ratio", "informed"),
            ("memory_noise_ratio", "memory"),
        ):
            energy = high_frequency_energy(outputs[name], image_shape)
            report[key] = float(energy / reference) if reference else 0.0
    return report
