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

Rows with a NaN or an infinity are excluded from every metric here (they
count as no sample); rows that are not probability distributions (raw
logits) are counted. Either gives one `UserWarning` per metric.
"""

import warnings

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.selection import check_selection_shape
from keras_memnets.utils.selection import is_distribution
from keras_memnets.utils.selection import is_finite_row
from keras_memnets.utils.selection import row_max
from keras_memnets.utils.slots import dead_threshold
from keras_memnets.utils.validation import boolean
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

    def _row_weights(self, y_pred, sample_weight):
        """One weight per row of the selection (1 without `sample_weight`)."""
        if sample_weight is None:
            return None
        return ops.reshape(
            ops.broadcast_to(
                ops.cast(sample_weight, self.dtype), ops.shape(y_pred)[:-1]
            ),
            (-1,),
        )


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
        y_pred = ops.convert_to_tensor(y_pred)
        check_selection_shape(
            y_pred.shape, self.memory_size, type(self).__name__
        )
        selection = ops.reshape(
            ops.cast(y_pred, self.dtype), (-1, self.memory_size)
        )
        selection, weights = self._check_rows(selection)
        row_weights = self._row_weights(y_pred, sample_weight)
        if row_weights is not None:
            weights = weights * row_weights
        one_hot = ops.one_hot(
            ops.argmax(selection, axis=-1), self.memory_size, dtype=self.dtype
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
    """Perplexity of the mean selection: the effective number of used slots.

    With `p` the selection averaged over the samples of the epoch, this is
    `exp(-Σ_k p_k log p_k)`: `memory_size` when the slots are used evenly on
    average, 1 when every sample puts all its weight on the same slot (the
    "usage" statistic of product-key memories). A uniform selection per
    sample also scores `memory_size`; read it together with
    `MeanMaxSelection`. Divide by `memory_size` for the fraction of the
    slots in use. Rows with a NaN or an infinity are excluded.

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
class DeadSlots(_SelectionMetric):
    """Number of slots that are the argmax of almost no sample.

    A slot is dead when the share of samples whose largest selection entry
    is that slot is below `threshold` (default: a tenth of the even share,
    `0.1 / memory_size`), the statistic vector-quantisation codebooks track
    to restart unused codes (see `keras_memnets.callbacks.RestartDeadSlots`).
    Rows with a NaN or an infinity are excluded.

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
    nearly everything. Rows with a NaN or an infinity are excluded.

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
    (`keras_memnets.losses.OneMaxLoss`). Rows with a NaN or an infinity are
    excluded.

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
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        check_selection_shape(y_pred.shape, None, "MeanMaxSelection")
        rows, weights = self._check_rows(
            ops.reshape(y_pred, (-1, y_pred.shape[-1]))
        )
        row_weights = self._row_weights(y_pred, sample_weight)
        if row_weights is not None:
            weights = weights * row_weights
        self.total.assign_add(ops.sum(row_max(rows) * weights))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        self._warn_once()
        return ops.divide_no_nan(self.total, self.count)
