"""Compressing the hidden layers of an MNIST MLP by PCA of their activity.

The research note `003-compression-notes` proposes a task-specific
compression: run an input set that represents the task through a trained
network, look at one hidden layer's outputs, and where units are highly
correlated ("they convey similar information") replace the redundant
representation by a more compact one: "a Principal Component Analysis on a
hidden layer". Its closest published form is data-aware low-rank
compression (DRONE, NeurIPS 2021); the data-free baseline is the truncated
SVD of the weight matrix (as in TF-MOT's weight SVD).

This reproduction trains a 784-256-128-10 ReLU MLP on the bundled MNIST sample
(3 seeds), then for each hidden layer:

1. measures how correlated its units are on 2000 training digits
   (`keras_memnets.analysis.hidden_correlations`);
2. compresses it at 99 / 95 / 90 % explained variance of its
   pre-activations (`keras_memnets.analysis.compress_dense`: the layer
   becomes Dense(k) → Dense(n, relu));
3. compresses it by the weight SVD at the same rank k
   (`keras_memnets.analysis.svd_compress_dense`);
4. compares parameters and test accuracy before and after, without and
   with a short fine-tune (1 epoch, all layers; the original model gets the
   same extra epoch, so the comparison stays matched).

It prints two verdicts, each threshold before its numbers: the note's
premise ("correlated hidden units can be compressed with little loss") and
activation PCA against weight SVD.

Run:
    python reproductions/compress_hidden_layer.py          # default
    python reproductions/compress_hidden_layer.py --quick  # CI

Measured run times: the docs page *Reproductions*. `--quiet`: no progress
bars.
"""

import argparse
import json
import os
import time

import keras
import numpy as np

import keras_memnets
from keras_memnets import analysis

LEVELS = (0.99, 0.95, 0.90)
LAYERS = ("hidden_1", "hidden_2")
# Verdict thresholds, printed before the numbers.
LITTLE_LOSS = 1.0  # accuracy points lost "with little loss"
PREMISE_LEVEL = 0.95  # explained variance at which the premise is judged
MIN_SAVING = 0.5  # the layer must lose at least half its parameters
CORRELATED = 0.9  # |r| above which a unit pair is "highly correlated"


def build_mlp(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((784,), name="digit")
    h = keras.layers.Dense(256, activation="relu", name="hidden_1")(inputs)
    h = keras.layers.Dense(128, activation="relu", name="hidden_2")(h)
    outputs = keras.layers.Dense(10, activation="softmax", name="output")(h)
    model = keras.Model(inputs, outputs, name="mnist_mlp")
    compile_model(model)
    return model


def compile_model(model, learning_rate=1e-3):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def accuracy(model, x, y):
    pred = model.predict(x, batch_size=1000, verbose=0)
    return 100.0 * float(np.mean(np.argmax(pred, axis=-1) == y))


def fine_tuned_accuracy(model, data, args):
    """Accuracy after `args.finetune_epochs` more epochs on the training set."""
    (x_train, y_train), (x_test, y_test) = data
    compile_model(model, args.finetune_lr)
    model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=args.finetune_epochs,
        verbose=0,
    )
    return accuracy(model, x_test, y_test)


def fmt(values):
    values = np.asarray(values, dtype="float64")
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():6.2f} ± {sd:4.2f}"


def run_seed(seed, data, probe, args, bar):
    """One seed: train, then compress each layer at each level.

    `bar` (a `keras.utils.Progbar`) advances once per training and once
    per compressed layer and level.
    """
    (x_train, y_train), (x_test, y_test) = data
    model = build_mlp(seed)
    model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, verbose=0)
    bar.add(1)
    out = {"original": accuracy(model, x_test, y_test), "layers": {}}
    # The matched baseline: the original with the same fine-tune.
    baseline = keras.models.clone_model(model)
    baseline.set_weights(model.get_weights())
    out["original_finetuned"] = fine_tuned_accuracy(baseline, data, args)
    for name in LAYERS:
        corr = analysis.hidden_correlations(model, name, probe, CORRELATED)
        layer_out = {
            "pairs_above": corr["pairs_above"],
            "num_pairs": corr["num_pairs"],
            "constant_units": len(corr["constant_units"]),
            "explained_variance": corr["explained_variance"].tolist(),
            "levels": {},
        }
        for level in args.levels:
            pca, report = analysis.compress_dense(
                model, name, probe, variance=level
            )
            svd, svd_report = analysis.svd_compress_dense(
                model, name, rank=report["rank"], data=probe
            )
            entry = {
                "rank": report["rank"],
                "params_before": report["params_before"],
                "params_after_pca": report["params_after"],
                "params_after_svd": svd_report["params_after"],
                "pca": accuracy(pca, x_test, y_test),
                "svd": accuracy(svd, x_test, y_test),
                "pca_output_error": report["output_error"],
                "svd_output_error": svd_report["output_error"],
            }
            entry["pca_finetuned"] = fine_tuned_accuracy(pca, data, args)
            entry["svd_finetuned"] = fine_tuned_accuracy(svd, data, args)
            layer_out["levels"][str(level)] = entry
            bar.add(1)
        out["layers"][name] = layer_out
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--finetune-epochs", type=int, default=1)
    parser.add_argument("--finetune-lr", type=float, default=3e-4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--probe-size", type=int, default=2000)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--levels", type=float, nargs="+", default=list(LEVELS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress")
    parser.add_argument(
        "--out", default="reproductions_out/compress_hidden_layer"
    )
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.train_size, args.probe_size = 2, 2000, 500
        args.levels = [PREMISE_LEVEL]
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()

    (x_train, y_train), (x_test, y_test) = keras_memnets.datasets.load_mnist(
        normalize=True, flatten=True
    )
    if args.train_size:
        x_train, y_train = (
            x_train[: args.train_size],
            y_train[: args.train_size],
        )
    data = ((x_train, y_train), (x_test, y_test))
    # The note's "input set, which represents the task": training digits
    # (never the test digits, which only measure accuracy).
    probe = x_train[: args.probe_size]

    print(
        f"784-256-128-10 MLP, {len(x_train)} training / {len(x_test)} test "
        f"digits, {args.epochs} epochs, {args.seeds} seeds; PCA fitted on "
        f"{len(probe)} training digits; fine-tune {args.finetune_epochs} "
        f"epoch(s) at lr {args.finetune_lr}"
    )
    print(
        f"thresholds: the premise holds for a layer when PCA at "
        f"{PREMISE_LEVEL:.0%} explained variance, without fine-tune, loses "
        f"< {LITTLE_LOSS} accuracy points (mean over seeds) and removes >= "
        f"{MIN_SAVING:.0%} of the layer's parameters; PCA beats SVD at equal "
        "rank when the mean accuracy difference exceeds its sd over seeds"
    )
    # Progress: per seed, one training and each layer at each level.
    bar = keras.utils.Progbar(
        args.seeds * (1 + len(LAYERS) * len(args.levels)),
        verbose=0 if args.quiet else 1,
        unit_name="step",
    )
    runs = [run_seed(s, data, probe, args, bar) for s in range(args.seeds)]

    originals = [r["original"] for r in runs]
    originals_ft = [r["original_finetuned"] for r in runs]
    print(f"\noriginal test accuracy {fmt(originals)} %")
    print(f"original + fine-tune   {fmt(originals_ft)} %")
    verdicts = {"premise": {}, "pca_vs_svd": []}
    for name in LAYERS:
        pairs = [r["layers"][name]["pairs_above"] for r in runs]
        total = runs[0]["layers"][name]["num_pairs"]
        dead = [r["layers"][name]["constant_units"] for r in runs]
        print(
            f"\n--- {name}: {fmt(pairs)} of {total} unit pairs with |r| > "
            f"{CORRELATED}; {fmt(dead)} constant (dead) units on the probe ---"
        )
        print(
            f"{'variance':>8s} {'rank':>5s} {'params':>15s} "
            f"{'PCA':>14s} {'SVD':>14s} {'PCA+ft':>14s} {'SVD+ft':>14s}"
        )
        for level in args.levels:
            rows = [r["layers"][name]["levels"][str(level)] for r in runs]
            ranks = [e["rank"] for e in rows]
            before = rows[0]["params_before"]
            after = np.mean([e["params_after_pca"] for e in rows])
            print(
                f"{level:8.2f} {np.mean(ranks):5.0f} "
                f"{before:7d}->{after:7.0f} "
                + " ".join(
                    fmt([e[k] for e in rows]).rjust(14)
                    for k in ("pca", "svd", "pca_finetuned", "svd_finetuned")
                )
            )
            for tuned in (False, True):
                suffix = "_finetuned" if tuned else ""
                diff = [e["pca" + suffix] - e["svd" + suffix] for e in rows]
                sd = np.std(diff, ddof=1) if len(diff) > 1 else 0.0
                verdicts["pca_vs_svd"].append(
                    {
                        "layer": name,
                        "variance": level,
                        "finetuned": tuned,
                        "difference_mean": float(np.mean(diff)),
                        "difference_sd": float(sd),
                        "pca_better": bool(np.mean(diff) > sd),
                    }
                )
            if level == PREMISE_LEVEL:
                loss = [o - e["pca"] for o, e in zip(originals, rows)]
                saving = 1 - after / before
                holds = np.mean(loss) < LITTLE_LOSS and saving >= MIN_SAVING
                verdicts["premise"][name] = {
                    "accuracy_loss": loss,
                    "parameter_saving": float(saving),
                    "holds": bool(holds),
                }

    print("\n=== verdicts ===")
    for name, v in verdicts["premise"].items():
        print(
            f"premise, {name}: PCA at {PREMISE_LEVEL:.0%} loses "
            f"{fmt(v['accuracy_loss'])} points (threshold < {LITTLE_LOSS}) "
            f"and saves {v['parameter_saving']:.0%} of the layer (threshold "
            f">= {MIN_SAVING:.0%}) -> "
            f"{'HOLDS' if v['holds'] else 'does not hold'}"
        )
    wins = sum(v["pca_better"] for v in verdicts["pca_vs_svd"])
    raw = [v for v in verdicts["pca_vs_svd"] if not v["finetuned"]]
    tuned = [v for v in verdicts["pca_vs_svd"] if v["finetuned"]]
    print(
        f"PCA vs SVD at equal rank: PCA better in {wins} of "
        f"{len(verdicts['pca_vs_svd'])} (layer, level, fine-tune) cases; "
        f"mean difference without fine-tune "
        f"{np.mean([v['difference_mean'] for v in raw]):+.2f} points, with "
        f"{np.mean([v['difference_mean'] for v in tuned]):+.2f}"
    )
    seconds = time.perf_counter() - start
    print(f"\ntotal {seconds:.1f} s, load {os.getloadavg()[0]:.1f}")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(
            {
                "args": vars(args),
                "backend": keras.backend.backend(),
                "runs": runs,
                "verdicts": verdicts,
                "seconds": seconds,
            },
            f,
            indent=1,
        )
    figures(runs, args.levels, args.out)


def figures(runs, levels, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name in LAYERS:
        curve = runs[0]["layers"][name]["explained_variance"]
        axes[0].plot(np.arange(1, len(curve) + 1), curve, label=name)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("components")
    axes[0].set_ylabel("explained variance (hidden outputs)")
    axes[0].legend()
    for ax, name in zip(axes[1:], LAYERS):
        for key, style in (
            ("pca", "o-"),
            ("svd", "s--"),
            ("pca_finetuned", "o:"),
            ("svd_finetuned", "s:"),
        ):
            params, acc = [], []
            for level in levels:
                rows = [r["layers"][name]["levels"][str(level)] for r in runs]
                params.append(np.mean([e["params_after_pca"] for e in rows]))
                acc.append(np.mean([e[key] for e in rows]))
            ax.plot(params, acc, style, label=key)
        ax.axhline(
            np.mean([r["original"] for r in runs]),
            color="k",
            lw=0.8,
            label="original",
        )
        ax.set_xlabel(f"{name} parameters after compression")
        ax.set_ylabel("test accuracy (%)")
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "compression.png"), dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
