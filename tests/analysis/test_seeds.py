"""mean ± sd and seed verdicts against numpy; bad input is rejected."""

import json

import numpy as np
import pytest

from keras_memnets.analysis import Verdict
from keras_memnets.analysis import format_mean_sd
from keras_memnets.analysis import mean_sd
from keras_memnets.analysis import seed_verdict
from keras_memnets.analysis import threshold_text


def test_mean_sd_matches_numpy_sample_sd():
    values = np.random.default_rng(0).normal(size=7)
    mean, sd = mean_sd(values)
    assert mean == pytest.approx(values.mean(), rel=1e-12)
    assert sd == pytest.approx(np.std(values, ddof=1), rel=1e-12)
    assert mean_sd([4.0]) == (4.0, 0.0)
    assert format_mean_sd([1, 2, 3], ".1f") == "2.0 ± 1.0"


@pytest.mark.parametrize(
    "values,comparison,rule,holds",
    [
        ([0.01, 0.03, 0.02], "<=", "every", False),
        ([0.01, 0.03, 0.02], "<=", "mean", True),
        ([0.01, 0.02, 0.02], "<=", "every", True),
        ([0.01, 0.02, 0.02], "<", "every", False),
        ([0.03, 0.02, 0.05], ">=", "every", True),
        ([0.03, 0.02, 0.05], ">", "every", False),
        ([0.00, 0.01, 0.07], ">", "mean", True),
    ],
)
def test_seed_verdict_rules(values, comparison, rule, holds):
    v = seed_verdict("claim", values, 0.02, comparison, rule)
    assert isinstance(v, Verdict)
    assert v.holds is holds
    assert v.values == tuple(values)
    assert v.mean == pytest.approx(np.mean(values))
    assert v.sd == pytest.approx(np.std(values, ddof=1))


def test_verdict_text_and_record():
    v = seed_verdict("gain", [0.1, 0.3], 0.02, ">=")
    assert threshold_text(0.02, ">=") == ">= 0.02 in every seed"
    assert str(v) == (
        "gain: 0.200 ± 0.141 over 2 seeds (threshold >= 0.02 in every "
        "seed): holds"
    )
    record = json.loads(json.dumps(v.to_dict()))
    assert record["holds"] is True and record["values"] == [0.1, 0.3]
    assert record["mean"] == pytest.approx(0.2)
    assert "for the mean over seeds" in threshold_text(1, "<", "mean")


def test_bad_input_names_the_function_and_argument():
    with pytest.raises(ValueError, match="seed_verdict.*comparison"):
        seed_verdict("c", [1.0], 0, "=")
    with pytest.raises(ValueError, match="seed_verdict.*rule"):
        seed_verdict("c", [1.0], 0, "<=", "most")
    with pytest.raises(ValueError, match="mean_sd: `values` must hold"):
        mean_sd([])
    with pytest.raises(TypeError, match="seed_verdict: `threshold`"):
        seed_verdict("c", [1.0], "high")


@pytest.mark.parametrize("threshold", [float("nan"), float("inf")])
def test_a_threshold_that_is_not_finite_is_refused(threshold):
    # A NaN threshold made every comparison False, an infinite one every
    # comparison trivially true or false: neither is a stated threshold.
    with pytest.raises(ValueError, match="seed_verdict: `threshold` must be"):
        seed_verdict("c", [1.0], threshold)
    with pytest.raises(ValueError, match="threshold_text: `threshold`"):
        threshold_text(threshold)


def test_undefined_values_are_shown_and_fail_the_claim():
    nan = float("nan")
    assert np.isnan(mean_sd([1.0, nan])[0])
    assert format_mean_sd([1.0, nan]) == "nan ± nan"
    for comparison in ("<=", ">="):
        v = seed_verdict("ratio", [0.5, nan, 0.4], 1.0, comparison)
        assert v.holds is False and v.undefined == 1
        assert str(v).endswith("does not hold (undefined in 1 of 3)")
    assert seed_verdict("r", [0.5, np.inf], 1.0, ">=", "mean").holds is False
