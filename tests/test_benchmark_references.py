"""The PyTorch reference of `benchmarks/pkm_scale.py` is the same layer as
keras_memnets' ProductKeyMemory: same weights, same outputs."""

import keras
import numpy as np
import pytest

import keras_memnets

torch = pytest.importorskip("torch")


def test_pkm_torch_reference_computes_product_key_memory():
    from benchmarks.reference import pkm_torch

    config = dict(num_keys=8, value_dim=5, heads=3, top_k=4, key_dim=6)
    layer = keras_memnets.layers.ProductKeyMemory(**config)
    x = np.random.default_rng(0).standard_normal((16, 7)).astype("float32")
    expected = keras.ops.convert_to_numpy(layer(x, training=True))
    reference = pkm_torch.ProductKeyMemory(input_dim=7, **config)

    def weight(name):
        (variable,) = [w for w in layer.weights if w.path.endswith(name)]
        return torch.from_numpy(keras.ops.convert_to_numpy(variable).copy())

    with torch.no_grad():
        reference.query.weight.copy_(weight("query/kernel").T)
        reference.query_norm.weight.copy_(weight("query_norm/gamma"))
        reference.query_norm.bias.copy_(weight("query_norm/beta"))
        reference.keys.copy_(weight("keys"))
        reference.values.weight.copy_(weight("values"))
        got = reference.train()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
