"""selection_report: how a memory uses its slots, over a whole data set."""

import warnings

import keras
import numpy as np

from keras_memnets.metrics.utilisation import DISTRIBUTION_TOLERANCE
from keras_memnets.metrics.utilisation import slot_label_mutual_information
from keras_memnets.utils.slots import dead_threshold
from keras_memnets.utils.validation import number_in_range


def non_distribution_rows(selection, tolerance=DISTRIBUTION_TOLERANCE):
    """Number of rows of a numpy `(n, memory_size)` array that are not
    probability distributions (a negative entry, or a sum away from 1)."""
    bad = (selection < -tolerance).any(axis=-1)
    bad |= np.abs(selection.sum(axis=-1) - 1.0) > tolerance
    bad |= ~np.isfinite(selection).all(axis=-1)
    return int(bad.sum())


def _entropy(p):
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def selection_report(selection, labels=None, threshold=None, mass=0.9):
    """How a memory uses its slots: utilisation, and with labels, purity.

    A plain numpy function for the selections of a whole data set (e.g.
    `model.predict(x)["selection"]`, or `MemoryLayer.compute_selection`),
    after or during training. The slot of a sample is the argmax of its
    selection. Keys of the returned dict:

    - `"num_samples"`, `"memory_size"`.
    - `"slot_share"`: array `(memory_size,)`, the fraction of samples whose
      slot is each slot.
    - `"slots_used"`: slots that are the slot of at least one sample.
    - `"dead_slots"`: slots whose share is below `threshold` (as
      `keras_memnets.metrics.DeadSlots`).
    - `"slots_for_mass"`: fewest slots whose shares add up to `mass` (as
      `keras_memnets.metrics.SlotsForMass`).
    - `"perplexity"`: `exp(H(mean selection))`, the effective number of
      slots of the mean selection (`SelectionPerplexity(normalize=False)`).
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
    >>> report = keras_memnets.metrics.selection_report(
    ...     selection, labels=np.array([3, 3, 7, 7]))
    >>> report["slots_used"], report["dead_slots"], report["purity"]
    (2, 1, 1.0)
    >>> round(report["normalized_mutual_information"], 6)
    1.0

    Reference:
        The guide "Memory networks" (`docs/guides/memory_networks.rst`).
    """
    name = "selection_report"
    selection = np.asarray(keras.ops.convert_to_numpy(selection), "float64")
    if selection.ndim < 2 or selection.shape[-1] < 1:
        raise ValueError(
            f"{name}: `selection` must have shape (n, ..., memory_size), got "
            f"{selection.shape}."
        )
    memory_size = selection.shape[-1]
    rows = selection.reshape(-1, memory_size)
    if len(rows) == 0:
        raise ValueError(f"{name}: got no samples.")
    if threshold is not None:
        threshold = number_in_range(threshold, "threshold", name, 0.0, 1.0)
    threshold = dead_threshold(memory_size, threshold)
    mass = number_in_range(mass, "mass", name, 0.0, 1.0, low_inclusive=False)
    bad = non_distribution_rows(rows)
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
    labels = np.asarray(keras.ops.convert_to_numpy(labels)).reshape(-1)
    if len(labels) != len(rows):
        raise ValueError(
            f"{name}: `labels` must hold one label per selection row, got "
            f"{len(labels)} labels for {len(rows)} rows."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"{name}: `labels` must be integer class labels, got dtype "
            f"{labels.dtype}."
        )
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
