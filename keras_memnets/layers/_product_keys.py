"""The product-key search of `ProductKeyMemory`, as plain `keras.ops`.

A product key is a pair of sub-keys, one from each of two sets of
`num_keys` sub-keys; its score for a query split into two halves
`(q1, q2)` is `q1 · c1 + q2 · c2`. The slot of the pair `(i, j)` is
`i * num_keys + j`, so the `num_keys**2` slots are never scored one by one:
each half is scored against its `num_keys` sub-keys and the `top_k` best
of each half are kept, sorted. A pair outside these candidates has a half
ranked below `top_k` others, each of which pairs with the same other half
to a score at least as high, so the best `top_k` pairs are among them.
Fewer still are needed: the pair of ranks `(a, b)` (from 0) scores at most
as high as the `(a + 1) * (b + 1)` pairs of ranks `(a', b')` with `a' <= a`
and `b' <= b`, so only pairs with `(a + 1) * (b + 1) <= top_k` can be among
the best `top_k` (ties aside): about `top_k * ln(top_k)` sums instead of
`top_k**2` (119 instead of 1,024 for `top_k=32`).

Every function here works on flattened queries `(n, heads, 2, half)` and
keys `(heads, 2, num_keys, half)`; `n` may be 0 or, in a traced TensorFlow
graph, unknown.
"""

import functools

import numpy as np
from keras import ops


def _rows(tensor):
    """The static number of rows of `tensor`, or -1 where it is unknown."""
    rows = tensor.shape[0]
    return -1 if rows is None else rows


def half_scores(query, keys):
    """Scores of each query half against its own sub-key set.

    Args:
        query: tensor `(n, heads, 2, half)`.
        keys: tensor `(heads, 2, num_keys, half)`.

    Returns:
        A tensor `(n, heads, 2, num_keys)`.
    """
    return ops.einsum("nhpd,hpkd->nhpk", query, keys)


def product_scores(query, keys):
    """The scores of all `num_keys**2` product keys, slot `i * num_keys + j`.

    Args:
        query: tensor `(n, heads, 2, half)`.
        keys: tensor `(heads, 2, num_keys, half)`.

    Returns:
        A tensor `(n, heads, num_keys**2)`.
    """
    heads, _, num_keys, _ = keys.shape
    scores = half_scores(query, keys)
    pairs = scores[:, :, 0, :, None] + scores[:, :, 1, None, :]
    return ops.reshape(pairs, (_rows(query), heads, num_keys * num_keys))


@functools.lru_cache(maxsize=None)
def candidate_ranks(top_k):
    """The rank pairs `(a, b)` with `(a + 1) * (b + 1) <= top_k`.

    Returns:
        Two int32 numpy arrays: the ranks `a` in the first half's sorted
        best sub-keys and `b` in the second's, `a`-major.
    """
    pairs = [(a, b) for a in range(top_k) for b in range(top_k // (a + 1))]
    ranks = np.asarray(pairs, dtype="int32").reshape(-1, 2)
    return ranks[:, 0], ranks[:, 1]


def product_top_k(query, keys, top_k):
    """The exact `top_k` best product keys per query and head.

    Args:
        query: tensor `(n, heads, 2, half)`.
        keys: tensor `(heads, 2, num_keys, half)`.
        top_k: int in `[1, num_keys]`.

    Returns:
        `(scores, indices)`, each `(n, heads, top_k)`, best first: the
        product scores (differentiable with respect to the query and the
        keys) and the int32 slot ids.
    """
    num_keys = keys.shape[2]
    best, ids = ops.top_k(half_scores(query, keys), top_k)
    ids = ops.cast(ids, "int32")
    first, second = candidate_ranks(top_k)
    candidates = ops.take(best[:, :, 0], first, axis=-1) + ops.take(
        best[:, :, 1], second, axis=-1
    )
    scores, position = ops.top_k(candidates, top_k)
    position = ops.cast(position, "int32")
    first = ops.take(ops.convert_to_tensor(first), position)
    second = ops.take(ops.convert_to_tensor(second), position)
    first = ops.take_along_axis(ids[:, :, 0], first, axis=-1)
    second = ops.take_along_axis(ids[:, :, 1], second, axis=-1)
    return scores, first * num_keys + second
