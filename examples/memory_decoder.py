"""Memory and memory-informed decoders of MNIST: the research notes, measured.

The research notes (`000-memory-and-set-min-notes.txt`, second part) train a
network with two parts on MNIST, each with its own output trained on the
same image:

- a *memory* part: a softmax selection `F` over `mn = 10` slots of a learned
  array `M`, read as `F · sigmoid(M)`;
- a *memory-informed* part: an approximator that proposes one candidate
  image per slot, mixed by the same `F`.

The input is not the image but `dl = 6` principal components of it (the
notes' `dred`). The notes report four observations, which this script turns
into measured verdicts:

(a) the memory-informed output converges much faster than the memory output;
(b) the memory array is not fully utilised;
(c) a `1 - max` term on the selection did not help;
(d) SignSGD leads to better utilisation of the memory array, but gets stuck
    in low-quality local minima.

Run it with any Keras backend:

    KERAS_BACKEND=tensorflow python examples/memory_decoder.py           # < 5 min
    KERAS_BACKEND=tensorflow python examples/memory_decoder.py --quick   # < 60 s
    KERAS_BACKEND=jax python examples/memory_decoder.py --compare-optimizers --seeds 3

It writes `results.json`, `loss_curves.png`, `digit_grid.png` and
`utilisation.png` under `--out` (default `examples_out/memory_decoder`).
Every number it prints is measured in the run; each verdict is printed next
to the threshold that decides it.
"""

import argparse
import json
import os
import time

import numpy as np

import keras

import keras_memnets
from keras_memnets.datasets import load_mnist
from keras_memnets.datasets import resolve_mnist_source

# ---------------------------------------------------------------------------
# Thresholds that turn measurements into verdicts. They are printed with
# every verdict; change them here, not in the printed table.

# (a) The informed output "converges faster" if it reaches the memory
# output's final test loss within this fraction of the epochs.
FASTER_EPOCH_FRACTION = 0.5
# (b) The memory is "not fully utilised" if at least one slot is dead (argmax
# share < 0.1 / memory_size) or 90% of the test digits pick at most this
# fraction of the slots.
UNDERUSED_SLOT_FRACTION = 0.7
# (c) The 1-max term "helps" if the summed test MSE of both outputs drops by
# more than this relative amount.
HELPS_RELATIVE_GAIN = 0.02
# (d) SignSGD "improves utilisation" if, averaged over seeds, 90% of the test
# digits spread over at least this many more slots than with Adam; it "gets
# stuck" if its summed test MSE is this factor above Adam's.
SIGN_SLOT_GAIN = 1.0
SIGN_LOSS_FACTOR = 1.1

# The sign optimizers' rate comes from a one-seed sweep (3e-5 .. 3e-2) on this
# decoder's architecture (6 PCA features, 512 hidden, 784 sigmoid outputs,
# batch 64, 8 epochs): 3e-3 gave the lowest test MSE for both SignSGD and
# Signum (see the SignSGD guide).
DEFAULT_LEARNING_RATES = {"adam": 1e-3, "sgd": 0.1, "signsgd": 3e-3, "signum": 3e-3}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--examples", type=int, default=5000,
                        help="training digits used (of the training split)")
    parser.add_argument("--memory-size", type=int, default=10, help="the notes' mn")
    parser.add_argument("--hidden-units", type=int, default=512)
    parser.add_argument("--components", type=int, default=6,
                        help="PCA components fed to the network (the notes' dl)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--optimizer", choices=sorted(DEFAULT_LEARNING_RATES),
                        default="adam",
                        help="signsgd / signum: keras_memnets.optimizers.SignSGD "
                        "with momentum 0 / 0.9")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default: " + ", ".join(
                            f"{k} {v:g}" for k, v in DEFAULT_LEARNING_RATES.items()))
    parser.add_argument("--one-max", type=float, default=0.0, metavar="WEIGHT",
                        help="weight of the 1-max term on the selection in the main run")
    parser.add_argument("--compare-one-max", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="also train without/with the 1-max term for verdict (c) "
                        "(default: on, off with --quick)")
    parser.add_argument("--comparison-weight", type=float, default=0.1,
                        help="1-max weight of the comparison run when --one-max is 0")
    parser.add_argument("--init-from-samples", action="store_true",
                        help="write the memory slots from random training images "
                        "before training")
    parser.add_argument("--restart-dead-slots", action="store_true",
                        help="use keras_memnets.callbacks.RestartDeadSlots")
    parser.add_argument("--compare-optimizers", action="store_true",
                        help="train Adam and SignSGD over --seeds seeds for verdict (d)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="seeds per optimizer with --compare-optimizers")
    parser.add_argument("--compare-with", choices=["signsgd", "signum"],
                        default="signsgd",
                        help="the sign optimizer that --compare-optimizers runs")
    parser.add_argument("--sign-learning-rate", type=float, default=None,
                        help="learning rate of the sign optimizer in "
                        "--compare-optimizers (default: its default above; Adam "
                        "there always uses its default)")
    parser.add_argument("--source", default="bundled",
                        choices=["auto", "bundled", "tfds", "keras"],
                        help="MNIST source for keras_memnets.datasets.load_mnist")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("examples_out", "memory_decoder"))
    parser.add_argument("--quick", action="store_true",
                        help="a small run (< 60 s): 2000 digits, 5 epochs, no comparisons")
    args = parser.parse_args(argv)
    if args.quick:
        args.examples = min(args.examples, 2000)
        args.epochs = min(args.epochs, 5)
        args.seeds = min(args.seeds, 2)
    if args.compare_one_max is None:
        args.compare_one_max = not args.quick
    return args


# ---------------------------------------------------------------------------
# Data: MNIST images in [0, 1] as 784-vectors, and their PCA features.


def load_data(args):
    source = resolve_mnist_source(args.source)
    (x_train, y_train), (x_test, y_test) = load_mnist(
        source=source, normalize=True, flatten=True
    )
    if source == "bundled":
        print(
            "Data: the bundled sample of real MNIST shipped with keras_memnets "
            f"({len(x_train):,} training and {len(x_test):,} test digits), not "
            "the full 60,000-digit training set."
        )
    else:
        print(f"Data: MNIST from {source!r} ({len(x_train):,} training digits).")
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(x_train))[: args.examples]
    x_train, y_train = x_train[order], y_train[order]
    print(f"Training on {len(x_train):,} digits, testing on {len(x_test):,}.")

    # The notes' `dred = DimensionReduction[dat, dl]`: PCA adapted on the
    # training images only, whitened so that every feature has unit variance.
    pca = keras_memnets.layers.PCAReduction(args.components, whiten=True)
    pca.adapt(x_train)
    ratio = pca.explained_variance_ratio
    print(
        f"PCA to {args.components} components keeps {ratio.sum():.1%} of the "
        f"pixel variance (per component: {np.round(ratio.astype('float64'), 3).tolist()})."
    )
    f_train = keras.ops.convert_to_numpy(pca(x_train))
    f_test = keras.ops.convert_to_numpy(pca(x_test))
    return dict(
        source=source,
        x_train=x_train, y_train=y_train, f_train=f_train,
        x_test=x_test, y_test=y_test, f_test=f_test,
        explained_variance_ratio=ratio.astype('float64').tolist(),
    )


# ---------------------------------------------------------------------------
# Optimizers. SignSGD comes from keras_memnets.optimizers; it raises
# AttributeError where that optimizer is not available.


def make_optimizer(name, learning_rate=None):
    lr = DEFAULT_LEARNING_RATES[name] if learning_rate is None else learning_rate
    if name == "adam":
        return keras.optimizers.Adam(lr)
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9)
    sign_sgd = keras_memnets.optimizers.SignSGD  # AttributeError if missing
    return sign_sgd(learning_rate=lr, momentum=0.0 if name == "signsgd" else 0.9)


def sign_sgd_available():
    return hasattr(keras_memnets.optimizers, "SignSGD")


# ---------------------------------------------------------------------------
# One training run: memory_decoder with the selection exposed as a third
# output, so that the utilisation metrics follow it epoch by epoch.


def utilisation(selection, labels, memory_size):
    """Utilisation of a selection on a data set, with the library's metrics."""
    values = {}
    for key, metric in (
        ("perplexity", keras_memnets.metrics.SelectionPerplexity(memory_size)),
        ("dead_slots", keras_memnets.metrics.DeadSlots(memory_size)),
        ("slots_for_90", keras_memnets.metrics.SlotsForMass(memory_size, mass=0.9)),
        ("mean_max", keras_memnets.metrics.MeanMaxSelection()),
    ):
        metric.update_state(None, selection)
        values[key] = float(keras.ops.convert_to_numpy(metric.result()))
    values["mutual_information"] = keras_memnets.metrics.slot_label_mutual_information(
        selection, labels
    )
    values["mutual_information_normalized"] = (
        keras_memnets.metrics.slot_label_mutual_information(
            selection, labels, normalized=True
        )
    )
    counts = np.bincount(selection.argmax(-1), minlength=memory_size)
    values["argmax_share"] = (counts / counts.sum()).tolist()
    return values


def train_run(args, data, label, optimizer, one_max, seed, learning_rate=None,
              verbose=1):
    print(
        f"\n== Run {label!r}: optimizer={optimizer}, 1-max weight={one_max:g}, "
        f"seed={seed}, {args.epochs} epochs"
    )
    keras.utils.set_random_seed(seed)
    mn = args.memory_size
    model = keras_memnets.models.memory_decoder(
        args.components,
        data["x_train"].shape[1],
        memory_size=mn,
        hidden_units=args.hidden_units,
        return_selection=True,
        selection_regularizer=(
            keras_memnets.regularizers.OneMax(one_max) if one_max > 0 else None
        ),
    )
    memory_layer = model.get_layer("memory_layer")
    if args.init_from_samples:
        # The notes' last idea: "set the memory net's memory array using
        # samples of the training set".
        rows = np.random.default_rng(seed).choice(len(data["x_train"]), mn, replace=False)
        memory_layer.set_memory_from_samples(data["x_train"][rows])
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss={"memory": "mse", "informed": "mse"},
        metrics={
            "selection": [
                keras_memnets.metrics.SelectionPerplexity(mn, name="perplexity"),
                keras_memnets.metrics.SlotsForMass(mn, name="slots_for_90"),
            ]
        },
    )

    def targets(x):
        # The selection has no loss; its "target" only feeds the metrics,
        # which ignore it.
        return {"memory": x, "informed": x, "selection": np.zeros((len(x), mn), "float32")}

    callbacks = []
    if args.restart_dead_slots:
        restart = keras_memnets.callbacks.RestartDeadSlots(seed=seed, verbose=1)
        callbacks.append(restart.set_data(data["f_train"], data["x_train"]))
    start = time.perf_counter()
    history = model.fit(
        data["f_train"],
        targets(data["x_train"]),
        validation_data=(data["f_test"], targets(data["x_test"])),
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=callbacks,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    outputs = model.predict(data["f_test"], batch_size=500, verbose=0)
    test = {
        "memory_mse": float(np.mean((outputs["memory"] - data["x_test"]) ** 2)),
        "informed_mse": float(np.mean((outputs["informed"] - data["x_test"]) ** 2)),
    }
    test["total_mse"] = test["memory_mse"] + test["informed_mse"]
    test.update(utilisation(outputs["selection"], data["y_test"], mn))
    print(
        f"   test MSE memory {test['memory_mse']:.4f}, informed "
        f"{test['informed_mse']:.4f}; perplexity/mn {test['perplexity']:.3f}, "
        f"dead slots {test['dead_slots']:.0f}, slots for 90% {test['slots_for_90']:.0f}, "
        f"mean max {test['mean_max']:.3f}, MI {test['mutual_information']:.3f} nats "
        f"({seconds:.0f} s)"
    )
    result = {
        "label": label,
        "optimizer": optimizer,
        "learning_rate": (
            DEFAULT_LEARNING_RATES[optimizer] if learning_rate is None else learning_rate
        ),
        "one_max": one_max,
        "seed": seed,
        "seconds": seconds,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "test": test,
    }
    return result, model, outputs


# ---------------------------------------------------------------------------
# Verdicts: each from measured numbers and a threshold stated above.


def verdict_a(run):
    h = run["history"]
    memory, informed = h["val_memory_loss"], h["val_informed_loss"]
    epochs = len(memory)
    level = memory[-1]
    reached = next((i + 1 for i, v in enumerate(informed) if v <= level), None)
    limit = FASTER_EPOCH_FRACTION * epochs
    holds = reached is not None and reached <= limit
    measured = (
        f"memory test MSE after {epochs} epochs: {level:.4f}; the informed output "
        + (f"reached it after epoch {reached}" if reached else "never reached it")
        + f" (after epoch 1: memory {memory[0]:.4f}, informed {informed[0]:.4f})"
    )
    return dict(
        id="a", observation="informed output converges faster than memory output",
        measured=measured,
        threshold=f"informed reaches memory's final loss within {limit:g} epochs "
        f"({FASTER_EPOCH_FRACTION:.0%} of {epochs})",
        verdict="holds" if holds else "does not hold",
    )


def verdict_b(run, memory_size):
    t = run["test"]
    limit = UNDERUSED_SLOT_FRACTION * memory_size
    holds = t["dead_slots"] >= 1 or t["slots_for_90"] <= limit
    return dict(
        id="b", observation="memory array is not fully utilised",
        measured=(
            f"dead slots {t['dead_slots']:.0f} of {memory_size}; 90% of test digits "
            f"pick {t['slots_for_90']:.0f} slots; perplexity/mn {t['perplexity']:.3f}; "
            f"slot-label MI {t['mutual_information_normalized']:.2f} of H(label)"
        ),
        threshold=f">= 1 dead slot (argmax share < {0.1 / memory_size:.3g}) or "
        f"90% mass on <= {limit:g} slots",
        verdict="holds" if holds else "does not hold",
    )


def verdict_c(without, with_one_max):
    if without is None or with_one_max is None:
        return dict(
            id="c", observation="the 1-max term does not help",
            measured="not run (pass --compare-one-max)", threshold="-", verdict="not run",
        )
    a, b = without["test"], with_one_max["test"]
    gain = (a["total_mse"] - b["total_mse"]) / a["total_mse"]
    helps = gain > HELPS_RELATIVE_GAIN
    return dict(
        id="c", observation="the 1-max term does not help",
        measured=(
            f"summed test MSE without {a['total_mse']:.4f}, with 1-max "
            f"(w={with_one_max['one_max']:g}) {b['total_mse']:.4f} "
            f"(gain {gain:+.1%}); mean max selection {a['mean_max']:.3f} -> "
            f"{b['mean_max']:.3f}; slots for 90% {a['slots_for_90']:.0f} -> "
            f"{b['slots_for_90']:.0f}"
        ),
        threshold=f"helps if the gain > {HELPS_RELATIVE_GAIN:.0%}",
        verdict=("does not hold (1-max helps)" if helps else "holds (1-max does not help)"),
    )


def verdict_d(comparison, sign_name="signsgd"):
    observation = "SignSGD improves utilisation (and gets stuck in worse minima)"
    if comparison is None:
        return dict(id="d", observation=observation,
                    measured="not run (pass --compare-optimizers)", threshold="-",
                    verdict="not run")
    if comparison == "unavailable":
        return dict(id="d", observation=observation,
                    measured="not run (SignSGD not available)", threshold="-",
                    verdict="not run")
    adam = [r["test"] for r in comparison["adam"]]
    sign = [r["test"] for r in comparison["signsgd"]]
    slots_adam = float(np.mean([t["slots_for_90"] for t in adam]))
    slots_sign = float(np.mean([t["slots_for_90"] for t in sign]))
    perp_adam = float(np.mean([t["perplexity"] for t in adam]))
    perp_sign = float(np.mean([t["perplexity"] for t in sign]))
    loss_adam = float(np.mean([t["total_mse"] for t in adam]))
    loss_sign = float(np.mean([t["total_mse"] for t in sign]))
    label = {"signsgd": "SignSGD", "signum": "Signum"}[sign_name]
    improves = slots_sign - slots_adam >= SIGN_SLOT_GAIN
    stuck = loss_sign >= SIGN_LOSS_FACTOR * loss_adam
    verdict = (
        ("utilisation: holds" if improves else "utilisation: does not hold")
        + "; "
        + ("worse minima: holds" if stuck else "worse minima: does not hold")
    )
    return dict(
        id="d", observation=observation,
        measured=(
            f"over {len(adam)} seeds: slots for 90% Adam {slots_adam:.1f}, {label} "
            f"{slots_sign:.1f}; perplexity/mn Adam {perp_adam:.3f}, {label} "
            f"{perp_sign:.3f}; summed test MSE Adam {loss_adam:.4f}, {label} "
            f"{loss_sign:.4f}"
        ),
        threshold=f"improves if {label} uses >= {SIGN_SLOT_GAIN:g} more slots for 90%; "
        f"stuck if its MSE >= {SIGN_LOSS_FACTOR:g} x Adam's",
        verdict=verdict,
    )


def print_verdicts(verdicts):
    print("\nVerdicts on the notes' observations (measured in this run):")
    for v in verdicts:
        print(f"({v['id']}) {v['observation']}")
        print(f"    measured:  {v['measured']}")
        print(f"    threshold: {v['threshold']}")
        print(f"    verdict:   {v['verdict']}")


# ---------------------------------------------------------------------------
# Figures.


def plot_losses(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, split in zip(axes, ("", "val_")):
        for run, style in zip(runs, ("-", "--", ":", "-.")):
            h = run["history"]
            epochs = np.arange(1, len(h[f"{split}memory_loss"]) + 1)
            ax.plot(epochs, h[f"{split}memory_loss"], "C0" + style,
                    label=f"memory ({run['label']})")
            ax.plot(epochs, h[f"{split}informed_loss"], "C3" + style,
                    label=f"informed ({run['label']})")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title("training MSE (epoch mean)" if not split else "test MSE (end of epoch)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MSE")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_digit_grid(x, labels, outputs, path, per_class=4):
    """The notes' grid: per class, targets / memory output / informed output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    pad, size = 2, 28
    cell = size + pad
    sub_w, sub_h = per_class * cell + pad, 3 * cell + pad
    canvas = np.ones((2 * sub_h + pad, 5 * sub_w + pad))
    for c in range(10):
        rows = np.flatnonzero(labels == c)[:per_class]
        top = pad + (c // 5) * sub_h
        left = pad + (c % 5) * sub_w
        for r, images in enumerate((x, outputs["memory"], outputs["informed"])):
            for j, i in enumerate(rows):
                y0, x0 = top + r * cell + pad // 2, left + j * cell + pad // 2
                canvas[y0 : y0 + size, x0 : x0 + size] = 1 - images[i].reshape(size, size)
    fig, ax = plt.subplots(figsize=(12, 5.2))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for c in range(10):
        top = pad + (c // 5) * sub_h
        left = pad + (c % 5) * sub_w
        ax.add_patch(patches.Rectangle((left - 1, top - 1), sub_w - pad, sub_h - pad,
                                       fill=False, edgecolor="red", linewidth=1.5))
    ax.set_axis_off()
    ax.set_title("per digit class: target (top), memory output (middle), "
                 "memory-informed output (bottom); test digits")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_utilisation(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(runs)
    for k, run in enumerate(runs):
        share = np.sort(run["test"]["argmax_share"])[::-1]
        ax.bar(np.arange(len(share)) + k * width, share, width, label=run["label"])
    ax.set_xlabel("slot (sorted by share)")
    ax.set_ylabel("share of test digits (argmax)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}.")
    if args.optimizer in ("signsgd", "signum") and not sign_sgd_available():
        raise SystemExit(
            f"--optimizer {args.optimizer} needs keras_memnets.optimizers.SignSGD, "
            "which this installation does not have."
        )
    data = load_data(args)

    main_label = f"{args.optimizer}" + (f", 1-max {args.one_max:g}" if args.one_max else "")
    main_run, model, outputs = train_run(
        args, data, main_label, args.optimizer, args.one_max, args.seed,
        learning_rate=args.learning_rate,
    )
    params = model.count_params()
    print(f"memory_decoder has {params:,} parameters (the notes' NetSize).")
    runs = [main_run]

    # (c) The same run with the other 1-max setting.
    without = with_one_max = None
    if args.compare_one_max:
        other = 0.0 if args.one_max > 0 else args.comparison_weight
        other_label = f"{args.optimizer}" + (f", 1-max {other:g}" if other else "")
        other_run, _, _ = train_run(args, data, other_label, args.optimizer, other,
                                    args.seed, learning_rate=args.learning_rate)
        runs.append(other_run)
        without, with_one_max = (
            (main_run, other_run) if args.one_max == 0 else (other_run, main_run)
        )

    # (d) Adam against SignSGD over several seeds.
    comparison = None
    if args.compare_optimizers:
        if not sign_sgd_available():
            print("\nSignSGD is not available in this keras_memnets: (d) is not run.")
            comparison = "unavailable"
        else:
            # Each optimizer at its own learning rate: Adam at its default,
            # the sign optimizer at --sign-learning-rate (or its default).
            comparison = {"adam": [], "signsgd": []}
            for s in range(args.seeds):
                for key, name, lr in (
                    ("adam", "adam", None),
                    ("signsgd", args.compare_with, args.sign_learning_rate),
                ):
                    run, _, _ = train_run(args, data, f"{name} seed {args.seed + s}",
                                          name, args.one_max, args.seed + s,
                                          learning_rate=lr, verbose=0)
                    comparison[key].append(run)

    verdicts = [
        verdict_a(main_run),
        verdict_b(main_run, args.memory_size),
        verdict_c(without, with_one_max),
        verdict_d(comparison, args.compare_with),
    ]
    print_verdicts(verdicts)

    plot_losses(runs, os.path.join(args.out, "loss_curves.png"))
    plot_digit_grid(data["x_test"], data["y_test"], outputs,
                    os.path.join(args.out, "digit_grid.png"))
    plot_utilisation(
        runs + ([r for rs in comparison.values() for r in rs]
                if isinstance(comparison, dict) else []),
        os.path.join(args.out, "utilisation.png"),
    )
    results = {
        "args": vars(args),
        "backend": keras.backend.backend(),
        "data_source": data["source"],
        "train_examples": int(len(data["x_train"])),
        "test_examples": int(len(data["x_test"])),
        "pca_explained_variance_ratio": data["explained_variance_ratio"],
        "count_params": int(params),
        "runs": runs,
        "optimizer_comparison": comparison if isinstance(comparison, dict) else comparison,
        "verdicts": verdicts,
        "thresholds": {
            "faster_epoch_fraction": FASTER_EPOCH_FRACTION,
            "underused_slot_fraction": UNDERUSED_SLOT_FRACTION,
            "helps_relative_gain": HELPS_RELATIVE_GAIN,
            "sign_slot_gain": SIGN_SLOT_GAIN,
            "sign_loss_factor": SIGN_LOSS_FACTOR,
        },
        "seconds": time.perf_counter() - start,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nWrote results.json and figures to {args.out} "
          f"({results['seconds']:.0f} s in all).")
    return results


if __name__ == "__main__":
    main()
