"""CorrelationNorm against BatchNormalization on an MNIST MLP.

The research note `001-correlation-norm-notes.txt` asks whether the
statistics BatchNormalization imposes by *normalising* (zero mean, unit
variance per feature) can instead be *asked for* by local losses, adding
decorrelation and a bimodal similarity between samples ("correlation between
two samples should be 1 or (mostly) 0"), and whether such local losses alone
can train hidden layers (".detach() option after each layer").

This tutorial trains a 784-256-256-10 MLP on the bundled MNIST sample five
ways:

(a) `plain`: no normalisation;
(b) `batchnorm`: BatchNormalization on each hidden pre-activation;
(c) `corrnorm`: CorrelationNorm on each hidden pre-activation (identity
    forward, its losses added to the cross-entropy), covariance blocks of 8;
(c2) `corrnorm_full`: the same with the full covariance (`block_size=None`),
    to tell what the blocks leave out;
(d) `corrnorm_detach`: CorrelationNorm with `detach=True`, so the hidden
    layers learn only from the local losses and only the linear readout
    sees the labels;
(e) `random_frozen` (a control for (d)): the same readout on frozen random
    hidden layers whose features are standardised with fixed statistics of
    the training digits, to tell what (d)'s local learning adds.

It measures test accuracy, the mean |off-diagonal correlation| of the hidden
pre-activations (over all feature pairs, and over the pairs inside one
covariance block, the only ones the block loss sees), the positive-pair
fraction against the same-class pair fraction (does the pair loss find
classes without labels?) and the time per epoch, prints a verdict table with
each threshold next to its number, and writes `results.json` and three
figures to `--out`.

Run:
    python examples/correlation_norm.py            # default, a few minutes
    python examples/correlation_norm.py --quick    # under a minute (CI)
"""

import argparse
import json
import os
import time

import numpy as np

import keras
import keras_memnets

VARIANTS = (
    "plain",
    "batchnorm",
    "corrnorm",
    "corrnorm_full",
    "corrnorm_detach",
    "random_frozen",
)
LETTERS = dict(zip(VARIANTS, ("a", "b", "c", "c2", "d", "e")))
HIDDEN = 256
NUM_PAIRS = 20000  # random test pairs for the pair statistics


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--block-size", type=int, default=8)
    parser.add_argument("--positive-fraction", type=float, default=0.1)
    parser.add_argument("--train-size", type=int, default=None,
                        help="use only this many training digits")
    parser.add_argument("--quick", action="store_true",
                        help="2 epochs on 2500 digits (CI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    parser.add_argument(
        "--out", default=os.path.join("examples_out", "correlation_norm")
    )
    args = parser.parse_args()
    if args.quick:
        args.epochs = 2
        args.train_size = args.train_size or 2500
    return args


# ---------------------------------------------------------------------------
# Models. Every variant is the same MLP; the named `pre1` / `pre2` Dense
# layers give the hidden pre-activations that BatchNormalization normalises
# and CorrelationNorm regularises.


def build_model(variant, args, x_train):
    inputs = keras.Input((784,))
    h = inputs
    for i in (1, 2):
        dense = keras.layers.Dense(HIDDEN, name=f"pre{i}")
        h = dense(h)
        if variant == "batchnorm":
            h = keras.layers.BatchNormalization(name=f"bn{i}")(h)
        elif variant.startswith("corrnorm"):
            h = keras_memnets.layers.CorrelationNorm(
                block_size=None if variant == "corrnorm_full" else args.block_size,
                positive_fraction=args.positive_fraction,
                detach=variant == "corrnorm_detach",
                seed=args.seed + i,
                name=f"cn{i}",
            )(h)
        elif variant == "random_frozen":
            # Frozen random weights, standardised per feature with statistics
            # of the training digits, so the readout sees unit-variance
            # features like (d)'s and only the local learning differs.
            dense.trainable = False
            features = keras.Model(inputs, h).predict(
                x_train, batch_size=1000, verbose=0
            )
            norm = keras.layers.Normalization(name=f"standardize{i}")
            norm.adapt(keras.ops.convert_to_numpy(features))
            h = norm(h)
        h = keras.layers.Activation("relu")(h)
    outputs = keras.layers.Dense(10, name="readout")(h)
    model = keras.Model(inputs, outputs, name=variant)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each training epoch (validation excluded)."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(self._end - self._start)


# ---------------------------------------------------------------------------
# Measurements on the test digits.


def mean_abs_offdiag_correlation(features, block_size=None):
    """Mean |corr(f_i, f_j)|, i != j, over features that are not constant.

    With `block_size`, only pairs inside one block of `block_size`
    consecutive features (the pairs a block covariance loss sees).
    """
    alive = features.std(axis=0) > 1e-6
    c = np.corrcoef(features[:, alive], rowvar=False)
    index = np.arange(features.shape[1])[alive]
    pairs = ~np.eye(len(index), dtype=bool)
    if block_size is not None:
        pairs &= (index[:, None] // block_size) == (index[None, :] // block_size)
    if not pairs.any():
        return float("nan")
    return float(np.mean(np.abs(c[pairs])))


def pair_statistics(features, labels, hurdle, positive_fraction, rng):
    """Cosines of random test pairs against the hurdle and the classes."""
    n = len(features)
    i = rng.integers(0, n, NUM_PAIRS)
    j = (i + rng.integers(1, n, NUM_PAIRS)) % n  # never a digit with itself
    v = features / np.sqrt((features**2).sum(axis=1, keepdims=True) + 1e-5)
    cos = np.sum(v[i] * v[j], axis=1)
    same = labels[i] == labels[j]
    # A fair comparison for every variant: the top `positive_fraction` of its
    # own cosines ("matched" threshold).
    matched = np.quantile(cos, 1 - positive_fraction)
    out = {
        "same_class_fraction": float(same.mean()),
        "matched_threshold": float(matched),
        "matched_same_class_precision": float(same[cos > matched].mean()),
        "cosines": cos,
        "same": same,
    }
    if hurdle is not None:
        positive = cos > hurdle
        out["hurdle"] = float(hurdle)
        out["positive_fraction"] = float(positive.mean())
        out["positive_same_class_precision"] = (
            float(same[positive].mean()) if positive.any() else float("nan")
        )
        out["same_class_recall"] = float(positive[same].mean())
    return out


def run_variant(variant, data, args):
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(args.seed)
    model = build_model(variant, args, x_train)
    timer = EpochTimer()
    print(f"\n=== ({LETTERS[variant]}) {variant} ===")
    history = model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        # The test digits give the accuracy curves; nothing is selected on them.
        validation_data=(x_test, y_test),
        callbacks=[timer],
        verbose=args.verbose,
    )
    scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    test_accuracy = float(scores["accuracy"])

    # The hidden pre-activations, where BatchNormalization and CorrelationNorm
    # act, for the test digits.
    extractor = keras.Model(
        model.inputs, [model.get_layer("pre1").output, model.get_layer("pre2").output]
    )
    pre1, pre2 = [
        keras.ops.convert_to_numpy(f)
        for f in extractor.predict(x_test, batch_size=500, verbose=0)
    ]
    hurdle = None
    if variant.startswith("corrnorm"):
        hurdle = model.get_layer("cn2").current_hurdle
        hurdle = float(keras.ops.convert_to_numpy(hurdle))
    pairs = pair_statistics(
        pre2, y_test, hurdle, args.positive_fraction, np.random.default_rng(args.seed)
    )
    times = timer.seconds[1:] or timer.seconds  # the first epoch compiles
    result = {
        "test_accuracy": test_accuracy,
        "val_accuracy_curve": [float(a) for a in history.history["val_accuracy"]],
        "train_accuracy_curve": [float(a) for a in history.history["accuracy"]],
        "mean_abs_corr_layer1": mean_abs_offdiag_correlation(pre1),
        "mean_abs_corr_layer2": mean_abs_offdiag_correlation(pre2),
        "mean_abs_corr_in_block": float(
            np.mean(
                [mean_abs_offdiag_correlation(f, args.block_size) for f in (pre1, pre2)]
            )
        ),
        "seconds_per_epoch": float(np.median(times)),
        "pairs": {k: v for k, v in pairs.items() if k not in ("cosines", "same")},
        "positive_fraction_asked": args.positive_fraction,
    }
    result["mean_abs_corr"] = float(
        np.mean([result["mean_abs_corr_layer1"], result["mean_abs_corr_layer2"]])
    )
    if variant.startswith("corrnorm"):
        # What the layer itself reported in the fit logs (training batches).
        logs = history.history
        result["logged_positive_fraction_last_epoch"] = float(
            logs["cn2_positive_fraction"][-1]
        )
        result["logged_hurdle_last_epoch"] = float(logs["cn2_hurdle"][-1])
    c = np.corrcoef(pre2[:, pre2.std(axis=0) > 1e-6][:, :64], rowvar=False)
    return result, c, pairs


# ---------------------------------------------------------------------------
# Verdicts: each line is a measured number, a printed threshold, and PASS/FAIL.


def verdicts(r, args):
    p = args.positive_fraction
    rows = []

    def add(claim, value, threshold_text, ok):
        rows.append(
            {
                "claim": claim,
                "measured": value,
                "threshold": threshold_text,
                "verdict": "PASS" if ok else "FAIL",
            }
        )

    acc = {k: 100 * v["test_accuracy"] for k, v in r.items()}
    add(
        "(c) accuracy close to BatchNorm (b)",
        f"{acc['corrnorm']:.2f}% vs {acc['batchnorm']:.2f}%",
        ">= (b) - 1.0 pp",
        acc["corrnorm"] >= acc["batchnorm"] - 1.0,
    )
    add(
        "(c) accuracy not below no normalisation (a)",
        f"{acc['corrnorm']:.2f}% vs {acc['plain']:.2f}%",
        ">= (a) - 0.5 pp",
        acc["corrnorm"] >= acc["plain"] - 0.5,
    )
    block = {k: v["mean_abs_corr_in_block"] for k, v in r.items()}
    every = {k: v["mean_abs_corr"] for k, v in r.items()}
    add(
        "(c) decorrelates inside its blocks",
        f"{block['corrnorm']:.4f} vs (a) {block['plain']:.4f}",
        "<= 0.5 x (a)",
        block["corrnorm"] <= 0.5 * block["plain"],
    )
    add(
        "(c) decorrelates all feature pairs",
        f"{every['corrnorm']:.4f} vs (a) {every['plain']:.4f}",
        "<= 0.5 x (a)",
        every["corrnorm"] <= 0.5 * every["plain"],
    )
    add(
        "(c2) full covariance decorrelates all pairs",
        f"{every['corrnorm_full']:.4f} vs (a) {every['plain']:.4f}",
        "<= 0.5 x (a)",
        every["corrnorm_full"] <= 0.5 * every["plain"],
    )
    add(
        "(d) local-only layers decorrelate in blocks",
        f"{block['corrnorm_detach']:.4f} vs (a) {block['plain']:.4f}",
        "<= 0.5 x (a)",
        block["corrnorm_detach"] <= 0.5 * block["plain"],
    )
    pf = r["corrnorm"]["pairs"]["positive_fraction"]
    add(
        "(c) hurdle gives the asked positive fraction",
        f"{pf:.3f} of test pairs",
        f"{p} +/- 0.05",
        abs(pf - p) <= 0.05,
    )
    base = r["corrnorm"]["pairs"]["same_class_fraction"]
    for k in ("corrnorm", "corrnorm_detach"):
        prec = r[k]["pairs"]["positive_same_class_precision"]
        add(
            f"({LETTERS[k]}) positive pairs are mostly same-class",
            f"{prec:.3f} (base rate {base:.3f})",
            ">= 0.5",
            prec >= 0.5,
        )
        add(
            f"({LETTERS[k]}) positive pairs beat chance",
            f"{prec:.3f} (base rate {base:.3f})",
            ">= 2 x base rate",
            prec >= 2 * base,
        )
    pa = r["plain"]["pairs"]["matched_same_class_precision"]
    for k in ("corrnorm", "corrnorm_detach"):
        pk = r[k]["pairs"]["matched_same_class_precision"]
        add(
            f"({LETTERS[k]}) top-{p:.0%} pairs more same-class than (a)",
            f"{pk:.3f} vs (a) {pa:.3f}",
            "> (a)",
            pk > pa,
        )
    pe = r["random_frozen"]["pairs"]["matched_same_class_precision"]
    pd = r["corrnorm_detach"]["pairs"]["matched_same_class_precision"]
    add(
        f"(d) top-{p:.0%} pairs more same-class than (e)",
        f"{pd:.3f} vs (e) {pe:.3f}",
        "> (e) + 0.05",
        pd > pe + 0.05,
    )
    add(
        "(d) local learning beats frozen random (e)",
        f"{acc['corrnorm_detach']:.2f}% vs {acc['random_frozen']:.2f}%",
        "> (e) + 1.0 pp",
        acc["corrnorm_detach"] > acc["random_frozen"] + 1.0,
    )
    t = {k: v["seconds_per_epoch"] for k, v in r.items()}
    add(
        "(c) time per epoch vs BatchNorm (b)",
        f"{t['corrnorm']:.3f}s vs {t['batchnorm']:.3f}s "
        f"({t['corrnorm'] / t['batchnorm']:.2f}x)",
        "<= 1.5 x (b)",
        t["corrnorm"] <= 1.5 * t["batchnorm"],
    )
    return rows


def print_tables(r, rows):
    print("\nPer variant (2,000 test digits; |corr| of the hidden pre-activations):")
    header = (
        f"{'variant':<21}{'test acc':>9}{'|corr| all':>11}{'|corr| block':>13}"
        f"{'pos frac':>9}{'pos same':>9}{'top same':>9}{'s/epoch':>9}"
    )
    print(header)
    print("-" * len(header))
    for k, v in r.items():
        pairs = v["pairs"]
        pf = pairs.get("positive_fraction")
        pp = pairs.get("positive_same_class_precision")
        pf_text = "-" if pf is None else f"{pf:.3f}"
        pp_text = "-" if pp is None else f"{pp:.3f}"
        print(
            f"{'(' + LETTERS[k] + ') ' + k:<21}{100 * v['test_accuracy']:>8.2f}%"
            f"{v['mean_abs_corr']:>11.4f}{v['mean_abs_corr_in_block']:>13.4f}"
            f"{pf_text:>9}{pp_text:>9}"
            f"{pairs['matched_same_class_precision']:>9.3f}"
            f"{v['seconds_per_epoch']:>9.3f}"
        )
    base = next(iter(r.values()))["pairs"]["same_class_fraction"]
    print(
        f"pos frac / pos same: fraction of {NUM_PAIRS} random test pairs whose "
        "cosine exceeds the second CorrelationNorm's trained hurdle, and the "
        "fraction of those that are same-class; top same: same-class fraction "
        f"of each variant's top-{args_fraction(r):.0%} most similar pairs. "
        f"Base rate of same-class pairs: {base:.3f}."
    )
    print("\nVerdicts (each measured number against the threshold printed beside it):")
    width = max(len(row["claim"]) for row in rows)
    mwidth = max(len(row["measured"]) for row in rows)
    twidth = max(len(row["threshold"]) for row in rows)
    for row in rows:
        print(
            f"  {row['claim']:<{width}}  {row['measured']:<{mwidth}}  "
            f"threshold {row['threshold']:<{twidth}}  {row['verdict']}"
        )


def args_fraction(r):
    return next(iter(r.values()))["positive_fraction_asked"]


def save_figures(r, corrs, pairs, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(corrs), figsize=(2.6 * len(corrs), 3.0), layout="constrained"
    )
    for ax, (k, c) in zip(axes, corrs.items()):
        im = ax.imshow(c, vmin=-1, vmax=1, cmap="RdBu_r")
        title = f"{k}\nmean|off-diag| {r[k]['mean_abs_corr_layer2']:.3f}"
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, shrink=0.7)
    fig.suptitle(
        "Correlation of 64 second-layer pre-activations (test digits)", fontsize=9
    )
    fig.savefig(os.path.join(args.out, "correlation_matrices.png"), dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for k, v in r.items():
        epochs = np.arange(1, len(v["val_accuracy_curve"]) + 1)
        ax.plot(epochs, 100 * np.array(v["val_accuracy_curve"]), marker="o", label=k)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "accuracy_curves.png"), dpi=120)
    plt.close(fig)

    names = ["plain", "corrnorm", "corrnorm_detach"]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2))
    for ax, k in zip(axes, names):
        p = pairs[k]
        bins = np.linspace(-1, 1, 81)
        for mask, label in ((~p["same"], "different class"), (p["same"], "same class")):
            ax.hist(p["cosines"][mask], bins=bins, alpha=0.6, density=True, label=label)
        if "hurdle" in p:
            ax.axvline(p["hurdle"], color="k", ls="--", label="hurdle")
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("cosine of a test pair")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "pair_cosines.png"), dpi=120)
    plt.close(fig)


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = keras_memnets.datasets.load_mnist(
        source="bundled", normalize=True, flatten=True
    )
    if args.train_size:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    print(
        f"backend {keras.backend.backend()}, {len(x_train)} training and "
        f"{len(x_test)} test digits, {args.epochs} epochs, batch "
        f"{args.batch_size}, block_size {args.block_size}"
    )
    data = ((x_train, y_train), (x_test, y_test))
    results, corrs, pairs = {}, {}, {}
    start = time.perf_counter()
    for variant in VARIANTS:
        results[variant], corrs[variant], pairs[variant] = run_variant(
            variant, data, args
        )
    rows = verdicts(results, args)
    print_tables(results, rows)
    if args.quick:
        print("(--quick is a smoke test: the verdicts need the default run.)")
    save_figures(results, corrs, pairs, args)
    payload = {
        "backend": keras.backend.backend(),
        "args": vars(args),
        "results": results,
        "verdicts": rows,
        "total_seconds": time.perf_counter() - start,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(payload, f, indent=2)
    seconds = payload["total_seconds"]
    print(f"\nwrote {args.out}/results.json and 3 figures in {seconds:.0f} s")


if __name__ == "__main__":
    main()
