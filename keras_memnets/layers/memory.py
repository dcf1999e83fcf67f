"""MemoryLayer: a softmax selection over a learned array of memory slots."""

import keras
import numpy as np
from keras import activations
from keras import initializers
from keras import ops
from keras import regularizers

from keras_memnets.api_export import register
from keras_memnets.layers.approximator import ApproximatorLayer
from keras_memnets.utils.shapes import check_min_rank
from keras_memnets.utils.shapes import reshape_last_axis
from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.shapes import units_shape
from keras_memnets.utils.validation import get_activation
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
        memory = self.memory_activation(ops.cast(self.memory, self.compute_dtype))
        # (batch, ..., k) @ (k, prod(units)) -> (batch, ..., *units): one
        # matmul (cheaper than tensordot's reshapes on TensorFlow).
        units = units_shape(self.units)
        if len(units) > 1:
            memory = ops.reshape(memory, (self.memory_size, -1))
        output = ops.matmul(selection, memory)
        if len(units) > 1:
            output = reshape_last_axis(output, selection, units)
        if self.return_selection:
            return output, selection
        return output

    def compute_output_shape(self, input_shape):
        check_min_rank(input_shape, 2, "inputs", type(self).__name__)
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
            samples: array of shape `(n, *units)`.
            slots: optional sequence of `n` distinct slot indices to write.
                `None` writes slots `0..n-1`, which requires
                `n <= memory_size`.
            epsilon: float. Clipping margin of the inverse, > 0.

        Returns:
            The numpy array of slot indices that were written.
        """
        name = type(self).__name__
        if not self.built:
            raise ValueError(
                f"{name} '{self.name}': build the layer (call it once) before "
                "`set_memory_from_samples`."
            )
        activation_name = activations.serialize(self.memory_activation)
        if not isinstance(activation_name, str):
            activation_name = getattr(self.memory_activation, "__name__", "")
        if activation_name not in _INVERSES:
            raise ValueError(
                f"{name}.set_memory_from_samples: no known inverse for "
                f"memory_activation={activation_name!r}; supported: "
                f"{sorted(_INVERSES)}."
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
            }
        )
        return config
