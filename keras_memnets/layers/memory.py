"""MemoryLayer: a softmax selection over a learned array of memory slots."""

import keras
import numpy as np
from keras import activations
from keras import initializers
from keras import ops
from keras import regularizers

from keras_memnets.api_export import register
from keras_memnets.layers.approximator import ApproximatorLayer
from keras_memnets.layers.routing import dense_selection
from keras_memnets.layers.routing import top_k_weights
from keras_memnets.layers.routing import validate_top_k
from keras_memnets.utils.kmeans import kmeans
from keras_memnets.utils.shapes import check_min_rank
from keras_memnets.utils.shapes import reshape_last_axis
from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.shapes import units_shape
from keras_memnets.utils.slots import split_slots
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int


def _inverse_sigmoid(y, epsilon):
    y = np.clip(y, epsilon, 1.0 - epsilon)
    return np.log(y) - np.log1p(-y)


def _inverse_tanh(y, epsilon):
    return np.arctanh(np.clip(y, -1.0 + epsilon, 1.0 - epsilon))


def _inverse_softplus(y, epsilon):
    y = np.maximum(y, epsilon)
    return y + np.log(-np.expm1(-y))


def _inverse_linear(y, epsilon):
    return y


def _inverse_relu(y, epsilon):
    return np.maximum(y, 0.0)


# Activations whose inverse `set_memory_from_samples` knows, by the name
# `keras.activations.serialize` gives them.
_INVERSES = {
    "sigmoid": _inverse_sigmoid,
    "tanh": _inverse_tanh,
    "softplus": _inverse_softplus,
    "linear": _inverse_linear,
    "relu": _inverse_relu,
}

# The closed range of each invertible activation's outputs: targets outside
# it cannot be written (they would be clipped to near-constant slots).
_RANGES = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "softplus": (0.0, np.inf),
    "linear": (-np.inf, np.inf),
    "relu": (0.0, np.inf),
}


def _invertible_activation(activation, owner):
    """The name of `activation` if its inverse is known, else raises."""
    activation_name = activations.serialize(activation)
    if not isinstance(activation_name, str):
        activation_name = getattr(activation, "__name__", "")
    if activation_name not in _INVERSES:
        raise ValueError(
            f"{owner}: no known inverse for memory_activation="
            f"{activation_name!r}; supported: {sorted(_INVERSES)}."
        )
    return activation_name


def _check_target_range(samples, activation_name, owner):
    """Raises a ValueError if `samples` lie outside the activation's range."""
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"{owner}: the targets hold NaN or Inf values.")
    low, high = _RANGES[activation_name]
    if samples.size and (samples.min() < low or samples.max() > high):
        hint = (
            " (images stored as 0..255 integers: divide them by 255)"
            if high == 1.0 and samples.max() > 1.0
            else ""
        )
        raise ValueError(
            f"{owner}: the targets must lie in [{low:g}, {high:g}], the "
            f"range of memory_activation={activation_name!r}, got values in "
            f"[{samples.min():g}, {samples.max():g}]{hint}."
        )


@register
class MemoryLayer(keras.layers.Layer):
    """A memory of `memory_size` learned slots, read by a softmax selection.

    The research notes' "memory" subnet. The selection is
    `F = softmax(Approximator[hidden_units, memory_size](x))` and the output is
    `F · memory_activation(M)`, where `M` is a learned array of shape
    `(memory_size, *units)` (the notes' `NetArrayLayer` followed by
    `ElementwiseLayer["Sigmoid"]`). Each row of `M` is one memory slot; the
    output is the selection-weighted mix of the activated slots.

    `M` is stored before `memory_activation`, as the weight named `"memory"`.
    `set_memory_from_samples` writes slots from training targets by inverting
    the activation (the notes' "set the memory net's memory array using
    samples of the training set").

    Args:
        units: int or tuple of ints. Per-sample output shape (the notes' `sl`).
        memory_size: int. Number of memory slots (the notes' `mn`), >= 1.
        hidden_units: int. Hidden width of the selection approximator (512,
            the notes' value, by default).
        activation: str or callable. Hidden activation of the selection
            approximator.
        memory_activation: str, callable or `None`. Applied to the memory
            array before it is read.
        return_selection: bool. If `True`, `call` returns
            `(output, selection)`.
        selection_regularizer: optional regularizer applied to the selection
            (for example `keras_memnets.regularizers.OneMax(0.1)`). Like
            Keras' `activity_regularizer`, its value is divided by the batch
            size before it is added to the layer's losses.
        memory_initializer: initializer of the memory array (before the
            activation).
        memory_regularizer: optional regularizer of the memory array.
        kernel_initializer: initializer of the selection approximator's
            kernels.
        bias_initializer: initializer of its biases.
        kernel_regularizer: optional regularizer of its kernels.
        bias_regularizer: optional regularizer of its biases.
        top_k: `None` or int in `[1, memory_size]`. `None` reads every slot
            (the dense mix above). With `top_k=k` only the `k` most selected
            slots of each sample are read (a gather of `k` rows, so the read
            costs O(k) instead of O(memory_size) per sample) and their
            selection is renormalised to sum to 1 over the k slots. The
            backward pass treats the normaliser as a constant, so the
            selector gets the gradient of the masked selection (Switch
            Transformer's gate gradient) and keeps learning at `k=1`; only
            the `k` read slots get gradients. The selection regularizer sees
            the full softmax, and `return_selection` returns the sparse
            renormalised selection that was used (zeros elsewhere). The
            selector itself still scores all `memory_size` slots.
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
        The guide "Memory networks" (`docs/guides/memory_networks.rst`),
        which maps the research notes' names to the library's.
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
        self.input_spec = keras.InputSpec(min_ndim=2)
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

    def build(self, input_shape):
        check_min_rank(input_shape, 2, "inputs", type(self).__name__)
        self.selector.build(input_shape)
        self.memory = self.add_weight(
            name="memory",
            shape=(self.memory_size,) + units_shape(self.units),
            initializer=self.memory_initializer,
            regularizer=self.memory_regularizer,
        )

    def compute_selection(self, inputs):
        """Returns the selection `softmax(Approximator(inputs))`.

        Args:
            inputs: tensor of shape `(batch, ..., features)`.

        Returns:
            A tensor `(batch, ..., memory_size)` whose rows sum to 1.
        """
        return self.selector(inputs)

    def call(self, inputs):
        selection = self.selector(inputs)
        if self.selection_regularizer is not None:
            # Computed in float32 so that a mixed_float16 policy does not
            # round the penalty.
            penalty = ops.cast(
                self.selection_regularizer(ops.cast(selection, "float32")),
                "float32",
            )
            batch_size = ops.cast(ops.shape(selection)[0], "float32")
            self.add_loss(ops.divide_no_nan(penalty, batch_size))
        output = self.read(selection)
        if not self.return_selection:
            return output
        if self.top_k is not None:
            # The selection that was used: renormalised, zero off the top k.
            weights, indices = top_k_weights(selection, self.top_k)
            selection = dense_selection(weights, indices, self.memory_size)
        return output, selection

    def read(self, selection):
        """Reads the memory with a given selection.

        Args:
            selection: tensor `(batch, ..., memory_size)` of slot weights
                (for example from `compute_selection`).

        Returns:
            The output `(batch, ..., *units)`: `selection · M` after
            `memory_activation`, or with `top_k` the mix of the k selected
            slots only (see `top_k` above).
        """
        if self.top_k is not None:
            return self._sparse_read(selection)
        memory = self.memory_activation(
            ops.cast(self.memory, self.compute_dtype)
        )
        # (batch, ..., k) @ (k, prod(units)) -> (batch, ..., *units): one
        # matmul (cheaper than tensordot's reshapes on TensorFlow).
        units = units_shape(self.units)
        if len(units) > 1:
            memory = ops.reshape(memory, (self.memory_size, -1))
        output = ops.matmul(selection, memory)
        if len(units) > 1:
            output = reshape_last_axis(output, selection, units)
        return output

    def _sparse_read(self, selection):
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
        check_min_rank(input_shape, 2, "inputs", type(self).__name__)
        batch = tuple(input_shape[:-1])
        output_shape = batch + units_shape(self.units)
        if self.return_selection:
            return output_shape, batch + (self.memory_size,)
        return output_shape

    def _check_built(self, method):
        if not self.built:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': build the layer (call "
                f"it once) before `{method}`."
            )

    def set_memory_from_samples(self, samples, slots=None, epsilon=1e-3):
        """Writes memory slots so that they output the given samples.

        Each sample `y` is mapped through the inverse of `memory_activation`
        (for `"sigmoid"`: `log(y / (1 - y))`, with `y` clipped to
        `[epsilon, 1 - epsilon]` so that pixels at exactly 0 or 1 stay
        finite), so that `memory_activation(M[slot])` reproduces the sample up
        to that clipping. Known inverses: sigmoid, tanh, softplus, linear and
        relu (which keeps the non-negative part).

        Args:
            samples: array of shape `(n, *units)`.
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
        name = type(self).__name__
        self._check_built("set_memory_from_samples")
        activation_name = _invertible_activation(
            self.memory_activation, f"{name}.set_memory_from_samples"
        )
        if not epsilon > 0:
            raise ValueError(
                f"{name}.set_memory_from_samples: `epsilon` must be > 0, "
                f"got {epsilon}."
            )
        samples = np.asarray(keras.ops.convert_to_numpy(samples), "float64")
        expected = units_shape(self.units)
        if samples.ndim != len(expected) + 1 or samples.shape[1:] != expected:
            raise ValueError(
                f"{name}.set_memory_from_samples: `samples` must have shape "
                f"(n, {', '.join(map(str, expected))}), got {samples.shape}."
            )
        _check_target_range(
            samples, activation_name, f"{name}.set_memory_from_samples"
        )
        n = samples.shape[0]
        if slots is None:
            if n > self.memory_size:
                raise ValueError(
                    f"{name}.set_memory_from_samples: got {n} samples for "
                    f"memory_size={self.memory_size}; pass at most "
                    "memory_size samples, or `slots`."
                )
            slots = np.arange(n)
        slots = np.asarray(slots, dtype="int64").reshape(-1)
        if len(slots) != n or len(np.unique(slots)) != n:
            raise ValueError(
                f"{name}.set_memory_from_samples: `slots` must hold {n} "
                f"distinct indices (one per sample), got {slots.tolist()}."
            )
        if n and (slots.min() < 0 or slots.max() >= self.memory_size):
            raise ValueError(
                f"{name}.set_memory_from_samples: `slots` must lie in "
                f"[0, {self.memory_size}), got {slots.tolist()}."
            )
        memory = np.array(keras.ops.convert_to_numpy(self.memory))
        memory[slots] = _INVERSES[activation_name](samples, epsilon)
        self.memory.assign(memory.astype(memory.dtype))
        return slots

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
        are initialised. The memory then starts from the best any hard
        `memory_size`-slot memory can do on these targets (up to k-means'
        local optimum), and `result.mse` is that memory's mean squared error,
        a floor to compare the trained memory output with. The selector is
        left as it is: it learns which slot fits which input.

        Args:
            targets: array `(n, *units)` in the range of `memory_activation`,
                with `n >= memory_size` (a random subset of the training
                targets is enough).
            seed: optional int. Seed of the k-means++ draws.
            max_iterations: int. Most Lloyd iterations per restart.
            restarts: int. Independent seedings; the best one is kept.
            epsilon: float. Clipping margin of the activation's inverse.

        Returns:
            A `KMeansResult(centroids, assignments, mse, iterations)` (numpy
            centroids of shape `(memory_size, *units)`, each target's
            centroid index, the mean squared error of the targets to their
            centroids, and the iterations run).

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
        name = type(self).__name__
        owner = f"{name}.set_memory_from_kmeans"
        self._check_built("set_memory_from_kmeans")
        targets = np.asarray(keras.ops.convert_to_numpy(targets), "float64")
        expected = units_shape(self.units)
        if targets.ndim != len(expected) + 1 or targets.shape[1:] != expected:
            raise ValueError(
                f"{owner}: `targets` must have shape "
                f"(n, {', '.join(map(str, expected))}), got {targets.shape}."
            )
        if len(targets) < self.memory_size:
            raise ValueError(
                f"{owner}: needs at least memory_size={self.memory_size} "
                f"targets, got {len(targets)}."
            )
        # Checked before clustering, so that bad targets fail at once.
        activation_name = _invertible_activation(self.memory_activation, owner)
        _check_target_range(targets, activation_name, owner)
        result = kmeans(
            targets,
            self.memory_size,
            seed=seed,
            max_iterations=positive_int(
                max_iterations, "max_iterations", owner
            ),
            restarts=positive_int(restarts, "restarts", owner),
        )
        self.set_memory_from_samples(result.centroids, epsilon=epsilon)
        return result

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

        Slot surgery, as vector-quantisation codebooks restart unused codes
        (see `keras_memnets.callbacks.RestartDeadSlots`, which calls this for
        the slots it finds dead). On `inputs`, the slot that wins most rows
        (argmax of the selection) is split in two, once per slot in `slots`:

        - the slot's selector logit (kernel column and bias of the selector's
          last `Dense`) becomes a copy of the busiest slot's, both lowered by
          `log 2` so that the pair shares the busiest slot's probability,
          then pulled apart so that a randomly chosen row of the busiest
          slot prefers the restarted slot by a logit margin of `split` and
          the busiest slot's rows divide about evenly (the numpy function
          `keras_memnets.utils.slots.split_slots`);
        - if `targets` are given, the slot's memory row is written from the
          chosen row's target (`set_memory_from_samples`), so the restarted
          slot outputs a sample of the data it now wins.

        Args:
            slots: sequence of slot indices to restart.
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
        name = type(self).__name__
        owner = f"{name}.reset_slots"
        self._check_built("reset_slots")
        slots = np.asarray(slots, dtype="int64").reshape(-1)
        if len(np.unique(slots)) != len(slots) or (
            len(slots) and (slots.min() < 0 or slots.max() >= self.memory_size)
        ):
            raise ValueError(
                f"{owner}: `slots` must be distinct indices in "
                f"[0, {self.memory_size}), got {slots.tolist()}."
            )
        split = number_in_range(split, "split", owner, low=0.0)
        batch_size = positive_int(batch_size, "batch_size", owner)
        inputs = np.asarray(keras.ops.convert_to_numpy(inputs))
        if inputs.ndim != 2 or len(inputs) == 0:
            raise ValueError(
                f"{owner}: `inputs` must have shape (n, features) with n >= 1, "
                f"got {inputs.shape}."
            )
        if targets is not None:
            targets = np.asarray(keras.ops.convert_to_numpy(targets), "float64")
            if len(targets) != len(inputs):
                raise ValueError(
                    f"{owner}: `inputs` and `targets` must have the same "
                    f"number of rows, got {len(inputs)} and {len(targets)}."
                )
            expected = units_shape(self.units)
            if targets.shape[1:] != expected:
                raise ValueError(
                    f"{owner}: `targets` must have shape "
                    f"(n, {', '.join(map(str, expected))}), got "
                    f"{targets.shape}."
                )
            # Checked before any weight changes.
            activation_name = _invertible_activation(
                self.memory_activation, owner
            )
            _check_target_range(targets, activation_name, owner)
        dense = self.selector.output_dense
        hidden, winners = [], []
        for start in range(0, len(inputs), batch_size):
            h = self.selector.hidden(inputs[start : start + batch_size])
            logits = dense(h)
            h = keras.ops.convert_to_numpy(h)
            logits = keras.ops.convert_to_numpy(logits)
            hidden.append(h)
            winners.append(logits.argmax(-1))
        kernel, bias, records = split_slots(
            keras.ops.convert_to_numpy(dense.kernel),
            keras.ops.convert_to_numpy(dense.bias) if dense.use_bias else None,
            np.concatenate(hidden),
            np.concatenate(winners),
            slots,
            split=split,
            rng=seed,
        )
        if not records:
            return []
        dense.kernel.assign(kernel.astype(dense.kernel.dtype))
        if bias is not None:
            dense.bias.assign(bias.astype(dense.bias.dtype))
        if targets is not None:
            self.set_memory_from_samples(
                targets[[r["row"] for r in records]],
                slots=[r["slot"] for r in records],
                epsilon=epsilon,
            )
        return records

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "memory_size": self.memory_size,
                "hidden_units": self.hidden_units,
                "activation": activations.serialize(self.activation),
                "memory_activation": activations.serialize(
                    self.memory_activation
                ),
                "return_selection": self.return_selection,
                "selection_regularizer": regularizers.serialize(
                    self.selection_regularizer
                ),
                "memory_initializer": initializers.serialize(
                    self.memory_initializer
                ),
                "memory_regularizer": regularizers.serialize(
                    self.memory_regularizer
                ),
                "kernel_initializer": initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": initializers.serialize(
                    self.bias_initializer
                ),
                "kernel_regularizer": regularizers.serialize(
                    self.kernel_regularizer
                ),
                "bias_regularizer": regularizers.serialize(
                    self.bias_regularizer
                ),
                "top_k": self.top_k,
            }
        )
        return config
