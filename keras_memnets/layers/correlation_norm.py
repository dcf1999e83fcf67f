"""CorrelationNorm: local decorrelation and pair-similarity losses."""

import math

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.layers.state import load_with_seed
from keras_memnets.layers.state import rewind_seed_unless
from keras_memnets.layers.state import save_with_seed
from keras_memnets.layers.state import seed_state
from keras_memnets.utils.shapes import check_input_shape
from keras_memnets.utils.shapes import unless_empty
from keras_memnets.utils.validation import non_negative_int
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import one_of
from keras_memnets.utils.validation import positive_int

# Order of the running statistics kept in `CorrelationNorm.statistics_total`.
STATISTICS = (
    "feature_mean",
    "feature_variance",
    "feature_covariance",
    "pair_loss",
    "positive_fraction",
)
# Stands in for "no pair" when sorting cosines (cosines lie in [-1, 1]).
_NO_PAIR = 3.0


class _LayerStatistic(keras.metrics.Metric):
    """A read-only view of one statistic that a layer keeps in its own state.

    Keras collects a layer's metrics into `model.metrics`, so their values
    reach the `fit` logs. The statistic itself lives in non-trainable
    variables of the layer (updated in `call`), because that is the only
    state the JAX trainer threads through a training step; the view owns no
    variables, `result()` reads the layer's state and `reset_state()` resets
    it.
    """

    def __init__(self, read, reset, **kwargs):
        super().__init__(**kwargs)
        self._read = read
        self._reset = reset

    def update_state(self, *args, **kwargs):
        # Updated by the layer's `call`, never by the trainer.
        return None

    def result(self):
        return self._read()

    def reset_state(self):
        self._reset()


def _read_state(variable):
    """`variable.value`, or `None` where Keras has detached the variable.

    keras-team/keras#21639 (open; see also #19402): while the JAX trainer
    computes a step's logs inside its compiled `fit`/`evaluate` step, it maps
    only the metric variables and has detached the values of all other model
    variables, so a layer variable cannot be read there; Keras's public
    `Variable.value` then raises a `TypeError` (it has no value and no
    initializer left to build a placeholder from). This reads through the
    public property and turns exactly that failure, on JAX only, into `None`.
    The epoch-end logs are read after the state is re-attached and are exact.
    """
    try:
        return variable.value
    except TypeError:
        if keras.config.backend() != "jax":
            raise
        return None


@register
class CorrelationNorm(keras.layers.Layer):
    """Identity layer that adds local decorrelation and pair-similarity losses.

    Batch normalization forces each feature to zero mean and unit variance
    by normalizing it. `CorrelationNorm` instead leaves its input unchanged
    and, in training, asks the layers below for those statistics, for
    decorrelated features, and for a bimodal similarity between samples,
    through two losses added with `add_loss`:

    1. Feature loss. With `x` the `(N, D)` batch of feature vectors and `mu`
       its mean over the batch, `S = (x - mu)^T (x - mu) / N` is the biased
       covariance restricted to blocks of `block_size` consecutive features
       (`block_size=None`: the full `D x D` covariance; the last
       `D mod block_size` features form one smaller block). The loss is
       `mean(mu^2) + mean((diag(S) - 1)^2) + mean(offdiag(S)^2)`, the mean of
       the off-diagonal term taken over the entries inside the blocks. It
       costs `O(N * D * block_size)`.
    2. Pair loss. Cosine similarities between samples: for each of
       `num_pair_offsets` random offsets `o` in `[1, B - 1]`, drawn afresh
       every step, the `B` pairs `(i, (i + o) mod B)`; with
       `num_pair_offsets=None`, all `B (B - 1) / 2` pairs. A pair whose
       cosine exceeds the hurdle `h` costs `(1 - cos)^2` (pulled together),
       any other pair `cos^2` (pushed to orthogonal); the loss is the mean
       over the pairs. Each training step moves the hurdle towards the
       `1 - positive_fraction` quantile of its pair cosines (interpolated
       linearly, as numpy's default): `h <- hurdle_momentum * h +
       (1 - hurdle_momentum) * quantile`.

    Rank-2 inputs `(B, D)` are Dense activations. Rank-4 inputs are Conv2D
    activations: the channels are the features and every spatial position
    is one more sample for the feature loss (`N = B * H * W`), while for the
    pair loss each sample's whole feature map is its vector.

    The statistics are computed in float32 (also for float16 inputs). A batch
    of one has a zero covariance and no pairs (pair loss 0); an empty batch
    adds losses of 0.

    In training the layer also keeps running means of the three feature-loss
    terms, the pair loss and the positive-pair fraction, reported with the
    hurdle as metrics named `<layer name>_feature_mean`, `_feature_variance`,
    `_feature_covariance`, `_pair_loss`, `_positive_fraction` and `_hurdle`
    (reset every epoch, 0 in `evaluate`). On JAX the per-step logs of `fit`
    show NaN for them (Keras cannot read layer state there,
    keras-team/keras#21639); the epoch-end logs are exact.

    A batch with non-finite values (NaN or Inf), or no rows, leaves the
    hurdle, the running statistics and the random stream of the pair
    offsets as they were, also inside compiled train steps: training that
    skips such a step (as `keras_memnets.optimizers.SignSGD` does) goes on
    exactly as if the batch had never come. The random stream is saved with
    the layer, so training resumed from a `.keras` file draws the offsets it
    would have drawn.

    Under a data-parallel `tf.distribute` strategy every replica computes
    the losses on its local batch and the replicas' updates of the hurdle
    and statistics are averaged; under JAX's
    `keras.distribution.DataParallel` they are global-batch statistics.

    Args:
        block_size: int or `None`. Number of consecutive features per
            covariance block; `None` for the full covariance. Defaults to 8.
        feature_weight: float >= 0. Weight of the feature loss (not added
            when 0; its terms are still reported). Defaults to 1.0.
        pair_weight: float >= 0. Weight of the pair loss (not added when 0;
            the hurdle still tracks). Defaults to 1.0.
        positive_fraction: float in (0, 1). The fraction of pairs the hurdle
            is tuned to let through as positive. Defaults to 0.1.
        hurdle: float in [-1, 1]. Initial cosine hurdle. Defaults to 0.5.
        hurdle_momentum: float in [0, 1]. Momentum of the hurdle's moving
            average; 1 keeps it fixed, 0 uses each batch's quantile.
            Defaults to 0.99.
        num_pair_offsets: int or `None`. Number of random sample offsets for
            the pair loss per step; `None` compares all pairs. Defaults to 4.
        detach: bool. If `True` the output is `stop_gradient(inputs)`, so the
            layers below learn only from the local losses. Defaults to
            `False`.
        epsilon: float > 0. Added to squared norms before the cosine
            division. Defaults to 1e-5.
        seed: int >= 0 or `None`. Seed of the random pair offsets.
        data_format: str or `None`. `"channels_last"` or `"channels_first"`
            for rank-4 inputs; `None` uses
            `keras.config.image_data_format()`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A rank-2 `(batch, features)` or rank-4 image tensor.
        training: bool. Whether to add the losses and update the hurdle.

    Returns:
        The inputs, unchanged (`stop_gradient(inputs)` when `detach=True`).

    Input shape:
        `(batch_size, features)`, or `(batch_size, height, width, channels)`
        (`channels_last`) or `(batch_size, channels, height, width)`
        (`channels_first`). The feature / channel axis must be known.

    Output shape:
        The input shape.

    Example:

    >>> import numpy as np
    >>> layer = keras_memnets.layers.CorrelationNorm(block_size=4, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(16, 8)).astype("float32")
    >>> y = layer(x, training=True)
    >>> len(layer.losses)
    2
    >>> bool(np.allclose(keras.ops.convert_to_numpy(y), x))
    True

    Reference:
        The guide *CorrelationNorm* on the docs site
        (https://keras-memnets.readthedocs.io/), after the research notes'
        "Correlation-Norm". Cogswell et al., "Reducing Overfitting in Deep
        Networks by Decorrelating Representations" (DeCov),
        arXiv:1511.06068.
    """

    def __init__(
        self,
        block_size=8,
        feature_weight=1.0,
        pair_weight=1.0,
        positive_fraction=0.1,
        hurdle=0.5,
        hurdle_momentum=0.99,
        num_pair_offsets=4,
        detach=False,
        epsilon=1e-5,
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        finite = dict(high=math.inf, high_inclusive=False)
        if not isinstance(detach, bool):
            raise TypeError(f"{name}: `detach` must be a bool, got {detach!r}.")
        self.block_size = (
            None
            if block_size is None
            else positive_int(block_size, "block_size", name)
        )
        self.feature_weight = number_in_range(
            feature_weight, "feature_weight", name, low=0.0, **finite
        )
        self.pair_weight = number_in_range(
            pair_weight, "pair_weight", name, low=0.0, **finite
        )
        self.positive_fraction = number_in_range(
            positive_fraction,
            "positive_fraction",
            name,
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
        self.hurdle = number_in_range(hurdle, "hurdle", name, -1.0, 1.0)
        self.hurdle_momentum = number_in_range(
            hurdle_momentum, "hurdle_momentum", name, 0.0, 1.0
        )
        self.num_pair_offsets = (
            None
            if num_pair_offsets is None
            else positive_int(num_pair_offsets, "num_pair_offsets", name)
        )
        self.detach = detach
        self.epsilon = number_in_range(
            epsilon, "epsilon", name, low=0.0, low_inclusive=False, **finite
        )
        self.seed = (
            None if seed is None else non_negative_int(seed, "seed", name)
        )
        self.data_format = one_of(
            data_format or keras.config.image_data_format(),
            "data_format",
            name,
            ("channels_last", "channels_first"),
        )
        self.supports_masking = True
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # Two steps have a backend-specific path, the faster on each (see
        # the guide): the hurdle's quantile comes from a `top_k` on PyTorch
        # and from a full sort elsewhere (`_quantile`); a pair's partner
        # rows come from a dynamic slice of the batch stacked twice on JAX
        # and from a roll by the traced offset elsewhere (`_pair_cosines`).
        self._quantile_path = (
            "top_k" if keras.config.backend() == "torch" else "sort"
        )
        self._partner_path = (
            "slice" if keras.config.backend() == "jax" else "roll"
        )

    def _feature_axis(self, rank):
        return 1 if rank == 4 and self.data_format == "channels_first" else -1

    def _check_inputs(self, shape):
        shape = tuple(shape)
        rank = len(shape)
        check_input_shape(
            shape,
            type(self).__name__,
            ranks=(2, 4),
            layout="(dense features or images)",
            axis=self._feature_axis(rank),
            size=self._num_features if self.built else None,
        )
        if self.built and rank != self._rank:
            raise ValueError(
                f"{type(self).__name__}: `inputs` must have rank {self._rank}, "
                f"as when the layer was built, got shape {shape}."
            )

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self._rank = len(input_shape)
        self._num_features = int(input_shape[self._feature_axis(self._rank)])
        self.current_hurdle = self.add_weight(
            name="hurdle",
            shape=(),
            initializer=keras.initializers.Constant(self.hurdle),
            dtype="float32",
            trainable=False,
            autocast=False,
            aggregation="mean",
        )
        self.statistics_total = self.add_weight(
            name="statistics_total",
            shape=(len(STATISTICS),),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            autocast=False,
            aggregation="mean",
        )
        self.statistics_count = self.add_weight(
            name="statistics_count",
            shape=(),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            autocast=False,
            aggregation="mean",
        )
        self._statistic_metrics = [
            _LayerStatistic(
                read=self._statistic_reader(i),
                reset=self._reset_statistics,
                name=f"{self.name}_{stat}",
            )
            for i, stat in enumerate(STATISTICS)
        ] + [
            _LayerStatistic(
                read=self._read_hurdle,
                reset=lambda: None,
                name=f"{self.name}_hurdle",
            )
        ]

    def save_own_variables(self, store):
        save_with_seed(store, self._state_variables(), self.seed_generator)

    def load_own_variables(self, store):
        load_with_seed(store, self._state_variables(), self.seed_generator)

    def _state_variables(self):
        return [
            self.current_hurdle,
            self.statistics_total,
            self.statistics_count,
        ]

    # -- metric views ------------------------------------------------------

    def _statistic_reader(self, index):
        def read():
            total = _read_state(self.statistics_total)
            count = _read_state(self.statistics_count)
            if total is None or count is None:
                return ops.convert_to_tensor(float("nan"), "float32")
            return total[index] / ops.maximum(count, 1.0)

        return read

    def _read_hurdle(self):
        hurdle = _read_state(self.current_hurdle)
        if hurdle is None:
            return ops.convert_to_tensor(float("nan"), "float32")
        # A copy: on JAX the variable's own buffer is donated to the next
        # training step, and a logged value must outlive it.
        return ops.copy(hurdle)

    def _reset_statistics(self):
        self.statistics_total.assign(ops.zeros((len(STATISTICS),), "float32"))
        self.statistics_count.assign(0.0)

    # -- the losses --------------------------------------------------------

    def _stat_dtype(self, x):
        return "float64" if ops.dtype(x) == "float64" else "float32"

    def _feature_rows(self, x):
        """The `(N, D)` matrix of feature vectors (positions are samples)."""
        if self._rank == 4:
            if self.data_format == "channels_first":
                x = ops.transpose(x, (0, 2, 3, 1))
            x = ops.reshape(x, (-1, self._num_features))
        return x

    def _feature_terms(self, x):
        """Returns `(mean_term, variance_term, covariance_term)` of `x` (N, D).

        The covariance inside the blocks is one batched
        `(blocks, k, N) @ (blocks, N, k)` matmul (plus one small matmul for
        a partial last block), and its diagonals are the variances.
        """
        dtype = ops.dtype(x)
        d = self._num_features
        n = ops.cast(ops.shape(x)[0], dtype)
        # The batch mean is a constant to the variance and covariance terms
        # (`stop_gradient`): their gradient through the mean is a multiple
        # of the centred column sums, which are zero, so it is exact and
        # needs no column reduction in the backward pass.
        mu = ops.mean(x, axis=0)
        xc = x - ops.stop_gradient(mu)
        mean_term = ops.mean(ops.square(mu))
        k = d if self.block_size is None else min(self.block_size, d)
        full_blocks, rest = divmod(d, k)

        def blocks_terms(blocks, size):
            # `blocks` (num_blocks, size, N): the sum of the squared
            # off-diagonal covariances and the variances (the diagonals,
            # which saves a square and a column sum over the batch).
            cov = ops.matmul(blocks, ops.transpose(blocks, (0, 2, 1))) / n
            off = 1.0 - ops.eye(size, dtype=dtype)
            variances = ops.diagonal(cov, axis1=1, axis2=2)
            return ops.sum(ops.square(cov) * off), ops.reshape(variances, (-1,))

        def own_variances(columns):
            # Features in no block of two or more.
            return ops.sum(ops.square(columns), axis=0) / n

        off_sum = ops.zeros((), dtype)
        if k > 1:
            main = ops.reshape(xc[:, : full_blocks * k], (-1, full_blocks, k))
            off_sum, variance = blocks_terms(ops.transpose(main, (1, 2, 0)), k)
        else:
            variance = own_variances(xc)  # `block_size=1`
        if rest:
            tail = xc[:, full_blocks * k :]
            if rest > 1:
                tail_off, tail_variance = blocks_terms(
                    ops.expand_dims(ops.transpose(tail), 0), rest
                )
                off_sum = off_sum + tail_off
            else:
                tail_variance = own_variances(tail)
            variance = ops.concatenate([variance, tail_variance])
        variance_term = ops.mean(ops.square(variance - 1.0))
        num_off = full_blocks * k * (k - 1) + rest * (rest - 1)
        covariance_term = off_sum / float(max(num_off, 1))
        return mean_term, variance_term, covariance_term

    def _draw_uniform(self):
        """The uniform numbers that choose a step's pair offsets."""
        return keras.random.uniform(
            (self.num_pair_offsets,), seed=self.seed_generator, dtype="float32"
        )

    def _pair_cosines(self, x, uniform=None):
        """Cosines of the sampled pairs, `(P,)`, and their validity mask.

        `uniform` (from `_draw_uniform`, drawn when `None`) chooses the
        offsets.
        """
        batch = ops.shape(x)[0]
        v = ops.reshape(x, (batch, -1))
        inv_norm = ops.rsqrt(ops.sum(ops.square(v), axis=1) + self.epsilon)
        if self.num_pair_offsets is None:
            unit = v * ops.expand_dims(inv_norm, 1)
            cos = ops.reshape(ops.matmul(unit, ops.transpose(unit)), (-1,))
            index = ops.arange(batch)
            valid = ops.reshape(
                ops.expand_dims(index, 1) < ops.expand_dims(index, 0), (-1,)
            )
            return cos, valid
        # Offsets uniform in [1, B - 1]. The partner of sample i is sample
        # (i + o) mod B, i.e. the batch rolled by -o (cheaper than a gather).
        u = self._draw_uniform() if uniform is None else uniform
        span = ops.cast(ops.maximum(batch - 1, 0), "float32")
        offsets = ops.cast(ops.floor(u * span), "int32") + 1
        if self._partner_path == "slice":
            # Rows o .. o + B - 1 of the batch stacked twice, and the dot
            # products of the raw rows scaled by both inverse norms.
            width = ops.shape(v)[1]
            twice = ops.concatenate([v, v], axis=0)
            twice_inv_norm = ops.concatenate([inv_norm, inv_norm], axis=0)
            cosines = []
            for j in range(self.num_pair_offsets):
                partner = ops.slice(twice, [offsets[j], 0], [batch, width])
                partner_inv_norm = ops.slice(
                    twice_inv_norm, [offsets[j]], [batch]
                )
                dots = ops.sum(v * partner, axis=1)
                cosines.append(dots * inv_norm * partner_inv_norm)
        else:
            unit = v * ops.expand_dims(inv_norm, 1)
            cosines = [
                ops.sum(unit * ops.roll(unit, -offsets[j], axis=0), axis=1)
                for j in range(self.num_pair_offsets)
            ]
        cos = ops.concatenate(cosines, 0)
        # With B = 1 the only "partner" is the sample itself: no pairs.
        valid = ops.logical_and(ops.ones_like(cos, dtype="bool"), batch > 1)
        return cos, valid

    def _num_valid_pairs(self, batch):
        """The number of valid pairs for a static batch size."""
        if batch <= 1:
            return 0
        if self.num_pair_offsets is None:
            return batch * (batch - 1) // 2
        return self.num_pair_offsets * batch

    def _quantile(self, cos, valid, num_pairs, batch):
        """Linear-interpolation quantile (numpy's default) of valid cosines.

        On the `"top_k"` path, with a static batch size, the two order
        statistics that the quantile interpolates come from one `top_k` on
        the side of the distribution they lie on (the top
        `positive_fraction` of the pairs); otherwise from a full sort.
        """
        q = 1.0 - self.positive_fraction
        cos = ops.stop_gradient(cos)
        m = None if batch is None else self._num_valid_pairs(batch)
        if self._quantile_path == "sort":
            m = None
        if m is not None and m > 0:
            position = q * (m - 1)
            low = min(math.floor(position), m - 1)
            frac = position - low
            high = min(low + 1, m - 1)
            if m - low <= high + 1:
                # The k = m - low largest valid cosines, descending: the
                # ascending rank r sits at index m - 1 - r.
                k = m - low
                top = ops.top_k(
                    ops.where(valid, cos, -_NO_PAIR * ops.ones_like(cos)), k
                )[0]
                below, above = top[k - 1], top[m - 1 - high]
            else:
                # The high + 1 smallest, ascending through a top_k of -cos.
                k = high + 1
                bottom = -ops.top_k(
                    ops.where(valid, -cos, -_NO_PAIR * ops.ones_like(cos)), k
                )[0]
                below, above = bottom[low], bottom[high]
            return (1.0 - frac) * below + frac * above
        # Invalid entries sort to the end, the valid ones fill 0 .. P - 1.
        ranked = ops.sort(ops.where(valid, cos, _NO_PAIR * ops.ones_like(cos)))
        last = ops.maximum(num_pairs - 1.0, 0.0)
        position = q * last
        low = ops.floor(position)
        frac = position - low
        below = ops.take(ranked, ops.cast(low, "int32"))
        above = ops.take(
            ranked, ops.cast(ops.minimum(low + 1.0, last), "int32")
        )
        return (1.0 - frac) * below + frac * above

    def _pair_terms(self, cos, valid, hurdle, batch=None):
        """Returns `(pair_loss, positive_fraction, quantile, num_pairs)`."""
        dtype = ops.dtype(cos)
        w = ops.cast(valid, dtype)
        num_pairs = ops.sum(w)
        denom = ops.maximum(num_pairs, 1.0)
        positive = ops.logical_and(cos > hurdle, valid)
        per_pair = ops.where(positive, ops.square(1.0 - cos), ops.square(cos))
        pair_loss = ops.sum(per_pair * w) / denom
        positive_fraction = ops.sum(ops.cast(positive, dtype)) / denom
        quantile = self._quantile(cos, valid, num_pairs, batch)
        return pair_loss, positive_fraction, quantile, num_pairs

    def _local_losses(self, inputs, hurdle=None, uniform=None):
        """All local quantities for one batch, without touching the state.

        Returns a dict with the feature-loss terms, `feature_loss`,
        `pair_loss`, `positive_fraction`, the batch `quantile` of the pair
        cosines and `num_pairs`, all float32 (float64 for float64 inputs).
        `uniform` chooses the pair offsets (see `_pair_cosines`).
        """
        if hurdle is None:
            hurdle = self.current_hurdle
        x = ops.convert_to_tensor(inputs)
        dtype = self._stat_dtype(x)
        x = ops.cast(x, dtype)
        hurdle = ops.cast(
            ops.stop_gradient(ops.convert_to_tensor(hurdle)), dtype
        )
        mean_t, var_t, cov_t = self._feature_terms(self._feature_rows(x))
        cos, valid = self._pair_cosines(x, uniform)
        batch = x.shape[0]
        pair_loss, pos_frac, quantile, num_pairs = self._pair_terms(
            cos, valid, hurdle, None if batch is None else int(batch)
        )
        return {
            "feature_mean": mean_t,
            "feature_variance": var_t,
            "feature_covariance": cov_t,
            "feature_loss": mean_t + var_t + cov_t,
            "pair_loss": pair_loss,
            "positive_fraction": pos_frac,
            "quantile": quantile,
            "num_pairs": num_pairs,
        }

    def _no_terms(self, inputs):
        """What `_local_losses` gives for an empty batch: zeros."""
        zero = ops.zeros((), self._stat_dtype(inputs))
        keys = STATISTICS + ("feature_loss", "quantile", "num_pairs")
        return {key: zero for key in keys}

    def call(self, inputs, training=None):
        self._check_inputs(inputs.shape)
        outputs = ops.stop_gradient(inputs) if self.detach else inputs
        if not training:
            return outputs
        uniform = None
        if self.num_pair_offsets is not None:
            before = seed_state(self.seed_generator)
            uniform = self._draw_uniform()
        terms = unless_empty(
            inputs,
            lambda: self._local_losses(inputs, uniform=uniform),
            lambda: self._no_terms(inputs),
        )
        if self.feature_weight:
            self.add_loss(
                ops.cast(self.feature_weight * terms["feature_loss"], "float32")
            )
        if self.pair_weight:
            self.add_loss(
                ops.cast(self.pair_weight * terms["pair_loss"], "float32")
            )

        # The state moves only for a batch with rows and finite statistics
        # (any NaN or Inf in the batch makes its feature mean non-finite).
        stats = ops.stop_gradient(
            ops.cast(ops.stack([terms[s] for s in STATISTICS]), "float32")
        )
        target = ops.cast(ops.stop_gradient(terms["quantile"]), "float32")
        update = ops.logical_and(
            ops.convert_to_tensor(ops.shape(inputs)[0]) > 0,
            ops.logical_and(ops.all(ops.isfinite(stats)), ops.isfinite(target)),
        )
        if self.num_pair_offsets is not None:
            rewind_seed_unless(update, self.seed_generator, before)
        if self.hurdle_momentum < 1.0:
            current = ops.convert_to_tensor(self.current_hurdle)
            m = self.hurdle_momentum
            moved = m * current + (1.0 - m) * target
            # No pairs (a batch of one) also keeps the hurdle.
            move = ops.logical_and(update, terms["num_pairs"] > 0)
            self.current_hurdle.assign(ops.where(move, moved, current))
        total = ops.convert_to_tensor(self.statistics_total)
        self.statistics_total.assign(ops.where(update, total + stats, total))
        self.statistics_count.assign(
            self.statistics_count + ops.cast(update, "float32")
        )
        return outputs

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "block_size": self.block_size,
                "feature_weight": self.feature_weight,
                "pair_weight": self.pair_weight,
                "positive_fraction": self.positive_fraction,
                "hurdle": self.hurdle,
                "hurdle_momentum": self.hurdle_momentum,
                "num_pair_offsets": self.num_pair_offsets,
                "detach": self.detach,
                "epsilon": self.epsilon,
                "seed": self.seed,
                "data_format": self.data_format,
            }
        )
        return config
