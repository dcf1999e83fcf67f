"""compress_dense, svd_compress_dense and hidden_correlations."""

import keras
import numpy as np
import pytest

from keras_memnets import analysis


def _mlp(seed=0, hidden=16, in_dim=10):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((in_dim,))
    h = keras.layers.Dense(hidden, activation="relu", name="h1")(inputs)
    h = keras.layers.Dense(hidden, activation="tanh", name="h2")(h)
    out = keras.layers.Dense(3, name="out")(h)
    return keras.Model(inputs, out)


def _low_rank_data(n=200, in_dim=10, rank=3, seed=0):
    """Inputs in a `rank`-dimensional affine subspace of R^in_dim."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, in_dim))
    return (rng.standard_normal((n, rank)) @ basis + 0.5).astype("float32")


def test_exact_on_rank_deficient_pre_activations():
    model = _mlp()
    x = _low_rank_data(rank=3)
    before = [w.copy() for w in model.get_weights()]
    small, report = analysis.compress_dense(model, "h1", x, rank=3)
    assert report["rank"] == 3
    np.testing.assert_allclose(report["explained_variance"], 1.0, atol=1e-6)
    assert report["params_before"] == 10 * 16 + 16
    assert report["params_after"] == 10 * 3 + 3 + 3 * 16 + 16
    np.testing.assert_allclose(
        small.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-4
    )
    assert report["output_error"] < 1e-4
    # The original model is untouched.
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # variance=0.999 finds the same rank.
    _, report = analysis.compress_dense(model, "h1", x, variance=0.999)
    assert report["rank"] == 3


def test_pca_matches_numpy_projection_at_lower_rank():
    model = _mlp(seed=1)
    x = np.random.default_rng(2).standard_normal((300, 10)).astype("float32")
    small, report = analysis.compress_dense(model, "h2", x, rank=4)
    h1 = keras.Model(model.inputs, model.get_layer("h1").output)
    a_in = h1.predict(x, verbose=0).astype("float64")
    kernel, bias = model.get_layer("h2").get_weights()
    a = a_in @ kernel + bias
    mu = a.mean(0)
    _, s, vt = np.linalg.svd(a - mu, full_matrices=False)
    v = vt[:4].T
    expected_pre = mu + (a - mu) @ v @ v.T
    block = small.get_layer("h2_compressed")
    got_pre = block.layers[1].kernel.numpy().T  # Vᵀ, sign-free check below
    np.testing.assert_allclose(
        np.abs(got_pre @ got_pre.T), np.abs(v @ v.T), atol=1e-5
    )
    np.testing.assert_allclose(
        report["explained_variance"],
        np.sum(s[:4] ** 2) / np.sum(s**2),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        block.predict(a_in, verbose=0), np.tanh(expected_pre), atol=1e-4
    )


def test_svd_baseline():
    model = _mlp(seed=3)
    x = np.random.default_rng(0).standard_normal((50, 10)).astype("float32")
    _, report = analysis.svd_compress_dense(model, "h1", rank=10, data=x)
    assert report["output_error"] < 1e-4  # full rank is exact
    small, report = analysis.svd_compress_dense(model, "h1", rank=2)
    kernel = model.get_layer("h1").kernel.numpy().astype("float64")
    u, s, vt = np.linalg.svd(kernel, full_matrices=False)
    block = small.get_layer("h1_compressed")
    product = block.layers[0].kernel.numpy() @ block.layers[1].kernel.numpy()
    np.testing.assert_allclose(product, (u[:, :2] * s[:2]) @ vt[:2], atol=1e-5)
    assert report["params_after"] == 10 * 2 + 2 * 16 + 16
    assert report["output_error"] is None


def test_compressed_model_saves_and_loads(tmp_path):
    model = _mlp()
    x = _low_rank_data()
    small, _ = analysis.compress_dense(model, "h2", x, rank=2)
    path = str(tmp_path / "small.keras")
    small.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), small.predict(x, verbose=0), atol=1e-6
    )


def test_sequential_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(2),
        ]
    )
    x = _low_rank_data(rank=2)
    _, report = analysis.compress_dense(model, 0, x, rank=2)
    assert report["output_error"] < 1e-4


def test_hidden_correlations():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((2,))
    h = keras.layers.Dense(4, name="h")(inputs)
    model = keras.Model(inputs, h)
    # Units 0, 1 are x0 and 2 x0 (r = 1), unit 2 is x1, unit 3 constant.
    model.get_layer("h").set_weights(
        [
            np.array([[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]),
            np.array([0, 0, 0, 3.0]),
        ]
    )
    x = np.random.default_rng(0).standard_normal((500, 2)).astype("float32")
    out = analysis.hidden_correlations(model, "h", x, threshold=0.9)
    assert out["pairs_above"] == 1 and out["num_pairs"] == 6
    np.testing.assert_allclose(out["correlation"][0, 1], 1.0, atol=1e-5)
    assert out["constant_units"].tolist() == [3]
    np.testing.assert_allclose(out["correlation"][3], [0, 0, 0, 1])
    np.testing.assert_allclose(
        out["correlation"][:3, :3],
        np.corrcoef((x[:, [0, 0, 1]] * [1, 2, 1]).T),
        atol=1e-5,
    )
    # Two directions carry all the variance.
    np.testing.assert_allclose(out["explained_variance"][1:], 1.0, atol=1e-6)
    assert out["components_for"][0.99] == 2


def test_bad_inputs():
    model = _mlp()
    x = _low_rank_data()
    with pytest.raises(TypeError, match="expected a keras.layers.Dense"):
        analysis.compress_dense(model, model.layers[0], x, rank=1)
    with pytest.raises(ValueError, match="larger than the layer's width 16"):
        analysis.compress_dense(model, "h1", x, rank=17)
    with pytest.raises(ValueError, match="too few for rank 5"):
        analysis.compress_dense(model, "h1", x[:4], rank=5)
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        analysis.compress_dense(model, "h1", bad, rank=2)
    with pytest.raises(ValueError, match="exactly one"):
        analysis.compress_dense(model, "h1", x)
    with pytest.raises(ValueError, match="exactly one"):
        analysis.compress_dense(model, "h1", x, rank=2, variance=0.9)
    with pytest.raises(ValueError, match="no layer named"):
        analysis.compress_dense(model, "nope", x, rank=2)
    with pytest.raises(TypeError, match="positive int"):
        analysis.compress_dense(model, "h1", x, rank=2.0)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        analysis.compress_dense(model, "h1", x, variance=1.5)
    with pytest.raises(ValueError, match="larger than the layer's width"):
        analysis.svd_compress_dense(model, "h1", rank=11)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        analysis.hidden_correlations(model, "h1", x, threshold=0)
    with pytest.raises(TypeError, match="hidden_correlations: `threshold`"):
        analysis.hidden_correlations(model, "h1", x, threshold="high")
    with pytest.raises(TypeError, match="compress_dense: `variance`"):
        analysis.compress_dense(model, "h1", x, variance="most")
    with pytest.raises(ValueError, match="`batch_size`"):
        analysis.compress_dense(model, "h1", x, rank=2, batch_size=0)
