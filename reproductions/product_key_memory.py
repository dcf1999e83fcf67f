"""Reproduction: a product-key memory's usage, and its worth at equal compute.

Lample et al. (2019) measure how much of a product-key memory a model reads
(the fraction of slots read at least once over an evaluation set, and the KL
divergence of the read distribution to uniform) and find that batch
normalisation of the queries raises the usage; with one memory, a model
matches a deeper one at nearly the same compute. This script retraces both
claims on the bundled MNIST sample, over seeds, with the thresholds stated
before the numbers.

The task: predict each row of a digit (28 pixels) from the 4 rows above it
and the row's position, one vector per row, 28 per digit. A trunk
`Dense(64, relu)` is followed by one residual block and a `Dense(28)` output
(binary cross-entropy on the pixels). The block is a
`keras_memnets.layers.ProductKeyMemory` of 4,096 slots with query
normalisation `"batch"`, `"layer"` or `None`; a two-layer ReLU block with
the same multiply-adds per vector (the same compute); one with the same
number of trained parameters (the same storage, about 15 times the
compute); or nothing. Trained on 4,000 digits of the training split, scored
on 1,000 others of the training split (the validation digits; the test
split is never read). Usage is measured on the validation vectors by
`keras_memnets.analysis.memory_usage`, and followed over the epochs by
`keras_memnets.callbacks.SelectionMonitor`. Writes `results.json` and
`usage.png` to `--out`.

    python reproductions/product_key_memory.py          # the default run
    python reproductions/product_key_memory.py --quick  # CI
    python reproductions/product_key_memory.py --figures  # usage.png again

`--quiet` hides the progress bar. Measured run times: the docs page
*Reproductions*.
"""

import argparse
import json
import os
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_memnets

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--seeds", type=int, default=3)
parser.add_argument("--quick", action="store_true")
parser.add_argument("--quiet", action="store_true", help="no progress bar")
parser.add_argument(
    "--figures", action="store_true", help="redraw from --out/results.json"
)
parser.add_argument("--out", default="reproductions_out/product_key_memory")
args = parser.parse_args()
train_digits, val_digits, num_keys = 4000, 1000, 64
if args.quick:
    args.epochs, args.seeds = 1, 1
    train_digits, val_digits, num_keys = 400, 100, 16
os.makedirs(args.out, exist_ok=True)
plt.switch_backend("Agg")
start_wall, start_cpu = time.perf_counter(), time.process_time()
analysis = keras_memnets.analysis
MEMORIES = ("memory, batch norm", "memory, layer norm", "memory, no norm")
QUERY_NORMS = dict(zip(MEMORIES, ("batch", "layer", None)))


def plot_usage(path):
    """usage.png from a results.json: usage and KL per epoch."""
    with open(path) as f:
        results = json.load(f)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, title in zip(
        axes,
        ("slot_usage", "usage_kl"),
        ("slots read at least once (fraction)", "KL to uniform (nats)"),
    ):
        for i, name in enumerate(MEMORIES):
            runs = np.array(results["curves"][name][key])
            epochs = np.arange(1, runs.shape[1] + 1)
            ax.plot(epochs, runs.T, color=f"C{i}", alpha=0.3, lw=1)
            ax.plot(epochs, runs.mean(0), color=f"C{i}", lw=2, label=name)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    slots = results["config"]["memory_size"]
    fig.suptitle(f"validation reads of a {slots:,}-slot product-key memory")
    fig.tight_layout()
    out = os.path.join(os.path.dirname(path), "usage.png")
    fig.savefig(out, dpi=100)
    return out


if args.figures:
    print("Wrote", plot_usage(os.path.join(args.out, "results.json")))
    raise SystemExit

"""
## Data: the next row of a digit from the rows above it

Each digit gives 28 vectors: the 4 rows above row `t` (zeros above the top)
and a one-hot position, 140 features, with row `t` as the target.
"""


def row_vectors(digits, context=4):
    n = len(digits)
    above = np.concatenate([np.zeros((n, context, 28), "float32"), digits], 1)
    window = np.stack(
        [above[:, t : t + context].reshape(n, -1) for t in range(28)], 1
    )
    position = np.broadcast_to(np.eye(28, dtype="float32"), (n, 28, 28))
    inputs = np.concatenate([window, position], -1)
    return inputs.reshape(n * 28, -1), digits.reshape(n * 28, 28)


(x_all, _), _ = keras_memnets.datasets.load_mnist(normalize=True)
x_train, y_train = row_vectors(x_all[:train_digits])
x_val, y_val = row_vectors(x_all[train_digits : train_digits + val_digits])
print(
    f"{len(x_train):,} training vectors, {len(x_val):,} validation vectors "
    f"({train_digits} and {val_digits} digits of the training split)."
)

"""
## The blocks, and what "equal compute" means

The memory: `num_keys**2` slots of 64 values, 4 heads, each reading its 8
best slots with 32-dimensional keys. Its multiply-adds per vector: the
query projection, the two sub-key searches, the sums of the 8 x 8 candidate
pairs, and the weighted read of 4 x 8 values (the top-k selections and the
softmax are not counted, which favours the memory). The dense block of the
same compute gets the hidden width that gives it as many multiply-adds
(`2 * 64 * hidden`); the one of the same storage, as many trained
parameters. The verdict on quality is against equal compute, the paper's
claim: a memory adds parameters at nearly constant cost per vector, and a
dense block of equal parameters is a different, far costlier model, shown
for reference.
"""

WIDTH, HEADS, TOP_K, KEY_DIM = 64, 4, 8, 32


def memory_multiply_adds():
    query = WIDTH * HEADS * KEY_DIM
    sub_keys = HEADS * num_keys * KEY_DIM  # two halves of KEY_DIM // 2
    candidates = HEADS * TOP_K * TOP_K
    read = HEADS * TOP_K * WIDTH
    return query + sub_keys + candidates + read


def memory_parameters():
    query = WIDTH * HEADS * KEY_DIM + 2 * HEADS * KEY_DIM  # + norm scale/bias
    return query + HEADS * num_keys * KEY_DIM + num_keys**2 * WIDTH


equal_compute = round(memory_multiply_adds() / (2 * WIDTH))
equal_parameters = round((memory_parameters() - WIDTH) / (2 * WIDTH + 1))
BLOCKS = MEMORIES + (
    "dense, equal compute",
    "dense, equal parameters",
    "no block",
)
HIDDEN = {
    "dense, equal compute": equal_compute,
    "dense, equal parameters": equal_parameters,
}
print(
    f"Memory: {num_keys**2:,} slots, {memory_multiply_adds():,} "
    f"multiply-adds and {memory_parameters():,} trained parameters per "
    f"block; dense blocks of hidden width {equal_compute} (equal compute) "
    f"and {equal_parameters} (equal parameters)."
)


def build(block, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(x_train.shape[1:])
    h = keras.layers.Dense(WIDTH, activation="relu", name="trunk")(inputs)
    if block in MEMORIES:
        memory = keras_memnets.layers.ProductKeyMemory(
            num_keys=num_keys,
            value_dim=WIDTH,
            heads=HEADS,
            top_k=TOP_K,
            key_dim=KEY_DIM,
            query_norm=QUERY_NORMS[block],
            name="memory",
        )
        h = h + memory(h)
    elif block in HIDDEN:
        hidden = keras.layers.Dense(HIDDEN[block], activation="relu")(h)
        h = h + keras.layers.Dense(WIDTH)(hidden)
    outputs = keras.layers.Dense(28)(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return model


"""
## The claims, with their thresholds, before any number

Paired by seed (the same seed gives the same data order and initial
trunk): batch-normalised queries read more of the memory, and spread the
reads more evenly, than unnormalised ones; and the memory predicts the
validation rows at least as well as a dense block of equal compute.
"""

USAGE_GAIN, KL_DROP, LOSS_RATIO = 0.05, 0.1, 1.0
claims = {
    "usage": (
        "slot usage, batch norm minus no norm (fraction of slots)",
        USAGE_GAIN,
        ">=",
    ),
    "kl": ("usage KL, no norm minus batch norm (nats)", KL_DROP, ">="),
    "quality": (
        "validation loss, memory (batch norm) / dense of equal compute",
        LOSS_RATIO,
        "<=",
    ),
}
print("\nThresholds (each must hold in every seed):")
for claim, threshold, comparison in claims.values():
    text = analysis.threshold_text(threshold, comparison)
    print(f"  {claim}: {text}")

"""
## Training, over seeds

Adam (learning rate 1e-3), batch 256, the same epochs for every block.
The memory's usage is checked on the validation vectors after every epoch
by `SelectionMonitor`, the way to follow it in any model.
"""

trainings = len(BLOCKS) * args.seeds
print(f"\nTraining {len(BLOCKS)} blocks x {args.seeds} seeds")
bar = keras.utils.Progbar(
    trainings, verbose=0 if args.quiet else 1, unit_name="fit"
)
runs = {block: [] for block in BLOCKS}
curves = {name: {"slot_usage": [], "usage_kl": []} for name in MEMORIES}
for seed in range(args.seeds):
    for block in BLOCKS:
        model = build(block, seed)
        callbacks = []
        if block in MEMORIES:
            monitor = keras_memnets.callbacks.SelectionMonitor("memory")
            callbacks.append(monitor.set_data(x_val))
        history = model.fit(
            x_train,
            y_train,
            batch_size=256,
            epochs=args.epochs,
            verbose=0,
            callbacks=callbacks,
            validation_data=(x_val, y_val),
        )
        run = {"val_loss": float(history.history["val_loss"][-1])}
        if block in MEMORIES:
            for key in ("slot_usage", "usage_kl"):
                curves[block][key].append(history.history["memory_" + key])
            memory = model.get_layer("memory")
            trunk = keras.Model(model.inputs, memory.input)
            features = trunk.predict(x_val, batch_size=2048, verbose=0)
            usage = analysis.memory_usage(memory, features, batch_size=2048)
            for key in ("slot_usage", "usage_kl", "perplexity", "dead_slots"):
                run[key] = float(usage[key])
        runs[block].append(run)
        bar.add(1)

"""
## The table (validation split, mean ± sd over seeds)
"""

keys = ("val_loss", "slot_usage", "usage_kl", "perplexity", "dead_slots")
specs = (".4f", ".3f", ".2f", ".0f", ".0f")
print(f"\nValidation, mean ± sd over {args.seeds} seeds")
print(f"{'':24s}" + "".join(f"{k:>18s}" for k in keys))
for block in BLOCKS:
    cells = [
        analysis.format_mean_sd([r[k] for r in runs[block]], spec)
        if k in runs[block][0]
        else "-"
        for k, spec in zip(keys, specs)
    ]
    print(f"{block:24s}" + "".join(f"{c:>18s}" for c in cells))

"""
## The verdicts
"""

batch, none = runs["memory, batch norm"], runs["memory, no norm"]
dense = runs["dense, equal compute"]
values = {
    "usage": [b["slot_usage"] - n["slot_usage"] for b, n in zip(batch, none)],
    "kl": [n["usage_kl"] - b["usage_kl"] for b, n in zip(batch, none)],
    "quality": [b["val_loss"] / d["val_loss"] for b, d in zip(batch, dense)],
}
verdicts = {}
print()
for name, (claim, threshold, comparison) in claims.items():
    verdicts[name] = analysis.seed_verdict(
        claim, values[name], threshold, comparison
    )
    print(verdicts[name])
wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
print(f"(Run time: {wall:.0f} s wall, {cpu:.0f} s CPU.)")

results = {
    "config": {
        "backend": keras.config.backend(),
        "quick": args.quick,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "train_digits": train_digits,
        "val_digits": val_digits,
        "num_keys": num_keys,
        "memory_size": num_keys**2,
        "width": WIDTH,
        "heads": HEADS,
        "top_k": TOP_K,
        "key_dim": KEY_DIM,
        "memory_multiply_adds": memory_multiply_adds(),
        "memory_parameters": memory_parameters(),
        "hidden": HIDDEN,
    },
    "runs": runs,
    "verdicts": {name: v.to_dict() for name, v in verdicts.items()},
    "curves": curves,
    "seconds": {"wall": wall, "cpu": cpu},
}
path = os.path.join(args.out, "results.json")
with open(path, "w") as f:
    json.dump(results, f, indent=1)
print("Wrote", path, "and", plot_usage(path))
