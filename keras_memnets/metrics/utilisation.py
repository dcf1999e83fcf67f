"""How well a memory's slots are used: metrics of a softmax selection.

All metrics here take the selection as `y_pred` and ignore `y_true`. A
selection is either dense, a tensor `(batch, ..., memory_size)` (the softmax
of a `MemoryLayer`), or sparse, the read of a product-key memory: a tuple
`(weights, indices)`, each `(batch, ..., heads, top_k)`, with `weights` the
softmax of the scores that `ProductKeyMemory.lookup` returns over each
head's `top_k` slots, and `indices` its slot ids. A vector's sparse
selection is the mean over its heads (a slot read by several heads gets the
sum of their weights, divided by `heads`); the metrics accumulate a mass per
slot by a scatter-add of the reads, so no tensor with one entry per slot and
vector is formed.

A dense selection can be attached to a selection output of a model in
`compile` (for example `metrics={"selection": [...]}` on
`keras_memnets.models.memory_decoder(..., return_selection=True)`). Keras
needs a target for every output that has metrics: pass `None` for it
(`{"memory": y, "informed": y, "selection": None}`); the logs then read
`selection_perplexity`, `selection_dead_slots`, ... They accumulate over an
epoch and are reset by Keras between epochs. A sparse selection is a pair of
tensors, which `compile` would split into two outputs: pass it to
`update_state` in an evaluation loop, or let
`keras_memnets.callbacks.SelectionMonitor` log the same statistics in `fit`
(it needs no selection output, for either kind of memory).

Rows with a NaN or an infinity are excluded from every metric here (they
count as no sample); rows that are not probability distributions (raw
logits) are counted. Either gives one `UserWarning` per metric.
"""

import math
import warnings

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.selection import check_selection_shape
from keras_memnets.utils.selection import is_distribution
from keras_memnets.utils.selection import is_finite_row
from keras_memnets.utils.selection import is_sparse_selection
from keras_memnets.utils.selection import row_max
from keras_memnets.utils.selection import sparse_selection_rows
from keras_memnets.utils.selection import sparse_top_slot
from keras_memnets.utils.slots import dead_threshold
from keras_memnets.utils.validation import boolean
from keras_memnets.utils.validation import check_values
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int


class _RowCheck:
    """Excludes non-finite selection rows, counts non-distribution rows.

    Inside a traced training step the counts are symbolic, so the warning
    comes at the first eager read: an eager `update_state` or `result()`
    call, or the `result()` that `fit` and `evaluate` call at the end of an
    epoch.
    """

    def _add_check_variables(self):
        self.non_distribution_rows = self.add_variable(
            shape=(), initializer="zeros", name="non_distribution_rows"
        )
        self.non_finite_rows = self.add_variable(
            shape=(), initializer="zeros", name="non_finite_rows"
        )
        self._warned = False

    def _check_rows(self, rows):
        """Returns `rows` with non-finite rows zeroed, and a 0/1 row mask."""
        finite = is_finite_row(rows)
        rows = ops.where(finite[:, None], rows, ops.zeros_like(rows))
        bad = ops.logical_and(finite, ops.logical_not(is_distribution(rows)))
        self.non_distribution_rows.assign_add(
            ops.sum(ops.cast(bad, self.dtype))
        )
        self.non_finite_rows.assign_add(
            ops.sum(ops.cast(ops.logical_not(finite), self.dtype))
        )
        self._warn_once()
        return rows, ops.cast(finite, self.dtype)

    def _warn_once(self):
        if self._warned:
            return
        try:
            bad = float(ops.convert_to_numpy(self.non_distribution_rows))
            non_finite = float(ops.convert_to_numpy(self.non_finite_rows))
        except Exception:
            # A symbolic value (TensorFlow graph, JAX trace) cannot be read
            # here; the eager `result()` at the end of the epoch reads it.
            return
        problems = []
        if non_finite > 0:
            problems.append(
                f"{non_finite:.0f} selection rows with NaN or infinite "
                "entries were excluded"
            )
        if bad > 0:
            problems.append(
                f"{bad:.0f} selection rows are not probability "
                "distributions (negative entries or sums away from 1; raw "
                "logits?) and the metric assumes softmax outputs"
            )
        if problems:
            self._warned = True
            warnings.warn(
                f"{type(self).__name__} '{self.name}': "
                + "; ".join(problems)
                + ". Warned once per metric.",
                stacklevel=3,
            )

    def _rows(self, y_pred, memory_size=None):
        """The selection as rows, checked: `(weights, indices, mask)`.

        A dense `y_pred` gives its rows `(n, memory_size)` and `indices`
        `None`; a sparse one its reads `(n, heads * top_k)` (weights divided
        by `heads`) and their slot ids, checked to lie in
        `[0, memory_size)` when `memory_size` is given. Non-finite rows are
        zeroed, and `mask` is 1 for the rows that count, 0 for the others.
        """
        owner = type(self).__name__
        if is_sparse_selection(y_pred):
            weights, indices, leading = sparse_selection_rows(y_pred, owner)
            if memory_size is not None:
                check_values(
                    ops.logical_and(indices >= 0, indices < memory_size),
                    f"{owner}: the indices of a sparse `y_pred` must be "
                    f"slot ids in [0, memory_size={memory_size}), got ids "
                    "outside.",
                )
        else:
            y_pred = ops.convert_to_tensor(y_pred)
            check_selection_shape(y_pred.shape, memory_size, owner)
            weights = ops.reshape(y_pred, (-1, y_pred.shape[-1]))
            indices, leading = None, ops.shape(y_pred)[:-1]
        weights, mask = self._check_rows(ops.cast(weights, self.dtype))
        return weights, indices, mask, leading

    def _row_weights(self, leading, sample_weight):
        """One weight per row of the selection (1 without `sample_weight`).

        A `sample_weight` of lower rank than the rows, e.g. one weight per
        sequence `(batch,)` for `(batch, length)` rows, is expanded on the
        right, as Keras does for losses.
        """
        if sample_weight is None:
            return None
        sample_weight = ops.cast(sample_weight, self.dtype)
        while len(sample_weight.shape) < len(leading):
            sample_weight = ops.expand_dims(sample_weight, -1)
        return ops.reshape(ops.broadcast_to(sample_weight, leading), (-1,))


class _SelectionMetric(_RowCheck, keras.metrics.Metric):
    """Accumulates the summed selection and the argmax counts per slot."""

    def __init__(self, memory_size, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.memory_size = positive_int(
            memory_size, "memory_size", type(self).__name__
        )
        self.selection_sum = self.add_variable(
            shape=(memory_size,), initializer="zeros", name="selection_sum"
        )
        self.argmax_counts = self.add_variable(
            shape=(memory_size,), initializer="zeros", name="argmax_counts"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", name="count"
        )
        self._add_check_variables()

    def update_state(self, y_true, y_pred, sample_weight=None):
        weights, indices, mask, leading = self._rows(y_pred, self.memory_size)
        row_weights = self._row_weights(leading, sample_weight)
        if row_weights is not None:
            mask = mask * row_weights
        weighted = weights * mask[:, None]
        if indices is None:
            slot_mass = ops.sum(weighted, axis=0)
            top_slot = ops.argmax(weights, axis=-1)
        else:
            slot_mass = ops.segment_sum(
                ops.reshape(weighted, (-1,)),
                ops.reshape(indices, (-1,)),
                num_segments=self.memory_size,
            )
            top_slot, _ = sparse_top_slot(weights, indices)
        self.selection_sum.assign_add(slot_mass)
        self.argmax_counts.assign_add(
            ops.segment_sum(mask, top_slot, num_segments=self.memory_size)
        )
        self.count.assign_add(ops.sum(mask))

    def _argmax_share(self):
        total = ops.sum(self.argmax_counts)
        return ops.divide_no_nan(self.argmax_counts, total)

    def get_config(self):
        return {**super().get_config(), "memory_size": self.memory_size}


@register
class SelectionPerplexity(_SelectionMetric):
    """Perplexity of the mean selection: the effective number of used slots.

    With `p` the selection averaged over the samples of the epoch, this is
    `exp(-Σ_k p_k log p_k)`: `memory_size` when the slots are used evenly on
    average, 1 when every sample puts all its weight on the same slot (the
    "usage" statistic of product-key memories). A uniform selection per
    sample also scores `memory_size`; read it together with
    `MeanMaxSelection`. Divide by `memory_size` for the fraction of the
    slots in use. Takes a dense selection or a product-key memory's sparse
    read `(weights, indices)` (see `SlotUsage`). Rows with a NaN or an
    infinity are excluded.

    Args:
        memory_size: int. Width of the selection.
        normalize: deprecated. `True` divides by `memory_size` (the former
            default); it will be removed in the next release.
        name: str. Name of the metric.
        dtype: optional dtype of the state.

    Example:

    >>> m = keras_memnets.metrics.SelectionPerplexity(4)
    >>> m.update_state(None, np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
    >>> round(float(m.result()), 3)
    2.0

    Reference:
        Lample et al., "Large Memory Layers with Product Keys", NeurIPS 2019
        (memory usage and KL statistics).
    """

    def __init__(
        self, memory_size, normalize=None, name="perplexity", dtype=None
    ):
        super().__init__(memory_size, name=name, dtype=dtype)
        if normalize is not None:
            normalize = boolean(normalize, "normalize", "SelectionPerplexity")
            warnings.warn(
                "SelectionPerplexity: `normalize` is deprecated and will be "
                "removed in the next release; the metric is the effective "
                "number of slots, divide it by `memory_size` for a fraction.",
                DeprecationWarning,
                stacklevel=2,
            )
        self.normalize = normalize

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
class SlotUsage(_SelectionMetric):
    """Fraction of a memory's slots read at least once.

    The "memory usage" of Lample et al. (2019): the share of the
    `memory_size` slots that received a non-zero read weight from at least
    one sample (for a product-key memory, from any of its heads) since the
    last reset. Use it over a whole evaluation set: a slot unread by one
    batch may be read by the next. Every slot of a dense softmax selection
    has a positive weight, so there this is 1 unless weights underflow to
    0; it is meant for sparse reads (a product-key memory, or a top-k
    read). Rows with a NaN or an infinity are excluded.

    Args:
        memory_size: int. Number of slots.
        name: str. Name of the metric.
        dtype: optional dtype of the state.

    Example:

    A product-key memory's read, `(weights, indices)` per head:

    >>> layer = keras_memnets.layers.ProductKeyMemory(
    ...     num_keys=4, value_dim=3, heads=2, top_k=2, key_dim=4)
    >>> scores, indices = layer.lookup(np.ones((5, 6)))
    >>> m = keras_memnets.metrics.SlotUsage(16)
    >>> m.update_state(None, (keras.ops.softmax(scores), indices))
    >>> 0.0 < float(m.result()) <= 4 / 16
    True

    Reference:
        Lample et al., "Large Memory Layers with Product Keys", NeurIPS
        2019, arXiv:1907.05242 (memory usage).
    """

    def __init__(self, memory_size, name="slot_usage", dtype=None):
        super().__init__(memory_size, name=name, dtype=dtype)

    def result(self):
        self._warn_once()
        read = ops.mean(ops.cast(self.selection_sum > 0, self.dtype))
        return ops.where(self.count > 0, read, 0.0)


@register
class UsageKL(_SelectionMetric):
    """KL divergence of the read distribution to the uniform distribution.

    With `p` the read weight each slot received since the last reset,
    normalised to sum to 1 (the mean selection over the samples), this is
    `KL(p || uniform) = log(memory_size) + Σ_k p_k log p_k` in nats: 0 when
    the reads are spread evenly over all slots, `log(memory_size)` when
    they all go to one slot. The second usage statistic of Lample et al.
    (2019), equal to `log(memory_size) - log(SelectionPerplexity)`. Rows
    with a NaN or an infinity are excluded; with no samples the result is
    0.

    Args:
        memory_size: int. Number of slots.
        name: str. Name of the metric.
        dtype: optional dtype of the state.

    Example:

    >>> m = keras_memnets.metrics.UsageKL(4)
    >>> m.update_state(None, np.array([[0.5, 0.5, 0, 0], [0, 1.0, 0, 0]]))
    >>> round(float(m.result()), 3)  # log 4 - H([0.25, 0.75, 0, 0])
    0.824

    Reference:
        Lample et al., "Large Memory Layers with Product Keys", NeurIPS
        2019, arXiv:1907.05242 (the KL of memory usage to uniform).
    """

    def __init__(self, memory_size, name="usage_kl", dtype=None):
        super().__init__(memory_size, name=name, dtype=dtype)

    def result(self):
        self._warn_once()
        p = ops.divide_no_nan(self.selection_sum, ops.sum(self.selection_sum))
        kl = math.log(self.memory_size) + ops.sum(
            ops.where(p > 0, p * ops.log(ops.maximum(p, 1e-30)), 0.0)
        )
        return ops.where(self.count > 0, ops.maximum(kl, 0.0), 0.0)


@register
class DeadSlots(_SelectionMetric):
    """Number of slots that are the argmax of almost no sample.

    A slot is dead when the share of samples whose largest selection entry
    is that slot is below `threshold` (default: a tenth of the even share,
    `0.1 / memory_size`), the statistic vector-quantisation codebooks track
    to restart unused codes (see `keras_memnets.callbacks.RestartDeadSlots`).
    The slot of a sparse read `(weights, indices)` is the slot with the
    largest summed weight over the heads. Rows with a NaN or an infinity
    are excluded.

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
        if threshold is not None:
            threshold = number_in_range(
                threshold, "threshold", "DeadSlots", 0.0, 1.0
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
    samples: about `0.9 * memory_size` for even use, 1 when one slot takes
    nearly everything. Takes a dense selection or a sparse read
    `(weights, indices)`, as `DeadSlots`. Rows with a NaN or an infinity
    are excluded.

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
        self.mass = number_in_range(
            mass, "mass", "SlotsForMass", 0.0, 1.0, low_inclusive=False
        )

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
class MeanMaxSelection(_RowCheck, keras.metrics.Metric):
    """Mean over samples of the largest selection entry (sharpness).

    1 when every selection is a unit vector, `1 / memory_size` when every
    selection is uniform; `1 - MeanMaxSelection` is the 1-max loss
    (`keras_memnets.losses.OneMaxLoss`). For a sparse read
    `(weights, indices)` the entry of a slot is its summed weight over the
    heads, divided by `heads`. Rows with a NaN or an infinity are excluded.

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
        self._add_check_variables()

    def update_state(self, y_true, y_pred, sample_weight=None):
        rows, indices, mask, leading = self._rows(y_pred)
        row_weights = self._row_weights(leading, sample_weight)
        if row_weights is not None:
            mask = mask * row_weights
        if indices is None:
            top = row_max(rows)
        else:
            _, top = sparse_top_slot(rows, indices)
        self.total.assign_add(ops.sum(top * mask))
        self.count.assign_add(ops.sum(mask))

    def result(self):
        self._warn_once()
        return ops.divide_no_nan(self.total, self.count)
