"""
Title: Compressing a Dense layer by PCA of its activity
Author: keras_memnets developers
Date created: 2026/12/06
Last modified: 2026/12/06
Description: Replace a trained `Dense` layer by a low-rank pair fitted on
data with `analysis.compress_dense`, and compare it with the weight SVD.
"""

"""
## Introduction

When the units of a trained layer are strongly correlated on the inputs of
your task, their activity lives in fewer dimensions than the layer has
units. `keras_memnets.analysis.compress_dense` runs inputs through the
model, takes the principal components of one `Dense` layer's
pre-activations, and returns a new model in which that layer is replaced by
`Dense(k)` followed by `Dense(units)`. `svd_compress_dense` does the same
from the weights alone (the truncated SVD of the kernel), without data.
"""

"""
## Setup
"""

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_memnets

(x_train, y_train), (x_test, y_test) = keras_memnets.datasets.load_mnist(
    normalize=True, flatten=True
)
x_train, y_train = x_train[:4000], y_train[:4000]

"""
## A model to compress

A 784-256-128-10 classifier; we compress its first hidden layer, `hidden_1`
(784 x 256 weights and 256 biases).
"""

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((784,)),
        keras.layers.Dense(256, activation="relu", name="hidden_1"),
        keras.layers.Dense(128, activation="relu", name="hidden_2"),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ]
)
model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(x_train, y_train, batch_size=64, epochs=4, verbose=2)
accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
print(f"test accuracy {accuracy:.4f}, {model.count_params()} parameters")

"""
## How correlated are the units?

`hidden_correlations` runs a probe set (here 1,000 training digits: the
inputs that represent the task) through the model and correlates the
layer's outputs: the number of unit pairs with |r| above 0.9, and the
cumulative variance explained by the principal components of the outputs.
"""

probe = x_train[:1000]
report = keras_memnets.analysis.hidden_correlations(model, "hidden_1", probe)
explained = report["explained_variance"]
print(f"pairs with |r| > 0.9: {report['pairs_above']} of {report['num_pairs']}")
for share in (0.9, 0.95, 0.99):
    k = int(np.searchsorted(explained, share)) + 1
    print(f"{share:.0%} of the variance in the first {k} components")

"""
## Compressing at three levels

`compress_dense(model, layer, data, variance=...)` keeps the fewest
components that explain that share of the pre-activations' variance.
The original model is not changed; each call returns a new Keras model.
"""

print(f"{'':18s}{'rank':>5s}{'layer params':>14s}{'accuracy':>10s}")
results = []
for variance in (0.99, 0.95, 0.9):
    small, info = keras_memnets.analysis.compress_dense(
        model, "hidden_1", probe, variance=variance
    )
    svd, _ = keras_memnets.analysis.svd_compress_dense(
        model, "hidden_1", rank=info["rank"]
    )
    for name, m in ((f"PCA {variance:.0%}", small), ("weight SVD", svd)):
        m.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        acc = m.evaluate(x_test, y_test, verbose=0)[1]
        print(
            f"{name:18s}{info['rank']:5d}{info['params_after']:14d}{acc:10.4f}"
        )
        results.append((name, info["params_after"], acc))
print(f"{'original':18s}{256:5d}{info['params_before']:14d}{accuracy:10.4f}")

"""
The compressed layer is an ordinary pair of `Dense` layers inside a
`Sequential` named `hidden_1_compressed`, so the new model trains and saves
like any other. A short fine-tune of the 95% model:
"""

small, info = keras_memnets.analysis.compress_dense(
    model, "hidden_1", probe, variance=0.95
)
print("layers:", [layer.name for layer in small.layers])
print(
    "inside hidden_1_compressed:",
    [(layer.name, layer.units) for layer in small.layers[0].layers],
)
small.compile(
    optimizer=keras.optimizers.Adam(3e-4),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
small.fit(x_train, y_train, batch_size=64, epochs=1, verbose=2)
print(f"after one epoch: {small.evaluate(x_test, y_test, verbose=0)[1]:.4f}")

"""
## The explained variance

Left, the cumulative explained variance of the layer's outputs (from
`hidden_correlations`); `compress_dense` reads its rank from the same curve
of the pre-activations. Right, the accuracy of each compressed model against
the parameters of the layer.
"""

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
left.plot(np.arange(1, len(explained) + 1), explained)
left.set_xlabel("principal components of hidden_1")
left.set_ylabel("cumulative explained variance")
for name, params, acc in results:
    marker = "o" if name.startswith("PCA") else "x"
    right.scatter(params, acc, marker=marker, label=name)
right.axhline(accuracy, color="k", ls=":", label="original")
right.set_xlabel("parameters of the layer")
right.set_ylabel("test accuracy")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()
