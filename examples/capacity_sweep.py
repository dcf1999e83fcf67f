"""
Title: A capacity sweep on KerasTuner
Author: keras_memnets developers
Date created: 2026/12/06
Last modified: 2026/12/06
Description: Sweep autoencoder architectures, latent sizes and seeds with
`capacity_tuner`, and measure each model's loss against the floor that no
model can go below.
"""

"""
## Introduction

How far can an autoencoder drive its training loss? With a binary
cross-entropy summed over the pixels, the answer is never 0: for grey-valued
targets the loss has a floor, the entropy of the targets, which
`keras_memnets.analysis.bce_floor` computes.
`keras_memnets.tuners.capacity_tuner` returns a KerasTuner tuner whose grid
is every architecture x latent size x seed; each trial trains one
`keras_memnets.models.autoencoder` until its loss stops improving
(`ConvergenceStopping`) and records its losses, the floor and the excess
over it. KerasTuner keeps the sweep on disk, so an interrupted sweep resumes
where it stopped. Here: a tiny grid on 1,000 digits.
"""

"""
## Setup
"""

import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_memnets

(x, _), _ = keras_memnets.datasets.load_mnist(normalize=True, flatten=True)
x_train, x_val = x[:1000], x[1000:1200]

"""
## The floor

The summed binary cross-entropy of a prediction equal to the target itself:
the lowest loss any model can reach on these digits, in nats per image.
"""

floor = keras_memnets.analysis.bce_floor(x_train)
print(f"floor: {floor:.2f} nats per image")

"""
## The sweep

Two encoders (`[784, 32]`: one hidden layer of 32 units; `[784, 64]`), two
latent sizes and two seeds: 8 trials of at most 5 epochs. The directory
holds KerasTuner's state; calling `capacity_tuner` again with the same
directory and then `search` would continue the sweep. KerasTuner copies the
callbacks of every trial; a `LambdaCallback` holding a function reaches the
same progress bar from every copy.
"""

tuner = keras_memnets.tuners.capacity_tuner(
    [[784, 32], [784, 64]],
    latent_dims=[4, 16],
    seeds=[0, 1],
    directory=tempfile.mkdtemp(),
)
print("grid:", len(tuner.oracle.grid), "trials; the first:")
print(tuner.oracle.grid[0])
bar = keras.utils.Progbar(len(tuner.oracle.grid), unit_name="trial")
trial_done = keras.callbacks.LambdaCallback(on_train_end=lambda _: bar.add(1))
tuner.search(
    x_train,
    x_train,
    epochs=5,
    batch_size=64,
    validation_data=(x_val, x_val),
    callbacks=[trial_done],
    verbose=0,
)

"""
## The results

`keras_memnets.tuners.sweep_results` reads one row per trial back from the
tuner, a dict of its grid point, losses, floor, excess and counts;
`keras_memnets.tuners.write_results` would save them as CSV or JSON lines.
"""

rows = keras_memnets.tuners.sweep_results(tuner)
header = ("architecture", "latent_dim", "seed", "params", "train_loss")
print(" ".join(f"{h:>12s}" for h in header), f"{'excess':>8s}")
for row in rows:
    cells = [row[h] for h in header]
    print(
        f"{cells[0]:>12s} {cells[1]:>12d} {cells[2]:>12d} {cells[3]:>12d}"
        f" {cells[4]:>12.2f} {row['train_excess']:>8.2f}"
    )

"""
The excess over the floor (training loss minus floor, mean over the seeds)
against the latent size, per architecture:
"""

fig, ax = plt.subplots(figsize=(6, 3.5))
for arch in sorted({row["architecture"] for row in rows}):
    latents = sorted(
        {r["latent_dim"] for r in rows if r["architecture"] == arch}
    )
    excess = [
        np.mean(
            [
                r["train_excess"]
                for r in rows
                if r["architecture"] == arch and r["latent_dim"] == latent
            ]
        )
        for latent in latents
    ]
    ax.plot(latents, excess, marker="o", label=arch)
ax.set_xscale("log", base=2)
ax.set_xlabel("latent size")
ax.set_ylabel("excess over the floor (nats per image)")
ax.legend(title="encoder")
plt.show()
