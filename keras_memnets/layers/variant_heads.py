"""K variant heads on a shared input, computed as batched einsums."""

import math

import keras
from keras import ops

from keras_memnets.api_export import register
from keras_memnets.utils.config import serialize_nested
from keras_memnets.utils.shapes import check_input_shape
from keras_memnets.utils.shapes import standardize_units
from keras_memnets.utils.shapes import units_shape
from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import one_of
from keras_memnets.utils.validation import positive_int

IMPLEMENTATIONS = ("auto", "batched", "per_head")


def resolve_implementation(implementation, backend=None):
    """The implementation `"auto"` stands for on `backend`.

    TensorFlow's batched matmul on CPU, which its einsum lowers to, is
    slower than K plain matmuls, so TensorFlow computes the heads one by
    one; JAX and PyTorch compute them batched.
    """
    if implementation != "auto":
        return implementation
    backend = backend or keras.config.backend()
    return "per_head" if backend == "tensorflow" else "batched"


def _per_head_initializer(initializer, num_heads):
    """Wraps `initializer` so each of `num_heads` slices is drawn on its own.

    A Keras variance-scaling initializer given the full shape
    `(K, fan_in, fan_out)` would count K into both fans and draw values
    sqrt(K) times too small. Here every head is drawn with the shape of one
    head, `(fan_in, fan_out)`, as a `Dense` layer of that size would be. A
    random initializer seeded with the integer `s` (its own default seed when
    unseeded) draws head k with seed `s + k`, so heads differ and the result
    is reproducible.
    """
    seed = getattr(initializer, "seed", None)

    def init(shape, dtype=None):
        head_shape = tuple(shape[1:])
        values = []
        for k in range(num_heads):
            if isinstance(seed, int):
                config = initializer.get_config()
                config["seed"] = seed + k
                head_init = type(initializer).from_config(config)
            else:
                head_init = initializer
            values.append(head_init(head_shape, dtype=dtype))
        return ops.stack(values, axis=0)

    return init


@register
class VariantHeads(keras.layers.Layer):
    """K independent two-layer heads on one shared input, computed batched.

    Each head k is a small MLP `output_activation(activation(x @ W1[k] +
    b1[k]) @ W2[k] + b2[k])`. All K heads are computed together with one
    einsum per stage on stacked weights of shapes `(K, features,
    hidden_units)` and `(K, hidden_units, prod(units))`, instead of K
    separate `Dense` calls. The output has a variant axis after the batch
    axis, as `keras_memnets.losses.SetMinLoss` expects.

    With `hidden_units=None` every head is a single affine map
    `output_activation(x @ W[k] + b[k])`.

    Two implementations compute the same function from the same weights:
    `"batched"` (one einsum per stage) and `"per_head"` (the stacked
    weights unstacked, then one plain matmul per head, as K `Dense` layers
    would do). `implementation="auto"` picks `"per_head"` on TensorFlow and
    `"batched"` on JAX and PyTorch, the faster one on each. The weights do
    not depend on the choice, so a saved model loads on any backend.

    Each head's kernel is initialized as a `Dense` kernel of one head's
    shape would be (the fans of a variance-scaling initializer do not count
    K); a random initializer with seed `s` draws head k with seed `s + k`.

    Args:
        units: int or tuple of ints. Per-head output shape; a tuple gives
            outputs of shape `(batch, K, *units)`.
        num_variants: int. Number of heads K, `>= 1`.
        hidden_units: int or `None`. Width of each head's hidden layer;
            `None` for heads without a hidden layer. Defaults to 512.
        activation: str or callable. Activation of the hidden layer.
            Defaults to `"relu"`.
        output_activation: str, callable or `None`. Activation of the
            outputs (e.g. `"sigmoid"` for pixels in [0, 1]). Defaults to
            `None` (linear).
        use_bias: bool. Whether the heads add biases. Defaults to `True`.
        kernel_initializer: initializer for the kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer for the biases. Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer for the kernels.
        bias_regularizer: optional regularizer for the biases.
        implementation: `"auto"`, `"batched"` or `"per_head"`. How the
            heads are computed (the result is the same). Defaults to
            `"auto"`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, features)`.

    Returns:
        Tensor of shape `(batch, num_variants, *units)`.

    Input shape:
        `(batch, features)`.

    Output shape:
        `(batch, num_variants, *units)`.

    Example:

    >>> heads = keras_memnets.layers.VariantHeads(
    ...     784, num_variants=5, hidden_units=512,
    ...     output_activation="sigmoid")
    >>> tuple(heads(np.zeros((2, 10), "float32")).shape)
    (2, 5, 784)

    Reference:
        The guide *Set-min random loss and K-variant networks* on the docs
        site (https://keras-memnets.readthedocs.io/).
    """

    def __init__(
        self,
        units,
        num_variants,
        hidden_units=512,
        activation="relu",
        output_activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        implementation="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.implementation = one_of(
            implementation, "implementation", "VariantHeads", IMPLEMENTATIONS
        )
        # Resolved once: the backend does not change under a layer.
        self._per_head = resolve_implementation(implementation) == "per_head"
        self.units = standardize_units(units, "units", "VariantHeads")
        self.num_variants = positive_int(
            num_variants, "num_variants", "VariantHeads"
        )
        if hidden_units is not None:
            hidden_units = positive_int(
                hidden_units, "hidden_units", "VariantHeads"
            )
        self.hidden_units = hidden_units
        self.activation = get_activation(
            activation, "activation", "VariantHeads"
        )
        self.output_activation = get_activation(
            output_activation, "output_activation", "VariantHeads"
        )
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self._units_shape = units_shape(self.units)
        self._flat_units = math.prod(self._units_shape)

    def _check_inputs(self, shape):
        features = None
        if self.built:
            kernel = self.hidden_kernel
            if kernel is None:
                kernel = self.output_kernel
            features = kernel.shape[1]
        check_input_shape(
            shape,
            "VariantHeads",
            ranks=(2,),
            layout="(batch, features)",
            size=features,
        )

    def _add_stage(self, name, fan_in, fan_out):
        kernel = self.add_weight(
            name=f"{name}_kernel",
            shape=(self.num_variants, fan_in, fan_out),
            initializer=_per_head_initializer(
                self.kernel_initializer, self.num_variants
            ),
            regularizer=self.kernel_regularizer,
        )
        bias = None
        if self.use_bias:
            bias = self.add_weight(
                name=f"{name}_bias",
                shape=(self.num_variants, fan_out),
                initializer=_per_head_initializer(
                    self.bias_initializer, self.num_variants
                ),
                regularizer=self.bias_regularizer,
            )
        return kernel, bias

    def build(self, input_shape):
        self._check_inputs(input_shape)
        features = int(input_shape[-1])
        if self.hidden_units is None:
            self.hidden_kernel = self.hidden_bias = None
            self.output_kernel, self.output_bias = self._add_stage(
                "output", features, self._flat_units
            )
        else:
            self.hidden_kernel, self.hidden_bias = self._add_stage(
                "hidden", features, self.hidden_units
            )
            self.output_kernel, self.output_bias = self._add_stage(
                "output", self.hidden_units, self._flat_units
            )

    def _call_per_head(self, inputs):
        # Unstacking (whose gradient is one stack) rather than slicing
        # `kernel[k]` (whose gradient is K full-size scatters).
        def unstack(weight):
            if weight is None:
                return [None] * self.num_variants
            return ops.unstack(ops.convert_to_tensor(weight), axis=0)

        stages = []
        if self.hidden_kernel is not None:
            stages.append(
                (unstack(self.hidden_kernel), unstack(self.hidden_bias), True)
            )
        stages.append(
            (unstack(self.output_kernel), unstack(self.output_bias), False)
        )
        outputs = []
        for k in range(self.num_variants):
            h = inputs
            for kernels, biases, hidden in stages:
                h = ops.matmul(h, kernels[k])
                if biases[k] is not None:
                    h = h + biases[k]
                if hidden:
                    h = self.activation(h)
            outputs.append(h)
        return ops.stack(outputs, axis=1)

    def _call_batched(self, inputs):
        if self.hidden_kernel is None:
            # (batch, features) x (K, features, units) -> (batch, K, units)
            outputs = ops.einsum("bi,kio->bko", inputs, self.output_kernel)
        else:
            hidden = ops.einsum("bi,kih->bkh", inputs, self.hidden_kernel)
            if self.hidden_bias is not None:
                hidden = hidden + self.hidden_bias
            hidden = self.activation(hidden)
            outputs = ops.einsum("bkh,kho->bko", hidden, self.output_kernel)
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        return outputs

    def call(self, inputs):
        self._check_inputs(inputs.shape)
        if self._per_head:
            outputs = self._call_per_head(inputs)
        else:
            outputs = self._call_batched(inputs)
        outputs = self.output_activation(outputs)
        if len(self._units_shape) > 1:
            outputs = ops.reshape(
                outputs, (-1, self.num_variants, *self._units_shape)
            )
        return outputs

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        return (input_shape[0], self.num_variants, *self._units_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units
                if isinstance(self.units, int)
                else list(self.units),
                "num_variants": self.num_variants,
                "hidden_units": self.hidden_units,
                "use_bias": self.use_bias,
                **serialize_nested(
                    self,
                    activations=["activation", "output_activation"],
                    initializers=["kernel_initializer", "bias_initializer"],
                    regularizers=["kernel_regularizer", "bias_regularizer"],
                ),
                "implementation": self.implementation,
            }
        )
        return config
