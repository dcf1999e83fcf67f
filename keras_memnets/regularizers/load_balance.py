"""A load-balancing regularizer that keeps a memory's slots in use."""

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import one_of


@register
class LoadBalance(keras.regularizers.Regularizer):
    """Penalises a selection whose batch uses its slots unevenly.

    A batch-level term for the `selection_regularizer` of
    `keras_memnets.layers.MemoryLayer` (or any softmax layer's
    `activity_regularizer`). With `N` slots, `P_i` the selection of slot `i`
    averaged over the rows of the batch and `f_i` the fraction of rows whose
    largest entry is slot `i`:

    - `mode="switch"`: the Switch Transformer's auxiliary loss
      `N · Σ_i f_i · P_i`. It is 1 when the slots are used evenly and `N`
      when every row picks the same slot with certainty; its gradient
      (through `P` only, `f` is a count) lowers the selection of the slots
      that win most often.
    - `mode="entropy"`: `log N - H(P)`, the entropy gap of the batch-mean
      selection: 0 when the slots are used evenly on average, `log N` when
      all the mass sits on one slot. Unlike the switch loss it does not ask
      each row to be sharp or flat, only the batch as a whole to spread.

    Scaling: Keras divides an activity regularizer's value by the batch
    size, and `MemoryLayer` does the same with its `selection_regularizer`,
    because per-row terms such as `L1` or `keras_memnets.regularizers.OneMax`
    are sums over the rows. This term is a statistic of the whole batch, so
    `__call__` returns `weight × batch_size × term` (`batch_size` the size of
    the first axis; all leading axes are pooled into rows): the loss that
    the layer adds is then `weight × term`, whatever the batch size, and the
    default `weight=1.0` puts the term on the scale of a reconstruction loss.
    Call `term(x)` for the unscaled value. A batch of 0 rows adds 0.

    Under data parallelism the batch is the one the layer sees: JAX's
    `keras.distribution.DataParallel` computes the term on the global
    batch, whereas each replica of a `tf.distribute` strategy computes it
    on its own share (as an unsynchronised batch normalisation does), so
    such training differs slightly from one device's.

    Args:
        weight: float. Factor of the term, >= 0.
        mode: str. `"switch"` (default) or `"entropy"`.

    Call arguments:
        x: tensor `(batch, ..., memory_size)` of selections (rows sum to 1).

    Returns:
        A scalar tensor, `weight × batch_size × term(x)`.

    Example:

    >>> regularizer = keras_memnets.regularizers.LoadBalance()
    >>> collapsed = np.array([[1.0, 0.0], [1.0, 0.0]])
    >>> round(float(regularizer.term(collapsed)), 6)
    2.0
    >>> round(float(regularizer(collapsed)), 6)
    4.0
    >>> layer = keras_memnets.layers.MemoryLayer(
    ...     4, memory_size=2, hidden_units=8,
    ...     selection_regularizer=keras_memnets.regularizers.LoadBalance())
    >>> tuple(layer(np.zeros((3, 5))).shape), len(layer.losses)
    ((3, 4), 1)

    Reference:
        Fedus, Zoph and Shazeer, "Switch Transformers: Scaling to Trillion
        Parameter Models with Simple and Efficient Sparsity", JMLR 2022
        (arXiv 2101.03961, 2021), equation 4.
    """

    MODES = ("switch", "entropy")

    def __init__(self, weight=1.0, mode="switch"):
        name = type(self).__name__
        self.weight = number_in_range(
            weight, "weight", name, low=0.0, finite=True
        )
        self.mode = one_of(mode, "mode", name, self.MODES)

    def term(self, x):
        """The unweighted, unscaled term of the batch `x` (a scalar)."""
        x = ops.convert_to_tensor(x)
        # Computed in float32 so that float16 selections do not round it.
        x = ops.cast(x, "float32")
        if len(x.shape) < 2 or x.shape[-1] is None:
            raise ValueError(
                "LoadBalance: `x` must have shape (batch, ..., memory_size) "
                f"with a known last axis, got shape {tuple(x.shape)}."
            )
        size = x.shape[-1]
        rows = ops.reshape(x, (-1, size))
        # Means over the rows that give 0, not NaN, for a batch of 0 rows.
        count = ops.cast(ops.shape(rows)[0], "float32")
        mean = ops.divide_no_nan(ops.sum(rows, axis=0), count)
        if self.mode == "switch":
            winners = ops.one_hot(ops.argmax(rows, axis=-1), size)
            fraction = ops.stop_gradient(
                ops.divide_no_nan(ops.sum(winners, axis=0), count)
            )
            return size * ops.sum(fraction * mean)
        entropy = -ops.sum(mean * ops.log(ops.maximum(mean, 1e-12)))
        return ops.log(float(size)) - entropy

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        batch_size = ops.cast(ops.shape(x)[0], "float32")
        return self.weight * batch_size * self.term(x)

    def get_config(self):
        return {"weight": self.weight, "mode": self.mode}
