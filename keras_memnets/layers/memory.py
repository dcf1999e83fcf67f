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
from keras_memnets.utils.config import serialize_nested
from keras_memnets.utils.shapes import check_input_shape
from keras_memnets.utils.shapes import reshape_last_axis
from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.shapes import units_shape
from keras_memnets.utils.shapes import unless_empty
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import positive_int


@register
class MemoryLayer(keras.layers.Layer):
    """A memory of `memory_size` learned slots, read by a softmax selection.

    The selection is `F = softmax(Approximator[hidden_units, memory_size](x))`
    and the output is `F · memory_activation(M)`, where `M` is a learned
    array of shape `(memory_size, *units)`, stored before the activation as
    the weight named `"memory"`: each row is one slot, and the output is the
    selection-weighted mix of the activated slots. The slots can be written
    from data with `set_memory_from_samples`, `set_memory_from_kmeans` and
    `reset_slots`.

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
        selection_regularizer: optional regularizer of the selection (for
            example `keras_memnets.regularizers.OneMax(0.1)`). As with
            Keras' `activity_regularizer`, its value is divided by the batch
            size before it is added to the layer's losses; an empty batch
            adds 0.
        memory_initializer: initializer of the memory array (before the
            activation). Defaults to `"random_normal"`.
        memory_regularizer: optional regularizer of the memory array.
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
            selection that was used (zeros elsewhere). Defaults to `None`.
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
        notes' names to the library's. Fedus et al., "Switch Transformers",
        JMLR 2022 (`top_k`).
    """

    def __init__(
        self,
        units,
        memory_size,
        hidden_units=512,
        activation="relu",
        memory_activation="sigmoid",
        return_selection=False,
        selection_regularizer=None,
        memory_initializer="random_normal",
        memory_regularizer=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        top_k=None,
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
        self.selection_regularizer = regularizers.get(selection_regularizer)
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
        self.memory = self.add_weight(
            name="memory",
            shape=(self.memory_size,) + units_shape(self.units),
            initializer=self.memory_initializer,
            regularizer=self.memory_regularizer,
        )

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
            The output `(batch, ..., *units)`: `selection · M` after
            `memory_activation`, or with `top_k` the mix of the k selected
            slots only.
        """
        if self.top_k is not None:
            return self._read_top_k(selection)
        memory = self.memory_activation(
            ops.cast(self.memory, self.compute_dtype)
        )
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
        # Gather the k selected rows, activate only them, mix them.
        weights, indices = top_k_weights(selection, self.top_k)
        memory = ops.cast(self.memory, self.compute_dtype)
        units = units_shape(self.units)
        if len(units) > 1:
            memory = ops.reshape(memory, (self.memory_size, -1))
        rows = self.memory_activation(ops.take(memory, indices, axis=0))
        output = ops.sum(ops.expand_dims(weights, -1) * rows, axis=-2)
        if len(units) > 1:
            output = reshape_last_axis(output, selection, units)
        return output

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
        return config
