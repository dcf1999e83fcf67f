"""
Title: Weight statistics during training
Author: keras_memnets developers
Date created: 2026/12/06
Last modified: 2026/12/06
Description: Record how the weights of your model change while it trains
with the `WeightHistory` callback, and plot them with
`keras_memnets.analysis`.
"""

"""
## Introduction

`WeightHistory` is a Keras callback that looks at the model's weights before
training and then every `every` optimizer steps. Each time it records, per
variable and for all weights pooled, distribution statistics (variance,
kurtosis, the largest absolute weight, a histogram) and, for each kernel,
spectral ones from its singular values: the stable rank, the effective rank
and the power-law exponent `alpha` of the spectrum's tail (for kernels with
at least 50 rows and columns). With `keep_weights=True` it also keeps the
weights themselves. Here it watches an MNIST classifier.
"""

"""
## Setup
"""

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_memnets

(x_train, y_train), _ = keras_memnets.datasets.load_mnist(
    normalize=True, flatten=True
)
x_train, y_train = x_train[:4000], y_train[:4000]

"""
## Training with the callback

A 784-128-64-10 classifier, 6 epochs of 63 steps; a record every 21 steps.
"""

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((784,)),
        keras.layers.Dense(128, activation="relu", name="hidden_1"),
        keras.layers.Dense(64, activation="relu", name="hidden_2"),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
history = keras_memnets.callbacks.WeightHistory(every=21, keep_weights=True)
model.fit(
    x_train, y_train, batch_size=64, epochs=6, callbacks=[history], verbose=2
)

"""
## What was recorded

`history.steps` lists the optimizer steps of the records, and
`history.statistics` has one entry per variable path plus `"all"`.
`history.statistic(name, path)` returns one statistic over the records.
"""

steps = np.asarray(history.steps)
kernels = [v.path for v in model.weights if v.path.endswith("kernel")]
print("records at steps:", steps.tolist())
print("kernels:", kernels)
for name in ("variance", "kurtosis", "max_abs"):
    values = history.statistic(name)  # all weights pooled
    print(f"all weights, {name}: {values[0]:.4f} -> {values[-1]:.4f}")
for path in kernels:
    rank = history.statistic("stable_rank", path)
    alpha = history.statistic("alpha", path)
    print(
        f"{path}: stable rank {rank[0]:.2f} -> {rank[-1]:.2f}, "
        f"alpha {alpha[0]:.2f} -> {alpha[-1]:.2f}"
    )

"""
## Plots

`plot_weight_density` draws the histogram of all weights at each record
(the colour is the count, on a log scale); `plot_curves` draws one curve per
row of an array, here the stable rank of each kernel.
"""

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
keras_memnets.analysis.plot_weight_density(
    history.weights(), steps, bins=np.linspace(-1, 1, 81), log=True, ax=left
)
left.set_title("all weights")
keras_memnets.analysis.plot_curves(
    steps,
    [history.statistic("stable_rank", path) for path in kernels],
    labels=kernels,
    ylabel="stable rank",
    ax=right,
)
fig.tight_layout()
plt.show()

"""
## One matrix at a time

The same statistics are plain numpy functions: `matrix_statistics` takes any
matrix, such as the final first-layer kernel.
"""

kernel = keras.ops.convert_to_numpy(model.get_layer("hidden_1").kernel)
stats = keras_memnets.analysis.matrix_statistics(kernel)
print("shape:", kernel.shape)
print("largest singular values:", np.round(stats["singular_values"][:5], 3))
for key in ("stable_rank", "effective_rank", "numerical_rank", "alpha"):
    print(f"{key}: {stats[key]:.3f}")
