"""bce_floor against numpy/scipy; the note's model dimension search."""

import numpy as np
import pytest

from keras_memnets.analysis import bce_floor
from keras_memnets.analysis import model_dimension
from keras_memnets.analysis import model_dimension_search


def test_bce_floor_matches_the_binary_entropy():
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(0)
    x = rng.random((20, 28, 28))
    x[x < 0.3] = 0.0
    x[x > 0.9] = 1.0
    expected = (special.entr(x) + special.entr(1 - x)).sum(axis=(1, 2))
    np.testing.assert_allclose(
        bce_floor(x, per_example=True), expected, rtol=1e-12
    )
    np.testing.assert_allclose(bce_floor(x), expected.mean(), rtol=1e-12)
    # Same floor for flat images.
    np.testing.assert_allclose(bce_floor(x.reshape(20, -1)), bce_floor(x))


def test_bce_floor_is_the_minimum_of_the_bce():
    rng = np.random.default_rng(1)
    x = rng.random((5, 9))
    floor = bce_floor(x)
    for scale in (0.9, 0.99, 1.01):
        p = np.clip(x * scale, 1e-9, 1 - 1e-9)
        bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1).mean()
        assert bce > floor


def test_bce_floor_binary_targets_and_mnist_values():
    assert bce_floor(np.array([[0.0, 1.0, 1.0, 0.0]])) == 0.0
    assert bce_floor(np.full((1, 4), 0.5)) == pytest.approx(4 * np.log(2))


@pytest.mark.parametrize(
    "targets",
    [np.array([[1.5]]), np.array([[-0.1]]), np.array([[np.nan]]), np.zeros(0)],
)
def test_bce_floor_bad_targets(targets):
    with pytest.raises(ValueError, match="bce_floor"):
        bce_floor(targets)


def test_model_dimension():
    assert model_dimension([784, 256]) == 512
    assert model_dimension([784, 32, 32]) == 128
    assert model_dimension([784]) == 0


def reference_search(evaluate, sizes, latent, target, max_steps):
    """The note's "summary of algorithm", written out independently."""
    decisions = []
    for step in range(max_steps):
        value = evaluate(sizes, latent)
        if value <= target:
            decisions.append((list(sizes), latent, "reached_target"))
            break
        if step == max_steps - 1:
            decisions.append((list(sizes), latent, "max_steps"))
            break
        if 2 * sum(sizes[1:]) > latent:
            decisions.append((list(sizes), latent, "enlarge_latent"))
            latent *= 2
        else:
            decisions.append((list(sizes), latent, "add_relu"))
            sizes = sizes + [sizes[-1]]
    return decisions


@pytest.mark.parametrize("target", [0.0, 3.0, 20.0])
def test_search_follows_its_rule(target):
    calls = []

    def value(sizes, latent):
        return 100.0 / (latent * len(sizes))

    def evaluate(sizes, latent):
        calls.append((tuple(sizes), latent))
        return value(sizes, latent)

    trace = model_dimension_search(
        evaluate, [784, 2], latent_dim=1, target=target, max_steps=8
    )
    expected = reference_search(value, [784, 2], 1, target, 8)
    assert [
        (t["encoder_sizes"], t["latent_dim"], t["decision"]) for t in trace
    ] == expected
    assert [t["step"] for t in trace] == list(range(len(trace)))
    for t in trace:
        assert t["model_dimension"] == model_dimension(t["encoder_sizes"])
        assert t["value"] == pytest.approx(
            100.0 / (t["latent_dim"] * len(t["encoder_sizes"]))
        )
        assert isinstance(t["reason"], str) and t["reason"]
    # Each configuration is evaluated once.
    assert len(calls) == len(set(calls))


def test_search_width_growth_and_latent_cap():
    trace = model_dimension_search(
        lambda sizes, latent: 1.0,
        [784, 4],
        latent_dim=4,
        grow="width",
        max_latent_dim=8,
        max_steps=4,
    )
    assert [
        (t["encoder_sizes"], t["latent_dim"], t["decision"]) for t in trace
    ] == [
        ([784, 4], 4, "enlarge_latent"),
        # 2 * 4 = 8 is not > 8: widen.
        ([784, 4], 8, "add_relu"),
        # model dimension 16 > 8, but 16 would exceed the cap: widen again.
        ([784, 8], 8, "add_relu"),
        ([784, 16], 8, "max_steps"),
    ]


def test_search_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        model_dimension_search(3)
    with pytest.raises(ValueError, match="grow"):
        model_dimension_search(lambda sizes, latent: 0.0, grow="sideways")
    with pytest.raises(ValueError, match="at least 2 positive ints"):
        model_dimension_search(lambda sizes, latent: 0.0, encoder_sizes=[784])
    with pytest.raises(ValueError, match="`latent_growth` must be an int >= 2"):
        model_dimension_search(lambda sizes, latent: 0.0, latent_growth=1)
    with pytest.raises(TypeError, match="`max_steps` must be an int"):
        model_dimension_search(lambda sizes, latent: 0.0, max_steps=2.0)
    with pytest.raises(ValueError, match="`target` must be a number"):
        model_dimension_search(lambda sizes, latent: 0.0, target=float("nan"))
