"""How the weights of a small ReLU network change over training.

The research note `002-weight-distribution-notebook` trains 5 instances of
the "RRnet" `[8, 8, 8]` (`Dense(8) → ReLU → Dense(8) → ReLU → Dense(8) →
ReLU → Dense(1)`, 169 weights) on a one-dimensional step function, full
batch (5000 points), for 15000 rounds, keeping the network every 10 rounds
plus the initial one: a weights array of shape `(5, 1501, 169)`. It then
looks at the histogram of all weights over training and their variance, and
claims or asks:

(1) the distribution broadens ("variance grows");
(2) its tails get longer (kurtosis and max |w| grow);
(3) "the rank of the weight matrices decreases (?)";
and, as open questions, (4) MLPs of other widths and depths, (5) one large
net against an ensemble, (6) another target function, (7) the weights
normalised by their total norm, (8) correlations between weights as a
function of depth and (9) "adversarially changing a few weights won't affect
results". By default this script runs (1)-(3) at the note's full size; each
open question has a flag, and `--all` runs them all.

The fast way to train 5 × 15000 full-batch rounds: the 5 instances are one
vectorised Keras model (`keras_memnets.models.relu_mlp(..., instances=5)`,
each layer an `EinsumDense` with a per-instance kernel), so one compiled
step trains all five; `fit` runs one epoch of 15000 steps on a generator
that yields the full batch, with `steps_per_execution=10`, so one compiled
call runs the 10 rounds between two snapshots (and XLA on TensorFlow).
`keras_memnets.callbacks.WeightHistory` records the weights every 10
optimizer steps.

Run:
    python reproductions/weight_statistics.py            # the note's full run
    python reproductions/weight_statistics.py --all      # plus (4)-(9)
    python reproductions/weight_statistics.py --quick    # CI

Measured run times: the docs page *Reproductions*. `--quiet`: no progress
bars.
"""

import argparse
import itertools
import json
import os
import time

import keras
import numpy as np

import keras_memnets
from keras_memnets import analysis

# Thresholds of the verdicts, printed before the numbers.
GROWTH = 1.10  # "grows": final / initial above this
DECREASE = 0.90  # "decreases": final / initial below this
MAJORITY = 4  # of 5 instances (or 8 of 10 matrices) for a claim to hold
ACCURACY_DROP = 1.0  # percentage points: a change "does not affect results"


# ---------------------------------------------------------------------------
# Training several instances at once.


def train_instances(
    widths, target, args, instances=5, seed=0, rounds=None, data_seed=None
):
    """Trains `instances` MLPs full batch; returns the snapshots and losses.

    `seed` seeds the initial weights and, unless `data_seed` is given, the
    training points too.

    Returns a dict with `steps` (records,), `weights` (instances, records,
    params) in each instance's own flat layout, `layers` (per layer: the
    kernels (instances, records, fan_in, fan_out)), `loss` (final MSE per
    instance), `seconds` and the single-instance `model` builder's widths.
    """
    rounds = rounds or args.rounds
    keras.utils.set_random_seed(seed)
    x, y = keras_memnets.datasets.piecewise_steps(
        args.points, seed=seed if data_seed is None else data_seed
    )
    if target is not None:
        y = target(x)
    model = keras_memnets.models.relu_mlp(widths, instances=instances)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="mse",
        # One compiled call runs the `every` rounds between two snapshots
        # (the torch backend supports only one step per call).
        steps_per_execution=(
            1 if keras.backend.backend() == "torch" else args.every
        ),
        # XLA halves TensorFlow's time per round on these tiny matrices
        # (JAX always compiles with XLA; "auto" leaves torch eager).
        jit_compile=True if keras.backend.backend() == "tensorflow" else "auto",
    )
    targets = np.repeat(y[:, None, :], instances, axis=1)

    def full_batches():
        # The same full batch every round: one epoch of `rounds` steps, so
        # Keras builds its data iterator once (an epoch per 10 rounds costs
        # about 50 ms of set-up each on TensorFlow).
        while True:
            yield x, targets

    history = keras_memnets.callbacks.WeightHistory(
        every=args.every, keep_weights=True
    )
    start = time.perf_counter()
    model.fit(
        full_batches(),
        steps_per_epoch=rounds,
        epochs=1,
        shuffle=False,
        # fit's own progress bar (rounds done, time left) unless --quiet.
        verbose=0 if args.quiet else 1,
        callbacks=[history],
    )
    seconds = time.perf_counter() - start
    flat = history.weights()
    per_instance, layers = split_instances(flat, model, instances)
    pred = keras.ops.convert_to_numpy(
        model.predict(x, batch_size=len(x), verbose=0)
    )
    loss = np.mean((pred - y[:, None, :]) ** 2, axis=(0, 2))
    return {
        "steps": np.asarray(history.steps),
        "weights": per_instance,
        "layers": layers,
        "loss": loss,
        "seconds": seconds,
        "widths": list(widths),
        "x": x,
        "y": y,
    }


def split_instances(flat, model, instances):
    """Cuts the stacked model's snapshots into each instance's own layout.

    `flat` is `(records, n)` in the stacked model's variable order, every
    variable of shape `(instances, ...)`. Each instance's 169 (for
    `[8, 8, 8]`) weights are laid out layer by layer, kernel then bias.
    """
    records = len(flat)
    pieces = [[] for _ in range(instances)]
    layers = {}
    offset = 0
    for v in model.weights:
        shape = tuple(v.shape)
        size = int(np.prod(shape))
        block = flat[:, offset : offset + size].reshape(records, *shape)
        offset += size
        for i in range(instances):
            pieces[i].append(block[:, i].reshape(records, -1))
        if v.path.endswith("kernel"):
            layers[v.path.split("/")[0]] = block  # (records, k, in, out)
    per_instance = np.stack([np.concatenate(p, axis=1) for p in pieces])
    layers = {k: np.moveaxis(b, 1, 0) for k, b in layers.items()}
    return per_instance, layers


def forward(flat_weights, widths, x):
    """One instance's output from its flat weights (numpy)."""
    sizes = [1, *widths, 1]
    h = x
    offset = 0
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        kernel = flat_weights[offset : offset + fan_in * fan_out]
        offset += fan_in * fan_out
        bias = flat_weights[offset : offset + fan_out]
        offset += fan_out
        h = h @ kernel.reshape(fan_in, fan_out) + bias
        if i < len(sizes) - 2:
            h = np.maximum(h, 0.0)
    return h


# ---------------------------------------------------------------------------
# Statistics over training, per instance.


def instance_statistics(run):
    """Variance, kurtosis, max |w| and each kernel's ranks over training."""
    w = run["weights"].astype("float64")  # (instances, records, params)
    centred = w - w.mean(axis=2, keepdims=True)
    var = np.mean(centred**2, axis=2)
    stats = {
        "variance": var,
        "kurtosis": np.mean(centred**4, axis=2) / var**2,
        "max_abs": np.max(np.abs(w), axis=2),
        "l2_norm": np.linalg.norm(w, axis=2),
    }
    for name, kernels in run["layers"].items():
        if min(kernels.shape[-2:]) < 2:
            continue  # a vector has rank 1; nothing to decrease
        k, r = kernels.shape[:2]
        stable = np.zeros((k, r))
        effective = np.zeros((k, r))
        for i in range(k):
            for t in range(r):
                s = analysis.matrix_statistics(kernels[i, t])
                stable[i, t] = s["stable_rank"]
                effective[i, t] = s["effective_rank"]
        stats[f"stable_rank/{name}"] = stable
        stats[f"effective_rank/{name}"] = effective
    return stats


def ratio_summary(curves, direction):
    """Final / initial per curve; how many grow (or decrease)."""
    ratio = curves[..., -1] / curves[..., 0]
    ratio = ratio.ravel()
    if direction == "grows":
        hits = int(np.sum(ratio > GROWTH))
    else:
        hits = int(np.sum(ratio < DECREASE))
    return ratio, hits


def fmt(values):
    values = np.asarray(values, dtype="float64")
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.3g} ± {sd:.2g}"


def verdicts(run, stats, label, results):
    """Prints and stores the verdicts on claims (1)-(3) for one run."""
    n = run["weights"].shape[0]
    need = int(np.ceil(MAJORITY / 5 * n))
    print(
        f"\n--- verdicts ({label}): a claim holds for an instance when "
        f"final / initial > {GROWTH} (grows) or < {DECREASE} (decreases); it "
        f"holds overall when at least {need} of {n} instances show it "
        f"(for ranks: {MAJORITY}/5 of all matrices) ---"
    )
    table = []

    def row(claim, key, direction, curves):
        ratio, hits = ratio_summary(curves, direction)
        total = ratio.size
        holds = hits >= int(np.ceil(MAJORITY / 5 * total))
        table.append(
            {
                "claim": claim,
                "statistic": key,
                "ratio_mean": float(ratio.mean()),
                "ratio_sd": float(ratio.std(ddof=1)) if total > 1 else 0.0,
                "hits": hits,
                "total": total,
                "holds": bool(holds),
            }
        )
        print(
            f"{claim:<22s} {key:<30s} final/initial {fmt(ratio):>16s}  "
            f"{hits}/{total} {direction:<9s} -> "
            f"{'HOLDS' if holds else 'does not hold'}"
        )

    row("variance grows", "variance", "grows", stats["variance"])
    row("tails get longer", "kurtosis", "grows", stats["kurtosis"])
    row("tails get longer", "max |w|", "grows", stats["max_abs"])
    for kind in ("stable_rank", "effective_rank"):
        keys = sorted(k for k in stats if k.startswith(kind + "/"))
        if keys:
            curves = np.concatenate([stats[k] for k in keys])
            row(
                "rank decreases",
                f"{kind} ({len(keys)} kernels x {n})",
                "decreases",
                curves,
            )
    print(f"final training MSE per instance: {fmt(run['loss'])}")
    results[label] = {
        "verdicts": table,
        "final_mse": run["loss"].tolist(),
        "train_seconds": run["seconds"],
    }
    return table


# ---------------------------------------------------------------------------
# Figures like the note's.


def figures(run, stats, out, prefix=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = run["steps"]
    first = run["weights"][0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    analysis.plot_weight_density(first, steps, ax=axes[0])
    axes[0].set_title("all weights, instance 1")
    analysis.plot_weight_density(first, steps, log=True, ax=axes[1])
    axes[1].set_title("log colour")
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"{prefix}density.png"), dpi=90)
    plt.close(fig)

    names = [k for k in stats if k.startswith("stable_rank/")]
    fig, axes = plt.subplots(
        1, 2 + len(names), figsize=(4.2 * (2 + len(names)), 3.5)
    )
    labels = [f"instance {i + 1}" for i in range(len(stats["variance"]))]
    analysis.plot_curves(
        steps, stats["variance"], labels, "variance", ax=axes[0], logx=True
    )
    analysis.plot_curves(
        steps, stats["kurtosis"], None, "kurtosis", ax=axes[1], logx=True
    )
    for ax, name in zip(axes[2:], names):
        analysis.plot_curves(steps, stats[name], None, name, ax=ax, logx=True)
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"{prefix}curves.png"), dpi=90)
    plt.close(fig)

    panels = {}
    offset = 0
    sizes = [1, *run["widths"], 1]
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        n = a * b + b
        name = "output" if i == len(sizes) - 2 else f"hidden_{i + 1}"
        panels[name] = first[:, offset : offset + n]
        offset += n
    fig = analysis.plot_layer_panels(panels, steps)
    fig.savefig(os.path.join(out, f"{prefix}layers.png"), dpi=90)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    analysis.plot_weight_trajectories(steps, first, ax=axes[0])
    axes[0].set_title("individual weights, instance 1")
    analysis.plot_weight_trajectories(steps, first, normalise=True, ax=axes[1])
    axes[1].set_title("normalised by the total norm")
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"{prefix}trajectories.png"), dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------
# The open questions.


def widths_and_depths(args, results):
    """(4): the same verdicts for other widths and depths."""
    print("\n=== (4) widths x depths ===")
    print(
        f"threshold: per configuration, a claim holds when at least "
        f"{MAJORITY}/5 of its curves ({args.grid_instances} instances; for "
        f"the stable rank every kernel of at least 2 x 2) have final / "
        f"initial > {GROWTH} (variance, kurtosis) or < {DECREASE} (stable "
        f"rank); {args.grid_rounds} rounds each"
    )
    grid = {}
    held = {"variance grows": 0, "kurtosis grows": 0, "stable rank falls": 0}
    for depth in (2, 3, 4):
        for width in (4, 8, 16):
            run = train_instances(
                [width] * depth,
                None,
                args,
                instances=args.grid_instances,
                seed=depth * 100 + width,
                rounds=args.grid_rounds,
            )
            stats = instance_statistics(run)
            var, _ = ratio_summary(stats["variance"], "grows")
            kurt, _ = ratio_summary(stats["kurtosis"], "grows")
            ranks = [k for k in stats if k.startswith("stable_rank/")]
            sr = np.concatenate(
                [ratio_summary(stats[k], "decreases")[0] for k in ranks]
            )
            grid[f"{width}x{depth}"] = {
                "variance_ratio": var.tolist(),
                "kurtosis_ratio": kurt.tolist(),
                "stable_rank_ratio": sr.tolist(),
                "final_mse": run["loss"].tolist(),
            }
            flags = {
                "variance grows": np.mean(var > GROWTH) >= MAJORITY / 5,
                "kurtosis grows": np.mean(kurt > GROWTH) >= MAJORITY / 5,
                "stable rank falls": np.mean(sr < DECREASE) >= MAJORITY / 5,
            }
            for claim, holds in flags.items():
                held[claim] += int(holds)
            grid[f"{width}x{depth}"]["holds"] = {
                k: bool(v) for k, v in flags.items()
            }
            print(
                f"width {width:2d} depth {depth}: variance x{fmt(var)}, "
                f"kurtosis x{fmt(kurt)}, stable rank x{fmt(sr)}, "
                f"MSE {fmt(run['loss'])}; holds: "
                + (", ".join(k for k, v in flags.items() if v) or "none")
            )
    for claim, count in held.items():
        print(f"-> {claim}: holds in {count} of {len(grid)} configurations")
    results["widths_depths"] = grid


def ensemble_vs_wide(args, results):
    """(5): 5 x [8, 8, 8] (845 weights) against one [20, 20, 20] (881)."""
    print("\n=== (5) one wide net vs an ensemble of equal parameter count ===")
    x_test, y_test = keras_memnets.datasets.piecewise_steps(
        args.points, seed=999
    )
    ens_mse, wide_mse = [], []
    for seed in range(args.seeds):
        # Both arms of a seed train on the same points (matched data) from
        # their own initial weights.
        ens = train_instances(
            [8, 8, 8],
            None,
            args,
            instances=5,
            seed=10 + seed,
            rounds=args.grid_rounds,
            data_seed=10 + seed,
        )
        final = ens["weights"][:, -1]
        mean_pred = np.mean(
            [forward(w, [8, 8, 8], x_test) for w in final], axis=0
        )
        ens_mse.append(float(np.mean((mean_pred - y_test) ** 2)))
        wide = train_instances(
            [20, 20, 20],
            None,
            args,
            instances=1,
            seed=20 + seed,
            rounds=args.grid_rounds,
            data_seed=10 + seed,
        )
        pred = forward(wide["weights"][0, -1], [20, 20, 20], x_test)
        wide_mse.append(float(np.mean((pred - y_test) ** 2)))
    print(
        "threshold: one is better when its test MSE mean is lower by more "
        "than the larger sd"
    )
    print(f"ensemble of 5 x [8,8,8] (845 weights): test MSE {fmt(ens_mse)}")
    print(f"one [20,20,20] (881 weights):          test MSE {fmt(wide_mse)}")
    gap = np.mean(ens_mse) - np.mean(wide_mse)
    sd = max(np.std(ens_mse, ddof=1), np.std(wide_mse, ddof=1))
    verdict = (
        "wide better"
        if gap > sd
        else "ensemble better"
        if -gap > sd
        else "no clear difference"
    )
    print(f"-> {verdict} ({args.seeds} seeds)")
    results["ensemble_vs_wide"] = {
        "ensemble_mse": ens_mse,
        "wide_mse": wide_mse,
        "verdict": verdict,
    }


def another_target(args, results):
    """(6): the verdicts on a smooth target, sin(2x)."""
    print("\n=== (6) another target: y = (1 + sin 2x) / 2 ===")
    run = train_instances(
        [8, 8, 8],
        lambda x: (1 + np.sin(2 * x)) / 2,
        args,
        rounds=args.grid_rounds,
        seed=7,
    )
    verdicts(run, instance_statistics(run), "sine_target", results)


def normalised_view(run, results):
    """(7): the largest weight relative to the total norm."""
    print("\n=== (7) weights normalised by the total norm ===")
    w = run["weights"].astype("float64")
    rel = np.max(np.abs(w), axis=2) / np.linalg.norm(w, axis=2)
    ratio, hits = ratio_summary(rel, "grows")
    print(
        f"max |w| / ||w||: initial {fmt(rel[:, 0])}, final {fmt(rel[:, -1])}, "
        f"final/initial {fmt(ratio)}; {hits}/{len(ratio)} grow by > {GROWTH}"
    )
    print("(kurtosis is scale-free, so its verdict is the same in this view)")
    results["normalised"] = {
        "max_over_norm_ratio": ratio.tolist(),
        "hits": hits,
    }


def weight_correlations(run, results):
    """(8): correlation of weight trajectories against layer distance.

    Definition: for one instance, each weight's updates are its changes
    between consecutive snapshots, u_i(t) = w_i(t) - w_i(t - 10). For two
    weights we take the Pearson correlation r_ij of their update series,
    and average |r_ij| over all pairs whose layers are d apart (d = 0: the
    same layer). Averaged over the instances. (Correlating the
    trajectories w_i(t) - w_i(0) themselves mostly measures that smooth
    drifts correlate: |r| ~ 0.7 for every d.)
    """
    print("\n=== (8) weight correlations by depth ===")
    print(
        "definition: |Pearson r| between two weights' update series "
        "w(t) - w(t - 10), averaged over pairs whose layers are d apart"
    )
    sizes = [1, *run["widths"], 1]
    layer_of = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layer_of += [i] * (a * b + b)
    layer_of = np.array(layer_of)
    distance = np.abs(layer_of[:, None] - layer_of[None, :])
    by_d = {}
    for w in run["weights"].astype("float64"):
        delta = np.diff(w, axis=0)
        sd = delta.std(axis=0)
        keep = sd > 0
        r = np.corrcoef(delta[:, keep].T)
        d = distance[np.ix_(keep, keep)]
        ku = np.triu_indices(int(keep.sum()), k=1)
        for dist in np.unique(d[ku]):
            by_d.setdefault(int(dist), []).append(
                float(np.mean(np.abs(r[ku][d[ku] == dist])))
            )
    for dist, values in sorted(by_d.items()):
        print(f"d = {dist}: mean |r| {fmt(values)}")
    means = [np.mean(v) for _, v in sorted(by_d.items())]
    decays = all(a >= b for a, b in itertools.pairwise(means))
    print(
        f"-> mean |r| {'decreases' if decays else 'does not decrease'} "
        "monotonically with d"
    )
    results["correlations_by_depth"] = {str(k): v for k, v in by_d.items()}


def perturbation(run, results, verbose=1, sizes=(1, 3, 5)):
    """(9): change k of the weights, randomly or adversarially.

    `verbose`: 1 shows a progress bar over the instances of each k.
    """
    print("\n=== (9) changing a few weights ===")
    print(
        f"threshold: a change 'does not affect results' when the accuracy of "
        f"the thresholded output (y > 0.5) drops by < {ACCURACY_DROP} points; "
        "each changed weight moves by the trained weights' sd"
    )
    x, y = run["x"], run["y"]
    widths = run["widths"]
    rng = np.random.default_rng(0)
    out = {}

    def accuracy(w):
        return 100.0 * np.mean((forward(w, widths, x) > 0.5) == (y > 0.5))

    def mse(w):
        return float(np.mean((forward(w, widths, x) - y) ** 2))

    for k in sizes:
        drops = {"random": [], "adversarial": []}
        final = run["weights"][:, -1].astype("float64")
        bar = keras.utils.Progbar(len(final), verbose, unit_name="instance")
        for w in final:
            base = accuracy(w)
            step = w.std()
            idx = rng.choice(len(w), size=k, replace=False)
            changed = w.copy()
            changed[idx] += step * rng.choice([-1.0, 1.0], size=k)
            drops["random"].append(base - accuracy(changed))
            changed = w.copy()
            for _ in range(k):  # greedy: the single change that hurts most
                best, best_loss = None, -1.0
                for j in range(len(w)):
                    for sign in (-1.0, 1.0):
                        trial = changed.copy()
                        trial[j] += sign * step
                        loss = mse(trial)
                        if loss > best_loss:
                            best, best_loss = (j, sign), loss
                changed[best[0]] += best[1] * step
            drops["adversarial"].append(base - accuracy(changed))
            bar.add(1)
        for kind, values in drops.items():
            ok = int(np.sum(np.array(values) < ACCURACY_DROP))
            print(
                f"k = {k} {kind:<11s}: accuracy drop {fmt(values)} points; "
                f"{ok}/{len(values)} instances unaffected"
            )
        out[str(k)] = drops
    results["perturbation"] = out


# ---------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15000)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--quick", action="store_true", help="CI: 500 rounds")
    parser.add_argument("--all", action="store_true", help="run (4)-(9)")
    parser.add_argument("--quiet", action="store_true", help="no progress")
    for flag in (
        "grid",
        "ensemble",
        "target",
        "normalised",
        "correlations",
        "perturb",
    ):
        parser.add_argument(f"--{flag}", action="store_true")
    parser.add_argument("--grid-rounds", type=int, default=3000)
    parser.add_argument("--grid-instances", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="reproductions_out/weight_statistics")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.grid_rounds = 500, 200
    if args.all:
        for flag in (
            "grid",
            "ensemble",
            "target",
            "normalised",
            "correlations",
            "perturb",
        ):
            setattr(args, flag, True)
    os.makedirs(args.out, exist_ok=True)
    results = {"args": vars(args), "backend": keras.backend.backend()}

    # The note's run: 5 instances of [8, 8, 8], full batch, every 10 rounds.
    print(
        f"training 5 x [8, 8, 8] for {args.rounds} full-batch rounds "
        f"({args.points} points, Adam lr {args.learning_rate}), a snapshot "
        f"every {args.every} rounds, backend {keras.backend.backend()}"
    )
    start = time.perf_counter()
    run = train_instances([8, 8, 8], None, args)
    print(
        f"weights array: {run['weights'].shape} (instances, records, "
        f"weights); training took {run['seconds']:.1f} s, load "
        f"{os.getloadavg()[0]:.1f}"
    )
    stats = instance_statistics(run)
    verdicts(run, stats, "note", results)
    figures(run, stats, args.out)
    if args.grid:
        widths_and_depths(args, results)
    if args.ensemble:
        ensemble_vs_wide(args, results)
    if args.target:
        another_target(args, results)
    if args.normalised:
        normalised_view(run, results)
    if args.correlations:
        weight_correlations(run, results)
    if args.perturb:
        perturbation(run, results, verbose=0 if args.quiet else 1)
    results["total_seconds"] = time.perf_counter() - start
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=float)
    np.savez_compressed(
        os.path.join(args.out, "weights.npz"),
        steps=run["steps"],
        weights=run["weights"],
    )
    print(f"\ntotal {results['total_seconds']:.1f} s; results in {args.out}/")


if __name__ == "__main__":
    main()
