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
    np.testing.assert_allclose(_feed(m, batches), expected, rtol=1e-5)
    m.reset_state()
    assert _np(m.result()) == 0.0
    # Even use of one-hot selections: all 6 slots; one slot only: 1.
    assert _feed(m, [np.eye(6, dtype="float32")]) == pytest.approx(
        6.0, rel=1e-6
    )
    m.reset_state()
    one_slot = np.tile(np.eye(6, dtype="float32")[:1], (5, 1))
    assert _feed(m, [one_slot]) == pytest.approx(1.0, rel=1e-6)


def test_perplexity_normalize_is_deprecated_and_keeps_the_fraction():
    batches = [_selections(0)]
    p = batches[0].mean(0)
    expected = np.exp(-np.sum(p * np.log(p)))
    with pytest.warns(DeprecationWarning, match="`normalize` is deprecated"):
        m = metrics.SelectionPerplexity(6, normalize=True)
    np.testing.assert_allclose(_feed(m, batches), expected / 6, rtol=1e-5)
    # A saved metric of the former default reloads as it was.
    with pytest.warns(DeprecationWarning):
        again = metrics.SelectionPerplexity.from_config(m.get_config())
    assert again.normalize is True
    assert metrics.SelectionPerplexity(6).get_config()["normalize"] is None


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
        result[key], np.exp(-np.sum(mean * np.log(mean))), rtol=1e-4
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
    with pytest.raises(
        ValueError, match=r"SelectionPerplexity: `y_pred` must have shape"
    ):
        metrics.SelectionPerplexity(4).update_state(
            None, np.zeros((2, 3), "float32")
        )
    with pytest.raises(ValueError, match="MeanMaxSelection: `y_pred`"):
        metrics.MeanMaxSelection().update_state(None, np.zeros(3, "float32"))
    with pytest.raises(TypeError, match="SelectionPerplexity: `normalize`"):
        metrics.SelectionPerplexity(4, normalize="yes")


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


SELECTION_METRICS = [
    lambda: metrics.SelectionPerplexity(4),
    lambda: metrics.DeadSlots(4),
    lambda: metrics.SlotsForMass(4),
    lambda: metrics.MeanMaxSelection(),
]


@pytest.mark.parametrize("metric", SELECTION_METRICS)
def test_non_finite_rows_are_excluded(metric):
    # Before, a NaN row counted as a sample (its argmax as slot 0), so the
    # perplexity of [slot 0, slot 1, NaN] read as that of three samples.
    import warnings

    finite = np.array(
        [[1.0, 0, 0, 0], [0, 0.9, 0.1, 0], [0, 0, 0.2, 0.8]], "float32"
    )
    bad = np.array([[np.nan] * 4, [0.5, np.inf, 0, 0]], "float32")
    reference = metric()
    reference.update_state(None, finite)
    m = metric()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m.update_state(None, np.concatenate([finite[:2], bad, finite[2:]]))
        value = _np(m.result())
    assert np.isfinite(value)
    assert value == pytest.approx(_np(reference.result()), rel=1e-6)
    found = [w for w in record if "excluded" in str(w.message)]
    assert len(found) == 1 and "2 selection rows" in str(found[0].message)
    # Only non-finite rows: no sample, the value of an empty metric.
    empty = metric()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        empty.update_state(None, bad)
        assert _np(empty.result()) == 0.0


@pytest.mark.parametrize("metric", SELECTION_METRICS)
def test_batch_of_zero_rows_adds_nothing(metric):
    m = metric()
    m.update_state(None, np.zeros((0, 4), "float32"))
    assert _np(m.result()) == 0.0
    m.update_state(None, np.eye(4, dtype="float32")[:2])
    reference = metric()
    reference.update_state(None, np.eye(4, dtype="float32")[:2])
    assert _np(m.result()) == pytest.approx(_np(reference.result()))


def test_non_finite_rows_are_excluded_in_fit():
    # Compiled on every backend: the rows of a NaN input give a NaN
    # selection, which the metric leaves out.
    inputs = keras.Input((3,))
    selection = keras.layers.Dense(4, activation="softmax", name="selection")(
        inputs
    )
    model = keras.Model(inputs, selection)
    model.compile(loss="mse", metrics=[metrics.SelectionPerplexity(4)])
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    clean = model.evaluate(x[:6], np.zeros((6, 4)), verbose=0, return_dict=True)
    x[6:] = np.nan
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dirty = model.evaluate(x, np.zeros((8, 4)), verbose=0, return_dict=True)
    key = [k for k in clean if "perplexity" in k][0]
    assert dirty[key] == pytest.approx(clean[key], rel=1e-5)
