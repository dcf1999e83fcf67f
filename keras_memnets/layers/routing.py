"""Sparse top-k routing shared by `MemoryLayer` and `MemoryInformedLayer`.

Plain functions of `keras.ops` (all backends, static shapes under `jit`):

- `top_k_weights`: the k largest entries of a selection, renormalised to
  sum to 1 over the k slots;
- `dispatch`: groups (sample, slot) pairs by slot into a capacity-bounded
  buffer, the way mixture-of-experts layers dispatch tokens to experts.
"""

import math

from keras import ops

from keras_memnets.utils.validation import positive_int


def validate_top_k(top_k, memory_size, owner):
    """Returns `None` or `top_k` as an int in [1, memory_size], else raises."""
    if top_k is None:
        return None
    top_k = positive_int(top_k, "top_k", owner)
    if top_k > memory_size:
        raise ValueError(
            f"{owner}: `top_k` must be None or an int in [1, memory_size="
            f"{memory_size}], got {top_k}."
        )
    return top_k


def top_k_weights(selection, k):
    """The `k` largest entries of `selection`, renormalised over the k slots.

    Forward: `w_j = s_j / Σ_{j' in top k} s_{j'}`, which for a softmax
    selection equals a softmax over the k selected logits. Backward: the
    normaliser is treated as a constant (`w = s + stop_gradient(s / Σ s - s)`),
    so the gradient reaching the selection is that of the masked selection
    `s_j` scaled by nothing. This is the gate gradient of Switch Transformer
    (Fedus et al., 2021) and keeps the selector learning at `k = 1`, where the
    renormalised weight is the constant 1 and would pass no gradient.

    Args:
        selection: tensor `(..., memory_size)` of non-negative weights.
        k: int. Number of slots to keep.

    Returns:
        `(weights, indices)`, both of shape `(..., k)`; indices are int32.
    """
    values, indices = ops.top_k(selection, k, sorted=True)
    total = ops.sum(values, axis=-1, keepdims=True)
    tiny = ops.cast(1e-12 if values.dtype != "float16" else 1e-6, values.dtype)
    normalised = values / ops.maximum(total, tiny)
    weights = values + ops.stop_gradient(normalised - values)
    return weights, ops.cast(indices, "int32")


def dense_selection(weights, indices, memory_size):
    """Scatters `(..., k)` weights at `indices` into `(..., memory_size)`."""
    one_hot = ops.one_hot(indices, memory_size, dtype=weights.dtype)
    return ops.sum(one_hot * ops.expand_dims(weights, -1), axis=-2)


def capacity(num_samples, k, memory_size, capacity_factor):
    """Rows per slot of the dispatch buffer.

    `C = min(num_samples, ceil(capacity_factor * num_samples * k /
    memory_size))`, at least 1; `capacity_factor=None` gives `num_samples`
    (no pair is ever dropped, since a sample picks each slot at most once).
    """
    if capacity_factor is None:
        return num_samples
    if isinstance(num_samples, int):
        c = math.ceil(capacity_factor * num_samples * k / memory_size)
        return max(1, min(num_samples, c))
    # A batch size unknown while tracing (TensorFlow graphs): same rule.
    c = ops.cast(
        ops.ceil(
            ops.cast(num_samples, "float32")
            * (capacity_factor * k / memory_size)
        ),
        "int32",
    )
    return ops.maximum(1, ops.minimum(ops.cast(num_samples, "int32"), c))


def dispatch(indices, memory_size, capacity_):
    """Groups (sample, slot) pairs by slot into a `(memory_size, C)` buffer.

    The pairs are ranked inside each slot first by choice (all first choices
    before any second choice), then by sample order in the batch; the first
    `C` of a slot are kept, the rest overflow and are dropped.

    Args:
        indices: int32 tensor `(samples, k)` of distinct slots per sample.
        memory_size: int.
        capacity_: int. Rows per slot, `C`.

    Returns:
        `(buffer_sample, pair_row, kept)`:
        - `buffer_sample`: int32 `(memory_size * C,)`, the sample whose
          input fills each buffer row (rows beyond a slot's count hold an
          arbitrary sample; their results are never read);
        - `pair_row`: int32 `(samples, k)`, the buffer row of each pair
          (clipped into its slot's rows when it overflowed);
        - `kept`: bool `(samples, k)`, False for the pairs that overflowed.
    """
    k = indices.shape[1]
    num_samples = indices.shape[0]
    if num_samples is None:
        num_samples = ops.shape(indices)[0]
    num_pairs = num_samples * k
    # Pairs in priority order: pair p = j * samples + b (choice j of sample b).
    slots = ops.reshape(ops.transpose(indices), (-1,))
    pair = ops.arange(num_pairs, dtype="int32")
    order = ops.cast(ops.argsort(slots * num_pairs + pair), "int32")
    rank = ops.cast(ops.argsort(order), "int32")
    counts = ops.cast(
        ops.segment_sum(
            ops.ones((num_pairs,), "int32"), slots, num_segments=memory_size
        ),
        "int32",
    )
    start = ops.cumsum(counts) - counts
    position = rank - ops.take(start, slots, axis=0)
    kept = position < capacity_
    row = slots * capacity_ + ops.minimum(position, capacity_ - 1)
    # Buffer row (n, c) holds sorted pair start[n] + c.
    sorted_pair = ops.expand_dims(start, 1) + ops.arange(
        capacity_, dtype="int32"
    )
    sorted_pair = ops.minimum(ops.reshape(sorted_pair, (-1,)), num_pairs - 1)
    buffer_sample = ops.take(order, sorted_pair, axis=0) % num_samples
    pair_row = ops.transpose(ops.reshape(row, (k, -1)))
    kept = ops.transpose(ops.reshape(kept, (k, -1)))
    return buffer_sample, pair_row, kept
