"""keras_memnets.utils.shapes: input checks and the empty-batch guard."""

import keras
import numpy as np
import pytest

from keras_memnets.utils.shapes import check_input_shape
from keras_memnets.utils.shapes import unless_empty


@pytest.mark.parametrize(
    "shape,kwargs,match",
    [
        ((6,), {}, r"Owner: `inputs` must have rank >= 2 \(batch, \.\.\., "),
        ((2, 3, 4), {"ranks": (2, 4)}, r"`inputs` must have rank 2 or 4"),
        ((2, None), {}, r"`inputs` must have a known last axis"),
        ((2, 5), {"size": 6}, r"`inputs` must have last axis 6, .* got 5"),
        ((2, 5, 3, 3), {"axis": 1, "size": 4}, r"must have axis 1 4, .*got 5"),
    ],
)
def test_bad_shapes_name_owner_argument_and_shape(shape, kwargs, match):
    with pytest.raises(ValueError, match=match) as error:
        check_input_shape(shape, "Owner", **kwargs)
    assert str(shape) in str(error.value)


def test_good_shapes_pass():
    check_input_shape((None, 6), "Owner", size=6)
    check_input_shape((2, 3, 3, 4), "Owner", ranks=(2, 4), axis=-1)
    check_input_shape((None, 4, None, None), "Owner", ranks=(4,), axis=1)


@pytest.mark.parametrize("rows", [0, 3])
def test_unless_empty_picks_the_branch_by_rows(rows):
    x = keras.ops.ones((rows, 2))

    def compute():
        return keras.ops.max(x, axis=0)  # no identity for an empty axis

    result = unless_empty(x, compute, lambda: keras.ops.zeros((2,)))
    expected = np.zeros(2) if rows == 0 else np.ones(2)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(result), expected)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="only a TensorFlow graph has an unknown batch size at run time",
)
def test_unless_empty_in_a_graph_with_unknown_batch_size():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((None, 2), "float32")])
    def reduce(x):
        return unless_empty(
            x,
            lambda: keras.ops.max(x, axis=0),
            lambda: keras.ops.zeros((2,)),
        )

    np.testing.assert_array_equal(reduce(tf.zeros((0, 2))).numpy(), [0, 0])
    np.testing.assert_array_equal(reduce(tf.ones((3, 2))).numpy(), [1, 1])
