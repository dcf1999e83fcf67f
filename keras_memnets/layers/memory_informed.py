"""MemoryInformedLayer: candidate outputs mixed by a memory selection."""

import string

import keras
from keras import activations
from keras import initializers
from keras import ops
from keras import regularizers

from keras_memnets.api_export import register
from keras_memnets.layers.approximator import ApproximatorLayer
from keras_memnets.utils.shapes import check_min_rank
from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.shapes import units_shape
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import positive_int


@register
class MemoryInformedLayer(keras.layers.Layer):
    """One candidate output per memory slot, mixed by the memory's selection.

    The research notes' "memory-informed" subnet. An approximator maps the
    input to `memory_size` candidate outputs,
    `C = output_activation(Approximator[hidden_units, (memory_size, *units)](x))`,
    and the selection of a `MemoryLayer` mixes them:
    `output = Σ_k selection[..., k] · C[..., k, :]`, computed as one einsum.
    With a sharp selection this picks one specialised approximator per
    partition of the data ("the class vector selects which approximator to
    use").

    Args:
        units: int or tuple of ints. Per-sample output shape.
        memory_size: int. Number of candidates; must equal the selection's
            width.
        hidden_units: int. Hidden width of the candidate approximator (512,
            the notes' value, by default).
        activation: str or callable. Its hidden activation.
        output_activation: str, callable or `None`. Applied to the
            candidates before they are mixed.
        kernel_initializer: initializer of the approximator's kernels.
        bias_initializer: initializer of its biases.
        kernel_regularizer: optional regularizer of its kernels.
        bias_regularizer: optional regularizer of its biases.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list `[x, selection]`: `x` of shape `(batch, ..., features)`
            and `selection` of shape `(batch, ..., memory_size)` (typically
            the second output of a `MemoryLayer` with
            `return_selection=True`).

    Returns:
        A tensor of shape `(batch, ..., *units)`.

    Input shape:
        `[(batch, ..., features), (batch, ..., memory_size)]`.

    Output shape:
        `(batch, ..., *units)`.

    Example:

    >>> memory = keras_memnets.layers.MemoryLayer(
    ...     784, memory_size=10, hidden_units=64, return_selection=True)
    >>> informed = keras_memnets.layers.MemoryInformedLayer(
    ...     784, memory_size=10, hidden_units=64)
    >>> x = np.zeros((2, 6))
    >>> _, selection = memory(x)
    >>> tuple(informed([x, selection]).shape)
    (2, 784)

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
        output_activation="sigmoid",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.units = standardize_units(units, "units", name)
        self.memory_size = positive_int(memory_size, "memory_size", name)
        self.hidden_units = positive_int(hidden_units, "hidden_units", name)
        self.activation = get_activation(activation, "activation", name)
        self.output_activation = get_activation(
            output_activation, "output_activation", name
        )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.candidates = ApproximatorLayer(
            (self.memory_size,) + units_shape(self.units),
            hidden_units=self.hidden_units,
            activation=self.activation,
            output_activation=self.output_activation,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            dtype=self.dtype_policy,
            name="candidates",
        )

    def _split_shapes(self, input_shape):
        name = type(self).__name__
        if not (
            isinstance(input_shape, (list, tuple))
            and len(input_shape) == 2
            and all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"{name}: expected inputs `[x, selection]` (two tensors), got "
                f"input shape {input_shape}."
            )
        x_shape, selection_shape = (tuple(s) for s in input_shape)
        check_min_rank(x_shape, 2, "x", name)
        check_min_rank(selection_shape, 2, "selection", name)
        if selection_shape[-1] != self.memory_size:
            raise ValueError(
                f"{name}: `selection` must have width memory_size="
                f"{self.memory_size} on its last axis, got shape "
                f"{selection_shape}."
            )
        if len(selection_shape) != len(x_shape):
            raise ValueError(
                f"{name}: `x` {x_shape} and `selection` {selection_shape} must "
                "have the same rank (the same batch axes)."
            )
        return x_shape, selection_shape

    def build(self, input_shape):
        x_shape, _ = self._split_shapes(input_shape)
        self.candidates.build(x_shape)
        # "bz,bzo->bo" for (batch, features) inputs and units of rank 1;
        # explicit letters rather than "..." keep TensorFlow on its fastest
        # einsum path.
        batch = string.ascii_lowercase[: len(x_shape) - 1]
        units = string.ascii_uppercase[: len(units_shape(self.units))]
        self._equation = f"{batch}z,{batch}z{units}->{batch}{units}"

    def call(self, inputs):
        x, selection = inputs
        candidates = self.candidates(x)
        selection = ops.cast(selection, candidates.dtype)
        return ops.einsum(self._equation, selection, candidates)

    def compute_output_shape(self, input_shape):
        x_shape, _ = self._split_shapes(input_shape)
        return x_shape[:-1] + units_shape(self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "memory_size": self.memory_size,
                "hidden_units": self.hidden_units,
                "activation": activations.serialize(self.activation),
                "output_activation": activations.serialize(
                    self.output_activation
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
