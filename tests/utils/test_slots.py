"""split_slots, the pure slot surgery behind MemoryLayer.reset_slots."""

import math

import numpy as np
import pytest

from keras_memnets.utils.slots import split_slots


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _setup(seed, n=60, hidden_units=5, memory_size=4):
    rng = np.random.default_rng(seed)
    hidden = np.maximum(rng.normal(size=(n, hidden_units)), 0.0)
    kernel = rng.normal(size=(hidden_units, memory_size))
    bias = np.array([2.0, 0.0, -20.0, 0.0])  # slot 2 never wins
    winners = (hidden @ kernel + bias).argmax(-1)
    return hidden, kernel, bias, winners


def test_without_split_the_pair_shares_the_busiest_probability():
    hidden, kernel, bias, winners = _setup(0)
    busiest = int(np.bincount(winners).argmax())
    new_kernel, new_bias, records = split_slots(
        kernel, bias, hidden, winners, [2], split=0.0, rng=0
    )
    assert records[0]["slot"] == 2 and records[0]["from"] == busiest
    assert winners[records[0]["row"]] == busiest
    np.testing.assert_array_equal(new_kernel[:, 2], kernel[:, busiest])
    assert new_bias[2] == new_bias[busiest] == bias[busiest] - math.log(2)
    before = _softmax(hidden @ kernel + bias)
    after = _softmax(hidden @ new_kernel + new_bias)
    np.testing.assert_allclose(
        after[:, 2] + after[:, busiest], before[:, busiest], rtol=1e-9
    )
    others = [k for k in range(4) if k not in (2, busiest)]
    np.testing.assert_allclose(after[:, others], before[:, others], rtol=1e-9)
    # The inputs are not modified.
    assert bias[2] == -20.0


@pytest.mark.parametrize("split", [0.5, 3.0])
def test_the_chosen_row_prefers_the_new_slot_by_split(split):
    hidden, kernel, bias, winners = _setup(1)
    new_kernel, new_bias, records = split_slots(
        kernel, bias, hidden, winners, [2], split=split, rng=1
    )
    record = records[0]
    logits = hidden @ new_kernel + new_bias
    row, busiest = record["row"], record["from"]
    assert logits[row, 2] - logits[row, busiest] == pytest.approx(split)
    # The logit difference is linear in h and zero at the members' mean:
    # the members divide on either side of it.
    members = winners == busiest
    mean = hidden[members].mean(0)
    mean_logits = mean @ new_kernel + new_bias
    assert mean_logits[2] == pytest.approx(mean_logits[busiest])
    moved = (logits[members, 2] > logits[members, busiest]).mean()
    assert 0.1 < moved < 0.9


def test_successive_slots_split_the_busiest_in_turn():
    hidden, kernel, bias, winners = _setup(2)
    bias = np.array([5.0, -20.0, -20.0, -20.0])  # slot 0 wins everything
    winners = (hidden @ kernel + bias).argmax(-1)
    assert (winners == 0).all()
    _, _, records = split_slots(
        kernel, bias, hidden, winners, [1, 2, 3], split=1.0, rng=0
    )
    assert [r["slot"] for r in records] == [1, 2, 3]
    assert records[0]["from"] == 0
    # After the first split slot 0 no longer holds all rows, so a later
    # split may take from the restarted slot 1.
    assert {r["from"] for r in records} <= {0, 1, 2}


def test_nothing_to_split_and_no_bias():
    hidden = np.ones((3, 2))
    kernel = np.zeros((2, 3))
    winners = np.array([0, 1, 2])  # every slot wins one row
    new_kernel, new_bias, records = split_slots(
        kernel, None, hidden, winners, [1], rng=0
    )
    assert records == [] and new_bias is None
    np.testing.assert_array_equal(new_kernel, kernel)
    winners = np.array([0, 0, 2])
    new_kernel, new_bias, records = split_slots(
        kernel, None, hidden, winners, [1], rng=0
    )
    assert records[0]["from"] == 0 and new_bias is None
    assert np.isfinite(new_kernel).all()
