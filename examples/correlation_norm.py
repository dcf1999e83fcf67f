"""
Title: Decorrelating features with CorrelationNorm
Author: keras_memnets developers
Date created: 2026/12/06
Last modified: 2026/12/06
Description: Add `CorrelationNorm` to a classifier, read its losses in the
`fit` logs, and measure the correlation and the pair cosines it changes.
"""

"""
## Introduction

Batch normalization *forces* each feature to zero mean and unit variance.
`CorrelationNorm` leaves its input unchanged and *asks* for those statistics
through losses that it adds in training: zero mean, unit variance and no
covariance between the features inside blocks of `block_size` neighbours,
plus a pair loss that pushes the cosine between two samples towards 1 or 0.
Put it where you would put `BatchNormalization`: here, on the
pre-activations of the hidden layers of an MNIST classifier, which we train
with and without it.
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
## The model

`normalization` is either `CorrelationNorm` (covariance blocks of 8
features) or an identity, so the two models differ only there. The second
hidden layer is named `features`: we look at its pre-activations later.
"""


def make_model(with_correlation_norm):
    def normalization(name):
        if with_correlation_norm:
            return keras_memnets.layers.CorrelationNorm(
                block_size=8, seed=0, name=name
            )
        return keras.layers.Identity(name=name)

    inputs = keras.Input((784,))
    h = keras.layers.Dense(128)(inputs)
    h = keras.layers.Activation("relu")(normalization("norm_1")(h))
    h = keras.layers.Dense(128, name="features")(h)
    h = keras.layers.Activation("relu")(normalization("norm_2")(h))
    outputs = keras.layers.Dense(10, activation="softmax")(h)
    return keras.Model(inputs, outputs)


"""
## Training

`CorrelationNorm` reports its loss terms in the logs, as metrics named after
the layer: `norm_2_feature_covariance` is the mean squared covariance inside
the blocks, `norm_2_pair_loss` the pair loss, `norm_2_hurdle` the cosine
above which a pair counts as similar.
"""

models, histories = {}, {}
for name, flag in (("plain", False), ("CorrelationNorm", True)):
    print(name)
    keras.utils.set_random_seed(0)
    models[name] = make_model(flag)
    models[name].compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    histories[name] = (
        models[name]
        .fit(x_train, y_train, batch_size=64, epochs=4, verbose=2)
        .history
    )

for key in ("norm_2_feature_covariance", "norm_2_pair_loss", "norm_2_hurdle"):
    values = np.round(histories["CorrelationNorm"][key], 4).tolist()
    print(f"{key}, per epoch: {values}")

"""
## What changed in the features

On the test digits we read the pre-activations of `features` and measure
`block_abs_correlation`, the mean absolute correlation between features in
the same block of 8, and `pair_cosines`, the cosine between the feature
vectors of random pairs of digits, summarised by the
`bimodality_coefficient` (5/9 for a uniform distribution, more for two
modes).
"""

cosines = {}
for name, model in models.items():
    probe = keras.Model(model.input, model.get_layer("features").output)
    features = probe.predict(x_test, verbose=0)
    cosines[name] = keras_memnets.analysis.pair_cosines(features, 20000, 0)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    correlation = keras_memnets.analysis.block_abs_correlation(features, 8)
    bimodality = keras_memnets.analysis.bimodality_coefficient(cosines[name])
    print(
        f"{name:16s} test accuracy {accuracy:.4f}, block |correlation| "
        f"{correlation:.3f}, bimodality of the cosines {bimodality:.3f}"
    )

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, values in cosines.items():
    ax.hist(values, bins=80, range=(-1, 1), histtype="step", label=name)
ax.set_xlabel("cosine between two test digits' features")
ax.set_ylabel("pairs")
ax.legend()
plt.show()
