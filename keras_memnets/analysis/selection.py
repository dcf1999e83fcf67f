"""How a memory uses its slots over a whole data set: utilisation, purity
and the mutual information between slot and label."""

import warnings

import keras
import numpy as np

from keras_memnets.utils.selection import DISTRIBUTION_TOLERANCE
from keras_memnets.utils.slots import dead_threshold
from keras_memnets.utils.validation import number_in_range


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


def selection_report(selection, labels=None, threshold=None, mass=0.9):
    """How a memory uses its slots: utilisation, and with labels, purity.

    A plain numpy function for the selections of a whole data set (e.g.
    `model.predict(x)["selection"]`, or `MemoryLayer.compute_selection`),
    after or during training. The slot of a sample is the argmax of its
    selection. Rows with a NaN or an infinity are excluded (with a
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
            are pooled into rows).
        labels: optional integer array with one label per row (shape
            `(n, ...)` or `(rows,)`).
        threshold: optional float in [0, 1]. Share below which a slot is
            dead; `None` uses `0.1 / memory_size`.
        mass: float in (0, 1]. Fraction covered by `"slots_for_mass"`.

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

    Reference:
        The guide *Memory networks* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    name = "selection_report"
    selection = np.asarray(keras.ops.convert_to_numpy(selection), "float64")
    if selection.ndim < 2 or selection.shape[-1] < 1:
        raise ValueError(
            f"{name}: `selection` must have shape (n, ..., memory_size), got "
            f"shape {selection.shape}."
        )
    memory_size = selection.shape[-1]
    rows = selection.reshape(-1, memory_size)
    if threshold is not None:
        threshold = number_in_range(threshold, "threshold", name, 0.0, 1.0)
    threshold = dead_threshold(memory_size, threshold)
    mass = number_in_range(mass, "mass", name, 0.0, 1.0, low_inclusive=False)
    if labels is not None:
        labels = np.asarray(keras.ops.convert_to_numpy(labels)).reshape(-1)
        if len(labels) != len(rows):
            raise ValueError(
                f"{name}: `labels` must hold one label per selection row, "
                f"got {len(labels)} labels for {len(rows)} rows."
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(
                f"{name}: `labels` must be integer class labels, got dtype "
                f"{labels.dtype}."
            )
    rows, labels, dropped = _finite_rows(rows, labels, name)
    bad = _non_distribution_rows(rows)
    if bad:
        warnings.warn(
            f"{name}: {bad} of {len(rows)} selection rows are not probability "
            "distributions (negative entries or sums away from 1; raw "
            "logits?): apply the softmax first.",
            stacklevel=2,
        )
    slots = rows.argmax(axis=-1)
    counts = np.bincount(slots, minlength=memory_size)
    share = counts / len(rows)
    covered = np.cumsum(np.sort(share)[::-1])
    report = {
        "num_samples": len(rows),
        "non_finite_rows": dropped,
        "memory_size": memory_size,
        "slot_share": share,
        "slots_used": int(np.sum(counts > 0)),
        "dead_slots": int(np.sum(share < threshold)),
        "slots_for_mass": int(
            min(np.sum(covered < mass - 1e-9) + 1, memory_size)
        ),
        "perplexity": float(np.exp(_entropy(rows.mean(axis=0)))),
        "argmax_perplexity": float(np.exp(_entropy(share))),
        "mean_max_selection": float(rows.max(axis=-1).mean()),
    }
    if labels is None:
        return report
    values, label_ids = np.unique(labels, return_inverse=True)
    joint = np.zeros((memory_size, len(values)), "int64")
    np.add.at(joint, (slots, label_ids), 1)
    majority = joint.argmax(axis=1)
    top = joint.max(axis=1)
    used = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        slot_purity = np.where(used, top / np.maximum(counts, 1), np.nan)
    mi = slot_label_mutual_information(slots, labels)
    h_label = _entropy(np.bincount(label_ids) / len(labels))
    report.update(
        {
            "slot_label": np.where(used, values[majority], -1),
            "slot_purity": slot_purity,
            "purity": float(top.sum() / len(rows)),
            "mutual_information": mi,
            "label_entropy": h_label,
            "normalized_mutual_information": (
                mi / h_label if h_label > 0 else 0.0
            ),
        }
    )
    return report


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
    joint /= joint.sum()
    p_slot = joint.sum(axis=1, keepdims=True)
    p_label = joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    mi = float(
        np.sum(
            joint[nonzero]
            * np.log(joint[nonzero] / (p_slot @ p_label)[nonzero])
        )
    )
    mi = max(mi, 0.0)
    if normalized:
        h_label = float(
            -np.sum(p_label[p_label > 0] * np.log(p_label[p_label > 0]))
        )
        return mi / h_label if h_label > 0 else 0.0
    return mi
