"""
Title: A memory layer in your model
Author: keras_memnets developers
Date created: 2026/12/06
Last modified: 2026/12/06
Description: Decode MNIST digits with a `MemoryLayer` and a
`MemoryInformedLayer` in your own Functional model, and watch the slots.
"""

"""
## Introduction

A `MemoryLayer` keeps `memory_size` learned vectors, its *slots*, and reads
them through a softmax *selection* computed from its input: its output is the
selection-weighted mix of the slots. A `MemoryInformedLayer` reuses that
selection to mix one candidate output per slot, computed from its own input.

Here both sit on top of an encoder of yours and reconstruct MNIST digits from
a 16-number code. `SelectionMonitor` reports in `fit` how many slots the
selection uses, and at the end we look at the slots themselves.
"""

"""
## Setup
"""

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_memnets

keras.utils.set_random_seed(0)

"""
## The data

`load_mnist` returns MNIST in the layout of `keras.datasets.mnist.load_data()`.
Offline, it reads the 10,000 digits that ship with the package (8,000 for
training, 2,000 for testing). We keep 4,000 training digits, as vectors of 784
pixels in [0, 1]: the memory's slots pass through a sigmoid, so its outputs
are in that range too.
"""

(x_train, y_train), (x_test, y_test) = keras_memnets.datasets.load_mnist(
    normalize=True, flatten=True
)
x_train, y_train = x_train[:4000], y_train[:4000]
print("train:", x_train.shape, "test:", x_test.shape)

"""
## The model

An encoder maps a digit to a code. The `MemoryLayer` computes its selection
over 10 slots from the code (a small MLP with `hidden_units` units and a
softmax) and returns the mix of slots, and, with `return_selection=True`, the
selection itself, which the `MemoryInformedLayer` takes as its second input.
The model has two outputs, both trained to reconstruct the input.
"""

inputs = keras.Input((784,))
hidden = keras.layers.Dense(128, activation="relu")(inputs)
code = keras.layers.Dense(16, activation="relu")(hidden)
memory_output, selection = keras_memnets.layers.MemoryLayer(
    784, memory_size=10, hidden_units=64, return_selection=True, name="memory"
)(code)
informed_output = keras_memnets.layers.MemoryInformedLayer(
    784, memory_size=10, hidden_units=64, name="informed"
)([code, selection])
model = keras.Model(
    inputs, {"memory": memory_output, "informed": informed_output}
)
model.summary()

"""
## Where the slots start

All slots start as nearly the same grey image. The layer's defaults move
them apart in training (`memory_scale=100` makes Adam move the slots'
logits 100 times faster, and a small balance term keeps all slots in use;
`memory_scale=1.0`, the notes' setting, collapses onto one or two slots).
`set_memory_from_kmeans` gives them a head start: it writes the k-means
centroids of the training digits into the slots.
"""

memory_layer = model.get_layer("memory")
memory_layer.set_memory_from_kmeans(x_train, seed=0)

"""
## Training, with the slots monitored

`SelectionMonitor` computes the memory's selection on held-out digits after
each epoch and adds its statistics to the logs: `memory_slots_used`, the
`memory_perplexity` of the mean selection (an effective number of slots) and,
with labels, `memory_purity` (how often a digit's slot is the slot of its
class). It needs no change to the model or to `compile`.
"""

monitor = keras_memnets.callbacks.SelectionMonitor(layer_name="memory")
monitor.set_data(x_test[:1000], y_test[:1000])
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss={"memory": "mse", "informed": "mse"},
)
history = model.fit(
    x_train,
    {"memory": x_train, "informed": x_train},
    batch_size=64,
    epochs=4,
    validation_data=(x_test, {"memory": x_test, "informed": x_test}),
    callbacks=[monitor],
)

for key in ("memory_slots_used", "memory_perplexity", "memory_purity"):
    print(f"{key}:", np.round(history.history[key], 3).tolist())

"""
## The slots

`memory_values()` returns what each slot outputs (the sigmoid of its
logits). Above each slot: the share of test digits for which it is the most
selected slot, and the digit class most common among them.
"""

slots = keras.ops.convert_to_numpy(memory_layer.memory_values())
report = monitor.report()
fig, axes = plt.subplots(1, 10, figsize=(10, 1.9))
for k, ax in enumerate(axes):
    ax.imshow(slots[k].reshape(28, 28), cmap="gray_r")
    share = report["slot_share"][k]
    label = f"class {report['slot_label'][k]}" if share else "unused"
    ax.set_title(f"{share:.0%}\n{label}", fontsize=9)
    ax.set_axis_off()
fig.tight_layout()
plt.show()

"""
## Both outputs on test digits

Top: test digits; middle: the memory's output (a mix of slots); bottom: the
informed output (a mix of candidates computed from each digit's code).
"""

outputs = model.predict(x_test[:10], verbose=0)
rows = (x_test[:10], outputs["memory"], outputs["informed"])
fig, axes = plt.subplots(3, 10, figsize=(10, 3.2))
for ax, image in zip(axes.flat, np.concatenate(rows)):
    ax.imshow(image.reshape(28, 28), cmap="gray_r")
    ax.set_axis_off()
plt.show()
