"""MemoryInformedLayer: candidate outputs mixed by a memory selection."""

import math
import string

import keras
from keras import initializers
from keras import ops
from keras import regularizers

from keras_memnets.api_export import register
from keras_memnets.layers.approximator import ApproximatorLayer
from keras_memnets.layers.routing import capacity
from keras_memnets.layers.routing import dispatch
from keras_memnets.layers.routing import top_k_weights
from keras_memnets.layers.routing import validate_top_k
from keras_memnets.utils.config import serialize_nested
from keras_memnets.utils.shapes import check_input_shape
from keras_memnets.utils.shapes import reshape_last_axis
from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.shapes import units_shape
from keras_memnets.utils.shapes import unless_empty
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int


@register
class MemoryInformedLayer(keras.layers.Layer):
    """One candidate output per memory slot, mixed by the memory's selection.

    An approximator maps the input to `memory_size` candidate outputs,
    `C = output_activation(A(x))` with `A` an approximator
    `[hidden_units, (memory_size, *units)]`, and the selection of a
    `MemoryLayer` mixes them: `output = Σ_k selection[..., k] · C[..., k, :]`.
    With a sharp selection this picks one specialised approximator per
    partition of the data.

    Args:
        units: int or tuple of ints. Per-sample output shape.
        memory_size: int. Number of candidates; must equal the selection's
            width.
        hidden_units: int. Hidden width of the candidate approximator.
            Defaults to 512.
        activation: str or callable. Its hidden activation. Defaults to
            `"relu"`.
        output_activation: str, callable or `None`. Applied to the
            candidates before they are mixed. Defaults to `"sigmoid"`.
        kernel_initializer: initializer of the approximator's kernels.
            Defaults to `"glorot_uniform"`.
        bias_initializer: initializer of its biases. Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer of its kernels.
        bias_regularizer: optional regularizer of its biases.
        top_k: `None` or int in `[1, memory_size]`. `None` computes all
            `memory_size` candidates and mixes them. With `top_k=k` each
            sample uses only its `k` most selected slots, with the selection
            renormalised over them (the normaliser held constant in the
            backward pass, as in `MemoryLayer`), and only those candidates
            are computed: the (sample, slot) pairs are grouped by slot into
            a buffer of `C` rows per slot, as mixture-of-experts layers
            dispatch tokens to experts. The weights are the same as for
            `top_k=None`, so a trained layer can switch. Defaults to `None`.
        capacity_factor: `None` or float > 0. With `top_k`, each slot takes
            `C = min(batch, ceil(capacity_factor * batch * k / memory_size))`
            rows (batch = samples in the call): first choices before second
            choices, then in batch order. Pairs beyond `C` are dropped (they
            add nothing, and nothing is added to the losses for them, so
            watch a concentrated selection with
            `keras_memnets.metrics.SelectionPerplexity`). `None` sets
            `C = batch`, which never drops a pair. Outputs depend on the
            other samples of the batch only through dropped pairs. Defaults
            to 2.0.
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
        The guide *Memory networks* on the docs site
        (https://keras-memnets.readthedocs.io/). Fedus et al., "Switch
        Transformers", JMLR 2022 (`top_k` and `capacity_factor`).
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
        top_k=None,
        capacity_factor=2.0,
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
        self.top_k = validate_top_k(top_k, self.memory_size, name)
        if capacity_factor is not None:
            capacity_factor = number_in_range(
                capacity_factor,
                "capacity_factor",
                name,
                low=0.0,
                low_inclusive=False,
            )
        self.capacity_factor = capacity_factor
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

    def _check_inputs(self, input_shape):
        """Returns `(x_shape, selection_shape)` if they fit, else raises."""
        name = type(self).__name__
        if not (
            isinstance(input_shape, (list, tuple))
            and len(input_shape) == 2
            and all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"{name}: `inputs` must be a list `[x, selection]` of two "
                f"tensors, got input shape {input_shape}."
            )
        x_shape, selection_shape = (tuple(s) for s in input_shape)
        features = (
            self.candidates.hidden.kernel.shape[0] if self.built else None
        )
        check_input_shape(x_shape, name, "x", size=features)
        check_input_shape(selection_shape, name, "selection")
        if selection_shape[-1] != self.memory_size:
            raise ValueError(
                f"{name}: `selection` must have last axis memory_size="
                f"{self.memory_size}, got shape {selection_shape}."
            )
        if len(selection_shape) != len(x_shape):
            raise ValueError(
                f"{name}: `x` {x_shape} and `selection` {selection_shape} must "
                "have the same rank (the same batch axes)."
            )
        if not all(
            a is None or b is None or a == b
            for a, b in zip(x_shape[:-1], selection_shape[:-1])
        ):
            raise ValueError(
                f"{name}: `x` {x_shape} and `selection` {selection_shape} must "
                "have the same batch axes (one selection row per input row)."
            )
        return x_shape, selection_shape

    def build(self, input_shape):
        x_shape, _ = self._check_inputs(input_shape)
        self.candidates.build(x_shape)
        # "bz,bzo->bo" for (batch, features) inputs and units of rank 1;
        # explicit letters rather than "..." keep TensorFlow on its fastest
        # einsum path.
        batch = string.ascii_lowercase[: len(x_shape) - 1]
        units = string.ascii_uppercase[: len(units_shape(self.units))]
        self._equation = f"{batch}z,{batch}z{units}->{batch}{units}"

    def call(self, inputs):
        x, selection = inputs
        self._check_inputs([tuple(x.shape), tuple(selection.shape)])
        if self.top_k is not None:
            # Dispatch gathers from the batch: an empty one gives zeros.
            return unless_empty(
                x,
                lambda: self._sparse_call(x, selection),
                lambda: ops.zeros(
                    tuple(ops.shape(x)[:-1]) + units_shape(self.units),
                    self.compute_dtype,
                ),
            )
        candidates = self.candidates(x)
        selection = ops.cast(selection, candidates.dtype)
        return ops.einsum(self._equation, selection, candidates)

    def _sparse_call(self, x, selection):
        features = x.shape[-1]
        flat_x = ops.reshape(x, (-1, features))
        selection = ops.reshape(selection, (-1, self.memory_size))
        weights, indices = top_k_weights(selection, self.top_k)
        num_samples = flat_x.shape[0]
        if num_samples is None:
            num_samples = ops.shape(flat_x)[0]
        rows = capacity(
            num_samples, self.top_k, self.memory_size, self.capacity_factor
        )
        buffer_sample, pair_row, kept = dispatch(
            indices, self.memory_size, rows
        )
        hidden = self.candidates.hidden(flat_x)
        dense = self.candidates.output_dense
        size = math.prod(units_shape(self.units))
        # The output kernel (hidden, memory_size * size) viewed per slot.
        kernel = ops.reshape(
            ops.cast(dense.kernel, self.compute_dtype),
            (self.hidden_units, self.memory_size, size),
        )
        inputs = ops.reshape(
            ops.take(hidden, buffer_sample, axis=0),
            (self.memory_size, -1, self.hidden_units),
        )
        outputs = ops.einsum("nch,hnu->ncu", inputs, kernel)
        if dense.use_bias:
            bias = ops.cast(dense.bias, self.compute_dtype)
            outputs = outputs + ops.reshape(bias, (self.memory_size, 1, size))
        outputs = self.output_activation(outputs)
        outputs = ops.reshape(outputs, (-1, size))
        picked = ops.take(outputs, ops.reshape(pair_row, (-1,)), axis=0)
        picked = ops.reshape(picked, (-1, self.top_k, size))
        weights = weights * ops.cast(kept, weights.dtype)
        output = ops.sum(ops.expand_dims(weights, -1) * picked, axis=1)
        return reshape_last_axis(output, x, units_shape(self.units))

    def compute_output_shape(self, input_shape):
        x_shape, _ = self._check_inputs(input_shape)
        return x_shape[:-1] + units_shape(self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "memory_size": self.memory_size,
                "hidden_units": self.hidden_units,
                **serialize_nested(
                    self,
                    activations=["activation", "output_activation"],
                    initializers=["kernel_initializer", "bias_initializer"],
                    regularizers=["kernel_regularizer", "bias_regularizer"],
                ),
                "top_k": self.top_k,
                "capacity_factor": self.capacity_factor,
            }
        )
        return config
