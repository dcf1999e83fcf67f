"""ApproximatorLayer: an activated Dense followed by a Dense, reshaped."""

import math

import keras
from keras import activations
from keras import initializers
from keras import ops
from keras import regularizers

from keras_memnets.api_export import register
from keras_memnets.utils.validation import positive_int


def standardize_units(units, argument, layer):
    """Returns `units` as an int or a tuple of positive ints, or raises.

    Args:
        units: int or tuple/list of ints.
        argument: str. The argument's name, for the error message.
        layer: str. The layer's class name, for the error message.

    Returns:
        `units` as an int (when given an int) or a tuple of ints.
    """
    if isinstance(units, bool):
        raise TypeError(
            f"{layer}: `{argument}` must be a positive int or a tuple of "
            f"positive ints, got {units!r}."
        )
    if isinstance(units, int):
        if units <= 0:
            raise ValueError(
                f"{layer}: `{argument}` must be a positive int, got {units}."
            )
        return units
    if isinstance(units, (tuple, list)) and units:
        for u in units:
            if isinstance(u, bool) or not isinstance(u, int):
                raise TypeError(
                    f"{layer}: `{argument}` must be a positive int or a tuple "
                    f"of positive ints, got {units!r}."
                )
            if u <= 0:
                raise ValueError(
                    f"{layer}: every entry of `{argument}` must be positive, "
                    f"got {tuple(units)}."
                )
        return tuple(units)
    raise TypeError(
        f"{layer}: `{argument}` must be a positive int or a non-empty tuple "
        f"of positive ints, got {units!r}."
    )


def units_shape(units):
    """Returns `units` (int or tuple) as a tuple."""
    return (units,) if isinstance(units, int) else tuple(units)


def check_min_rank(input_shape, min_rank, argument, layer):
    if len(input_shape) < min_rank:
        raise ValueError(
            f"{layer}: `{argument}` must have rank >= {min_rank} "
            f"(batch, ..., features), got shape {tuple(input_shape)}."
        )
    if input_shape[-1] is None:
        raise ValueError(
            f"{layer}: the last axis of `{argument}` must be known, got shape "
            f"{tuple(input_shape)}."
        )


@register
class ApproximatorLayer(keras.layers.Layer):
    """A two-layer perceptron whose output is reshaped to `units`.

    The research notes' `ApproximatorLayer[hidden, units]`: an activated
    `Dense(hidden_units)` going into a `Dense(prod(units))`, whose output is
    reshaped to `(..., *units)` and passed through `output_activation`. It
    works on the last axis of any input of rank >= 2, like `Dense`.

    Args:
        hidden_units: int. Width of the hidden `Dense` layer.
        units: int or tuple of ints. Per-sample output shape.
        activation: str or callable. Activation of the hidden layer.
        output_activation: str, callable or `None`. Activation applied to the
            reshaped output (`None` is linear).
        use_bias: bool. Whether both `Dense` layers use a bias.
        kernel_initializer: initializer for both kernels.
        bias_initializer: initializer for both biases.
        kernel_regularizer: optional regularizer for both kernels.
        bias_regularizer: optional regularizer for both biases.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, ..., features)`.

    Returns:
        A tensor of shape `(batch, ..., *units)`.

    Input shape:
        `(batch, ..., features)`, rank >= 2.

    Output shape:
        `(batch, ..., *units)`.

    Example:

    >>> layer = keras_memnets.layers.ApproximatorLayer(32, (10, 4))
    >>> layer(np.zeros((2, 6))).shape
    (2, 10, 4)

    Reference:
        `shared/seeds/000-memory-and-set-min-notes.txt` (second part).
    """

    def __init__(
        self,
        hidden_units,
        units,
        activation="relu",
        output_activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.hidden_units = positive_int(hidden_units, "hidden_units", name)
        self.units = standardize_units(units, "units", name)
        self.activation = activations.get(activation)
        self.output_activation = activations.get(output_activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        dense_kwargs = dict(
            use_bias=use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            dtype=self.dtype_policy,
        )
        self.hidden = keras.layers.Dense(
            self.hidden_units, activation=self.activation, name="hidden",
            **dense_kwargs,
        )
        self.output_dense = keras.layers.Dense(
            math.prod(units_shape(self.units)), name="output", **dense_kwargs
        )

    def build(self, input_shape):
        check_min_rank(input_shape, 2, "inputs", type(self).__name__)
        self.hidden.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.hidden_units,))

    def call(self, inputs):
        h = self.output_dense(self.hidden(inputs))
        if not isinstance(self.units, int):
            inner = tuple(inputs.shape[1:-1])
            if all(d is not None for d in inner):
                # Static shape: no shape ops in the traced graph.
                shape = (-1,) + inner + self.units
            else:
                shape = tuple(ops.shape(inputs)[:-1]) + self.units
            h = ops.reshape(h, shape)
        return self.output_activation(h)

    def compute_output_shape(self, input_shape):
        check_min_rank(input_shape, 2, "inputs", type(self).__name__)
        return tuple(input_shape[:-1]) + units_shape(self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_units": self.hidden_units,
                "units": self.units,
                "activation": activations.serialize(self.activation),
                "output_activation": activations.serialize(
                    self.output_activation
                ),
                "use_bias": self.use_bias,
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
