"""
Title: Several answers with set-min heads
Author: keras_memnets developers
Date created: 2026/12/06
Last modified: 2026/12/06
Description: Give a model K output heads with `VariantHeads`, train only the
best head of each sample with `SetMinLoss`, and schedule its noise with
`SetMinSelection`.
"""

"""
## Introduction

When an input has several plausible outputs, one head trained with a mean
squared error predicts their blurry average. `VariantHeads` gives the model K
heads instead, and `SetMinLoss` charges each sample only the loss of its best
head (multiple-choice learning): each head can specialise on the samples it
wins. Here an autoencoder squeezes MNIST digits through a code of 2 numbers
and decodes them with 4 heads.
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
x_train = x_train[:4000]
K = 4

"""
## The model

`VariantHeads(784, num_variants=K)` computes K small MLPs on the same code,
batched, and returns `(batch, K, 784)`: the variant axis comes after the
batch axis. `VariantWins(K, k)` logs the share of samples that head k wins.
"""


def encoder_and_heads():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((784,))
    h = keras.layers.Dense(128, activation="relu")(inputs)
    code = keras.layers.Dense(2)(h)
    variants = keras_memnets.layers.VariantHeads(
        784, num_variants=K, hidden_units=64, output_activation="sigmoid"
    )(code)
    return inputs, variants


inputs, variants = encoder_and_heads()
model = keras.Model(inputs, variants)
model.compile(
    optimizer="adam",
    loss=keras_memnets.losses.SetMinLoss(log_std=0.0),
    metrics=[keras_memnets.metrics.VariantWins(K, k) for k in range(K)],
)
history = model.fit(x_train, x_train, batch_size=64, epochs=5, verbose=2)

for k in range(K):
    shares = np.round(history.history[f"variant_wins_{k}"], 3).tolist()
    print(f"head {k}: share of wins per epoch {shares}")

"""
## Noise that a schedule changes: `SetMinSelection`

`SetMinLoss` picks the winner after multiplying each head's loss by
log-normal noise of a constant `log_std`. To change the noise during
training, put a `SetMinSelection` layer into the model: it adds the same loss
with `add_loss`, holds `log_std` as a model weight, and takes the targets as
a second input (here, the input itself). `LogStdSchedule` then sets
`log_std` per epoch: strong noise for 2 epochs (nearly random winners, so
every head learns), then none.
"""

inputs, variants = encoder_and_heads()
selection = keras_memnets.layers.SetMinSelection(log_std=1.0, seed=0)
scheduled = keras.Model(inputs, selection([variants, inputs]))
scheduled.compile(optimizer="adam", loss=None)
schedule = keras_memnets.callbacks.LogStdSchedule([(2, 3.0), (3, 0.0)])
history = scheduled.fit(
    x_train, batch_size=64, epochs=5, callbacks=[schedule], verbose=2
)
print("log_std per epoch:", history.history["log_std"])

"""
## Who wins what

On the test digits, the winner of each digit is the head with the lowest
error. For both models: each head's share of the digits, and the error of
the best head against the mean over the heads; for the scheduled model, the
winner by digit class.
"""


def test_winners(model):
    outputs = model.predict(x_test, verbose=0)  # (2000, K, 784)
    errors = np.mean((outputs - x_test[:, None, :]) ** 2, axis=-1)
    return outputs, errors, np.argmin(errors, axis=1)


for name, m in (("SetMinLoss", model), ("scheduled", scheduled)):
    outputs, errors, winner = test_winners(m)
    shares = np.bincount(winner, minlength=K) / len(winner)
    print(
        f"{name:10s} shares {np.round(shares, 3).tolist()}, best head's "
        f"MSE {errors.min(1).mean():.4f}, mean head's {errors.mean():.4f}"
    )
print("\nclass:  " + " ".join(f"{c:5d}" for c in range(10)))
for k in range(K):
    counts = [np.sum((winner == k) & (y_test == c)) for c in range(10)]
    print(f"head {k}: " + " ".join(f"{n:5d}" for n in counts))

"""
Each row below is one test digit and the scheduled model's K outputs; the
winning head's title is starred.
"""

rows = [np.flatnonzero(y_test == c)[0] for c in (0, 1, 2, 3, 7, 9)]
fig, axes = plt.subplots(len(rows), K + 1, figsize=(K + 1, len(rows) * 1.1))
for r, i in enumerate(rows):
    axes[r, 0].imshow(x_test[i].reshape(28, 28), cmap="gray_r")
    axes[r, 0].set_title("digit", fontsize=8)
    for k in range(K):
        axes[r, k + 1].imshow(outputs[i, k].reshape(28, 28), cmap="gray_r")
        star = "*" if k == winner[i] else ""
        axes[r, k + 1].set_title(f"head {k}{star}", fontsize=8)
for ax in axes.flat:
    ax.set_axis_off()
fig.tight_layout()
plt.show()
