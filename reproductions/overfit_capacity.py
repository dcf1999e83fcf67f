"""Can an MNIST autoencoder over-fit? The capacity question of note 004.

The note trains fully connected autoencoders on MNIST with a binary
cross-entropy summed over the 784 pixels and never gets the training loss
below about 55 nats per image. It explains this with a "model dimension"
(2 x the number of ReLU units) that the latent dimension should match.

This example reproduces the note's table on the bundled MNIST sample and
turns each of its observations into a verdict computed from the measured
numbers:

1. For `[784, 256]`, does the loss stop improving beyond some latent
   dimension, and is that near the note's model dimension 2 x 256 = 512?
2. Is widening (`[784, 512]`) better than deepening (`[784, 256, 256]`)?
3. Q1: does a deeper net prefer a smaller latent dimension?
4. How close does each architecture get to the floor, the entropy of the
   grey-valued targets (`keras_memnets.analysis.bce_floor`), below which no
   model can go, and what does it take to get the excess over it near 0?

Data: the bundled sample has 8,000 training digits (the note used all
60,000). We train on 7,000 of them and hold out 1,000 as a validation split;
the 2,000 test digits are not used. An epoch here is 110 steps of batch 64,
against the note's 937: "10 epochs" is about 9x less training, so absolute
losses are higher than the note's; the comparisons are what we test.

The sweep runs on KerasTuner (`keras_memnets.tuners.capacity_tuner`, a
`GridSearch` over architecture x latent x seed, each trial with
`ConvergenceStopping`), so `--out` keeps a resumable KerasTuner project: run
the same command again after an interruption and it continues.

Run: `python reproductions/overfit_capacity.py [--quick | --full] [--out DIR]`
(`--quiet`: no progress bars; measured run times: the docs page
*Reproductions*).
"""

import argparse
import itertools
import json
import os
import time

import keras
import numpy as np

import keras_memnets
from keras_memnets.analysis import bce_floor

# ---------------------------------------------------------------------------
# Settings: the grid of each mode.


def _mode(**settings):
    return settings


MODES = {
    # CI: tiny data, 2 epochs; the verdict lines run but mean little.
    "quick": _mode(
        train=1000,
        val=500,
        epochs=2,
        seeds=[0, 1, 2],
        grid=[([784, 32], [4, 64]), ([784, 64], [4]), ([784, 32, 32], [4])],
        probe_digits=200,
        probe_epochs=5,
    ),
    # Default: 10.8 CPU-minutes on TensorFlow (docs page *Reproductions*).
    "default": _mode(
        train=7000,
        val=1000,
        epochs=10,
        seeds=[0, 1, 2],
        grid=[
            ([784, 256], [8, 64, 256, 1024]),
            ([784, 512], [256]),
            ([784, 256, 256], [32, 256]),
        ],
        probe_digits=500,
        probe_epochs=40,
    ),
    # The note's whole table (hours on 2 CPU cores).
    "full": _mode(
        train=7000,
        val=1000,
        epochs=10,
        seeds=[0, 1, 2],
        grid=[
            ([784, 256], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]),
            ([784, 32], [64, 128]),
            ([784, 64], [128]),
            ([784, 128], [128, 256]),
            ([784, 512], [256]),
            ([784, 32, 32], [128, 256]),
            ([784, 128, 128], [32, 64, 128]),
            ([784, 256, 128], [128]),
            ([784, 256, 256], [32, 64, 128, 256, 1024]),
        ],
        probe_digits=1000,
        probe_epochs=100,
    ),
}

# Thresholds, stated before any number is measured.
SATURATION_NATS = 1.0  # "stops improving": doubling latent gains < 1 nat
NEAR_FLOOR_NATS = 1.0  # "excess near 0": < 1 nat per image
# "Widening is better than deepening" (or the reverse): the best training
# losses differ by more than this, else the two are called a tie.
ARCHITECTURE_MARGIN_NATS = 1.0


def mean_sd(values):
    values = np.asarray(values, dtype="float64")
    return float(values.mean()), float(
        values.std(ddof=1) if len(values) > 1 else 0
    )


class TrialProgress(keras.callbacks.Callback):
    """Calls `advance()` when a trial's training ends.

    KerasTuner deep-copies the callbacks of each trial; a function is
    copied by reference, so every copy advances the same progress bar.
    """

    def __init__(self, advance):
        super().__init__()
        self.advance = advance

    def on_train_end(self, logs=None):
        self.advance()


def _plot_probe(curves, floor, digits, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, curve in curves.items():
        ax.plot(np.arange(1, len(curve) + 1), curve, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("excess over the floor (nats / image)")
    ax.set_title(
        f"memorising {digits} digits (floor {floor:.1f} nats), mean of seeds"
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "capacity_probe.png"), dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress")
    parser.add_argument("--out", default="reproductions_out/overfit_capacity")
    args = parser.parse_args()
    name = "quick" if args.quick else "full" if args.full else "default"
    cfg = MODES[name]
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()

    # -----------------------------------------------------------------------
    # Data and the floor.
    (x, _), _ = keras_memnets.datasets.load_mnist(source="bundled")
    x = x.reshape(len(x), -1).astype("float32") / 255.0
    x_train, x_val = x[: cfg["train"]], x[7000 : 7000 + cfg["val"]]
    floor_train, floor_val = bce_floor(x_train), bce_floor(x_val)
    print(
        f"thresholds: saturation = a larger latent gains < "
        f"{SATURATION_NATS} nat; near the floor = excess < {NEAR_FLOOR_NATS} "
        f"nat; widen vs deepen differ by > {ARCHITECTURE_MARGIN_NATS} nat"
    )
    print(f"mode {name}: {len(x_train)} training digits, {len(x_val)} held out")
    print(
        f"floor (entropy of the targets): train {floor_train:.2f}, "
        f"held-out {floor_val:.2f} nats per image"
    )

    # -----------------------------------------------------------------------
    # The sweep on KerasTuner: one trial per (architecture, latent, seed).
    rows = []
    trials = sum(len(lat) for _, lat in cfg["grid"]) * len(cfg["seeds"])
    print(f"\nSweep: {trials} trials (a finished trial is not run again)")
    verbose = 0 if args.quiet else 1
    bar = keras.utils.Progbar(trials, verbose=verbose, unit_name="trial")
    for sizes, latents in cfg["grid"]:
        tuner = keras_memnets.tuners.capacity_tuner(
            [sizes],
            latents,
            seeds=cfg["seeds"],
            directory=os.path.join(args.out, "tuner"),
            project_name=f"{name}_"
            + keras_memnets.tuners.architecture_name(sizes),
        )
        tuner.search(
            x_train,
            x_train,
            epochs=cfg["epochs"],
            batch_size=64,
            validation_data=(x_val, x_val),
            callbacks=[TrialProgress(lambda: bar.add(1))],
            verbose=0,
        )
        rows += [
            r
            for r in keras_memnets.tuners.sweep_results(tuner)
            if r["status"] == "COMPLETED"
        ]
        bar.update(len(rows))  # trials of an earlier run count as done
    keras_memnets.tuners.write_results(
        rows, os.path.join(args.out, "sweep.jsonl")
    )
    keras_memnets.tuners.write_results(
        rows, os.path.join(args.out, "sweep.csv")
    )
    keras_memnets.tuners.plot_sweep(rows, args.out)

    table = {}
    for r in rows:
        table.setdefault((r["architecture"], r["latent_dim"]), []).append(r)
    print(
        f"\n{'architecture':>16} {'latent':>6} {'ReLUs':>5} {'params':>9} "
        f"{'loss (ep.avg)':>14} {'train':>14} {'excess':>13} {'held-out':>14}"
    )
    summary = {}
    for (arch, latent), group in sorted(
        table.items(),
        key=lambda kv: ([int(v) for v in kv[0][0].split("-")], kv[0][1]),
    ):
        stats = {
            key: mean_sd([g[key] for g in group])
            for key in ("loss", "train_loss", "train_excess", "val_loss")
        }
        summary[(arch, latent)] = stats
        print(
            f"{arch:>16} {latent:>6} {group[0]['relu_layers']:>5} "
            f"{group[0]['params']:>9,} "
            + " ".join(
                f"{stats[k][0]:8.2f}±{stats[k][1]:4.2f}"
                for k in ("loss", "train_loss", "train_excess", "val_loss")
            )
        )

    verdicts = {}

    # -----------------------------------------------------------------------
    # Verdict 1: saturation of [784, 256] (or the first architecture).
    first = keras_memnets.tuners.architecture_name(cfg["grid"][0][0])
    latents = sorted(lat for arch, lat in summary if arch == first)
    saturation = None
    for a, b in itertools.pairwise(latents):
        gain = (
            summary[(first, a)]["train_loss"][0]
            - summary[(first, b)]["train_loss"][0]
        )
        print(
            f"[{first}] latent {a} -> {b}: train loss gain {gain:.2f} nats "
            f"(threshold {SATURATION_NATS})"
        )
        if gain < SATURATION_NATS and saturation is None:
            saturation = a
    note_dim = keras_memnets.analysis.model_dimension(cfg["grid"][0][0])
    hidden = cfg["grid"][0][0][-1]
    verdicts["saturates"] = saturation is not None
    verdicts["saturation_latent"] = saturation
    verdicts["saturation_near_model_dimension"] = (
        saturation is not None and note_dim / 2 <= saturation <= 2 * note_dim
    )
    where = (
        f"stops improving beyond latent {saturation}"
        if saturation is not None
        else f"keeps improving up to latent {latents[-1]}"
    )
    print(
        f"verdict 1: the loss {where} (the note's model dimension "
        f"{note_dim}; the linear-after-code decoder is linear up to the "
        f"sigmoid, so the rank of its logits is capped at {hidden}); "
        f"saturation within a factor 2 of {note_dim}: "
        f"{verdicts['saturation_near_model_dimension']}"
    )

    # -----------------------------------------------------------------------
    # Verdicts 2 and 3: widen vs deepen; does deeper prefer a smaller latent?
    def best(arch):
        keys = [k for k in summary if k[0] == arch]
        if not keys:
            return None
        k = min(keys, key=lambda k: summary[k]["train_loss"][0])
        return k[1], summary[k]["train_loss"]

    archs = sorted(
        {a for a, _ in summary}, key=lambda a: [int(v) for v in a.split("-")]
    )
    wide = [a for a in archs if len(a.split("-")) == 2]
    deep = [a for a in archs if len(a.split("-")) > 2]
    if len(wide) >= 2 and deep:
        w, d = best(wide[-1]), best(deep[0])
        gap = d[1][0] - w[1][0]
        if gap > ARCHITECTURE_MARGIN_NATS:
            winner = "widening"
        elif gap < -ARCHITECTURE_MARGIN_NATS:
            winner = "deepening"
        else:
            winner = "tie"
        verdicts["widening_beats_deepening"] = winner == "widening"
        verdicts["widen_vs_deepen"] = winner
        wide_params = table[(wide[-1], w[0])][0]["params"]
        deep_params = table[(deep[0], d[0])][0]["params"]
        print(
            f"verdict 2: best widened [{wide[-1]}] {w[1][0]:.2f}±{w[1][1]:.2f} "
            f"(latent {w[0]}) vs deepened [{deep[0]}] "
            f"{d[1][0]:.2f}±{d[1][1]:.2f} (latent {d[0]}); gap {gap:.2f} nats "
            f"(margin {ARCHITECTURE_MARGIN_NATS}): {winner}; not matched in "
            f"parameters ({wide_params:,} against {deep_params:,})"
        )
    if deep:
        # Q1: the smallest latent must beat the largest by more than the
        # threshold, else the preference is within noise.
        deep_latents = sorted(lat for a, lat in summary if a == deep[0])
        small = summary[(deep[0], deep_latents[0])]["train_loss"]
        large = summary[(deep[0], deep_latents[-1])]["train_loss"]
        verdicts["deeper_prefers_smaller_latent"] = bool(
            len(deep_latents) > 1 and large[0] - small[0] > SATURATION_NATS
        )
        print(
            f"verdict 3 (Q1): [{deep[0]}] latent {deep_latents[0]}: "
            f"{small[0]:.2f}±{small[1]:.2f}, latent {deep_latents[-1]}: "
            f"{large[0]:.2f}±{large[1]:.2f}; smaller latent better by more "
            f"than {SATURATION_NATS} nat: "
            f"{verdicts['deeper_prefers_smaller_latent']}"
        )

    # -----------------------------------------------------------------------
    # Verdict 4: distance to the floor, and what it takes to reach it. A
    # memorisation probe: a small subset, many epochs, a wide symmetric net
    # whose latent keeps all 784 dimensions, against the note's best layout.
    closest = min(summary.items(), key=lambda kv: kv[1]["train_excess"][0])
    print(
        f"verdict 4a: closest to the floor: [{closest[0][0]}] latent "
        f"{closest[0][1]}, excess {closest[1]['train_excess'][0]:.2f} nats "
        f"(threshold {NEAR_FLOOR_NATS}): near the floor: "
        f"{closest[1]['train_excess'][0] < NEAR_FLOOR_NATS}"
    )
    probe_x = x_train[: cfg["probe_digits"]]
    probe_floor = bce_floor(probe_x)
    checkpoints = sorted(
        {max(1, cfg["probe_epochs"] // 4), cfg["probe_epochs"] // 2}
        | {cfg["probe_epochs"]}
    )
    print(
        f"\nmemorisation probe: {len(probe_x)} training digits, "
        f"{cfg['probe_epochs']} epochs, batch 64; floor {probe_floor:.2f}; "
        f"near the floor = excess < {NEAR_FLOOR_NATS} nat"
    )
    probe = {}
    curves = {}
    bar = keras.utils.Progbar(
        3 * len(cfg["seeds"]), verbose=verbose, unit_name="fit"
    )
    for label, sizes, latent, placement, lr in (
        (
            "linear-after-code [784, 256], latent 256, Adam 1e-3",
            [784, 256],
            256,
            "linear_after_code",
            1e-3,
        ),
        (
            "symmetric [784, 1024], latent 784, Adam 1e-3",
            [784, 1024],
            784,
            "symmetric",
            1e-3,
        ),
        (
            "symmetric [784, 1024], latent 784, Adam 3e-3",
            [784, 1024],
            784,
            "symmetric",
            3e-3,
        ),
    ):
        excesses, curve = [], []
        for seed in cfg["seeds"]:
            keras.utils.set_random_seed(seed)
            model = keras_memnets.models.autoencoder(
                sizes, latent, relu_placement=placement
            )
            model.compile(
                keras.optimizers.Adam(lr),
                loss=keras_memnets.losses.SummedBinaryCrossentropy(),
            )
            history = model.fit(
                probe_x,
                probe_x,
                epochs=cfg["probe_epochs"],
                batch_size=64,
                verbose=0,
            )
            loss = float(model.evaluate(probe_x, probe_x, verbose=0))
            excesses.append(loss - probe_floor)
            # The epoch-average training loss (taken while the weights
            # move) minus the floor: the excess against epochs.
            curve.append(np.array(history.history["loss"]) - probe_floor)
            bar.add(1)
        probe[label] = mean_sd(excesses)
        curves[label] = np.mean(curve, axis=0)
    for label in probe:
        at = ", ".join(
            f"epoch {e}: {curves[label][e - 1]:.1f}" for e in checkpoints
        )
        print(
            f"  {label}: final excess {probe[label][0]:.2f}±"
            f"{probe[label][1]:.2f} nats (threshold {NEAR_FLOOR_NATS}); "
            f"epoch-average excess {at}"
        )
    verdicts["probe_excess"] = {k: v[0] for k, v in probe.items()}
    verdicts["probe_reaches_floor"] = {
        k: bool(v[0] < NEAR_FLOOR_NATS) for k, v in probe.items()
    }
    _plot_probe(curves, probe_floor, len(probe_x), args.out)

    results = {
        "mode": name,
        "floor_train": floor_train,
        "floor_val": floor_val,
        "table": {
            f"{a}@{lat}": {k: list(v) for k, v in s.items()}
            for (a, lat), s in summary.items()
        },
        "verdicts": verdicts,
        "seconds": time.perf_counter() - start,
        "loadavg": os.getloadavg(),
        "backend": keras.backend.backend(),
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(
        f"\ntook {results['seconds']:.0f} s (load average "
        f"{os.getloadavg()[0]:.1f});"
        f" results and figures in {args.out}"
    )


if __name__ == "__main__":
    main()
