"""How well a memory's slots are used: metrics of a softmax selection.

All metrics here take the selection `(batch, ..., memory_size)` as `y_pred`
and ignore `y_true`, so they can be attached to the selection output of a
model in `compile` (for example `metrics={"selection": [...]}` on
`keras_memnets.models.memory_decoder(..., return_selection=True)`). Keras
needs a target for every output that has metrics: pass `None` for it
(`{"memory": y, "informed": y, "selection": None}`); the logs then read
`selection_perplexity`, `selection_dead_slots`, ... They accumulate over an
epoch and are reset by Keras between epochs. Without a selection output,
`keras_memnets.callbacks.SelectionMonitor` logs the same statistics.

Rows that are not probability distributions (raw logits) give one
`UserWarning` per metric.
"""

import warnings

import keras
import numpy as np
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.slots import dead_threshold
from keras_memnets.utils.validation import positive_int

# Tolerance on `sum(row) == 1` and `row >= 0` (loose enough for float16
# softmax outputs).
# Tolerance on `sum(row) == 1` and `row >= 0` for a selection row to count as
# a distribution (loose enough for float16 softmax outputs).
DISTRIBUTION_TOLERANCE = 1e-2


class _DistributionCheck:
    """Counts selection rows that are not distributions; warns once.

    Inside a traced training step the count is symbolic, so the warning comes
    at the first eager read: an eager `update_state` or `result()` call, or
    the `result()` that `fit` and `evaluate` call at the end of an epoch.
    """

    def _add_check_variable(self):
        self.non_distribution_rows = self.add_variable(
            shape=(), initializer="zeros", name="non_distribution_rows"
        )
        self._warned = False

    def _check_rows(self, rows):
        bad = ops.logical_or(
            ops.any(rows < -DISTRIBUTION_TOLERANCE, axis=-1),
            ops.abs(ops.sum(rows, axis=-1) - 1.0) > DISTRIBUTION_TOLERANCE,
        )
        self.non_distribution_rows.assign_add(
            ops.sum(ops.cast(bad, self.dtype))
        )
        self._warn_once()

    def _warn_once(self):
        if self._warned:
            return
        try:
            bad = float(ops.convert_to_numpy(self.non_distribution_rows))
        except Exception:
            # A symbolic value (TensorFlow graph, JAX trace) cannot be read
            # here; the eager `result()` at the end of the epoch reads it.
            return
        if bad > 0:
            self._warned = True
            warnings.warn(
                f"{type(self).__name__} '{self.name}': {bad:.0f} selection "
                "rows are not probability distributions (negative entries "
                "or sums away from 1; raw logits?); the metric assumes "
                "softmax outputs. Warned once per metric.",
                stacklevel=3,
            )


class _SelectionMetric(_DistributionCheck, keras.metrics.Metric):
    """Accumulates the summed selection and the argmax counts per slot."""

    def __init__(self, memory_size, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        positive_int(memory_size, "memory_size", type(self).__name__)
        self.memory_size = memory_size
        self.selection_sum = self.add_variable(
            shape=(memory_size,), initializer="zeros", name="selection_sum"
        )
        self.argmax_counts = self.add_variable(
            shape=(memory_size,), initializer="zeros", name="argmax_counts"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", name="count"
        )
        self._add_check_variable()

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        if (
            y_pred.shape[-1] is not None
            and y_pred.shape[-1] != self.memory_size
        ):
            raise ValueError(
                f"{type(self).__name__}: the selection (y_pred) must have "
                f"memory_size={self.memory_size} entries on its last axis, "
                f"got shape {tuple(y_pred.shape)}."
            )
        selection = ops.reshape(
            ops.cast(y_pred, self.dtype), (-1, self.memory_size)
        )
        self._check_rows(selection)
        one_hot = ops.one_hot(
            ops.argmax(selection, axis=-1), self.memory_size, dtype=self.dtype
        )
        if sample_weight is None:
            weights = ops.ones_like(selection[:, 0])
        else:
            # One weight per row of the selection.
            weights = ops.reshape(
                ops.broadcast_to(
                    ops.cast(sample_weight, self.dtype),
                    ops.shape(y_pred)[:-1],
                ),
                (-1,),
            )
        weights = weights[:, None]
        self.selection_sum.assign_add(ops.sum(selection * weights, axis=0))
        self.argmax_counts.assign_add(ops.sum(one_hot * weights, axis=0))
        self.count.assign_add(ops.sum(weights))

    def _argmax_share(self):
        total = ops.sum(self.argmax_counts)
        return ops.divide_no_nan(self.argmax_counts, total)

    def get_config(self):
        return {**super().get_config(), "memory_size": self.memory_size}


@register
class SelectionPerplexity(_SelectionMetric):
    """Perplexity of the mean selection, divided by `memory_size`.

    With `p` the selection averaged over all samples of the epoch, this is
    `exp(-Σ_k p_k log p_k) / memory_size`: 1 when the slots are used evenly
    on average, `1 / memory_size` when every sample puts all its weight on
    the same slot. (The XLM product-key memory reports the same "usage"
    statistic.) Note that a uniform selection per sample also scores 1; read
    it together with `MeanMaxSelection`.

    Args:
        memory_size: int. Width of the selection.
        normalize: bool. If `False`, return the plain perplexity (an
            effective number of slots) instead.
        name: str. Name of the metric.
        dtype: optional dtype of the state.

    Example:

    >>> m = keras_memnets.metrics.SelectionPerplexity(4)
    >>> m.update_state(None, np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
    >>> round(float(m.result()), 3)
    0.5

    Reference:
        Lample et al., "Large Memory Layers with Product Keys", NeurIPS 2019
        (memory usage and KL statistics).
    """

    def __init__(
        self, memory_size, normalize=True, name="perplexity", dtype=None
    ):
        super().__init__(memory_size, name=name, dtype=dtype)
        self.normalize = bool(normalize)

    def result(self):
        self._warn_once()
        p = ops.divide_no_nan(self.selection_sum, ops.sum(self.selection_sum))
        entropy = -ops.sum(
            ops.where(p > 0, p * ops.log(ops.maximum(p, 1e-30)), 0.0)
        )
        perplexity = ops.exp(entropy)
        if self.normalize:
            perplexity = perplexity / self.memory_size
        # No samples seen yet: report 0 rather than a meaningless number.
        return ops.where(self.count > 0, perplexity, 0.0)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}


@register
class DeadSlots(_SelectionMetric):
    """Number of slots that are the argmax of almost no sample.

    A slot is dead when the share of samples whose largest selection entry
    is that slot is below `threshold` (default: a tenth of the even share,
    `0.1 / memory_size`). This is the statistic vector-quantisation codebooks
    track to restart unused codes; see
    `keras_memnets.callbacks.RestartDeadSlots`.

    Args:
        memory_size: int. Width of the selection.
        threshold: optional float in [0, 1]. Argmax share below which a slot
            counts as dead; `None` uses `0.1 / memory_size`.
        name: str. Name of the metric.
        dtype: optional dtype of the state.

    Example:

    >>> m = keras_memnets.metrics.DeadSlots(4)
    >>> m.update_state(None, np.array([[0.9, 0.1, 0, 0], [0.2, 0.8, 0, 0]]))
    >>> float(m.result())
    2.0

    Reference:
        van den Oord et al., "Neural Discrete Representation Learning", 2017;
        dead-code restarts as in Dhariwal et al., "Jukebox", 2020.
    """

    def __init__(
        self, memory_size, threshold=None, name="dead_slots", dtype=None
    ):
        super().__init__(memory_size, name=name, dtype=dtype)
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"DeadSlots: `threshold` must lie in [0, 1], got {threshold}."
            )
        self.threshold = threshold

    @property
    def effective_threshold(self):
        """The share below which a slot is dead."""
        return dead_threshold(self.memory_size, self.threshold)

    def result(self):
        self._warn_once()
        dead = ops.sum(
            ops.cast(
                self._argmax_share() < self.effective_threshold, self.dtype
            )
        )
        return ops.where(self.count > 0, dead, 0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@register
class SlotsForMass(_SelectionMetric):
    """Fewest slots that are the argmax of a `mass` fraction of the samples.

    Sorting the slots by how many samples pick them (argmax), this counts how
    many of the busiest slots together cover `mass` (default 90%) of the
    samples: `memory_size * 0.9` or so for even use, 1 when one slot takes
    nearly everything.

    Args:
        memory_size: int. Width of the selection.
        mass: float in (0, 1]. Fraction of the samples to cover.
        name: str. Name of the metric.
        dtype: optional dtype of the state.

    Example:

    >>> m = keras_memnets.metrics.SlotsForMass(3, mass=0.9)
    >>> m.update_state(None, np.eye(3)[[0] * 8 + [1, 2]])
    >>> float(m.result())
    2.0
    """

    def __init__(
        self, memory_size, mass=0.9, name="slots_for_mass", dtype=None
    ):
        super().__init__(memory_size, name=name, dtype=dtype)
        if not 0.0 < mass <= 1.0:
            raise ValueError(
                f"SlotsForMass: `mass` must lie in (0, 1], got {mass}."
            )
        self.mass = float(mass)

    def result(self):
        self._warn_once()
        share = ops.flip(ops.sort(self._argmax_share()), axis=0)
        covered = ops.cumsum(share)
        # Slots needed = 1 + number of prefixes that still fall short. A small
        # tolerance keeps float round-off from asking for one more slot.
        short = ops.sum(ops.cast(covered < self.mass - 1e-6, self.dtype))
        return ops.where(
            self.count > 0, ops.minimum(short + 1.0, self.memory_size), 0.0
        )

    def get_config(self):
        return {**super().get_config(), "mass": self.mass}


@register
class MeanMaxSelection(_DistributionCheck, keras.metrics.Metric):
    """Mean over samples of the largest selection entry (sharpness).

    1 when every selection is a unit vector, `1 / memory_size` when every
    selection is uniform; `1 - MeanMaxSelection` is the 1-max loss
    (`keras_memnets.losses.OneMaxLoss`).

    Args:
        name: str. Name of the metric.
        dtype: optional dtype of the state.

    Example:

    >>> m = keras_memnets.metrics.MeanMaxSelection()
    >>> m.update_state(None, np.array([[1.0, 0.0], [0.5, 0.5]]))
    >>> float(m.result())
    0.75
    """

    def __init__(self, name="mean_max", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(
            shape=(), initializer="zeros", name="total"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", name="count"
        )
        self._add_check_variable()

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        self._check_rows(ops.reshape(y_pred, (-1, ops.shape(y_pred)[-1])))
        values = ops.reshape(ops.max(y_pred, axis=-1), (-1,))
        if sample_weight is None:
            weights = ops.ones_like(values)
        else:
            weights = ops.reshape(
                ops.broadcast_to(
                    ops.cast(sample_weight, self.dtype), ops.shape(y_pred)[:-1]
                ),
                (-1,),
            )
        self.total.assign_add(ops.sum(values * weights))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        self._warn_once()
        return ops.divide_no_nan(self.total, self.count)


def slot_label_mutual_information(selection, labels, normalized=False):
    """Mutual information between the selected slot and the class label.

    The slot of a sample is the argmax of its selection; from the joint
    histogram of (slot, label) over the samples this returns
    `I(slot; label) = Σ p(s, y) log(p(s, y) / (p(s) p(y)))` in nats. It is 0
    when slots ignore the labels and `H(label)` (log 10 for balanced MNIST)
    when the slot determines the label. A plain numpy function: call it on
    the selections of a whole data set (e.g. `model.predict`), after
    training.

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
    >>> round(keras_memnets.metrics.slot_label_mutual_information(
    ...     slots, labels, normalized=True), 6)
    1.0
    """
    selection = np.asarray(keras.ops.convert_to_numpy(selection))
    labels = np.asarray(keras.ops.convert_to_numpy(labels)).reshape(-1)
    if selection.ndim == 2:
        slots = selection.argmax(axis=-1)
    elif selection.ndim == 1:
        if not np.issubdtype(selection.dtype, np.integer):
            raise TypeError(
                "slot_label_mutual_information: 1-D `selection` must hold "
                f"integer slot indices, got dtype {selection.dtype}."
            )
        slots = selection
    else:
        raise ValueError(
            "slot_label_mutual_information: `selection` must have shape "
            f"(n, memory_size) or (n,), got {selection.shape}."
        )
    if len(slots) != len(labels):
        raise ValueError(
            "slot_label_mutual_information: `selection` and `labels` must have "
            f"the same number of samples, got {len(slots)} and {len(labels)}."
        )
    if len(slots) == 0:
        raise ValueError("slot_label_mutual_information: got no samples.")
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
