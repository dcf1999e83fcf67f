"""How a memory uses its slots over a whole data set: utilisation, the
paper's usage and KL for product-key memories, purity and the mutual
information between slot and label."""

import warnings

import keras
import numpy as np

from keras_memnets.layers.memory import MemoryLayer
from keras_memnets.layers.product_key_memory import ProductKeyMemory
from keras_memnets.utils.selection import DISTRIBUTION_TOLERANCE
from keras_memnets.utils.slots import dead_threshold
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int


def _non_distribution_rows(rows, tolerance=DISTRIBUTION_TOLERANCE):
    """Number of finite rows of `(n, memory_size)` that are not probability
    distributions (a negative entry, or a sum away from 1)."""
    bad = (rows < -tolerance).any(axis=-1)
    bad |= np.abs(rows.sum(axis=-1) - 1.0) > tolerance
    return int(bad.sum())


def _finite_rows(rows, labels, owner):
    """Drops rows with a NaN or an infinity (and their labels), warning."""
    finite = np.isfinite(rows).all(axis=-1)
    dropped = int(np.sum(~finite))
    if dropped:
        warnings.warn(
            f"{owner}: {dropped} of {len(rows)} selection rows have NaN or "
            "infinite entries and are excluded.",
            stacklevel=3,
        )
        rows = rows[finite]
        if labels is not None:
            labels = labels[finite]
    if len(rows) == 0:
        raise ValueError(
            f"{owner}: `selection` must have at least one row with finite "
            f"entries, got {dropped} rows and none finite."
        )
    return rows, labels, dropped


def _entropy(p):
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def _mutual_information(joint):
    """`I(slot; label)` in nats from a joint count table `(slots, labels)`."""
    joint = joint / joint.sum()
    p_slot = joint.sum(axis=1, keepdims=True)
    p_label = joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    mi = float(
        np.sum(
            joint[nonzero]
            * np.log(joint[nonzero] / (p_slot @ p_label)[nonzero])
        )
    )
    return max(mi, 0.0)


def _sparse_rows(selection, memory_size, owner):
    """A sparse selection `(weights, indices)` as rows of reads.

    Returns float64 weights `(n, heads * top_k)` divided by `heads` (the
    mean over the heads) and int64 slot ids of the same shape.
    """
    weights, indices = (
        np.asarray(keras.ops.convert_to_numpy(t)) for t in selection
    )
    if weights.ndim < 3 or weights.shape != indices.shape:
        raise ValueError(
            f"{owner}: a sparse `selection` must be a pair (weights, indices) "
            "of the same shape (n, ..., heads, top_k), got shapes "
            f"{weights.shape} and {indices.shape}."
        )
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(
            f"{owner}: the indices of a sparse `selection` must be integer "
            f"slot ids, got dtype {indices.dtype}."
        )
    if memory_size is None:
        raise ValueError(
            f"{owner}: `memory_size` must be given with a sparse "
            "`selection` (the number of slots), got None."
        )
    memory_size = positive_int(memory_size, "memory_size", owner)
    if indices.size and (indices.min() < 0 or indices.max() >= memory_size):
        raise ValueError(
            f"{owner}: the indices of a sparse `selection` must be slot ids "
            f"in [0, memory_size={memory_size}), got ids in "
            f"[{indices.min()}, {indices.max()}]."
        )
    heads, top_k = weights.shape[-2:]
    reads = heads * top_k
    weights = weights.reshape(-1, reads).astype("float64") / heads
    return weights, indices.reshape(-1, reads).astype("int64")


def _sparse_top_slot(weights, indices, memory_size):
    """Each row's slot of largest summed weight (ties: smallest slot)."""
    rows = len(weights)
    if rows == 0:
        return np.zeros(0, "int64"), np.zeros(0)
    key = np.arange(rows)[:, None] * memory_size + indices
    pairs, inverse = np.unique(key.ravel(), return_inverse=True)
    mass = np.bincount(inverse.ravel(), weights=weights.ravel())
    row, slot = np.divmod(pairs, memory_size)
    order = np.lexsort((slot, -mass, row))
    first = order[np.r_[True, row[order][1:] != row[order][:-1]]]
    return slot[first], mass[first]


class _SlotStatistics:
    """How selections use the slots, accumulated over batches, in numpy.

    Per slot the summed selection (the read mass), per row the most
    selected slot and its weight, and the labels; `report()` turns them
    into the `selection_report` dict. Non-finite rows are dropped and
    counted.
    """

    def __init__(self, owner):
        self.owner = owner
        self.memory_size = None
        self.slot_mass = None
        self.top_slots, self.top_mass, self.labels = [], [], []
        self.rows = 0
        self.non_finite_rows = 0
        self.non_distribution_rows = 0

    def add(self, selection, labels=None, memory_size=None):
        owner = self.owner
        if isinstance(selection, tuple):
            weights, indices = _sparse_rows(selection, memory_size, owner)
        else:
            selection = np.asarray(
                keras.ops.convert_to_numpy(selection), "float64"
            )
            if selection.ndim < 2 or selection.shape[-1] < 1:
                raise ValueError(
                    f"{owner}: `selection` must have shape (n, ..., "
                    f"memory_size), got shape {selection.shape}."
                )
            memory_size = selection.shape[-1]
            weights, indices = selection.reshape(-1, memory_size), None
        if self.memory_size is None:
            self.memory_size = memory_size
            self.slot_mass = np.zeros(memory_size)
        if labels is not None:
            labels = np.asarray(keras.ops.convert_to_numpy(labels))
            labels = labels.reshape(-1)
            if len(labels) != len(weights):
                raise ValueError(
                    f"{owner}: `labels` must hold one label per selection "
                    f"row, got {len(labels)} labels for {len(weights)} rows."
                )
            if not np.issubdtype(labels.dtype, np.integer):
                raise TypeError(
                    f"{owner}: `labels` must be integer class labels, got "
                    f"dtype {labels.dtype}."
                )
        finite = np.isfinite(weights).all(axis=-1)
        self.rows += len(weights)
        self.non_finite_rows += int(np.sum(~finite))
        weights = weights[finite]
        if labels is not None:
            self.labels.append(labels[finite])
        if indices is None:
            self.non_distribution_rows += _non_distribution_rows(weights)
            self.slot_mass += weights.sum(axis=0)
            self.top_slots.append(weights.argmax(axis=-1))
            self.top_mass.append(weights.max(axis=-1, initial=-np.inf))
            return
        indices = indices[finite]
        self.non_distribution_rows += _non_distribution_rows(weights)
        self.slot_mass += np.bincount(
            indices.ravel(), weights.ravel(), minlength=memory_size
        )
        slots, top = _sparse_top_slot(weights, indices, memory_size)
        self.top_slots.append(slots)
        self.top_mass.append(top)

    def report(self, threshold=None, mass=0.9):
        owner = self.owner
        memory_size = self.memory_size
        if self.non_finite_rows:
            warnings.warn(
                f"{owner}: {self.non_finite_rows} of {self.rows} selection "
                "rows have NaN or infinite entries and are excluded.",
                stacklevel=3,
            )
        slots = np.concatenate(self.top_slots).astype("int64")
        rows = len(slots)
        if rows == 0:
            raise ValueError(
                f"{owner}: `selection` must have at least one row with finite "
                f"entries, got {self.non_finite_rows} rows and none finite."
            )
        if self.non_distribution_rows:
            warnings.warn(
                f"{owner}: {self.non_distribution_rows} of {rows} selection "
                "rows are not probability distributions (negative entries or "
                "sums away from 1; raw logits?): apply the softmax first.",
                stacklevel=3,
            )
        threshold = dead_threshold(memory_size, threshold)
        counts = np.bincount(slots, minlength=memory_size)
        share = counts / rows
        covered = np.cumsum(np.sort(share)[::-1])
        entropy = _entropy(self.slot_mass / rows)
        report = {
            "num_samples": rows,
            "non_finite_rows": self.non_finite_rows,
            "memory_size": memory_size,
            "slot_share": share,
            "slots_used": int(np.sum(counts > 0)),
            "dead_slots": int(np.sum(share < threshold)),
            "slots_for_mass": int(
                min(np.sum(covered < mass - 1e-9) + 1, memory_size)
            ),
            "perplexity": float(np.exp(entropy)),
            "argmax_perplexity": float(np.exp(_entropy(share))),
            "mean_max_selection": float(np.concatenate(self.top_mass).mean()),
            "slot_usage": float(np.mean(self.slot_mass > 0)),
            "usage_kl": max(float(np.log(memory_size)) - entropy, 0.0),
        }
        if not self.labels:
            return report
        labels = np.concatenate(self.labels)
        values, label_ids = np.unique(labels, return_inverse=True)
        joint = np.zeros((memory_size, len(values)), "int64")
        np.add.at(joint, (slots, label_ids), 1)
        majority = joint.argmax(axis=1)
        top = joint.max(axis=1)
        used = counts > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            slot_purity = np.where(used, top / np.maximum(counts, 1), np.nan)
        mi = _mutual_information(joint[used].astype("float64"))
        h_label = _entropy(np.bincount(label_ids) / len(labels))
        report.update(
            {
                "slot_label": np.where(used, values[majority], -1),
                "slot_purity": slot_purity,
                "purity": float(top.sum() / rows),
                "mutual_information": mi,
                "label_entropy": h_label,
                "normalized_mutual_information": (
                    mi / h_label if h_label > 0 else 0.0
                ),
            }
        )
        return report


def _check_report_arguments(threshold, mass, owner):
    if threshold is not None:
        threshold = number_in_range(threshold, "threshold", owner, 0.0, 1.0)
    mass = number_in_range(mass, "mass", owner, 0.0, 1.0, low_inclusive=False)
    return threshold, mass


def selection_report(
    selection, labels=None, threshold=None, mass=0.9, memory_size=None
):
    """How a memory uses its slots: utilisation, and with labels, purity.

    A plain numpy function for the selections of a whole data set (e.g.
    `model.predict(x)["selection"]`, or `MemoryLayer.compute_selection`),
    after or during training; `keras_memnets.analysis.memory_usage` calls
    it on a memory layer's reads, batch by batch. `selection` is dense, an
    array `(n, ..., memory_size)`, or the sparse read of a product-key
    memory, a tuple `(weights, indices)` of arrays `(n, ..., heads, top_k)`
    (each head's `top_k` weights summing to 1, `indices` its slot ids; pass
    `memory_size`), whose row is the mean of its heads' reads: a slot read
    by several heads gets the sum of their weights, divided by `heads`.
    The slot of a sample is the argmax of its selection (ties: the smallest
    slot id). Rows with a NaN or an infinity are excluded (with a
    `UserWarning`), as the selection metrics do. Keys of the returned dict:

    - `"num_samples"` (the rows used), `"non_finite_rows"` (the rows
      excluded), `"memory_size"`.
    - `"slot_share"`: array `(memory_size,)`, the fraction of samples whose
      slot is each slot.
    - `"slots_used"`: slots that are the slot of at least one sample.
    - `"dead_slots"`: slots whose share is below `threshold` (as
      `keras_memnets.metrics.DeadSlots`).
    - `"slots_for_mass"`: fewest slots whose shares add up to `mass` (as
      `keras_memnets.metrics.SlotsForMass`).
    - `"perplexity"`: `exp(H(mean selection))`, the effective number of
      slots of the mean selection (as `keras_memnets.metrics.
      SelectionPerplexity`).
    - `"argmax_perplexity"`: `exp(H(slot_share))`, the same for the hard
      assignment (the number of slots if they are used evenly).
    - `"mean_max_selection"`: the mean largest entry (sharpness).
    - `"slot_usage"`: the fraction of slots with a non-zero read weight in
      at least one row (as `keras_memnets.metrics.SlotUsage`, the paper's
      memory usage; 1 for a dense softmax selection).
    - `"usage_kl"`: `log(memory_size) - H(mean selection)`, the KL
      divergence of the read distribution to uniform in nats (as
      `keras_memnets.metrics.UsageKL`).

    With `labels` also:

    - `"slot_label"`: array `(memory_size,)`, each slot's majority label
      (ties go to the smallest label; -1 for an unused slot).
    - `"slot_purity"`: array `(memory_size,)`, the share of each slot's
      samples that carry its majority label (NaN for an unused slot).
    - `"purity"`: the share of all samples whose label is their slot's
      majority label (cluster purity; 1 when each slot holds one class).
    - `"mutual_information"`: `I(slot; label)` in nats.
    - `"label_entropy"`: `H(label)` in nats.
    - `"normalized_mutual_information"`: `I / H(label)`, in [0, 1].

    Rows that are not probability distributions (e.g. raw logits) give a
    `UserWarning`: the perplexity and sharpness are then meaningless.

    Args:
        selection: array `(n, ..., memory_size)` of selections (leading axes
            are pooled into rows), or a tuple `(weights, indices)` of arrays
            `(n, ..., heads, top_k)`.
        labels: optional integer array with one label per row (shape
            `(n, ...)` or `(rows,)`).
        threshold: optional float in [0, 1]. Share below which a slot is
            dead; `None` uses `0.1 / memory_size`.
        mass: float in (0, 1]. Fraction covered by `"slots_for_mass"`.
        memory_size: int. The number of slots of a sparse `selection`
            (ignored for a dense one, whose last axis it is).

    Returns:
        A dict of Python numbers and numpy arrays (keys above).

    Example:

    >>> selection = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0],
    ...                       [0.1, 0.9, 0.0], [0.2, 0.8, 0.0]])
    >>> report = keras_memnets.analysis.selection_report(
    ...     selection, labels=np.array([3, 3, 7, 7]))
    >>> report["slots_used"], report["dead_slots"], report["purity"]
    (2, 1, 1.0)
    >>> round(report["normalized_mutual_information"], 6)
    1.0

    A sparse read of 2 heads, 1 slot each, over 4 slots:

    >>> weights = np.ones((2, 2, 1))
    >>> indices = np.array([[[0], [1]], [[0], [0]]])
    >>> report = keras_memnets.analysis.selection_report(
    ...     (weights, indices), memory_size=4)
    >>> report["slot_usage"], report["mean_max_selection"]
    (0.5, 0.75)

    Reference:
        The guide *Memory networks* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    name = "selection_report"
    threshold, mass = _check_report_arguments(threshold, mass, name)
    statistics = _SlotStatistics(name)
    statistics.add(selection, labels, memory_size)
    return statistics.report(threshold, mass)


def _batch_labels(labels, leading, owner):
    """`labels` as one label per vector: `leading` or a prefix of it."""
    labels = np.asarray(keras.ops.convert_to_numpy(labels))
    if labels.shape != leading[: labels.ndim] or labels.ndim == 0:
        raise ValueError(
            f"{owner}: `labels` must have shape {leading} (one label per "
            f"input vector) or {leading[:1]} (one per sample, for all its "
            f"positions), got shape {labels.shape}."
        )
    trailing = (1,) * (len(leading) - labels.ndim)
    return np.broadcast_to(labels.reshape(labels.shape + trailing), leading)


def memory_usage(
    layer, inputs, labels=None, batch_size=512, threshold=None, mass=0.9
):
    """How a memory layer uses its slots on a data set, batch by batch.

    Reads `inputs` (the layer's own inputs, not the model's) through the
    layer in inference mode, `batch_size` samples at a time, and returns
    `keras_memnets.analysis.selection_report` of all the reads. For a
    `ProductKeyMemory` the reads are sparse, `softmax(scores)` over the
    `indices` of `lookup`, so only a per-slot sum of `memory_size` numbers
    is kept, never a `(batch, num_keys**2)` array. For a `MemoryLayer` they
    are its dense selection, `compute_selection`.

    The keys that describe the use of a large memory, in the words of Lample
    et al. (2019): `"slot_usage"`, the fraction of the slots read at least
    once (by any head; their "memory usage"), and `"usage_kl"`, the KL
    divergence in nats of the read distribution (the read weight each slot
    received, normalised) to the uniform distribution. With them
    `"perplexity"`, the effective number of slots read, and `"dead_slots"`,
    the slots that are the most read slot of almost no vector (see
    `selection_report` for all keys). Each input vector (each position of a
    sequence) is one row.

    Args:
        layer: a `keras_memnets.layers.ProductKeyMemory` or
            `keras_memnets.layers.MemoryLayer`.
        inputs: array `(n, ..., features)`: what the layer reads (e.g. the
            output of the layer before it, from `model.predict`).
        labels: optional integer array, one label per input vector (shape
            `(n, ...)`, the shape of `inputs` without its last axis) or one
            per sample (shape `(n,)`, for all its positions), for purity and
            mutual information.
        batch_size: int. Samples read at a time.
        threshold: optional float in [0, 1]. Share below which a slot is
            dead; `None` uses `0.1 / memory_size`.
        mass: float in (0, 1]. Fraction covered by `"slots_for_mass"`.

    Returns:
        The `selection_report` dict.

    Example:

    >>> layer = keras_memnets.layers.ProductKeyMemory(
    ...     num_keys=8, value_dim=4, heads=2, top_k=4, key_dim=8)
    >>> x = np.random.default_rng(0).normal(size=(100, 6))
    >>> usage = keras_memnets.analysis.memory_usage(layer, x, batch_size=32)
    >>> usage["memory_size"], 0 < usage["slot_usage"] <= 1
    (64, True)
    >>> bool(usage["usage_kl"] >= 0)
    True

    Reference:
        Lample et al., "Large Memory Layers with Product Keys", NeurIPS
        2019, arXiv:1907.05242 (memory usage and KL); the guide
        *Product-key memory* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    owner = "memory_usage"
    if not isinstance(layer, (ProductKeyMemory, MemoryLayer)):
        raise TypeError(
            f"{owner}: `layer` must be a ProductKeyMemory or a MemoryLayer, "
            f"got {type(layer).__name__}."
        )
    batch_size = positive_int(batch_size, "batch_size", owner)
    threshold, mass = _check_report_arguments(threshold, mass, owner)
    inputs = np.asarray(keras.ops.convert_to_numpy(inputs))
    if inputs.ndim < 2:
        raise ValueError(
            f"{owner}: `inputs` must have shape (n, ..., features), got "
            f"shape {inputs.shape}."
        )
    if labels is not None:
        labels = _batch_labels(labels, inputs.shape[:-1], owner)
    statistics = _SlotStatistics(owner)
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start : start + batch_size]
        batch_labels = None
        if labels is not None:
            batch_labels = labels[start : start + batch_size]
        if isinstance(layer, ProductKeyMemory):
            scores, indices = layer.lookup(batch)
            read = (keras.ops.softmax(scores, axis=-1), indices)
            statistics.add(read, batch_labels, layer.num_keys**2)
        else:
            statistics.add(layer.compute_selection(batch), batch_labels)
    if statistics.memory_size is None:
        raise ValueError(f"{owner}: `inputs` must have at least one sample.")
    return statistics.report(threshold, mass)


def slot_label_mutual_information(selection, labels, normalized=False):
    """Mutual information between the selected slot and the class label.

    The slot of a sample is the argmax of its selection; from the joint
    histogram of (slot, label) over the samples this returns
    `I(slot; label) = Σ p(s, y) log(p(s, y) / (p(s) p(y)))` in nats. It is 0
    when slots ignore the labels and `H(label)` (log 10 for balanced MNIST)
    when the slot determines the label. A plain numpy function: call it on
    the selections of a whole data set (e.g. `model.predict`), after
    training. Selection rows with a NaN or an infinity are excluded (with a
    `UserWarning`).

    Args:
        selection: array `(n, memory_size)` of selections, or `(n,)` integer
            slot indices.
        labels: array `(n,)` of integer class labels.
        normalized: bool. If `True`, divide by the label entropy `H(label)`,
            giving a number in [0, 1] (the fraction of label information the
            slot carries).

    Returns:
        A Python float.

    Example:

    >>> slots = np.array([0, 0, 1, 1])
    >>> labels = np.array([3, 3, 7, 7])
    >>> round(keras_memnets.analysis.slot_label_mutual_information(
    ...     slots, labels, normalized=True), 6)
    1.0
    """
    owner = "slot_label_mutual_information"
    selection = np.asarray(keras.ops.convert_to_numpy(selection))
    labels = np.asarray(keras.ops.convert_to_numpy(labels)).reshape(-1)
    if selection.ndim not in (1, 2):
        raise ValueError(
            f"{owner}: `selection` must have shape (n, memory_size) or (n,), "
            f"got shape {selection.shape}."
        )
    if selection.ndim == 1 and not np.issubdtype(selection.dtype, np.integer):
        raise TypeError(
            f"{owner}: a 1-D `selection` must hold integer slot indices, got "
            f"dtype {selection.dtype}."
        )
    if len(selection) != len(labels):
        raise ValueError(
            f"{owner}: `selection` and `labels` must have the same number of "
            f"samples, got {len(selection)} and {len(labels)}."
        )
    if len(selection) == 0:
        raise ValueError(
            f"{owner}: `selection` must have at least one sample, got 0."
        )
    if selection.ndim == 2:
        rows, labels, _ = _finite_rows(selection, labels, owner)
        slots = rows.argmax(axis=-1)
    else:
        slots = selection
    _, slot_ids = np.unique(slots, return_inverse=True)
    _, label_ids = np.unique(labels, return_inverse=True)
    joint = np.zeros((slot_ids.max() + 1, label_ids.max() + 1))
    np.add.at(joint, (slot_ids, label_ids), 1.0)
    mi = _mutual_information(joint)
    if normalized:
        h_label = _entropy(joint.sum(axis=0) / joint.sum())
        return mi / h_label if h_label > 0 else 0.0
    return mi
