import keras
import numpy as np
import pytest

from keras_memnets import metrics


def _np(t):
    return float(keras.ops.convert_to_numpy(t))


def _selections(seed, n=50, k=6, temperature=0.5):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) / temperature
    logits[:, 0] += 1.0  # slot 0 is popular
    logits[:, 5] -= 6.0  # slot 5 is (almost) never the argmax
    p = np.exp(logits)
    return (p / p.sum(-1, keepdims=True)).astype("float32")


def _feed(metric, batches, weights=None):
    for i, b in enumerate(batches):
        w = None if weights is None else weights[i]
        metric.update_state(np.zeros_like(b), b, sample_weight=w)
    return _np(metric.result())


def test_perplexity_matches_numpy_over_batches():
    batches = [_selections(0), _selections(1, n=30)]
    allp = np.concatenate(batches)
    p = allp.mean(0)
    expected = np.exp(-np.sum(p * np.log(p)))
    m = metrics.SelectionPerplexity(6)
    np.testing.assert_allclose(_feed(m, batches), expected / 6, rtol=1e-5)
    plain = metrics.SelectionPerplexity(6, normalize=False)
    np.testing.assert_allclose(_feed(plain, batches), expected, rtol=1e-5)
    m.reset_state()
    assert _np(m.result()) == 0.0
    # Even use of one-hot selections: perplexity 1; one slot only: 1/k.
    assert _feed(m, [np.eye(6, dtype="float32")]) == pytest.approx(
        1.0, rel=1e-6
    )
    m.reset_state()
    one_slot = np.tile(np.eye(6, dtype="float32")[:1], (5, 1))
    assert _feed(m, [one_slot]) == pytest.approx(1 / 6, rel=1e-6)


def _argmax_share(selection, weights=None):
    counts = np.bincount(
        selection.argmax(-1), weights=weights, minlength=selection.shape[-1]
    )
    return counts / counts.sum()


def test_dead_slots_matches_numpy():
    batches = [_selections(2), _selections(3)]
    share = _argmax_share(np.concatenate(batches))
    for threshold in (None, 0.05, 0.21):
        m = metrics.DeadSlots(6, threshold=threshold)
        t = 0.1 / 6 if threshold is None else threshold
        assert _feed(m, batches) == float(np.sum(share < t))
    assert metrics.DeadSlots(6, threshold=0.2).effective_threshold == 0.2
    assert _feed(metrics.DeadSlots(6), batches) >= 1  # slot 5


def test_slots_for_mass_matches_numpy():
    selection = np.concatenate([_selections(4), _selections(5)])
    share = np.sort(_argmax_share(selection))[::-1]
    for mass in (0.5, 0.9, 1.0):
        expected = int(np.searchsorted(np.cumsum(share), mass - 1e-6) + 1)
        m = metrics.SlotsForMass(6, mass=mass)
        assert _feed(m, [selection]) == expected
    eight_one_one = np.eye(3, dtype="float32")[[0] * 8 + [1, 2]]
    assert _feed(metrics.SlotsForMass(3, mass=0.8), [eight_one_one]) == 1
    assert _feed(metrics.SlotsForMass(3, mass=0.9), [eight_one_one]) == 2


def test_mean_max_selection_and_sample_weight():
    batches = [_selections(6), _selections(7, n=20)]
    allp = np.concatenate(batches)
    m = metrics.MeanMaxSelection()
    np.testing.assert_allclose(
        _feed(m, batches), allp.max(-1).mean(), rtol=1e-5
    )
    weights = [np.linspace(0, 1, 50).astype("float32"), np.ones(20, "float32")]
    w = np.concatenate(weights)
    m = metrics.MeanMaxSelection()
    np.testing.assert_allclose(
        _feed(m, batches, weights),
        np.sum(allp.max(-1) * w) / w.sum(),
        rtol=1e-5,
    )
    dead = metrics.DeadSlots(6, threshold=0.15)
    share = _argmax_share(allp, w)
    assert _feed(dead, batches, weights) == float(np.sum(share < 0.15))


def test_metrics_attach_to_a_selection_output_in_compile():
    inputs = keras.Input((3,))
    selection = keras.layers.Dense(4, activation="softmax", name="selection")(
        inputs
    )
    output = keras.layers.Dense(2, name="output")(inputs)
    model = keras.Model(inputs, {"output": output, "selection": selection})
    model.compile(
        optimizer="adam",
        loss={"output": "mse"},
        metrics={
            "selection": [
                metrics.SelectionPerplexity(4),
                metrics.MeanMaxSelection(),
            ]
        },
    )
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    result = model.evaluate(
        x,
        {"output": np.zeros((16, 2)), "selection": np.zeros((16, 4))},
        verbose=0,
        return_dict=True,
    )
    p = keras.ops.convert_to_numpy(model(x)["selection"])
    mean = p.mean(0)
    key = [k for k in result if "perplexity" in k][0]
    np.testing.assert_allclose(
        result[key], np.exp(-np.sum(mean * np.log(mean))) / 4, rtol=1e-4
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="SelectionPerplexity.*memory_size"):
        metrics.SelectionPerplexity(0)
    with pytest.raises(TypeError, match="DeadSlots.*memory_size"):
        metrics.DeadSlots(2.5)
    with pytest.raises(ValueError, match="DeadSlots.*threshold"):
        metrics.DeadSlots(4, threshold=1.5)
    with pytest.raises(ValueError, match="SlotsForMass.*mass"):
        metrics.SlotsForMass(4, mass=0.0)
    with pytest.raises(ValueError, match="SelectionPerplexity.*memory_size=4"):
        metrics.SelectionPerplexity(4).update_state(
            None, np.zeros((2, 3), "float32")
        )


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
    mi = metrics.slot_label_mutual_information(selection, labels)
    np.testing.assert_allclose(mi, _mi_reference(slots, labels), rtol=1e-10)
    h_label = _mi_reference(labels, labels)
    np.testing.assert_allclose(
        metrics.slot_label_mutual_information(slots, labels, normalized=True),
        mi / h_label,
        rtol=1e-10,
    )
    # Independent slots and labels: ~0; slot determines label: H(label).
    assert (
        metrics.slot_label_mutual_information(np.zeros(50, int), labels[:50])
        == 0.0
    )
    np.testing.assert_allclose(
        metrics.slot_label_mutual_information(labels, labels),
        h_label,
        rtol=1e-10,
    )


def test_mutual_information_bad_inputs():
    with pytest.raises(
        ValueError, match="slot_label_mutual_information.*same number"
    ):
        metrics.slot_label_mutual_information(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(
        TypeError, match="slot_label_mutual_information.*integer"
    ):
        metrics.slot_label_mutual_information(np.zeros(3), np.zeros(3))


def _our_warnings(record):
    return [
        w for w in record if "not probability distributions" in str(w.message)
    ]


@pytest.mark.parametrize(
    "metric",
    [
        lambda: metrics.SelectionPerplexity(3),
        lambda: metrics.DeadSlots(3),
        lambda: metrics.SlotsForMass(3),
        lambda: metrics.MeanMaxSelection(),
    ],
)
def test_logits_warn_once_eagerly(metric):
    import warnings

    m = metric()
    logits = np.array([[2.0, -1.0, 0.5], [0.3, 0.2, 0.5]], "float32")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m.update_state(None, np.array([[0.2, 0.3, 0.5]], "float32"))
        m.result()
        assert not _our_warnings(record)
        for _ in range(3):
            m.update_state(None, logits)
            m.result()
    found = _our_warnings(record)
    assert len(found) == 1
    assert type(m).__name__ in str(found[0].message)
    assert "1 selection rows" in str(found[0].message)


def test_logits_warn_once_in_fit():
    import warnings

    inputs = keras.Input((3,))
    logits = keras.layers.Dense(4, name="selection")(inputs)  # no softmax
    output = keras.layers.Dense(2, name="output")(inputs)
    model = keras.Model(inputs, {"output": output, "selection": logits})
    model.compile(
        optimizer="adam",
        loss={"output": "mse"},
        metrics={"selection": [metrics.SelectionPerplexity(4)]},
    )
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        history = model.fit(
            x,
            {"output": np.zeros((64, 2)), "selection": None},
            batch_size=16,
            epochs=3,
            verbose=0,
        )
    assert len(_our_warnings(record)) == 1
    assert "selection_perplexity" in history.history
