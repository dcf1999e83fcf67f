"""selection_report against values computed by hand."""

import math
import warnings

import numpy as np
import pytest

from keras_memnets.metrics import selection_report

# Four rows over three slots: slots 0, 0, 1, 1 win; slot 2 is never used.
SELECTION = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.8, 0.2, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.6, 0.4],
    ]
)
LABELS = np.array([0, 0, 1, 0])


def test_utilisation_by_hand():
    report = selection_report(SELECTION)
    assert report["num_samples"] == 4
    assert report["memory_size"] == 3
    np.testing.assert_allclose(report["slot_share"], [0.5, 0.5, 0.0])
    assert report["slots_used"] == 2
    assert report["dead_slots"] == 1  # share 0 < 0.1 / 3
    assert report["slots_for_mass"] == 2  # 0.5 + 0.5 covers 0.9
    # Mean selection (0.45, 0.45, 0.1).
    entropy = -(2 * 0.45 * math.log(0.45) + 0.1 * math.log(0.1))
    assert report["perplexity"] == pytest.approx(math.exp(entropy))
    assert report["perplexity"] == pytest.approx(2.5829, abs=1e-4)
    assert report["argmax_perplexity"] == pytest.approx(2.0)
    assert report["mean_max_selection"] == pytest.approx(0.85)
    assert "purity" not in report


def test_labels_by_hand():
    report = selection_report(SELECTION, LABELS)
    # Slot 0 holds labels {0, 0}, slot 1 holds {1, 0} (tie -> label 0).
    np.testing.assert_array_equal(report["slot_label"], [0, 0, -1])
    np.testing.assert_allclose(report["slot_purity"], [1.0, 0.5, np.nan])
    assert report["purity"] == pytest.approx(0.75)
    # p(s, y): (0, 0) 1/2, (1, 1) 1/4, (1, 0) 1/4; p(s) = (1/2, 1/2),
    # p(y) = (3/4, 1/4).
    mi = (
        0.5 * math.log(0.5 / (0.5 * 0.75))
        + 0.25 * math.log(0.25 / (0.5 * 0.25))
        + 0.25 * math.log(0.25 / (0.5 * 0.75))
    )
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert report["mutual_information"] == pytest.approx(mi)
    assert report["mutual_information"] == pytest.approx(0.215762, abs=1e-6)
    assert report["label_entropy"] == pytest.approx(h)
    assert report["normalized_mutual_information"] == pytest.approx(mi / h)


def test_perfect_partition_and_collapse():
    labels = np.repeat(np.arange(4), 5)
    one_hot = np.eye(4)[labels]
    perfect = selection_report(one_hot, labels)
    assert perfect["purity"] == 1.0
    assert perfect["normalized_mutual_information"] == pytest.approx(1.0)
    assert perfect["argmax_perplexity"] == pytest.approx(4.0)
    collapsed = selection_report(np.eye(4)[np.zeros(20, int)], labels)
    assert collapsed["slots_used"] == 1
    assert collapsed["dead_slots"] == 3
    assert collapsed["mutual_information"] == 0.0
    assert collapsed["purity"] == pytest.approx(0.25)
    assert collapsed["perplexity"] == pytest.approx(1.0)


def test_leading_axes_are_pooled_and_threshold_mass_apply():
    selection = SELECTION.reshape(2, 2, 3)
    report = selection_report(
        selection, LABELS.reshape(2, 2), threshold=0.6, mass=0.5
    )
    assert report["num_samples"] == 4
    assert report["dead_slots"] == 3  # 0.5 < 0.6 for all
    assert report["slots_for_mass"] == 1
    assert report["purity"] == pytest.approx(0.75)


def test_logits_warn():
    logits = np.array([[2.0, -1.0, 0.5], [0.1, 3.0, -2.0]])
    with pytest.warns(UserWarning, match="2 of 2 selection rows.*softmax"):
        selection_report(logits)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        selection_report(SELECTION)  # distributions: no warning


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"selection": np.zeros(3)}, ValueError, "memory_size"),
        ({"selection": np.zeros((0, 3))}, ValueError, "no samples"),
        (
            {"selection": SELECTION, "labels": np.zeros(3, int)},
            ValueError,
            "3 labels for 4 rows",
        ),
        (
            {"selection": SELECTION, "labels": np.zeros(4)},
            TypeError,
            "integer",
        ),
        ({"selection": SELECTION, "mass": 0.0}, ValueError, "mass"),
        ({"selection": SELECTION, "threshold": 2.0}, ValueError, "threshold"),
    ],
)
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        selection_report(**kwargs)
