"""The 0.1 CorrelationNorm, frozen as the "before" variant of the benchmark.

Not part of the package; `benchmarks/correlation_norm.py` times it beside
the current layer in one interleaved run.
"""

import math
import numbers

import keras
from keras import ops

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


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


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


def _detached(variable):
    """Whether the JAX trainer has detached `variable` for a traced step."""
    # keras-team/keras#21639: while JAX `fit`/`evaluate` run a step, the
    # trainer detaches the values of all model variables and, when it computes
    # the step's logs, maps only the metric variables. Reading a layer
    # variable there fails, so the step's log shows NaN for the statistic; the
    # epoch-end logs are read after the state is re-attached and are exact.
    return (
        keras.config.backend() == "jax"
        and getattr(variable, "_value", 0) is None
    )


class CorrelationNormV01(keras.layers.Layer):
    """CorrelationNorm as released in 0.1 (main before issue 13), frozen."""

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
        if block_size is not None and (
            not _is_integer(block_size) or block_size < 1
        ):
            raise ValueError(
                f"{name}: `block_size` must be an integer >= 1 or None, "
                f"got {block_size!r}."
            )
        for arg, value in (
            ("feature_weight", feature_weight),
            ("pair_weight", pair_weight),
        ):
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"{name}: `{arg}` must be a finite number >= 0, "
                    f"got {value!r}."
                )
        if not _is_number(positive_fraction) or not 0 < positive_fraction < 1:
            raise ValueError(
                f"{name}: `positive_fraction` must be a number strictly "
                f"between 0 and 1, got {positive_fraction!r}."
            )
        if not _is_number(hurdle) or not -1 <= hurdle <= 1:
            raise ValueError(
                f"{name}: `hurdle` must be a cosine in [-1, 1], got {hurdle!r}."
            )
        if not _is_number(hurdle_momentum) or not 0 <= hurdle_momentum <= 1:
            raise ValueError(
                f"{name}: `hurdle_momentum` must be a number in [0, 1], "
                f"got {hurdle_momentum!r}."
            )
        if num_pair_offsets is not None and (
            not _is_integer(num_pair_offsets) or num_pair_offsets < 1
        ):
            raise ValueError(
                f"{name}: `num_pair_offsets` must be an integer >= 1 or None "
                f"(all pairs), got {num_pair_offsets!r}."
            )
        if not isinstance(detach, bool):
            raise TypeError(f"{name}: `detach` must be a bool, got {detach!r}.")
        if not _is_number(epsilon) or not epsilon > 0:
            raise ValueError(
                f"{name}: `epsilon` must be a number > 0, got {epsilon!r}."
            )
        if seed is not None and not _is_integer(seed):
            raise TypeError(
                f"{name}: `seed` must be an integer or None, got {seed!r}."
            )
        if data_format is None:
            data_format = keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{name}: `data_format` must be 'channels_last', "
                f"'channels_first' or None, got {data_format!r}."
            )
        self.block_size = None if block_size is None else int(block_size)
        self.feature_weight = float(feature_weight)
        self.pair_weight = float(pair_weight)
        self.positive_fraction = float(positive_fraction)
        self.hurdle = float(hurdle)
        self.hurdle_momentum = float(hurdle_momentum)
        self.num_pair_offsets = (
            None if num_pair_offsets is None else int(num_pair_offsets)
        )
        self.detach = detach
        self.epsilon = float(epsilon)
        self.seed = None if seed is None else int(seed)
        self.data_format = data_format
        self.supports_masking = True
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape):
        name = type(self).__name__
        rank = len(input_shape)
        if rank not in (2, 4):
            raise ValueError(
                f"{name} expects a rank-2 (batch, features) or rank-4 image "
                f"input, got shape {tuple(input_shape)} (rank {rank})."
            )
        axis = 1 if rank == 4 and self.data_format == "channels_first" else -1
        if input_shape[axis] is None:
            raise ValueError(
                f"{name} needs a known feature (channel) dimension, got input "
                f"shape {tuple(input_shape)}."
            )
        self._rank = rank
        self._num_features = int(input_shape[axis])
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

    # -- metric views ------------------------------------------------------

    def _statistic_reader(self, index):
        def read():
            if _detached(self.statistics_total):
                return ops.convert_to_tensor(float("nan"), "float32")
            count = ops.maximum(self.statistics_count, 1.0)
            return self.statistics_total[index] / count

        return read

    def _read_hurdle(self):
        if _detached(self.current_hurdle):
            return ops.convert_to_tensor(float("nan"), "float32")
        # A copy: on JAX the variable's own buffer is donated to the next
        # training step, and a logged value must outlive it.
        return ops.copy(self.current_hurdle.value)

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
        """Returns `(mean, variance, covariance)` loss terms of `x` (N, D)."""
        dtype = ops.dtype(x)
        d = self._num_features
        n = ops.cast(ops.shape(x)[0], dtype)
        mu = ops.mean(x, axis=0)
        xc = x - mu
        variance = ops.sum(ops.square(xc), axis=0) / n
        mean_term = ops.mean(ops.square(mu))
        variance_term = ops.mean(ops.square(variance - 1.0))

        k = d if self.block_size is None else min(self.block_size, d)
        full_blocks, rest = divmod(d, k)
        off_sum = ops.zeros((), dtype)
        if k > 1:
            # (blocks, k, N) @ (blocks, N, k): one batched matmul, measured
            # faster than the equivalent einsum on TensorFlow's CPU kernels.
            main = ops.reshape(xc[:, : full_blocks * k], (-1, full_blocks, k))
            main = ops.transpose(main, (1, 2, 0))
            cov = ops.matmul(main, ops.transpose(main, (0, 2, 1))) / n
            off = 1.0 - ops.eye(k, dtype=dtype)
            off_sum = off_sum + ops.sum(ops.square(cov) * off)
        if rest > 1:
            tail = xc[:, full_blocks * k :]
            cov = ops.matmul(ops.transpose(tail), tail) / n
            off = 1.0 - ops.eye(rest, dtype=dtype)
            off_sum = off_sum + ops.sum(ops.square(cov) * off)
        num_off = full_blocks * k * (k - 1) + rest * (rest - 1)
        covariance_term = off_sum / float(max(num_off, 1))
        return mean_term, variance_term, covariance_term

    def _pair_cosines(self, x):
        """Cosines of the sampled pairs, `(P,)`, and their validity mask."""
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
        u = keras.random.uniform(
            (self.num_pair_offsets,), seed=self.seed_generator, dtype="float32"
        )
        span = ops.cast(ops.maximum(batch - 1, 0), "float32")
        offsets = ops.cast(ops.floor(u * span), "int32") + 1
        cosines = []
        for j in range(self.num_pair_offsets):
            shift = -offsets[j]
            dots = ops.sum(v * ops.roll(v, shift, axis=0), axis=1)
            cosines.append(dots * inv_norm * ops.roll(inv_norm, shift, axis=0))
        cos = ops.concatenate(cosines, 0)
        # With B = 1 the only "partner" is the sample itself: no pairs.
        valid = ops.logical_and(ops.ones_like(cos, dtype="bool"), batch > 1)
        return cos, valid

    def _pair_terms(self, cos, valid, hurdle):
        """Returns `(pair_loss, positive_fraction, quantile, num_pairs)`."""
        dtype = ops.dtype(cos)
        w = ops.cast(valid, dtype)
        num_pairs = ops.sum(w)
        denom = ops.maximum(num_pairs, 1.0)
        positive = ops.logical_and(cos > hurdle, valid)
        per_pair = ops.where(positive, ops.square(1.0 - cos), ops.square(cos))
        pair_loss = ops.sum(per_pair * w) / denom
        positive_fraction = ops.sum(ops.cast(positive, dtype)) / denom
        # Linear-interpolation quantile of the valid cosines: invalid entries
        # sort to the end, the valid ones fill positions 0 .. P - 1.
        ranked = ops.sort(
            ops.where(
                valid, ops.stop_gradient(cos), _NO_PAIR * ops.ones_like(cos)
            )
        )
        last = ops.maximum(num_pairs - 1.0, 0.0)
        position = (1.0 - self.positive_fraction) * last
        low = ops.floor(position)
        frac = position - low
        below = ops.take(ranked, ops.cast(low, "int32"))
        above = ops.take(
            ranked, ops.cast(ops.minimum(low + 1.0, last), "int32")
        )
        quantile = (1.0 - frac) * below + frac * above
        return pair_loss, positive_fraction, quantile, num_pairs

    def _local_losses(self, inputs, hurdle=None):
        """All local quantities for one batch, without touching the state.

        Returns a dict with the feature-loss terms, `feature_loss`,
        `pair_loss`, `positive_fraction`, the batch `quantile` of the pair
        cosines and `num_pairs`, all float32 (float64 for float64 inputs).
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
        cos, valid = self._pair_cosines(x)
        pair_loss, pos_frac, quantile, num_pairs = self._pair_terms(
            cos, valid, hurdle
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

    def call(self, inputs, training=None):
        outputs = ops.stop_gradient(inputs) if self.detach else inputs
        if not training:
            return outputs
        terms = self._local_losses(inputs)
        if self.feature_weight:
            self.add_loss(
                ops.cast(self.feature_weight * terms["feature_loss"], "float32")
            )
        if self.pair_weight:
            self.add_loss(
                ops.cast(self.pair_weight * terms["pair_loss"], "float32")
            )

        if self.hurdle_momentum < 1.0:
            target = ops.cast(ops.stop_gradient(terms["quantile"]), "float32")
            current = ops.convert_to_tensor(self.current_hurdle)
            m = self.hurdle_momentum
            moved = m * current + (1.0 - m) * target
            # No pairs (a batch of one): keep the hurdle.
            self.current_hurdle.assign(
                ops.where(terms["num_pairs"] > 0, moved, current)
            )
        stats = ops.stop_gradient(
            ops.cast(ops.stack([terms[s] for s in STATISTICS]), "float32")
        )
        self.statistics_total.assign(self.statistics_total + stats)
        self.statistics_count.assign(self.statistics_count + 1.0)
        return outputs

    def compute_output_shape(self, input_shape):
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
