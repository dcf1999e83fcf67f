"""selection_report against values computed by hand."""

import math
import warnings

import numpy as np
import pytest

from keras_memnets.analysis import selection_report
from keras_memnets.analysis import slot_label_mutual_information

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
        (
            {"selection": np.zeros((0, 3))},
            ValueError,
            "at least one row with finite entries",
        ),
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


def _mi_reference(slots, labels):
    """I = H(slot) + H(label) - H(slot, label), in nats."""

    def entropy(counts):
        p = counts[counts > 0] / counts.sum()
        return -np.sum(p * np.log(p))

    _, joint_counts = np.unique(
        np.stack([slots, labels]), axis=1, return_counts=True
    )
    return (
        entropy(np.unique(slots, return_counts=True)[1])
        + entropy(np.unique(labels, return_counts=True)[1])
        - entropy(joint_counts)
    )


def test_mutual_information_matches_entropy_identity():
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 10, size=500)
    slots = np.where(rng.random(500) < 0.6, labels % 4, rng.integers(0, 4, 500))
    selection = np.eye(4)[slots] * 0.7 + 0.3 / 4
    mi = slot_label_mutual_information(selection, labels)
    np.testing.assert_allclose(mi, _mi_reference(slots, labels), rtol=1e-10)
    h_label = _mi_reference(labels, labels)
    np.testing.assert_allclose(
        slot_label_mutual_information(slots, labels, normalized=True),
        mi / h_label,
        rtol=1e-10,
    )
    # Independent slots and labels: ~0; slot determines label: H(label).
    assert slot_label_mutual_information(np.zeros(50, int), labels[:50]) == 0.0
    np.testing.assert_allclose(
        slot_label_mutual_information(labels, labels),
        h_label,
        rtol=1e-10,
    )


def test_mutual_information_bad_inputs():
    with pytest.raises(
        ValueError, match="slot_label_mutual_information.*same number"
    ):
        slot_label_mutual_information(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(
        TypeError, match="slot_label_mutual_information.*integer"
    ):
        slot_label_mutual_information(np.zeros(3), np.zeros(3))


def test_non_finite_rows_are_excluded_as_the_metrics_do():
    bad = np.array([[np.nan, 0.5, 0.5], [0.2, np.inf, 0.0]])
    with pytest.warns(UserWarning, match="2 of 6 selection rows have NaN"):
        report = selection_report(
            np.concatenate([SELECTION, bad]), np.concatenate([LABELS, [1, 1]])
        )
    expected = selection_report(SELECTION, LABELS)
    assert report["num_samples"] == 4 and report["non_finite_rows"] == 2
    assert expected["non_finite_rows"] == 0
    for key in ("perplexity", "purity", "mutual_information", "dead_slots"):
        assert report[key] == pytest.approx(expected[key])
    with pytest.warns(UserWarning, match="excluded"):
        mi = slot_label_mutual_information(
            np.concatenate([SELECTION, bad]), np.concatenate([LABELS, [1, 1]])
        )
    assert mi == pytest.approx(expected["mutual_information"])
    with pytest.raises(ValueError, match="at least one row with finite"):
        with pytest.warns(UserWarning):
            selection_report(bad)
