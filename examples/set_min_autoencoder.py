"""Set-min random loss: an MNIST autoencoder with K variant decoders.

This tutorial reproduces, at a small scale, the first experiment of the
research note `000-memory-and-set-min-notes.txt`: an MNIST autoencoder with a
code of `dl=10` numbers whose decoder has K=5 variants, trained with the
"set min random loss", then the note's next idea, `dl=2`.

Our reading of the loss (the earlier note that defines it is not available):
every variant k reconstructs the digit; per sample, the variant with the
smallest loss wins after the K losses are multiplied by log-normal noise,
`k* = argmin_k log L_k + sigma * eps_k`; only the winner is trained on that
sample (`keras_memnets.losses.SetMinLoss`). The note trained "1 hour with
log-space standard deviation 10^0, 2 hours with 10^1, 1 hour with 10^2"; we
keep the shape of that schedule and scale an hour down to a few epochs
(`--unit-length`) or seconds (`--unit seconds`).

What the run measures, each number with the threshold that makes it a
verdict:

1. Do the variants differ significantly? The mean pairwise RMS distance
   between the K variant outputs for the same test digit, against the same
   distance in a baseline whose K heads are trained on the *equal-weight*
   loss (every head learns the same thing, so its head-to-head distance is
   the noise level of training). Plus a permutation test: is the winner
   related to the digit class more than chance?
2. Does `dl=2` increase specialisation? The per-class winner entropy
   `H(winner | class)` (lower: each class is served by fewer variants) and
   the mutual information `I(class; winner)` (which, unlike the entropy,
   does not drop just because some variants die).
3. Does the best variant reconstruct better than a single-head autoencoder
   with the same number of parameters? (The best variant is chosen with the
   target in hand: an oracle, as in multiple-choice learning.)

For contrast, the `dl=10` model is also trained under constant small noise
(`--contrast-log-std`, default `0.1`; add `0` for plain winner-take-all):
`log_std=0.1` is of the order of the log-space gaps between the variants'
losses.

Run:

    KERAS_BACKEND=tensorflow python examples/set_min_autoencoder.py
    KERAS_BACKEND=tensorflow python examples/set_min_autoencoder.py --quick

Outputs (under `--out`): `results.json`, `samples_*.png` (target and the
K variant outputs, the winner framed), `wins.png` (win histogram),
`class_winners_*.png` (per-class winner table), `trajectory.png` (test
statistics after every epoch).
"""

import argparse
import json
import math
import os
import time

import keras
import numpy as np

import keras_memnets


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="CI-sized run (<= 60 s)."
    )
    parser.add_argument("--out", default="examples_out/set_min_autoencoder")
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=5)
    parser.add_argument(
        "--latent-dims", default="10,2", help="comma-separated code sizes dl"
    )
    parser.add_argument("--hidden-units", type=int, default=512)
    parser.add_argument(
        "--log-stds", default="1,10,100", help="the schedule's log_std values"
    )
    parser.add_argument(
        "--durations",
        default="1,2,1",
        help="the schedule's durations in units (the note: hours)",
    )
    parser.add_argument("--unit", choices=("epoch", "seconds"), default="epoch")
    parser.add_argument(
        "--unit-length",
        type=float,
        default=3,
        help="epochs (or seconds) that stand for one hour of the note",
    )
    parser.add_argument(
        "--contrast-log-std",
        default="0.1",
        help="comma-separated constant log_std values to also train dl[0] "
        "with, for contrast (0: plain winner-take-all); 'none' to skip",
    )
    parser.add_argument(
        "--trajectory-size",
        type=int,
        default=500,
        help="test digits evaluated after every epoch (final numbers use all)",
    )
    parser.add_argument("--base-loss", default="mse")
    parser.add_argument(
        "--noise-space",
        choices=("log", "linear"),
        default="log",
        help="where the selection noise is added: to log(L) or to L",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--verbose", type=int, default=2, help="Keras fit verbosity"
    )
    args = parser.parse_args()
    if args.quick:
        args.train_size = 1000
        args.test_size = 500
        args.hidden_units = 64
        args.unit_length = 1
        args.trajectory_size = 200
    return args


# ---------------------------------------------------------------------------
# Measurements on the test set.


def pairwise_distance(outputs, variants=None):
    """Mean over pairs k < l of the RMS distance between variant outputs.

    `outputs` is (n, K, D); `variants` limits the pairs to those variants.
    Returns one value per sample, shape (n,), or NaNs for fewer than two.
    """
    variants = (
        list(range(outputs.shape[1])) if variants is None else list(variants)
    )
    pairs = [(a, b) for i, a in enumerate(variants) for b in variants[i + 1 :]]
    if not pairs:
        return np.full(outputs.shape[0], np.nan)
    total = np.zeros(outputs.shape[0])
    for a, b in pairs:
        total += np.sqrt(((outputs[:, a] - outputs[:, b]) ** 2).mean(axis=1))
    return total / len(pairs)


def diagnose(model, x, labels, num_variants):
    """Best-variant error, variant spread and winner statistics on `x`."""
    outputs = model.predict(x, batch_size=500, verbose=0)
    errors = ((outputs - x[:, None]) ** 2).mean(axis=2)  # (n, K) MSE
    winners = keras.ops.convert_to_numpy(
        keras_memnets.metrics.best_variant(x, outputs, base_loss="mse")
    )
    table = keras_memnets.metrics.class_winner_distribution(
        winners, labels, num_variants=num_variants, num_classes=10
    )
    shares = np.bincount(winners, minlength=num_variants) / len(winners)
    # A dead variant's output is far from everything; comparing it with the
    # live ones would count junk as "difference". Spread is over live ones.
    live = np.flatnonzero(shares >= LIVE_MIN)
    return {
        "outputs": outputs,
        "winners": winners,
        "table": table,
        "best_mse": float(errors.min(axis=1).mean()),
        "mean_variant_mse": float(errors.mean()),
        "pairwise_rms": pairwise_distance(outputs, live),
        "live": live,
        "win_shares": shares,
    }


def permutation_p_value(
    winners, labels, num_variants, observed_mi, rng, rounds=200
):
    """P(MI(class; winner) >= observed) when labels are shuffled."""
    exceed = 0
    for _ in range(rounds):
        shuffled = rng.permutation(labels)
        mi = keras_memnets.metrics.class_winner_distribution(
            winners, shuffled, num_variants=num_variants, num_classes=10
        )["mutual_information_bits"]
        exceed += mi >= observed_mi
    return (exceed + 1) / (rounds + 1)


# The thresholds that turn the measurements into verdicts.
LIVE_MIN = (
    0.02  # a variant is live if it wins >= 2% of test digits (uniform: 1/K)
)
RATIO_MIN = 2.0  # live-variant spread at least twice the training-noise spread
Z_MIN = 3.29  # sign test over test digits, one-sided p < 0.0005
P_MAX = 0.01  # permutation test of I(class; winner)
DH_MAX = -0.05  # dl=2 must lower H(winner | class) by at least 0.05 bits


def spread_test(final, base, labels, num_variants, rng):
    """Compares a run's variant spread with the equal-weight baseline's."""
    spread, spread_base = final["pairwise_rms"], base["pairwise_rms"]
    n = len(spread)
    greater = int((spread > spread_base).sum())
    sign_z = (greater - n / 2) / math.sqrt(n / 4)
    ratio = float(spread.mean() / spread_base.mean())
    mi = final["table"]["mutual_information_bits"]
    return {
        "spread": float(spread.mean()),
        "ratio": ratio,
        "greater": greater,
        "n": n,
        "sign_z": sign_z,
        "live": len(final["live"]),
        # Statistical significance and effect size are separate questions:
        # with 2,000 test digits a tiny spread difference is significant.
        "significant": bool(len(final["live"]) >= 2 and sign_z >= Z_MIN),
        "large_effect": bool(len(final["live"]) >= 2 and ratio >= RATIO_MIN),
        "mi": mi,
        "p_perm": permutation_p_value(
            final["winners"], labels, num_variants, mi, rng
        ),
        "shares": final["win_shares"],
        "dead": int((final["win_shares"] == 0).sum()),
    }


class Trajectory(keras.callbacks.Callback):
    """Records test-set diagnostics at the end of every epoch."""

    def __init__(self, x, labels, num_variants):
        super().__init__()
        self.x, self.labels, self.num_variants = x, labels, num_variants
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        d = diagnose(self.model, self.x, self.labels, self.num_variants)
        self.rows.append(
            {
                "epoch": epoch + 1,
                "log_std": logs.get("log_std"),
                "train_loss": logs.get("loss"),
                "test_best_mse": d["best_mse"],
                "test_pairwise_rms_live": float(d["pairwise_rms"].mean()),
                "test_H_winner_given_class": d["table"][
                    "conditional_entropy_bits"
                ],
                "test_MI_class_winner": d["table"]["mutual_information_bits"],
                "dead_variants": int((d["win_shares"] == 0).sum()),
            }
        )


class StopAfterSeconds(keras.callbacks.Callback):
    """Ends training once the schedule's wall-clock time has run out."""

    def __init__(self, schedule, seconds):
        super().__init__()
        self.schedule, self.seconds = schedule, seconds

    def on_train_batch_end(self, batch, logs=None):
        if self.schedule.elapsed_seconds() >= self.seconds:
            self.model.stop_training = True


# ---------------------------------------------------------------------------
# Training.


def schedule_from_args(args):
    values = [float(v) for v in args.log_stds.split(",")]
    durations = [float(v) * args.unit_length for v in args.durations.split(",")]
    if len(values) != len(durations):
        raise SystemExit("--log-stds and --durations need the same length")
    if args.unit == "epoch":
        durations = [max(1, round(d)) for d in durations]
    return list(zip(durations, values)), sum(durations)


def train_set_min(
    args, latent_dim, x, x_test, y_test, relaxation=0.0, record=True, pairs=None
):
    """Builds and trains the K-variant autoencoder under the log_std schedule.

    `pairs` replaces the schedule of the command line (same total length).
    """
    keras.utils.set_random_seed(args.seed)
    model = keras_memnets.models.set_min_autoencoder(
        input_dim=x.shape[1],
        latent_dim=latent_dim,
        num_variants=args.variants,
        hidden_units=args.hidden_units,
        base_loss=args.base_loss,
        relaxation=relaxation,
        noise_space=args.noise_space,
        seed=args.seed,
    )
    # The model carries its loss (a SetMinSelection layer whose log_std the
    # schedule assigns); the targets passed to fit() feed the metrics.
    model.compile(
        optimizer="adam",
        loss=None,
        metrics=[
            keras_memnets.metrics.VariantWins(args.variants, k)
            for k in range(args.variants)
        ],
    )
    default_pairs, total = schedule_from_args(args)
    schedule = keras_memnets.callbacks.LogStdSchedule(
        pairs or default_pairs, unit=args.unit
    )
    callbacks = [schedule]
    n = args.trajectory_size
    trajectory = Trajectory(x_test[:n], y_test[:n], args.variants)
    if record:
        callbacks.append(trajectory)
    epochs = int(total)
    if args.unit == "seconds":
        epochs = 10**6
        callbacks.append(StopAfterSeconds(schedule, total))
    start = time.perf_counter()
    model.fit(
        x,
        x,
        epochs=epochs,
        batch_size=args.batch_size,
        callbacks=callbacks,
        verbose=args.verbose,
    )
    return model, trajectory.rows, time.perf_counter() - start


def matched_single_head(args, latent_dim, target_params, input_dim):
    """A plain autoencoder whose one decoder is as wide as the K heads together.

    The encoder is the same; the decoder's hidden width is solved from the
    parameter count of the K-variant model.
    """
    h = args.hidden_units
    encoder = input_dim * h + h + h * latent_dim + latent_dim
    width = round(
        (target_params - encoder - input_dim) / (latent_dim + 1 + input_dim)
    )
    inputs = keras.Input((input_dim,))
    code = keras.layers.Dense(h, activation="relu")(inputs)
    code = keras.layers.Dense(latent_dim)(code)
    hidden = keras.layers.Dense(width, activation="relu")(code)
    outputs = keras.layers.Dense(input_dim, activation="sigmoid")(hidden)
    return keras.Model(inputs, outputs, name="single_head_autoencoder"), width


# ---------------------------------------------------------------------------
# Figures.


def plot_samples(path, x, outputs, winners, labels, per_class=2, title=""):
    import matplotlib.pyplot as plt

    rows = [
        i for c in range(10) for i in np.flatnonzero(labels == c)[:per_class]
    ]
    k = outputs.shape[1]
    fig, axes = plt.subplots(
        len(rows), k + 1, figsize=(1.1 * (k + 1), 1.1 * len(rows))
    )
    for r, i in enumerate(rows):
        images = [x[i]] + [outputs[i, j] for j in range(k)]
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(image.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == winners[i] + 1:
                for spine in ax.spines.values():
                    spine.set_edgecolor("red")
                    spine.set_linewidth(2)
            if r == 0:
                ax.set_title(
                    "target" if c == 0 else f"variant {c - 1}", fontsize=7
                )
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / len(rows)))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_wins(path, shares):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    width = 0.8 / len(shares)
    for j, (name, s) in enumerate(shares.items()):
        ax.bar(np.arange(len(s)) + j * width, s, width, label=name)
    ax.set_xlabel("variant")
    ax.set_ylabel("share of test digits won")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_class_table(path, table, title):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(table["distribution"], cmap="viridis", vmin=0, vmax=1)
    ax.set_xlabel("winning variant")
    ax.set_ylabel("digit class")
    ax.set_yticks(range(10))
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_trajectory(path, trajectories):
    import matplotlib.pyplot as plt

    keys = [
        "log_std",
        "test_best_mse",
        "test_pairwise_rms_live",
        "test_H_winner_given_class",
    ]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3))
    for name, rows in trajectories.items():
        for ax, key in zip(axes, keys):
            ax.plot(
                [r["epoch"] for r in rows], [r[key] for r in rows], label=name
            )
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("epoch")
    axes[0].set_yscale("symlog")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def class_table_text(table):
    k = table["counts"].shape[1]
    lines = ["class | " + " ".join(f"v{j:<4d}" for j in range(k)) + " | H bits"]
    for c in range(table["counts"].shape[0]):
        row = " ".join(f"{p:5.2f}" for p in table["distribution"][c])
        lines.append(f"{c:5d} | {row} | {table['class_entropy_bits'][c]:.2f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    start_all = time.perf_counter()
    (x_train, _), (x_test, y_test) = keras_memnets.datasets.load_mnist(
        source="bundled", normalize=True, flatten=True
    )
    x = x_train[: args.train_size]
    x_test, y_test = x_test[: args.test_size], y_test[: args.test_size]
    latent_dims = [int(v) for v in args.latent_dims.split(",")]
    pairs, total = schedule_from_args(args)
    print(
        f"backend {keras.backend.backend()}, {len(x)} training and "
        f"{len(x_test)} test digits"
    )
    print(f"log_std schedule ({args.unit}): {pairs}")

    # --- 1. The set-min autoencoders, one per code size dl. ---
    runs = {}
    for dl in latent_dims:
        print(f"\n== set-min autoencoder, dl={dl}, K={args.variants}")
        model, rows, seconds = train_set_min(args, dl, x, x_test, y_test)
        runs[dl] = {"model": model, "rows": rows, "seconds": seconds}
        runs[dl]["final"] = diagnose(model, x_test, y_test, args.variants)
    main_dl = latent_dims[0]
    params = sum(  # trainable parameters (not the selection's log_std)
        int(np.prod(w.shape)) for w in runs[main_dl]["model"].trainable_weights
    )

    # For contrast: the same model under a constant log_std. Per-variant
    # losses of a trained model differ by a few tens of percent, i.e. by
    # ~0.1 in log space, so log_std=0.1 perturbs the choice without drowning
    # it; 0 is plain winner-take-all multiple-choice learning.
    contrasts = []
    if args.contrast_log_std.lower() != "none":
        for sigma in [float(v) for v in args.contrast_log_std.split(",")]:
            print(
                f"\n== contrast: set-min autoencoder, dl={main_dl}, constant "
                f"log_std={sigma:g}"
            )
            model, rows, seconds = train_set_min(
                args, main_dl, x, x_test, y_test, pairs=[(total, sigma)]
            )
            run = {
                "model": model,
                "rows": rows,
                "seconds": seconds,
                "log_std": sigma,
            }
            run["final"] = diagnose(model, x_test, y_test, args.variants)
            contrasts.append(run)

    # --- 2. Baseline for the variant spread: equal weights for all heads. ---
    # relaxation = (K-1)/K gives the winner and every loser the weight 1/K:
    # the K heads are trained identically, so their outputs differ only by
    # initialization and training noise.
    k = args.variants
    print(
        f"\n== equal-weight baseline (relaxation={(k - 1) / k:.2f}), "
        f"dl={main_dl}"
    )
    baseline, _, _ = train_set_min(
        args, main_dl, x, x_test, y_test, relaxation=(k - 1) / k, record=False
    )
    base = diagnose(baseline, x_test, y_test, k)

    # --- 3. A single-head autoencoder with the same parameter count. ---
    keras.utils.set_random_seed(args.seed)
    single, width = matched_single_head(args, main_dl, params, x.shape[1])
    single.compile(optimizer="adam", loss="mse")
    print(
        f"\n== single-head autoencoder, dl={main_dl}, decoder width {width}: "
        f"{single.count_params()} parameters vs {params}"
    )
    epochs = (
        int(total)
        if args.unit == "epoch"
        else max(1, len(runs[main_dl]["rows"]))
    )
    single.fit(
        x, x, epochs=epochs, batch_size=args.batch_size, verbose=args.verbose
    )
    single_mse = float(
        ((single.predict(x_test, verbose=0) - x_test) ** 2).mean()
    )

    # --- 4. Verdicts. ---
    rng = np.random.default_rng(args.seed)
    labelled = {f"dl={dl}": runs[dl] for dl in latent_dims}
    main_label = f"dl={main_dl}"
    for run in contrasts:
        labelled[f"dl={main_dl}, log_std={run['log_std']:g}"] = run
    tests = {
        label: spread_test(run["final"], base, y_test, k, rng)
        for label, run in labelled.items()
    }

    print("\n" + "=" * 72)
    print(f"Q1: do the K={k} variants differ significantly? (dl={main_dl})")
    print(
        "  spread = mean pairwise RMS distance between the outputs of the live "
        f"variants (winning >= {LIVE_MIN:.0%} of test digits) for the same "
        "digit"
    )
    print(
        f"  equal-weight baseline spread (training-noise level): "
        f"{base['pairwise_rms'].mean():.4f}"
    )
    print(
        f"  thresholds: significance: sign-test z >= {Z_MIN} (one-sided "
        f"p < 0.0005); effect size: spread ratio >= {RATIO_MIN}; "
        f"winner/class permutation p < {P_MAX}"
    )
    for label, t in tests.items():
        tag = " (the note's schedule)" if label == main_label else ""
        print(f"  {label}{tag}:")
        print(
            f"    live variants {t['live']}/{k}, spread {t['spread']:.4f}, "
            f"ratio {t['ratio']:.2f}, digits with "
            f"spread > baseline {t['greater']}/{t['n']} (z = {t['sign_z']:.1f})"
        )
        print(
            f"    I(class; winner) = {t['mi']:.3f} bits, permutation p = "
            f"{t['p_perm']:.4f}; win shares "
            f"{np.round(t['shares'], 3).tolist()}, "
            f"dead variants {t['dead']}"
        )
        print(
            f"    -> significant (z {t['sign_z']:.1f} vs {Z_MIN}): "
            f"{'YES' if t['significant'] else 'NO'}; large effect (ratio "
            f"{t['ratio']:.2f} vs {RATIO_MIN}): "
            f"{'YES' if t['large_effect'] else 'NO'}; winner related to "
            f"class (p {t['p_perm']:.4f} vs {P_MAX}): "
            f"{'YES' if t['p_perm'] < P_MAX else 'NO'}"
        )

    specialisation = None
    if len(latent_dims) > 1:
        other = latent_dims[1]
        t_main, t_other = (
            runs[main_dl]["final"]["table"],
            runs[other]["final"]["table"],
        )
        dh = (
            t_other["conditional_entropy_bits"]
            - t_main["conditional_entropy_bits"]
        )
        dmi = (
            t_other["mutual_information_bits"]
            - t_main["mutual_information_bits"]
        )
        more = dh <= DH_MAX and dmi >= 0
        specialisation = {
            "delta_H_bits": dh,
            "delta_MI_bits": dmi,
            "verdict": more,
        }
        print(
            f"\nQ2: does dl={other} increase specialisation over dl={main_dl}?"
        )
        for dl, t in ((main_dl, t_main), (other, t_other)):
            print(
                f"  dl={dl:<3d} H(winner|class) = "
                f"{t['conditional_entropy_bits']:.3f} bits"
                f"  H(winner) = {t['winner_entropy_bits']:.3f}"
                f"  I(class;winner) = {t['mutual_information_bits']:.3f}"
                f"  (uniform: log2 K = {math.log2(k):.3f})"
            )
        print(
            f"  change in H(winner|class) {dh:+.3f} bits (threshold <= "
            f"{DH_MAX}) "
            f"and in I(class;winner) {dmi:+.3f} bits (threshold >= 0)"
        )
        print(f"  -> dl={other} more specialised: {'YES' if more else 'NO'}")

    print(
        "\nQ3: best variant vs a single head with the same parameter count "
        f"(dl={main_dl})"
    )
    print(
        f"  single-head test MSE ({single.count_params()} params)  "
        f"{single_mse:.5f}"
    )
    q3 = {"single_mse": single_mse}
    for label, run in labelled.items():
        if not label.startswith(main_label):
            continue
        final = run["final"]
        best = final["best_mse"]
        q3[label] = {
            "best_mse": best,
            "mean_variant_mse": final["mean_variant_mse"],
        }
        print(
            f"  {label}: best-of-{k} test MSE (oracle choice) {best:.5f}, mean "
            "over "
            f"variants {final['mean_variant_mse']:.5f}; ratio best/single "
            f"{best / single_mse:.3f} (threshold < 1) -> best variant better: "
            f"{'YES' if best < single_mse else 'NO'}"
        )
    for label, run in labelled.items():
        print(
            f"\nper-class winner distribution, {label} (test digits, best "
            "variant):"
        )
        print(class_table_text(run["final"]["table"]))

    # --- 5. Figures and results. ---
    for label, run in labelled.items():
        final = run["final"]
        stem = label.replace("=", "").replace(", ", "_").replace(" ", "")
        plot_samples(
            os.path.join(args.out, f"samples_{stem}.png"),
            x_test,
            final["outputs"],
            final["winners"],
            y_test,
            title=f"{label}: target, then the {k} variants (winner framed red)",
        )
        plot_class_table(
            os.path.join(args.out, f"class_winners_{stem}.png"),
            final["table"],
            f"{label}: P(winner | class)",
        )
    plot_wins(
        os.path.join(args.out, "wins.png"),
        {label: run["final"]["win_shares"] for label, run in labelled.items()},
    )
    plot_trajectory(
        os.path.join(args.out, "trajectory.png"),
        {label: run["rows"] for label, run in labelled.items()},
    )
    results = {
        "backend": keras.backend.backend(),
        "args": vars(args),
        "schedule": pairs,
        "parameters": {"set_min": params, "single_head": single.count_params()},
        "thresholds": {
            "spread_ratio_min": RATIO_MIN,
            "sign_test_z_min": Z_MIN,
            "permutation_p_max": P_MAX,
            "delta_H_max_bits": DH_MAX,
        },
        "baseline_spread": float(base["pairwise_rms"].mean()),
        "q1": {
            label: {key: _jsonable(v) for key, v in t.items()}
            for label, t in tests.items()
        },
        "q2": specialisation,
        "q3": q3,
        "runs": {
            label: {
                "seconds": run["seconds"],
                "trajectory": run["rows"],
                "win_shares": run["final"]["win_shares"].tolist(),
                "class_counts": run["final"]["table"]["counts"].tolist(),
                "H_winner_given_class": run["final"]["table"][
                    "conditional_entropy_bits"
                ],
                "MI_class_winner": run["final"]["table"][
                    "mutual_information_bits"
                ],
            }
            for label, run in labelled.items()
        },
        "total_seconds": time.perf_counter() - start_all,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(
        f"\nwrote {args.out}/results.json and figures; total "
        f"{results['total_seconds']:.0f} s"
    )


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


if __name__ == "__main__":
    main()
