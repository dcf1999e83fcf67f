"""
Title: Training with SignSGD
Author: keras_memnets developers
Date created: 2026/12/06
Last modified: 2026/12/06
Description: Train a classifier with `SignSGD` and Signum, next to SGD and
Adam, and skip steps with non-finite gradients with any optimizer.
"""

"""
## Introduction

`SignSGD` moves every weight by the same amount, the learning rate, in the
direction of the sign of its gradient. With `momentum` it becomes Signum: the
sign of a running mean of the gradients. It is a Keras optimizer like any
other: pass it to `compile`. Here we train one small MNIST classifier four
times from the same initial weights, with SGD, Adam, SignSGD and Signum, and
compare their validation accuracy epoch by epoch.
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
## One sign step

A learning rate of 0.1 and a gradient of `[0.5, -3.0, 0.0]`: each entry moves
by 0.1 against the sign of its gradient, whatever its size, and an entry whose
gradient is exactly 0 does not move.
"""

weights = keras.Variable(np.ones(3, "float32"))
optimizer = keras_memnets.optimizers.SignSGD(learning_rate=0.1)
optimizer.apply([np.array([0.5, -3.0, 0.0], "float32")], [weights])
print("after one step:", keras.ops.convert_to_numpy(weights))

"""
## The model

A 784-128-10 multilayer perceptron. We save its initial weights so that every
optimizer starts from the same point.
"""


def make_model():
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


keras.utils.set_random_seed(0)
initial_weights = make_model().get_weights()

"""
## Four optimizers, the same start

Sign updates are as large as the learning rate in every entry, so SignSGD
takes a learning rate close to Adam's (1e-3 here), far below SGD's.
"""

optimizers = {
    "SGD (0.1)": lambda: keras.optimizers.SGD(0.1),
    "Adam (1e-3)": lambda: keras.optimizers.Adam(1e-3),
    "SignSGD (1e-3)": lambda: keras_memnets.optimizers.SignSGD(1e-3),
    "Signum (1e-3, momentum 0.9)": lambda: keras_memnets.optimizers.SignSGD(
        1e-3, momentum=0.9
    ),
}
histories = {}
for name, make_optimizer in optimizers.items():
    print(name)
    model = make_model()
    model.set_weights(initial_weights)
    model.compile(
        optimizer=make_optimizer(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=5,
        validation_data=(x_test, y_test),
        verbose=2,
    )
    histories[name] = history.history["val_accuracy"]

"""
## Validation accuracy per epoch
"""

for name, accuracy in histories.items():
    print(f"{name:28s}", " ".join(f"{a:.3f}" for a in accuracy))

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, accuracy in histories.items():
    ax.plot(range(1, len(accuracy) + 1), accuracy, marker="o", label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_xticks(range(1, 6))
ax.grid(alpha=0.3)
ax.legend()
plt.show()

"""
## A step with a non-finite gradient is skipped

One NaN in a batch makes every gradient NaN. `SignSGD` then leaves the
weights and its own state as they were and counts the step in
`skipped_steps`, as Keras' `LossScaleOptimizer` does. For any other
optimizer, `SkipNonFiniteOptimizer` wraps it with the same rule: here Adam,
on the model trained above with Signum.
"""

x_bad = x_train[:64].copy()
x_bad[0, 0] = np.nan
model.compile(
    optimizer=keras_memnets.optimizers.SkipNonFiniteOptimizer(
        keras.optimizers.Adam(1e-3)
    ),
    loss="sparse_categorical_crossentropy",
)
for name, x_batch in (("clean", x_train[:64]), ("with NaN", x_bad)):
    before = model.get_weights()
    model.train_on_batch(x_batch, y_train[:64])
    after = model.get_weights()
    changed = any(not np.array_equal(a, b) for a, b in zip(before, after))
    steps = [model.optimizer.iterations, model.optimizer.skipped_steps]
    taken, skipped = (int(keras.ops.convert_to_numpy(v)) for v in steps)
    print(
        f"{name} batch: weights changed {changed}, steps {taken}, "
        f"skipped {skipped}"
    )
