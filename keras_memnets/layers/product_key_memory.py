"""ProductKeyMemory: a large key-value memory searched with product keys."""

import math

import keras
from keras import initializers
from keras import ops
from keras import regularizers

from keras_memnets.api_export import register
from keras_memnets.layers._product_keys import product_scores
from keras_memnets.layers._product_keys import product_top_k
from keras_memnets.utils.row_sparse import mark_table
from keras_memnets.utils.row_sparse import sparse_take
from keras_memnets.utils.shapes import check_input_shape
from keras_memnets.utils.shapes import check_min_rank
from keras_memnets.utils.validation import one_of
from keras_memnets.utils.validation import positive_int

# Slot ids are int32: num_keys**2 must stay below 2**31.
_MAX_NUM_KEYS = math.isqrt(2**31 - 1)
QUERY_NORMS = ("batch", "layer", None)


@register
class ProductKeyMemory(keras.layers.Layer):
    """A memory of `num_keys**2` learned values, searched with product keys.

    The memory layer of Lample et al. (2019). Every input vector is mapped
    to `heads` queries of size `key_dim` (a Dense layer, then the
    normalisation chosen by `query_norm`). A query is split into two halves
    and each half is scored against its own set of `num_keys` sub-keys; the
    slot of the sub-key pair `(i, j)` is `i * num_keys + j` and its score is
    the sum of the two half scores. The `top_k` best of the `num_keys**2`
    slots are found exactly without scoring them all: the `top_k` best
    sub-keys of each half, then the `top_k` best of their `top_k**2`
    sums. The output is, for each head, `softmax(scores) · values[indices]`
    over its `top_k` slots, and the heads' outputs are summed.

    The table `values`, of shape `(num_keys**2, value_dim)`, is read by a
    gather of the `heads * top_k` rows each input vector selects; only those
    rows take part in a step and receive a non-zero gradient. No tensor with
    one entry per slot and input vector is formed, in the forward or the
    backward pass. Train it with `keras_memnets.optimizers.LazyAdam` for an
    update that costs the rows read: the gradient of the table is a
    `tf.IndexedSlices` on TensorFlow and a sparse tensor on PyTorch, and on
    JAX a `keras_memnets.models.RowSparseModel` passes it row-sparse (a
    plain `keras.Model` there differentiates into a dense array of the
    table's shape).

    `query_norm` chooses how queries are normalised before the search:

    - `"batch"` (default): batch normalisation, as in the paper, where it
      spreads the reads over many more slots of the memory. Its statistics
      in training are taken over every vector of the batch (all positions of
      all sequences), so in a causal model a position's query would depend
      on later positions: use `"layer"` there. Positions hidden by a Keras
      mask (e.g. from `Embedding(mask_zero=True)`) are left out of the
      statistics, and the moving statistics are not updated from a batch
      that is empty or holds non-finite values.
    - `"layer"`: layer normalisation of each query vector on its own (safe
      for causal models and any batch composition).
    - `None`: the Dense projection alone (with a bias, which the two
      normalisations replace by their own offset).

    Scores, their softmax and the search run in float32 (or float64) also
    under a mixed-precision policy; the values are read in their own dtype
    and the output is cast to the layer's compute dtype. For input or output
    dropout, put a `keras.layers.Dropout` before or after the layer (the
    output is linear in the values).

    On JAX, `keras.distribution.ModelParallel` can shard `values` along its
    slots over a device mesh (`keras_memnets.layers.memory_layout_map`
    makes the layout map), so that each device holds a slice of the table
    and of its optimizer state.

    Args:
        num_keys: int. Number of sub-keys per half, in `[1, 46340]`; the
            memory has `num_keys**2` slots.
        value_dim: int. Size of each value, and of the output's last axis.
        heads: int. Number of independent reading heads. Defaults to 4.
        top_k: int in `[1, num_keys]`. Number of slots each head reads.
            Defaults to 32. With `top_k=1` each head's read has weight 1,
            so the keys and the query get no gradient.
        key_dim: even int. Size of a query and of a product key; each half
            of size `key_dim // 2` is searched against one sub-key set.
            Defaults to 256.
        query_norm: `"batch"`, `"layer"` or `None`. How the queries are
            normalised (see above). Defaults to `"batch"`.
        query_kernel_initializer: initializer of the query projection's
            kernel. Defaults to `"glorot_uniform"`.
        keys_initializer: initializer of the sub-keys, or `None` for the
            reference implementation's uniform draw in
            `±1 / sqrt(key_dim // 2)`.
        values_initializer: initializer of the values, or `None` for a
            normal draw with standard deviation `value_dim ** -0.5`.
        query_kernel_regularizer: optional regularizer of the query kernel.
        keys_regularizer: optional regularizer of the sub-keys.
        values_regularizer: optional regularizer of the values table (it is
            evaluated over the whole table at every step, unlike the read).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, ..., features)`.
        training: bool. Whether batch normalisation of the queries uses the
            batch's statistics (and updates its moving statistics).
        mask: optional boolean tensor `(batch, ...)`; masked positions are
            still read, but left out of the batch statistics.

    Returns:
        A tensor `(batch, ..., value_dim)`.

    Input shape:
        `(batch, ..., features)`, rank >= 2, with a known last axis.

    Output shape:
        `(batch, ..., value_dim)`.

    Example:

    >>> layer = keras_memnets.layers.ProductKeyMemory(
    ...     num_keys=16, value_dim=8, heads=2, top_k=4, key_dim=8)
    >>> x = np.random.default_rng(0).normal(size=(3, 5, 12))
    >>> tuple(layer(x).shape)
    (3, 5, 8)
    >>> tuple(layer.values.shape)
    (256, 8)
    >>> scores, indices = layer.lookup(x)
    >>> tuple(scores.shape), tuple(indices.shape)
    ((3, 5, 2, 4), (3, 5, 2, 4))

    Reference:
        Lample et al., "Large Memory Layers with Product Keys", NeurIPS
        2019, arXiv:1907.05242; the guide *Product-key memory* on the docs
        site (https://keras-memnets.readthedocs.io/).
    """

    def __init__(
        self,
        num_keys,
        value_dim,
        heads=4,
        top_k=32,
        key_dim=256,
        query_norm="batch",
        query_kernel_initializer="glorot_uniform",
        keys_initializer=None,
        values_initializer=None,
        query_kernel_regularizer=None,
        keys_regularizer=None,
        values_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.num_keys = positive_int(num_keys, "num_keys", name)
        if self.num_keys > _MAX_NUM_KEYS:
            raise ValueError(
                f"{name}: `num_keys` must be an int in [1, {_MAX_NUM_KEYS}] "
                f"(num_keys**2 slot ids must fit in int32), got {num_keys}."
            )
        self.value_dim = positive_int(value_dim, "value_dim", name)
        self.heads = positive_int(heads, "heads", name)
        self.top_k = positive_int(top_k, "top_k", name)
        if self.top_k > self.num_keys:
            raise ValueError(
                f"{name}: `top_k` must be an int in [1, num_keys="
                f"{self.num_keys}], got {top_k}."
            )
        self.key_dim = positive_int(key_dim, "key_dim", name)
        if self.key_dim % 2:
            raise ValueError(
                f"{name}: `key_dim` must be an even int (one half per "
                f"sub-key set), got {key_dim}."
            )
        self.query_norm = one_of(query_norm, "query_norm", name, QUERY_NORMS)
        if keys_initializer is None:
            bound = 1.0 / math.sqrt(self.key_dim // 2)
            keys_initializer = initializers.RandomUniform(-bound, bound)
        if values_initializer is None:
            values_initializer = initializers.RandomNormal(
                stddev=self.value_dim**-0.5
            )
        self.query_kernel_initializer = initializers.get(
            query_kernel_initializer
        )
        self.keys_initializer = initializers.get(keys_initializer)
        self.values_initializer = initializers.get(values_initializer)
        self.query_kernel_regularizer = regularizers.get(
            query_kernel_regularizer
        )
        self.keys_regularizer = regularizers.get(keys_regularizer)
        self.values_regularizer = regularizers.get(values_regularizer)
        self.supports_masking = True

        self.query_dense = keras.layers.Dense(
            self.heads * self.key_dim,
            use_bias=self.query_norm is None,
            kernel_initializer=self.query_kernel_initializer,
            kernel_regularizer=self.query_kernel_regularizer,
            dtype=self.dtype_policy,
            name="query",
        )
        if self.query_norm == "batch":
            self.query_normalization = keras.layers.BatchNormalization(
                dtype=self.dtype_policy, name="query_norm"
            )
        elif self.query_norm == "layer":
            self.query_normalization = keras.layers.LayerNormalization(
                dtype=self.dtype_policy, name="query_norm"
            )
        else:
            self.query_normalization = None

    def build(self, input_shape):
        check_min_rank(input_shape, 2, "inputs", type(self).__name__)
        self._input_dim = int(input_shape[-1])
        # The sub-layers see the input vectors flattened to one batch axis,
        # so that one layer serves inputs of any rank.
        self.query_dense.build((None, self._input_dim))
        if self.query_normalization is not None:
            self.query_normalization.build((None, self.heads * self.key_dim))
        # Read in float32 (not autocast) so that a mixed-precision read
        # never casts the whole table, only the rows it gathers.
        self.keys = self.add_weight(
            name="keys",
            shape=(self.heads, 2, self.num_keys, self.key_dim // 2),
            initializer=self.keys_initializer,
            regularizer=self.keys_regularizer,
            autocast=False,
        )
        self.values = self.add_weight(
            name="values",
            shape=(self.num_keys**2, self.value_dim),
            initializer=self.values_initializer,
            regularizer=self.values_regularizer,
            autocast=False,
        )
        mark_table(self.values)

    def call(self, inputs, training=None, mask=None):
        scores, indices = self._search(inputs, training, mask)
        if self.top_k == 1:
            # The softmax of one score is 1 (and passes no gradient).
            weights = ops.ones_like(scores)
        else:
            weights = ops.softmax(scores, axis=-1)
        output = self._read(indices, weights, _num_vectors(inputs))
        output = ops.cast(output, self.compute_dtype)
        return _unflatten(output, inputs, (self.value_dim,))

    def lookup(self, inputs, training=False):
        """The slots each head reads, and their scores.

        Args:
            inputs: tensor `(batch, ..., features)`.
            training: bool. Whether batch-normalised queries use the batch's
                statistics (this also updates the moving statistics).

        Returns:
            `(scores, indices)`, each `(batch, ..., heads, top_k)`, best
            first: the product scores before the softmax (float32, or
            float64 for a float64 layer) and the int32 slot ids, in
            `[0, num_keys**2)`.
        """
        inputs = self._prepare("lookup", inputs)
        scores, indices = self._search(inputs, training, None)
        trailing = (self.heads, self.top_k)
        return (
            _unflatten(scores, inputs, trailing),
            _unflatten(indices, inputs, trailing),
        )

    def full_scores(self, inputs, training=False):
        """The product scores of all `num_keys**2` slots, for inspection.

        This scores every slot (a tensor of `num_keys**2` entries per head
        and input vector), which the layer itself never does: use it with
        small memories, for analysis and tests.

        Args:
            inputs: tensor `(batch, ..., features)`.
            training: bool. As in `lookup`.

        Returns:
            A tensor `(batch, ..., heads, num_keys**2)`: entry
            `i * num_keys + j` is the score of the sub-key pair `(i, j)`.
        """
        inputs = self._prepare("full_scores", inputs)
        query, keys = self._queries_and_keys(inputs, training, None)
        scores = product_scores(query, keys)
        return _unflatten(scores, inputs, (self.heads, self.num_keys**2))

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        return tuple(input_shape[:-1]) + (self.value_dim,)

    def get_config(self):
        config = {
            "num_keys": self.num_keys,
            "value_dim": self.value_dim,
            "heads": self.heads,
            "top_k": self.top_k,
            "key_dim": self.key_dim,
            "query_norm": self.query_norm,
        }
        for argument in (
            "query_kernel_initializer",
            "keys_initializer",
            "values_initializer",
        ):
            config[argument] = initializers.serialize(getattr(self, argument))
        for argument in (
            "query_kernel_regularizer",
            "keys_regularizer",
            "values_regularizer",
        ):
            config[argument] = regularizers.serialize(getattr(self, argument))
        return {**super().get_config(), **config}

    def _prepare(self, method, inputs):
        """`inputs` as a tensor, with the layer built for them."""
        if isinstance(inputs, keras.KerasTensor):
            raise ValueError(
                f"{type(self).__name__}.{method}: `inputs` must be data (an "
                "array or a tensor), not a symbolic `keras.Input`; call it "
                "on data, or inside another layer's `call`."
            )
        if not ops.is_tensor(inputs):
            inputs = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        if not self.built:
            check_min_rank(inputs.shape, 2, "inputs", type(self).__name__)
            self(inputs)
        return inputs

    def _check_inputs(self, shape):
        features = self._input_dim if self.built else None
        check_input_shape(shape, type(self).__name__, size=features)

    def _queries_and_keys(self, inputs, training, mask):
        """Flat queries `(n, heads, 2, key_dim // 2)` and the sub-keys."""
        self._check_inputs(tuple(inputs.shape))
        rows = _num_vectors(inputs)
        query = self.query_dense(ops.reshape(inputs, (rows, self._input_dim)))
        if mask is not None:
            mask = ops.reshape(mask, (rows,))
        query = self._normalize(query, training, mask)
        dtype = keras.backend.result_type(query.dtype, "float32")
        query = ops.reshape(
            ops.cast(query, dtype), (rows, self.heads, 2, self.key_dim // 2)
        )
        return query, ops.cast(self.keys, dtype)

    def _search(self, inputs, training, mask):
        query, keys = self._queries_and_keys(inputs, training, mask)
        return product_top_k(query, keys, self.top_k)

    def _read(self, indices, weights, rows):
        """`(n, value_dim)`: each vector's rows of `values`, weighted, summed.

        The table is only gathered: `indices` and `weights` are
        `(n, heads, top_k)`, and the weighted sum over the `heads * top_k`
        rows of a vector is one batched `(1, heads * top_k)` by
        `(heads * top_k, value_dim)` product.
        """
        indices = ops.reshape(indices, (rows, self.heads * self.top_k))
        weights = ops.reshape(weights, (rows, 1, self.heads * self.top_k))
        values = sparse_take(self.values, indices)
        return ops.matmul(ops.cast(weights, values.dtype), values)[:, 0]

    def _normalize(self, query, training, mask):
        norm = self.query_normalization
        if norm is None:
            return query
        if self.query_norm == "layer" or not training:
            return norm(query, training=training)
        # Batch statistics: keep the moving statistics of a batch that is
        # empty, fully masked or not finite out of the running averages.
        moving = (norm.moving_mean, norm.moving_variance)
        before = [ops.copy(variable) for variable in moving]
        query = norm(query, training=True, mask=mask)
        after = [ops.convert_to_tensor(variable) for variable in moving]
        keep = ops.logical_and(
            ops.all(ops.isfinite(after[0])), ops.all(ops.isfinite(after[1]))
        )
        if mask is not None:
            keep = ops.logical_and(keep, ops.any(mask))
        for variable, old, new in zip(moving, before, after):
            variable.assign(ops.where(keep, new, old))
        return query


def _num_vectors(inputs):
    """The static number of input vectors, or -1 where it is unknown."""
    leading = inputs.shape[:-1]
    if any(d is None for d in leading):
        return -1
    return math.prod(leading)


def _unflatten(tensor, inputs, trailing):
    """Reshapes `(n, *trailing)` to `(*inputs.shape[:-1], *trailing)`."""
    leading = tuple(inputs.shape[:-1])
    if any(d is None for d in leading):
        leading = tuple(ops.shape(inputs)[:-1])
    return ops.reshape(tensor, leading + tuple(trailing))
