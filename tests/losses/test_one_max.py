import keras
import numpy as np
import pytest

from keras_memnets.losses import OneMaxLoss


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_value_is_mean_of_one_minus_max():
    p = _softmax(np.random.default_rng(0).normal(size=(7, 5))).astype("float32")
    loss = OneMaxLoss()
    expected = np.mean(1 - p.max(-1))
    np.testing.assert_allclose(
        _np(loss(np.zeros_like(p), p)), expected, rtol=1e-6
    )
    np.testing.assert_allclose(_np(loss(None, p)), expected, rtol=1e-6)
    # 0 for unit vectors, 1 - 1/k for uniform rows.
    np.testing.assert_allclose(_np(loss(None, np.eye(4, dtype="float32"))), 0.0)
    np.testing.assert_allclose(
        _np(loss(None, np.full((3, 4), 0.25, "float32"))), 0.75
    )


def test_gradient_matches_finite_differences():
    z = np.random.default_rng(1).normal(size=(4, 5))
    loss = OneMaxLoss()

    def value(logits):
        return float(
            _np(
                loss(
                    None, keras.ops.softmax(keras.ops.convert_to_tensor(logits))
                )
            )
        )

    # Analytic: d(1 - max softmax)/dz_j = -p_m (delta_mj - p_j) / batch.
    p = _softmax(z)
    m = p.argmax(-1)
    analytic = -p[np.arange(4), m][:, None] * (np.eye(5)[m] - p) / 4
    h = 1e-3
    numeric = np.zeros_like(z)
    for i in range(4):
        for j in range(5):
            dz = np.zeros_like(z)
            dz[i, j] = h
            numeric[i, j] = (value(z + dz) - value(z - dz)) / (2 * h)
    np.testing.assert_allclose(numeric, analytic, atol=2e-4)


def test_sample_weight_and_reduction():
    p = np.array([[1.0, 0.0], [0.5, 0.5]], "float32")
    np.testing.assert_allclose(
        _np(OneMaxLoss()(None, p, sample_weight=np.array([0.0, 2.0]))), 0.5
    )
    np.testing.assert_allclose(
        _np(OneMaxLoss(reduction="none")(None, p)), [0.0, 0.5]
    )


def test_trains_a_selection_towards_one_hot():
    inputs = keras.Input((3,))
    selection = keras.layers.Dense(4, activation="softmax")(inputs)
    model = keras.Model(inputs, selection)
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss=OneMaxLoss())
    x = np.random.default_rng(2).normal(size=(32, 3)).astype("float32")
    history = model.fit(x, np.zeros((32, 4)), epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.05


def test_rank_one_input_is_refused_statically():
    # Before: the maximum of the whole vector, as if one row.
    with pytest.raises(ValueError, match=r"OneMaxLoss: `y_pred` must have"):
        OneMaxLoss()(None, np.array([0.5, 0.5], "float32"))


@pytest.mark.parametrize(
    "rows", [[[3.0, 1.0]], [[0.5, 0.2]], [[1.5, -0.5]]], ids=str
)
def test_rows_that_are_not_distributions_raise(rows):
    # Before: 1 - max of [3, 1] was -2, a loss below its minimum of 0.
    with pytest.raises(ValueError, match="OneMaxLoss: `y_pred` must hold"):
        OneMaxLoss()(None, np.array(rows, "float32"))


def test_unnormalised_input_fails_the_compiled_step():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(4)(inputs))  # no softmax
    model.compile("sgd", OneMaxLoss())
    x = np.ones((8, 3), "float32")
    with pytest.raises(Exception, match="OneMaxLoss: `y_pred` must hold"):
        model.fit(x, np.zeros((8, 4)), epochs=1, verbose=0)


def test_nan_rows_give_a_nan_loss_not_an_error():
    p = np.array([[np.nan, 0.5], [1.0, 0.0]], "float32")
    assert np.isnan(float(_np(OneMaxLoss()(None, p))))


def test_batch_of_zero_rows():
    # Before: Keras' max refused the empty batch on TensorFlow and torch.
    value = _np(OneMaxLoss()(None, np.zeros((0, 4), "float32")))
    assert value.size == 0 or float(value) == 0.0
    per = OneMaxLoss(reduction=None)(None, np.zeros((0, 4), "float32"))
    assert tuple(per.shape) == (0,)
