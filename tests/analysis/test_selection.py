"""selection_report against values computed by hand."""

import math
import warnings

import keras
import numpy as np
import pytest

import keras_memnets
from keras_memnets.analysis import memory_usage
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


# --- sparse reads, the usage keys and memory_usage ---


def _sparse_and_dense(seed, n=30, heads=2, top_k=3, memory_size=12):
    rng = np.random.default_rng(seed)
    indices = np.stack(
        [
            [rng.choice(8, top_k, replace=False) for _ in range(heads)]
            for _ in range(n)
        ]
    )
    scores = rng.normal(size=(n, heads, top_k))
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    dense = np.zeros((n, memory_size))
    for row in range(n):
        for head in range(heads):
            np.add.at(dense[row], indices[row, head], weights[row, head])
    return weights, indices, dense / heads


def _assert_same_report(report, expected, keys=None, rtol=1e-9):
    for key in keys or expected:
        if key == "memory_size":
            assert report[key] == expected[key]
            continue
        np.testing.assert_allclose(
            report[key], expected[key], rtol=rtol, atol=1e-12, err_msg=key
        )


def test_usage_keys_by_hand():
    # Mean selection (0.45, 0.45, 0.1): every slot read; KL = log 3 - H.
    report = selection_report(SELECTION)
    entropy = -(2 * 0.45 * math.log(0.45) + 0.1 * math.log(0.1))
    assert report["slot_usage"] == 1.0
    assert report["usage_kl"] == pytest.approx(math.log(3) - entropy)
    assert report["usage_kl"] == pytest.approx(
        math.log(3) - math.log(report["perplexity"])
    )
    one_hot = selection_report(np.eye(4)[[0, 0, 1]])
    assert one_hot["slot_usage"] == 0.5


def test_sparse_selection_matches_its_dense_selection():
    weights, indices, dense = _sparse_and_dense(0)
    labels = np.arange(30) % 4
    report = selection_report((weights, indices), labels, memory_size=12)
    expected = selection_report(dense, labels)
    _assert_same_report(report, expected)
    assert report["slot_usage"] == pytest.approx(8 / 12)  # ids below 8
    # Leading axes are pooled, as for a dense selection.
    pooled = selection_report(
        (weights.reshape(5, 6, 2, 3), indices.reshape(5, 6, 2, 3)),
        labels.reshape(5, 6),
        memory_size=12,
    )
    _assert_same_report(pooled, expected)


def test_sparse_selection_errors():
    weights, indices, _ = _sparse_and_dense(1, n=4)
    with pytest.raises(ValueError, match="selection_report.*`memory_size`"):
        selection_report((weights, indices))
    with pytest.raises(ValueError, match=r"slot ids in \[0, memory_size=5\)"):
        selection_report((weights, indices), memory_size=5)
    with pytest.raises(ValueError, match="same shape"):
        selection_report((weights, indices[:, :1]), memory_size=12)
    with pytest.raises(TypeError, match="integer slot ids"):
        selection_report((weights, indices * 1.0), memory_size=12)
    bad = weights.copy()
    bad[0, 0, 0] = np.nan
    with pytest.warns(UserWarning, match="1 of 4 selection rows have NaN"):
        report = selection_report((bad, indices), memory_size=12)
    assert report["num_samples"] == 3 and report["non_finite_rows"] == 1


def _pkm_reference(layer, x):
    """A product-key memory's dense selection from its full scores, numpy:
    each head's top_k slots by a sort, softmax weights, heads averaged."""
    scores = keras.ops.convert_to_numpy(layer.full_scores(x))
    scores = scores.reshape(-1, layer.heads, layer.num_keys**2)
    dense = np.zeros((len(scores), layer.num_keys**2))
    for row in range(len(scores)):
        for head in range(layer.heads):
            top = np.argsort(-scores[row, head], kind="stable")[: layer.top_k]
            w = np.exp(scores[row, head, top] - scores[row, head, top].max())
            dense[row, top] += w / w.sum() / layer.heads
    return dense


def test_memory_usage_of_a_product_key_memory_against_numpy():
    layer = keras_memnets.layers.ProductKeyMemory(
        num_keys=6, value_dim=3, heads=2, top_k=3, key_dim=4
    )
    x = np.random.default_rng(3).normal(size=(20, 5, 7)).astype("float32")
    labels = np.arange(20) % 3  # one per sequence, for all positions
    usage = memory_usage(layer, x, labels, batch_size=7)
    expected = selection_report(_pkm_reference(layer, x), np.repeat(labels, 5))
    keys = [
        "num_samples",
        "memory_size",
        "slot_usage",
        "usage_kl",
        "perplexity",
        "dead_slots",
        "slots_used",
        "mean_max_selection",
        "purity",
        "mutual_information",
    ]
    for key in keys:
        np.testing.assert_allclose(
            usage[key], expected[key], rtol=1e-5, err_msg=key
        )
    assert usage["memory_size"] == 36 and usage["num_samples"] == 100
    # The batch size changes nothing.
    whole = memory_usage(layer, x, labels, batch_size=1000)
    for key in keys:
        np.testing.assert_allclose(whole[key], usage[key], rtol=1e-6)


def test_memory_usage_of_a_memory_layer_is_its_selection_report():
    layer = keras_memnets.layers.MemoryLayer(4, memory_size=5, hidden_units=6)
    x = np.random.default_rng(4).normal(size=(30, 3)).astype("float32")
    usage = memory_usage(layer, x, batch_size=8)
    expected = selection_report(
        keras.ops.convert_to_numpy(layer.compute_selection(x))
    )
    keys = ["slot_share", "perplexity", "usage_kl", "dead_slots"]
    _assert_same_report(usage, expected, keys, rtol=1e-6)


def test_memory_usage_non_finite_inputs_and_errors():
    layer = keras_memnets.layers.ProductKeyMemory(
        num_keys=4, value_dim=2, heads=1, top_k=2, key_dim=4
    )
    x = np.random.default_rng(5).normal(size=(10, 3)).astype("float32")
    clean = memory_usage(layer, x[:8])
    dirty_x = x.copy()
    dirty_x[8:] = np.nan
    with pytest.warns(UserWarning, match="2 of 10 selection rows have NaN"):
        dirty = memory_usage(layer, dirty_x)
    assert dirty["num_samples"] == 8
    assert dirty["usage_kl"] == pytest.approx(clean["usage_kl"])
    with pytest.raises(ValueError, match="memory_usage.*at least one sample"):
        memory_usage(layer, x[:0])
    with pytest.raises(TypeError, match="memory_usage: `layer` must be"):
        memory_usage(keras.layers.Dense(3), x)
    with pytest.raises(ValueError, match=r"memory_usage: `labels` must have"):
        memory_usage(layer, x, labels=np.zeros(9, int))
    with pytest.raises(ValueError, match="memory_usage: `batch_size`"):
        memory_usage(layer, x, batch_size=0)
    with pytest.raises(ValueError, match="memory_usage: `inputs` must have"):
        memory_usage(layer, x[0])
