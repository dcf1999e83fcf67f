"""A plain ReLU multilayer perceptron, optionally several instances at once."""

import itertools
import math

import keras

from keras_memnets.utils.validation import get_activation
from keras_memnets.utils.validation import positive_int
from keras_memnets.utils.validation import positive_int_list

OWNER = "relu_mlp"


def relu_mlp(
    widths,
    input_dim=1,
    output_dim=1,
    activation="relu",
    instances=None,
    name="relu_mlp",
):
    """Builds an MLP: `Dense` + activation per width, then a linear `Dense`.

    With `widths=[8, 8, 8]` and scalar input and output this is
    `Dense(8) → ReLU → Dense(8) → ReLU → Dense(8) → ReLU → Dense(1)`, 169
    weights. Kernels are Glorot-uniform and biases zero, Keras' `Dense`
    defaults.

    With `instances=k`, the model holds `k` independent copies of that MLP
    computed as one vectorised model (each layer an `EinsumDense` whose
    kernel has shape `(k, fan_in, fan_out)`, initialised Glorot-uniform per
    instance): the input `(batch, input_dim)` goes to every instance and the
    output is `(batch, k, output_dim)`. Trained with a loss summed over the
    instances axis (e.g. `mse` times `k`, or any loss with the default
    mean, since Adam is invariant to a constant gradient scale up to its
    `epsilon`), each instance follows exactly its own full-batch
    trajectory, and one compiled step trains all of them.

    Args:
        widths: list of ints. Hidden layer widths (may be empty).
        input_dim: int. Input size. Defaults to 1.
        output_dim: int. Output size. Defaults to 1.
        activation: str or callable. Hidden activation. Defaults to
            `"relu"`.
        instances: optional int. Number of vectorised instances; `None`
            (default) builds a plain single MLP.
        name: str. The model's name.

    Returns:
        A functional `keras.Model`; hidden layers are named `"hidden_1"`,
        `"hidden_2"`, ... (their activations `"relu_1"`, ...) and the last
        layer `"output"`.

    Example:

    >>> model = keras_memnets.models.relu_mlp([8, 8, 8])
    >>> model.count_params(), model.output_shape
    (169, (None, 1))
    >>> stacked = keras_memnets.models.relu_mlp([8, 8, 8], instances=5)
    >>> stacked.count_params(), stacked.output_shape
    (845, (None, 5, 1))

    Reference:
        The guide *Weight statistics over training* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    widths = positive_int_list(widths, "widths", OWNER, min_length=0)
    input_dim = positive_int(input_dim, "input_dim", OWNER)
    output_dim = positive_int(output_dim, "output_dim", OWNER)
    if instances is not None:
        instances = positive_int(instances, "instances", OWNER)
    get_activation(activation, "activation", OWNER)
    inputs = keras.Input(shape=(input_dim,), name="x")
    sizes = [input_dim] + widths + [output_dim]
    h = inputs
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        last = i == len(sizes) - 2
        layer_name = "output" if last else f"hidden_{i + 1}"
        if instances is None:
            h = keras.layers.Dense(fan_out, name=layer_name)(h)
        else:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            equation = "bi,kio->bko" if i == 0 else "bki,kio->bko"
            h = keras.layers.EinsumDense(
                equation,
                output_shape=(instances, fan_out),
                bias_axes="ko",
                kernel_initializer=keras.initializers.RandomUniform(
                    -limit, limit
                ),
                name=layer_name,
            )(h)
        if not last:
            h = keras.layers.Activation(activation, name=f"relu_{i + 1}")(h)
    return keras.Model(inputs, h, name=name)
