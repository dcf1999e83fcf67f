"""The product-key search of `ProductKeyMemory`, as plain `keras.ops`.

A product key is a pair of sub-keys, one from each of two sets of
`num_keys` sub-keys; its score for a query split into two halves
`(q1, q2)` is `q1 · c1 + q2 · c2`. The slot of the pair `(i, j)` is
`i * num_keys + j`, so the `num_keys**2` slots are never scored one by one:
each half is scored against its `num_keys` sub-keys and the `top_k` best
of each half are kept, sorted. A pair outside these candidates has a half
ranked below `top_k` others, each of which pairs with the same other half
to a score at least as high, so the best `top_k` pairs are among these
`top_k**2` candidates (ties aside).

Every function here works on flattened queries `(n, heads, 2, half_dim)`
and keys `(heads, 2, num_keys, half_dim)`; `n` may be 0 or, in a traced
TensorFlow graph, unknown.
"""

from keras import ops


def _rows(tensor):
    """The static number of rows of `tensor`, or -1 where it is unknown."""
    rows = tensor.shape[0]
    return -1 if rows is None else rows


def half_scores(query, keys, half):
    """Scores of one query half against its own sub-key set.

    Args:
        query: tensor `(n, heads, 2, half_dim)`.
        keys: tensor `(heads, 2, num_keys, half_dim)`.
        half: 0 or 1.

    Returns:
        A tensor `(n, heads, num_keys)`.
    """
    return ops.einsum("nhd,hkd->nhk", query[:, :, half], keys[:, half])


def product_scores(query, keys):
    """The scores of all `num_keys**2` product keys, slot `i * num_keys + j`.

    Args:
        query: tensor `(n, heads, 2, half_dim)`.
        keys: tensor `(heads, 2, num_keys, half_dim)`.

    Returns:
        A tensor `(n, heads, num_keys**2)`.
    """
    heads, _, num_keys, _ = keys.shape
    first = half_scores(query, keys, 0)
    second = half_scores(query, keys, 1)
    pairs = first[:, :, :, None] + second[:, :, None, :]
    return ops.reshape(pairs, (_rows(query), heads, num_keys * num_keys))


def product_top_k(query, keys, top_k):
    """The exact `top_k` best product keys per query and head.

    Args:
        query: tensor `(n, heads, 2, half_dim)`.
        keys: tensor `(heads, 2, num_keys, half_dim)`.
        top_k: int in `[1, num_keys]`.

    Returns:
        `(scores, indices)`, each `(n, heads, top_k)`, best first: the
        product scores (differentiable with respect to the query and the
        keys) and the int32 slot ids.
    """
    heads, _, num_keys, _ = keys.shape
    # One top_k per half: slicing the halves out of a single top_k's result
    # lets XLA on CPU lower that top_k as a full sort of the scores.
    best_first, ids_first = ops.top_k(half_scores(query, keys, 0), top_k)
    best_second, ids_second = ops.top_k(half_scores(query, keys, 1), top_k)
    candidates = best_first[:, :, :, None] + best_second[:, :, None, :]
    candidates = ops.reshape(candidates, (_rows(query), heads, top_k * top_k))
    scores, position = ops.top_k(candidates, top_k)
    position = ops.cast(position, "int32")
    first = ops.take_along_axis(
        ops.cast(ids_first, "int32"), ops.floor_divide(position, top_k), -1
    )
    second = ops.take_along_axis(
        ops.cast(ids_second, "int32"), ops.mod(position, top_k), -1
    )
    return scores, first * num_keys + second
