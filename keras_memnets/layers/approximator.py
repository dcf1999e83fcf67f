"""ApproximatorLayer: an activated Dense followed by a Dense, reshaped."""

import math

import keras
from keras import initializers
from keras import regularizers

from keras_memnets.api_export import register
from keras_memnets.utils.config import serialize_nested
from keras_memnets.utils.shapes import check_input_shape
from keras_memnets.utils.shapes import reshape_last_axis
from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.shapes import units_shape
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import positive_int


@register
class ApproximatorLayer(keras.layers.Layer):
    """A two-layer perceptron whose output is reshaped to `units`.

    An activated `Dense(hidden_units)` going into a `Dense(prod(units))`,
    whose output is reshaped to `(..., *units)` and passed through
    `output_activation`. It works on the last axis of any input of rank >= 2,
    like `Dense`.

    Args:
        units: int or tuple of ints. Per-sample output shape.
        hidden_units: int. Width of the hidden `Dense` layer. Defaults to
            512.
        activation: str or callable. Activation of the hidden layer.
            Defaults to `"relu"`.
        output_activation: str, callable or `None`. Activation applied to the
            reshaped output (`None` is linear). Defaults to `None`.
        use_bias: bool. Whether both `Dense` layers use a bias. Defaults to
            `True`.
        kernel_initializer: initializer for both kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer for both biases. Defaults to
            `"zeros"`.
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

    >>> layer = keras_memnets.layers.ApproximatorLayer((10, 4), hidden_units=32)
    >>> tuple(layer(np.zeros((2, 6))).shape)
    (2, 10, 4)

    Reference:
        The guide *Memory networks* on the docs site
        (https://keras-memnets.readthedocs.io/), which maps the research
        notes' names to the library's.
    """

    def __init__(
        self,
        units,
        hidden_units=512,
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
        self.units = standardize_units(units, "units", name)
        self.hidden_units = positive_int(hidden_units, "hidden_units", name)
        self.activation = get_activation(activation, "activation", name)
        self.output_activation = get_activation(
            output_activation, "output_activation", name
        )
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
            self.hidden_units,
            activation=self.activation,
            name="hidden",
            **dense_kwargs,
        )
        self.output_dense = keras.layers.Dense(
            math.prod(units_shape(self.units)), name="output", **dense_kwargs
        )

    def _check_inputs(self, shape):
        features = self.hidden.kernel.shape[0] if self.built else None
        check_input_shape(shape, type(self).__name__, size=features)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.hidden.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.hidden_units,))

    def call(self, inputs):
        self._check_inputs(inputs.shape)
        h = self.output_dense(self.hidden(inputs))
        if not isinstance(self.units, int):
            h = reshape_last_axis(h, inputs, self.units)
        return self.output_activation(h)

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        return tuple(input_shape[:-1]) + units_shape(self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "hidden_units": self.hidden_units,
                "use_bias": self.use_bias,
                **serialize_nested(
                    self,
                    activations=["activation", "output_activation"],
                    initializers=["kernel_initializer", "bias_initializer"],
                    regularizers=["kernel_regularizer", "bias_regularizer"],
                ),
            }
        )
        return config
