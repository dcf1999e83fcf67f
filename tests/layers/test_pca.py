import keras
import numpy as np
import pytest

from keras_memnets.layers import PCAReduction


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _data(seed=0, n=200, features=12):
    rng = np.random.default_rng(seed)
    scales = np.linspace(3.0, 0.1, features)
    mixing = np.linalg.qr(rng.normal(size=(features, features)))[0]
    return ((rng.normal(size=(n, features)) * scales) @ mixing + 5.0).astype(
        "float32"
    )


def _numpy_pca(x, units):
    x = x.astype("float64")
    mean = x.mean(0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    variance = s**2 / (len(x) - 1)
    return (
        mean,
        vt[:units].T,
        variance[:units],
        variance[:units] / variance.sum(),
    )


def _assert_equal_up_to_sign(a, b, **kwargs):
    signs = np.sign(np.sum(a * b, axis=0))
    np.testing.assert_allclose(a, b * signs, **kwargs)


def test_matches_numpy_svd_up_to_sign():
    x = _data()
    layer = PCAReduction(4)
    layer.adapt(x, batch_size=37)  # several chunks, merged in float64
    mean, components, variance, ratio = _numpy_pca(x, 4)
    np.testing.assert_allclose(_np(layer.mean), mean, rtol=1e-5)
    _assert_equal_up_to_sign(_np(layer.components), components, atol=1e-5)
    np.testing.assert_allclose(
        _np(layer.explained_variance), variance, rtol=1e-5
    )
    np.testing.assert_allclose(layer.explained_variance_ratio, ratio, rtol=1e-5)
    projected = _np(layer(x))
    _assert_equal_up_to_sign(projected, (x - mean) @ components, atol=1e-4)


def test_whiten_gives_unit_variance_and_inverse_reconstructs():
    x = _data(1)
    layer = PCAReduction(12, whiten=True)
    layer.adapt(x)
    z = _np(layer(x))
    np.testing.assert_allclose(z.var(axis=0, ddof=1), 1.0, rtol=1e-3)
    # All components kept: the inverse is exact.
    np.testing.assert_allclose(_np(layer.inverse(z)), x, rtol=1e-4, atol=1e-4)


def test_inverse_of_truncated_projection_is_the_numpy_reconstruction():
    x = _data(2)
    layer = PCAReduction(3)
    layer.adapt(x)
    mean, components, _, _ = _numpy_pca(x, 3)
    expected = (x - mean) @ components @ components.T + mean
    np.testing.assert_allclose(
        _np(layer.inverse(layer(x))), expected, atol=1e-4
    )


def test_adapt_on_tf_data_equals_adapt_on_array():
    tf = pytest.importorskip("tensorflow")
    x = _data(3)
    from_array = PCAReduction(3)
    from_array.adapt(x)
    from_dataset = PCAReduction(3)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(
        16
    )
    from_dataset.adapt(dataset)
    np.testing.assert_allclose(
        _np(from_dataset.components), _np(from_array.components), atol=1e-5
    )
    np.testing.assert_allclose(
        _np(from_dataset.mean), _np(from_array.mean), rtol=1e-6
    )


def test_not_trainable():
    layer = PCAReduction(2)
    layer.adapt(_data())
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 4


def test_call_before_adapt_is_a_clear_error():
    layer = PCAReduction(2)
    with pytest.raises(ValueError, match=r"PCAReduction.*adapt\(data\)"):
        layer(np.zeros((3, 5), "float32"))
    with pytest.raises(ValueError, match="PCAReduction.*adapt"):
        layer.explained_variance_ratio


def test_units_larger_than_features():
    with pytest.raises(ValueError, match="PCAReduction.*units.*5"):
        PCAReduction(6).adapt(np.zeros((10, 5)))
    with pytest.raises(ValueError, match="PCAReduction.*units.*5"):
        PCAReduction(6).build((None, 5))


@pytest.mark.parametrize(
    "units,error", [(0, ValueError), (-1, ValueError), (2.0, TypeError)]
)
def test_bad_units(units, error):
    with pytest.raises(error, match="PCAReduction.*units"):
        PCAReduction(units)


def test_bad_rank_and_too_few_samples():
    with pytest.raises(ValueError, match="PCAReduction.*rank >= 2"):
        PCAReduction(1).adapt(np.zeros(5))
    with pytest.raises(ValueError, match="PCAReduction.*at least 2"):
        PCAReduction(1).adapt(np.zeros((1, 5)))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_refused(value):
    data = np.random.default_rng(0).normal(size=(50, 4))
    data[37, 2] = value
    layer = PCAReduction(2)
    with pytest.raises(ValueError, match=r"PCAReduction.*NaN or Inf.*row 37"):
        layer.adapt(data, batch_size=16)  # found in the third chunk
    assert not layer.is_adapted


def test_fewer_samples_than_units_plus_one_is_refused():
    data = np.random.default_rng(1).normal(size=(3, 6))
    with pytest.raises(ValueError, match=r"at least 4 samples \(units \+ 1\)"):
        PCAReduction(3).adapt(data)
    PCAReduction(2).adapt(data)  # 3 samples span 2 directions: fine
