"""Slot surgery on a softmax selector, as pure numpy functions.

`keras_memnets.layers.MemoryLayer.reset_slots` applies `split_slots` to its
selector's last `Dense`; `keras_memnets.callbacks.RestartDeadSlots` calls
that method for the slots it finds dead.
"""

import math

import numpy as np

# A slot is dead when it wins less than this share of the samples, times
# 1 / memory_size (a tenth of a uniform share), unless a threshold is given.
DEAD_SHARE = 0.1


def dead_threshold(memory_size, threshold=None):
    """The share of samples below which a slot counts as dead."""
    return DEAD_SHARE / memory_size if threshold is None else threshold


def split_slots(kernel, bias, hidden, winners, slots, split=1.0, rng=None):
    """Restarts `slots` by splitting the busiest slot's logit, in numpy.

    For each slot in `slots`, in order, the currently busiest slot (the one
    that wins most rows of `hidden`) is split in two, like the largest
    cluster in k-means: the slot's logit (kernel column and bias) becomes a
    copy of the busiest slot's, both lowered by `log 2` so that the pair
    shares the busiest slot's probability; then the two are pulled apart
    along the direction from the mean hidden activation of the busiest
    slot's rows to that of a randomly chosen one of them, so that the chosen
    row prefers the restarted slot by a logit margin of `split` and the
    busiest slot's rows divide about evenly. The winners are updated before
    the next slot, so successive restarts split different slots. A slot
    whose busiest slot has fewer than 2 rows, or is the slot itself, is
    skipped (and so are all later ones: nothing is left to split).

    Args:
        kernel: array `(hidden_units, memory_size)`, the logits' kernel.
        bias: array `(memory_size,)` or `None` (no bias).
        hidden: array `(n, hidden_units)`, hidden activations of `n` rows.
        winners: int array `(n,)`, the argmax slot of each row.
        slots: sequence of slot indices to restart.
        split: float >= 0. Logit margin of the chosen row (0 makes the pair's
            logits equal).
        rng: optional `numpy.random.Generator` (or int seed) choosing the
            rows.

    Returns:
        `(kernel, bias, records)`: new float64 arrays (the inputs are not
        modified) and one dict per restarted slot with keys `"slot"`,
        `"from"` (the busiest slot) and `"row"` (the chosen row of
        `hidden`, whose target should fill the slot's memory).
    """
    rng = np.random.default_rng(rng)
    kernel = np.array(kernel, "float64")
    bias = None if bias is None else np.array(bias, "float64")
    hidden = np.asarray(hidden, "float64")
    winners = np.array(winners, "int64")
    counts = np.bincount(winners, minlength=kernel.shape[1])
    records = []
    for slot in slots:
        slot = int(slot)
        busiest = int(np.argmax(counts))
        members = np.flatnonzero(winners == busiest)
        if busiest == slot or len(members) < 2:
            break  # nothing left to split
        chosen = int(rng.choice(members))
        # Logit difference (new - busiest) for a row with hidden activation
        # h: direction . (h - mean), which is `split` for the chosen row.
        mean = hidden[members].mean(axis=0)
        offset = hidden[chosen] - mean
        norm2 = float(offset @ offset)
        direction = split * offset / norm2 if norm2 > 0 else 0.0 * offset
        if bias is None:
            mean = 0.0 * mean  # no bias to centre the split with
        kernel[:, slot] = kernel[:, busiest] + direction / 2
        kernel[:, busiest] -= direction / 2
        if bias is not None:
            shared = bias[busiest] - math.log(2.0)
            bias[slot] = shared - direction @ mean / 2
            bias[busiest] = shared + direction @ mean / 2
        # The pair now shares the busiest slot's rows.
        moved = members[(hidden[members] - mean) @ direction > 0]
        winners[moved] = slot
        counts[slot] += len(moved)
        counts[busiest] -= len(moved)
        records.append({"slot": slot, "from": busiest, "row": chosen})
    return kernel, bias, records
