"""Summaries and verdicts over seeds: mean ± sd, and a claim's threshold."""

import dataclasses

import numpy as np

from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import one_of

_COMPARISONS = {
    "<=": np.less_equal,
    "<": np.less,
    ">=": np.greater_equal,
    ">": np.greater,
}
_RULES = ("every", "mean")


def _values(values, where):
    array = np.asarray(values, dtype="float64").reshape(-1)
    if array.size == 0:
        raise ValueError(
            f"{where}: `values` must hold one number per seed, got none."
        )
    return array


def mean_sd(values):
    """Returns the mean and sample standard deviation of per-seed values.

    The standard deviation uses `ddof=1` (the spread between seeds, not of
    one seed), and is 0 for a single value. A NaN among the values (a
    statistic undefined in some seed) makes both NaN: it is shown, not
    dropped.

    Args:
        values: a sequence of numbers, one per seed (or per run).

    Returns:
        A tuple `(mean, sd)` of Python floats.

    Example:

    >>> keras_memnets.analysis.mean_sd([1.0, 2.0, 3.0])
    (2.0, 1.0)

    Reference:
        The guide *Memory networks* on the docs site (verdicts over seeds),
        https://keras-memnets.readthedocs.io/.
    """
    array = _values(values, "mean_sd")
    sd = array.std(ddof=1) if array.size > 1 else 0.0
    return float(array.mean()), float(sd)


def format_mean_sd(values, spec=".3f"):
    """Formats per-seed values as `"mean ± sd"`.

    Args:
        values: a sequence of numbers, one per seed.
        spec: a Python format spec for both numbers. Defaults to `".3f"`.

    Returns:
        A string such as `"0.051 ± 0.002"`.

    Example:

    >>> keras_memnets.analysis.format_mean_sd([0.05, 0.052, 0.054])
    '0.052 ± 0.002'
    """
    mean, sd = mean_sd(values)
    return f"{mean:{spec}} ± {sd:{spec}}"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A claim tested against a threshold stated before the numbers.

    Built by `keras_memnets.analysis.seed_verdict`; `str(verdict)` prints
    the claim, the measured mean ± sd beside its threshold, and whether the
    claim holds. `to_dict()` gives a JSON-ready record.

    Attributes:
        claim: str, what is claimed.
        values: tuple of floats, one per seed.
        threshold: float.
        comparison: one of `"<="`, `"<"`, `">="`, `">"`: the claim holds
            where `value comparison threshold`.
        rule: `"every"` (the comparison holds in every seed) or `"mean"`
            (it holds for the mean over seeds).
        holds: bool. False when any value is NaN or infinite (the claim
            cannot be checked in that seed); `str()` then says in how many
            seeds the value is undefined.
    """

    claim: str
    values: tuple
    threshold: float
    comparison: str
    rule: str
    holds: bool

    @property
    def mean(self):
        return mean_sd(self.values)[0]

    @property
    def sd(self):
        return mean_sd(self.values)[1]

    @property
    def condition(self):
        """The threshold as text, e.g. `"<= 0.02 in every seed"`."""
        return threshold_text(self.threshold, self.comparison, self.rule)

    @property
    def undefined(self):
        """How many values are NaN or infinite."""
        return int(np.sum(~np.isfinite(self.values)))

    def __str__(self):
        text = (
            f"{self.claim}: {format_mean_sd(self.values)} over "
            f"{len(self.values)} seeds (threshold {self.condition}): "
            f"{'holds' if self.holds else 'does not hold'}"
        )
        if self.undefined:
            text += f" (undefined in {self.undefined} of {len(self.values)})"
        return text

    def to_dict(self):
        record = dataclasses.asdict(self)
        record.update(values=list(self.values), mean=self.mean, sd=self.sd)
        return record


def threshold_text(threshold, comparison="<=", rule="every"):
    """Returns a threshold as text, to print before any number is measured.

    Args:
        threshold: a finite number.
        comparison: one of `"<="`, `"<"`, `">="`, `">"`.
        rule: `"every"` or `"mean"`, as in `seed_verdict`.

    Returns:
        A string such as `">= 8 in every seed"`.

    Example:

    >>> keras_memnets.analysis.threshold_text(8, ">=")
    '>= 8 in every seed'
    """
    threshold = _check_arguments(threshold, comparison, rule, "threshold_text")
    where = "in every seed" if rule == "every" else "for the mean over seeds"
    return f"{comparison} {threshold:g} {where}"


def _check_arguments(threshold, comparison, rule, owner):
    """Returns `threshold` as a finite float, after checking all three."""
    one_of(comparison, "comparison", owner, tuple(_COMPARISONS))
    one_of(rule, "rule", owner, _RULES)
    return number_in_range(threshold, "threshold", owner, finite=True)


def seed_verdict(claim, values, threshold, comparison="<=", rule="every"):
    """Tests a claim on per-seed values against a stated threshold.

    A verdict over seeds should rest on a threshold chosen before the
    numbers are seen, on several seeds, and print its number beside its
    threshold; this function does the bookkeeping. With `rule="every"` the
    claim holds only if the comparison holds in every seed (a strict,
    seed-robust reading); with `rule="mean"`, if it holds for the mean.

    Args:
        claim: str, what is claimed (printed).
        values: a sequence of numbers, one per seed. A NaN or infinite
            value (a statistic undefined in that seed) makes the claim not
            hold, and the printed verdict says so.
        threshold: a finite number.
        comparison: one of `"<="`, `"<"`, `">="`, `">"`. Defaults to `"<="`.
        rule: `"every"` or `"mean"`. Defaults to `"every"`.

    Returns:
        A `keras_memnets.analysis.Verdict`.

    Example:

    >>> v = keras_memnets.analysis.seed_verdict(
    ...     "live slots", [10, 9, 8], 8, ">=")
    >>> v.holds
    True
    >>> print(v)
    live slots: 9.000 ± 1.000 over 3 seeds (threshold >= 8 in every seed): holds

    Reference:
        The guide *Memory networks* on the docs site (verdicts over seeds),
        https://keras-memnets.readthedocs.io/.
    """
    threshold = _check_arguments(threshold, comparison, rule, "seed_verdict")
    array = _values(values, "seed_verdict")
    compare = _COMPARISONS[comparison]
    tested = array if rule == "every" else array.mean(keepdims=True)
    holds = bool(
        np.all(np.isfinite(array)) and np.all(compare(tested, threshold))
    )
    return Verdict(
        claim=str(claim),
        values=tuple(float(v) for v in array),
        threshold=threshold,
        comparison=comparison,
        rule=rule,
        holds=holds,
    )
