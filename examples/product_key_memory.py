"""
Title: A product-key memory in a transformer block
Author: keras_memnets developers
Date created: 2026/12/06
Last modified: 2026/12/06
Description: Replace the feed-forward layer of a small causal transformer
with `ProductKeyMemory`, train it to draw MNIST digits row by row, and see
which memory slots it reads.
"""

"""
## Introduction

`ProductKeyMemory` (Lample et al., 2019) holds `num_keys**2` learned values
and reads, for every input vector, the `top_k` values whose product keys
match its query best, without scoring every slot. In a transformer it takes
the place of the feed-forward layer of a block. Here a small causal
transformer reads an MNIST digit as a sequence of 28 rows of 28 pixels and
predicts each next row; its block's feed-forward layer is a product-key
memory with 16 x 16 = 256 slots.
"""

"""
## Setup
"""

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_memnets

(x_train, _), (x_test, _) = keras_memnets.datasets.load_mnist(normalize=True)
x_train, x_test = x_train[:4000], x_test[:500]
# Inputs: rows 0..26; targets: rows 1..27 (each position predicts the next).
inputs_train, targets_train = x_train[:, :-1], x_train[:, 1:]
inputs_test, targets_test = x_test[:, :-1], x_test[:, 1:]
print("sequences:", inputs_train.shape, "-> next rows:", targets_train.shape)

"""
## The model

Rows are embedded by a `Dense` layer plus a learned position embedding. The
block is a pre-norm transformer block whose feed-forward part is the memory:
layer normalisation, causal self-attention, a residual connection, then
layer normalisation, the memory and a residual connection. The memory
normalises its queries with `query_norm="layer"`: its default, batch
normalisation, would mix the positions of a sequence in training, which a
causal model must not see.
"""

steps, width = 27, 64


class PositionEmbedding(keras.layers.Layer):
    def build(self, input_shape):
        self.positions = self.add_weight(
            name="positions", shape=(steps, width), initializer="zeros"
        )

    def call(self, x):
        return x + self.positions


keras.utils.set_random_seed(0)
memory = keras_memnets.layers.ProductKeyMemory(
    num_keys=16,
    value_dim=width,
    heads=2,
    top_k=8,
    key_dim=32,
    query_norm="layer",
    name="memory",
)
rows = keras.Input((steps, 28))
x = PositionEmbedding()(keras.layers.Dense(width)(rows))
h = keras.layers.LayerNormalization()(x)
attention = keras.layers.MultiHeadAttention(num_heads=4, key_dim=16)
x = x + attention(h, h, use_causal_mask=True)
x = x + memory(keras.layers.LayerNormalization()(x))
next_rows = keras.layers.Dense(28, activation="sigmoid")(x)
model = keras.Model(rows, next_rows)
model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
model.summary()

"""
## Training
"""

history = model.fit(
    inputs_train,
    targets_train,
    batch_size=64,
    epochs=5,
    validation_data=(inputs_test, targets_test),
    verbose=2,
)

"""
## Which slots are read

`memory.lookup(x)` returns, for every input vector, the scores and the ids
of the `top_k` slots each head reads. We need the vectors the memory sees,
the block's hidden states, so we read them with a sub-model.
"""

hidden = keras.Model(model.input, memory.input).predict(inputs_test, verbose=0)
scores, indices = memory.lookup(hidden)
indices = keras.ops.convert_to_numpy(indices)  # (500, 27, heads, top_k)
counts = np.bincount(indices.ravel(), minlength=16 * 16)
print(f"slots read at least once: {np.sum(counts > 0)} of {counts.size}")
share = np.sort(counts)[::-1] / counts.sum()
print(
    f"share of the reads that go to the busiest 10% of slots: "
    f"{share[: counts.size // 10].sum():.2f}"
)

fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(np.arange(counts.size), np.sort(counts)[::-1], width=1.0)
ax.set_xlabel("slot, busiest first")
ax.set_ylabel("reads on the test digits")
plt.show()

"""
## Drawing the bottom half of a digit

Given the top 14 rows of a test digit, the model predicts row 15, which is
appended to the input, and so on down to row 28.
"""

digits = x_test[:8].copy()
drawn = digits.copy()
for t in range(14, 28):
    prediction = model.predict(drawn[:, :-1], verbose=0)
    drawn[:, t] = prediction[:, t - 1]

fig, axes = plt.subplots(3, 8, figsize=(8, 3.4))
for i in range(8):
    axes[0, i].imshow(digits[i], cmap="gray_r")
    axes[1, i].imshow(
        np.where(np.arange(28)[:, None] < 14, digits[i], 0), cmap="gray_r"
    )
    axes[2, i].imshow(drawn[i], cmap="gray_r")
for ax in axes.flat:
    ax.set_axis_off()
axes[0, 0].set_title("digit", loc="left", fontsize=9)
axes[1, 0].set_title("given", loc="left", fontsize=9)
axes[2, 0].set_title("drawn", loc="left", fontsize=9)
fig.tight_layout()
plt.show()
