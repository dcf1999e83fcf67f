"""MemoryLayer: a softmax selection over a learned array of memory slots."""

import keras
from keras import initializers
from keras import ops
from keras import regularizers

from keras_memnets.api_export import register
from keras_memnets.layers import memory_slots
from keras_memnets.layers.approximator import ApproximatorLayer
from keras_memnets.layers.routing import dense_selection
from keras_memnets.layers.routing import top_k_weights
from keras_memnets.layers.routing import validate_top_k
from keras_memnets.regularizers.load_balance import LoadBalance
from keras_memnets.utils.config import serialize_nested
from keras_memnets.utils.row_sparse import mark_table
from keras_memnets.utils.row_sparse import sparse_take
from keras_memnets.utils.shapes import check_input_shape
from keras_memnets.utils.shapes import reshape_last_axis
from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.shapes import units_shape
from keras_memnets.utils.shapes import unless_empty
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int

# What `selection_regularizer="auto"` resolves to with `memory_scale != 1`.
_AUTO_SELECTION_REGULARIZER = dict(weight=0.01, mode="entropy")


@register
class MemoryLayer(keras.layers.Layer):
    """A memory of `memory_size` learned slots, read by a softmax selection.

    The selection is `F = softmax(Approximator[hidden_units, memory_size](x))`
    and the output is `F · memory_activation(memory_scale · W)`, where `W`
    is a learned array of shape `(memory_size, *units)`, the weight named
    `"memory"`: each row is one slot, stored as its logits (its values
    before `memory_activation`) divided by `memory_scale`, and the output is
    the selection-weighted mix of the activated slots
    (`memory_values()`). The slots can be written from data with
    `set_memory_from_samples`, `set_memory_from_kmeans` and `reset_slots`.

    The defaults make a trained memory use its slots. Adam moves a weight
    by about its learning rate per step whatever the gradient's size, so
    `memory_scale=100` moves the logits 100 times faster than the weight
    and lets the slots specialise before the selection settles, and
    `selection_regularizer="auto"` adds
    `keras_memnets.regularizers.LoadBalance(0.01, mode="entropy")`, which
    asks each batch to spread its selection over the slots on average.
    The two are coupled: `"auto"` resolves to the balance term only when
    `memory_scale != 1`, so `memory_scale=1.0` alone gives the layer of the
    research notes, whose selection collapses onto one or two slots when
    it is trained as built.

    Args:
        units: int or tuple of ints. Per-sample output shape.
        memory_size: int. Number of memory slots, >= 1.
        hidden_units: int. Hidden width of the selection approximator.
            Defaults to 512.
        activation: str or callable. Hidden activation of the selection
            approximator. Defaults to `"relu"`.
        memory_activation: str, callable or `None`. Applied to the memory
            array before it is read. Defaults to `"sigmoid"`.
        return_selection: bool. If `True`, `call` returns
            `(output, selection)`. Defaults to `False`.
        selection_regularizer: `"auto"`, `None` or a regularizer of the
            selection (for example `keras_memnets.regularizers.OneMax(0.1)`).
            `"auto"` is `keras_memnets.regularizers.LoadBalance(0.01,
            mode="entropy")` when `memory_scale != 1` and no regularizer
            when `memory_scale == 1`; `None` turns the term off; a
            regularizer replaces it. As with Keras' `activity_regularizer`,
            its value is divided by the batch size before it is added to
            the layer's losses (`LoadBalance` multiplies by it first); an
            empty batch adds 0. The attribute holds the resolved
            regularizer; `get_config` keeps `"auto"`. Defaults to `"auto"`.
        memory_initializer: initializer of the initial memory logits (the
            weight starts at its values divided by `memory_scale`).
            Defaults to `"random_normal"`.
        memory_regularizer: optional regularizer of the memory weight (the
            stored values, the logits divided by `memory_scale`).
        kernel_initializer: initializer of the selection approximator's
            kernels. Defaults to `"glorot_uniform"`.
        bias_initializer: initializer of its biases. Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer of its kernels.
        bias_regularizer: optional regularizer of its biases.
        top_k: `None` or int in `[1, memory_size]`. `None` reads every slot.
            With `top_k=k` each sample reads only its `k` most selected
            slots (a gather of `k` rows), with their selection renormalised
            to sum to 1; the backward pass holds the normaliser constant, so
            the selector keeps learning at `k=1` (the gate gradient of
            Switch Transformer). The selection regularizer sees the full
            softmax, and `return_selection` returns the renormalised
            selection that was used (zeros elsewhere). The gathered memory
            has a row-sparse gradient, so that
            `keras_memnets.optimizers.LazyAdam` updates only the slots read
            (see the guide *Memory at scale*). Defaults to `None`.
        memory_scale: float > 0, finite. The memory weight holds the logits
            divided by `memory_scale`, and every read (dense and `top_k`)
            applies `memory_activation(memory_scale * memory)`. The slot
            writes account for it. Under SGD it multiplies the logits'
            effective learning rate by `memory_scale**2`. Defaults to
            `100.0`; `1.0` is the layer of the research notes, and the value
            that configs without `memory_scale` (files saved by
            keras_memnets 0.2.0) load with.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, ..., features)`.

    Returns:
        The output `(batch, ..., *units)`, or `(output, selection)` with the
        selection `(batch, ..., memory_size)` (rows sum to 1) when
        `return_selection=True`.

    Input shape:
        `(batch, ..., features)`, rank >= 2.

    Output shape:
        `(batch, ..., *units)` (and `(batch, ..., memory_size)`).

    Example:

    >>> layer = keras_memnets.layers.MemoryLayer(
    ...     784, memory_size=10, hidden_units=64, return_selection=True)
    >>> output, selection = layer(np.zeros((2, 6)))
    >>> tuple(output.shape), tuple(selection.shape)
    ((2, 784), (2, 10))

    Reference:
        The guide *Memory networks* on the docs site
        (https://keras-memnets.readthedocs.io/), which maps the research
        notes' names to the library's and measures the defaults (section
        "A memory that uses its slots by default"). Fedus et al., "Switch
        Transformers", JMLR 2022 (`top_k`).
    """

    def __init__(
        self,
        units,
        memory_size,
        hidden_units=512,
        activation="relu",
        memory_activation="sigmoid",
        return_selection=False,
        selection_regularizer="auto",
        memory_initializer="random_normal",
        memory_regularizer=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        top_k=None,
        memory_scale=100.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.units = standardize_units(units, "units", name)
        self.memory_size = positive_int(memory_size, "memory_size", name)
        self.hidden_units = positive_int(hidden_units, "hidden_units", name)
        self.activation = get_activation(activation, "activation", name)
        self.memory_activation = get_activation(
            memory_activation, "memory_activation", name
        )
        self.return_selection = bool(return_selection)
        self.memory_scale = number_in_range(
            memory_scale,
            "memory_scale",
            name,
            low=0.0,
            low_inclusive=False,
            finite=True,
        )
        self._auto_selection_regularizer = None
        if isinstance(selection_regularizer, str) and (
            selection_regularizer == "auto"
        ):
            if self.memory_scale != 1.0:
                self._auto_selection_regularizer = LoadBalance(
                    **_AUTO_SELECTION_REGULARIZER
                )
            self.selection_regularizer = self._auto_selection_regularizer
            self._selection_regularizer_is_auto = True
        else:
            self.selection_regularizer = regularizers.get(selection_regularizer)
            self._selection_regularizer_is_auto = False
        self.memory_initializer = initializers.get(memory_initializer)
        self.memory_regularizer = regularizers.get(memory_regularizer)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.top_k = validate_top_k(top_k, self.memory_size, name)
        self.selector = ApproximatorLayer(
            self.memory_size,
            hidden_units=self.hidden_units,
            activation=self.activation,
            output_activation="softmax",
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            dtype=self.dtype_policy,
            name="selector",
        )

    def _check_inputs(self, shape):
        features = self.selector.hidden.kernel.shape[0] if self.built else None
        check_input_shape(shape, type(self).__name__, size=features)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.selector.build(input_shape)
        initializer = self.memory_initializer
        if self.memory_scale != 1.0:
            initializer = _ScaledInitializer(initializer, self.memory_scale)
        # With `top_k` the memory is a table read by rows: read in its own
        # dtype (not autocast), so that a mixed-precision read casts only
        # the rows it gathers.
        self.memory = self.add_weight(
            name="memory",
            shape=(self.memory_size,) + units_shape(self.units),
            initializer=initializer,
            regularizer=self.memory_regularizer,
            autocast=self.top_k is None,
        )
        if self.top_k is not None:
            mark_table(self.memory)

    def call(self, inputs):
        self._check_inputs(inputs.shape)
        selection = self.selector(inputs)
        if self.selection_regularizer is not None:
            self.add_loss(self._selection_penalty(selection))
        output = self.read(selection)
        if not self.return_selection:
            return output
        if self.top_k is not None:
            # The selection that was used: renormalised, zero off the top k.
            weights, indices = top_k_weights(selection, self.top_k)
            selection = dense_selection(weights, indices, self.memory_size)
        return output, selection

    def _selection_penalty(self, selection):
        # In float32, so that a mixed_float16 policy does not round it.
        selection = ops.cast(selection, "float32")
        batch_size = ops.cast(ops.shape(selection)[0], "float32")
        return unless_empty(
            selection,
            lambda: (
                ops.cast(self.selection_regularizer(selection), "float32")
                / batch_size
            ),
            lambda: ops.zeros((), "float32"),
        )

    def compute_selection(self, inputs):
        """Returns the selection `softmax(Approximator(inputs))`.

        Args:
            inputs: tensor of shape `(batch, ..., features)`.

        Returns:
            A tensor `(batch, ..., memory_size)` whose rows sum to 1.
        """
        self._check_inputs(inputs.shape)
        return self.selector(inputs)

    def read(self, selection):
        """Reads the memory with a given selection.

        Args:
            selection: tensor `(batch, ..., memory_size)` of slot weights
                (for example from `compute_selection`).

        Returns:
            The output `(batch, ..., *units)`: `selection · memory_values()`,
            or with `top_k` the mix of the k selected slots only.
        """
        if self.top_k is not None:
            return self._read_top_k(selection)
        memory = self._activate(ops.cast(self.memory, self.compute_dtype))
        # (batch, ..., m) @ (m, prod(units)) -> (batch, ..., *units): one
        # matmul.
        units = units_shape(self.units)
        if len(units) > 1:
            memory = ops.reshape(memory, (self.memory_size, -1))
        output = ops.matmul(selection, memory)
        if len(units) > 1:
            output = reshape_last_axis(output, selection, units)
        return output

    def _read_top_k(self, selection):
        # Gather the k selected rows of the table, scale and activate only
        # them, mix them.
        weights, indices = top_k_weights(selection, self.top_k)
        rows = sparse_take(self.memory, indices)
        rows = self._activate(ops.cast(rows, self.compute_dtype))
        # (batch, ..., k) weights against (batch, ..., k, *units) rows.
        for _ in units_shape(self.units):
            weights = ops.expand_dims(weights, -1)
        return ops.sum(weights * rows, axis=len(indices.shape) - 1)

    def _activate(self, memory):
        """`memory_activation(memory_scale * memory)`."""
        if self.memory_scale != 1.0:
            memory = memory * ops.cast(self.memory_scale, memory.dtype)
        return self.memory_activation(memory)

    def memory_values(self):
        """Returns what each slot outputs: `memory_activation(memory_scale *
        memory)`.

        The values the layer reads, in the memory weight's dtype (for
        example to show the slots as images); `memory_scale * memory` are
        their logits.

        Returns:
            A tensor of shape `(memory_size, *units)`.

        Example:

        >>> layer = keras_memnets.layers.MemoryLayer(
        ...     3, memory_size=2, hidden_units=4, memory_activation="linear")
        >>> _ = layer(np.zeros((1, 5)))
        >>> _ = layer.set_memory_from_samples(np.array([[0.0, 0.5, 1.0]]))
        >>> np.round(keras.ops.convert_to_numpy(
        ...     layer.memory_values())[0], 6).tolist()
        [0.0, 0.5, 1.0]
        """
        if not self.built:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': build the layer (call "
                "it once) before `memory_values`."
            )
        return self._activate(ops.convert_to_tensor(self.memory))

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        batch = tuple(input_shape[:-1])
        output_shape = batch + units_shape(self.units)
        if self.return_selection:
            return output_shape, batch + (self.memory_size,)
        return output_shape

    def set_memory_from_samples(self, samples, slots=None, epsilon=1e-3):
        """Writes memory slots so that they output the given samples.

        Each sample `y` is mapped through the inverse of `memory_activation`
        (for `"sigmoid"`: `log(y / (1 - y))`, with `y` clipped to
        `[epsilon, 1 - epsilon]` so that pixels at exactly 0 or 1 stay
        finite), so that `memory_activation(M[slot])` reproduces the sample up
        to that clipping. Known inverses: sigmoid, tanh, softplus, linear and
        relu (which keeps the non-negative part).

        Args:
            samples: array of shape `(n, *units)`, in the range of
                `memory_activation`.
            slots: optional sequence of `n` distinct slot indices to write.
                `None` writes slots `0..n-1`, which requires
                `n <= memory_size`.
            epsilon: float. Clipping margin of the inverse, > 0.

        Returns:
            The numpy array of slot indices that were written.

        Raises:
            ValueError: if the samples lie outside the range of
                `memory_activation` (e.g. 0..255 pixels for a sigmoid memory:
                scale them to [0, 1] first), hold NaN or Inf, or do not match
                `units`.
        """
        return memory_slots.set_memory_from_samples(
            self, samples, slots=slots, epsilon=epsilon
        )

    def set_memory_from_kmeans(
        self,
        targets,
        seed=None,
        max_iterations=100,
        restarts=1,
        epsilon=1e-3,
    ):
        """Writes every memory slot from the k-means centroids of targets.

        Clusters the targets into `memory_size` groups (k-means++ seeding,
        then Lloyd iterations, in numpy) and writes centroid `k` into slot
        `k` with `set_memory_from_samples`, as vector-quantisation codebooks
        are initialised. `result.mse` is the mean squared error of a memory
        that outputs each target's centroid: a floor for the trained
        memory's output. The selector is left as it is.

        Args:
            targets: array `(n, *units)` in the range of `memory_activation`,
                with `n >= memory_size`.
            seed: optional int. Seed of the k-means++ draws.
            max_iterations: int. Most Lloyd iterations per restart.
            restarts: int. Independent seedings; the best one is kept.
            epsilon: float. Clipping margin of the activation's inverse.

        Returns:
            A `keras_memnets.utils.kmeans.KMeansResult(centroids,
            assignments, mse, iterations)`.

        Example:

        >>> layer = keras_memnets.layers.MemoryLayer(
        ...     2, memory_size=2, hidden_units=4, memory_activation="linear")
        >>> _ = layer(np.zeros((1, 3)))
        >>> targets = np.array([[0.0, 0.0], [0.2, 0.0], [5.0, 5.0], [5.0, 5.2]])
        >>> result = layer.set_memory_from_kmeans(targets, seed=0)
        >>> np.round(np.sort(result.centroids, axis=0), 2).tolist()
        [[0.1, 0.0], [5.0, 5.1]]
        >>> round(result.mse, 4)
        0.005
        """
        return memory_slots.set_memory_from_kmeans(
            self,
            targets,
            seed=seed,
            max_iterations=max_iterations,
            restarts=restarts,
            epsilon=epsilon,
        )

    def reset_slots(
        self,
        slots,
        inputs,
        targets=None,
        split=1.0,
        epsilon=1e-3,
        seed=None,
        batch_size=512,
    ):
        """Restarts slots: each takes over half of the busiest slot.

        On `inputs`, the slot that wins most rows (argmax of the selection)
        is split in two, once per slot in `slots`, as vector-quantisation
        codebooks restart unused codes: the slot's selector logit becomes a
        copy of the busiest slot's, both lowered by `log 2`, then pulled
        apart so that a randomly chosen row of the busiest slot prefers the
        restarted slot by a logit margin of `split`
        (`keras_memnets.utils.slots.split_slots`). If `targets` are given,
        the slot's memory row is written from the chosen row's target.
        `keras_memnets.callbacks.RestartDeadSlots` calls this for the slots
        it finds dead.

        Args:
            slots: sequence of distinct slot indices to restart.
            inputs: array `(n, features)`: inputs of this layer (not of the
                model, if other layers come first).
            targets: optional array `(n, *units)` of targets for the memory
                output, row-aligned with `inputs`, in the range of
                `memory_activation`.
            split: float >= 0. Logit margin of the chosen row.
            epsilon: float. Clipping margin of the activation's inverse.
            seed: optional int or `numpy.random.Generator`: chooses the rows.
            batch_size: int. Rows per forward pass of the selector.

        Returns:
            A list with one dict per restarted slot: `"slot"`, `"from"` (the
            busiest slot it split) and `"row"` (the index in `inputs` of the
            chosen row). Slots are skipped once no slot wins 2 rows.

        Example:

        >>> layer = keras_memnets.layers.MemoryLayer(
        ...     3, memory_size=3, hidden_units=4, kernel_initializer="zeros")
        >>> x = np.random.default_rng(0).normal(size=(20, 5))
        >>> _ = layer(x)  # equal logits: every row selects slot 0
        >>> records = layer.reset_slots(
        ...     [1, 2], x, targets=np.full((20, 3), 0.5), seed=0)
        >>> [(r["slot"], r["from"]) for r in records]
        [(1, 0), (2, 0)]
        """
        return memory_slots.reset_slots(
            self,
            slots,
            inputs,
            targets=targets,
            split=split,
            epsilon=epsilon,
            seed=seed,
            batch_size=batch_size,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "memory_size": self.memory_size,
                "hidden_units": self.hidden_units,
                "return_selection": self.return_selection,
                "top_k": self.top_k,
                "memory_scale": self.memory_scale,
                **serialize_nested(
                    self,
                    activations=["activation", "memory_activation"],
                    initializers=[
                        "memory_initializer",
                        "kernel_initializer",
                        "bias_initializer",
                    ],
                    regularizers=[
                        "selection_regularizer",
                        "memory_regularizer",
                        "kernel_regularizer",
                        "bias_regularizer",
                    ],
                ),
            }
        )
        if (
            self._selection_regularizer_is_auto
            and self.selection_regularizer is self._auto_selection_regularizer
        ):
            config["selection_regularizer"] = "auto"
        return config

    @classmethod
    def from_config(cls, config):
        # A config without `memory_scale` was saved before the argument
        # existed: its memory holds the logits themselves.
        config = dict(config)
        config.setdefault("memory_scale", 1.0)
        config.setdefault("selection_regularizer", None)
        return super().from_config(config)


class _ScaledInitializer:
    """`initializer(shape, dtype) / scale`: the memory weight's start."""

    def __init__(self, initializer, scale):
        self.initializer = initializer
        self.scale = scale

    def __call__(self, shape, dtype=None):
        values = self.initializer(shape, dtype=dtype)
        return values / ops.cast(self.scale, values.dtype)
