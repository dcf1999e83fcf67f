"""Set-min random loss: an MNIST autoencoder with K variant decoders.

An autoencoder whose decoder has K=5 variants, trained with the "set min random
loss" of the research note `000-memory-and-set-min-notes.txt`, with a code of
`dl=10` numbers and then the note's next idea, `dl=2`. Per sample, the variant
with the smallest noisy loss wins and only the winner learns
(`keras_memnets.losses.SetMinLoss`). The noise has two readings
(`noise_space`): `"log"`, `argmin_k log L_k + sigma * eps_k` (multiplicative
noise), and `"linear"`, `argmin_k L_k + sigma * eps_k`. The note raises sigma
from 1 to 10 to 100 ("1 hour, 2 hours, 1 hour"); we keep that shape and scale
an hour down to `--unit-length` epochs.

Every comparison runs over `--seeds` seeds (mean ± sd) against matched
baselines trained on the same seeds:

- Q1, do the variants differ? Their spread (mean pairwise RMS distance between
  the live variants' outputs for one test digit) against the same model
  trained with equal weights for all heads (`relaxation=(K-1)/K`: the heads'
  differences are training noise only).
- Q2, is `dl=2` more specialised? The change of `H(winner | class)`.
- Q3, does the best variant (an oracle choice) beat a single decoder with the
  same number of parameters, for each `dl`?
- Noise readings: how often the noisy winner is the noiseless one.

Run: `KERAS_BACKEND=tensorflow python reproductions/set_min_autoencoder.py`
(`--quick` for CI, `--quiet` without progress bars; measured run times: the
docs page *Reproductions*). Writes `results.json` and `samples.png` under
`--out`.
"""

import argparse
import json
import os

import keras
import matplotlib.pyplot as plt
import numpy as np

import keras_memnets

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--quick", action="store_true", help="CI-sized run")
p.add_argument("--quiet", action="store_true", help="no progress bars")
p.add_argument("--out", default="reproductions_out/set_min_autoencoder")
p.add_argument("--seeds", type=int, default=3)
p.add_argument("--latent-dims", default="10,2")
p.add_argument("--noise-space", default="log,linear", help="log, linear")
p.add_argument("--variants", type=int, default=5)
p.add_argument("--hidden-units", type=int, default=128)
p.add_argument("--log-stds", default="1,10,100")
p.add_argument("--durations", default="1,2,1", help="in units (note: hours)")
p.add_argument("--unit-length", type=int, default=2, help="epochs per unit")
p.add_argument("--train-size", type=int, default=5000)
args = p.parse_args()
if args.quick:
    args.train_size, args.hidden_units, args.unit_length = 600, 32, 1
os.makedirs(args.out, exist_ok=True)
K, SEEDS = args.variants, range(args.seeds)
DLS = [int(v) for v in args.latent_dims.split(",")]
SPACES = args.noise_space.split(",")
SCHEDULE = [
    (int(d) * args.unit_length, float(s))
    for d, s in zip(args.durations.split(","), args.log_stds.split(","))
]
EPOCHS = sum(d for d, _ in SCHEDULE)
ms = keras_memnets.analysis.format_mean_sd  # "mean ± sd" over seeds
yes = lambda ok: "YES" if ok else "NO"

# ## Thresholds, fixed before any number is printed
LIVE_MIN = 0.02  # a variant is live if it wins >= 2% of the test digits
Z_MIN = 3.29  # significance: sign-test z, one-sided p < 0.0005, every seed
RATIO_MIN = 2.0  # effect size: mean spread ratio over the baseline
DH_MAX = -0.05  # Q2: dl=2 lowers H(winner | class) by >= 0.05 bits
RANDOM_MAX = 1 / K + 0.05  # winner agreement this low: winner is random
print(f"backend {keras.backend.backend()}; schedule (epochs, sigma) {SCHEDULE}")
print(
    f"thresholds: live variant wins >= {LIVE_MIN:.0%}; Q1 significant if "
    f"z >= {Z_MIN} for every seed, large effect if spread ratio >= "
    f"{RATIO_MIN}; Q2 dH <= {DH_MAX} bits; Q3 best/single < 1; noise makes "
    f"the winner random if agreement <= {RANDOM_MAX:.2f} (chance 1/K)"
)

# ## Data: the bundled MNIST sample, pixels in [0, 1]
(x, _), (x_test, y_test) = keras_memnets.datasets.load_mnist(
    source="bundled", normalize=True, flatten=True
)
x = x[: args.train_size]
if args.quick:
    x_test, y_test = x_test[:500], y_test[:500]


# ## The models
# `set_min_autoencoder` carries its loss (a `SetMinSelection` layer) so it
# compiles with `loss=None`; `LogStdSchedule` sets the selection's sigma.
def train_set_min(dl, seed, space, relaxation=0.0):
    keras.utils.set_random_seed(seed)
    model = keras_memnets.models.set_min_autoencoder(
        latent_dim=dl,
        num_variants=K,
        hidden_units=args.hidden_units,
        relaxation=relaxation,
        noise_space=space,
        seed=seed,
    )
    model.compile(optimizer="adam", loss=None)
    callback = keras_memnets.callbacks.LogStdSchedule(SCHEDULE)
    model.fit(
        x, x, epochs=EPOCHS, batch_size=128, callbacks=[callback], verbose=0
    )
    return model


# The matched baseline: the same encoder and ONE decoder whose hidden layer
# is widened until the model has as many parameters as the K-variant one.
def train_single(dl, seed, params):
    keras.utils.set_random_seed(seed)
    h, d = args.hidden_units, x.shape[1]
    width = round((params - (d * h + h + h * dl + dl) - d) / (dl + 1 + d))
    model = keras_memnets.models.autoencoder(
        [d, h], dl, decoder_sizes=[width, d], relu_placement="symmetric"
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x, epochs=EPOCHS, batch_size=128, verbose=0)
    mse = float(((model.predict(x_test, verbose=0) - x_test) ** 2).mean())
    return mse, model.count_params()


# ## Measurements on the test digits
# A digit's winner is its noiseless best variant. Dead variants would count
# junk outputs as "differences", so a set-min model's spread is measured over
# its live variants only.
def measure(model, live_only=True):
    out = model.predict(x_test, batch_size=500, verbose=0)  # (n, K, 784)
    losses = ((out - x_test[:, None]) ** 2).mean(axis=2)  # (n, K)
    winners = keras.ops.convert_to_numpy(
        keras_memnets.analysis.best_variant(x_test, out)
    )
    table = keras_memnets.analysis.class_winner_distribution(
        winners, y_test, num_variants=K, num_classes=10
    )
    live = np.flatnonzero(
        np.bincount(winners, minlength=K) >= LIVE_MIN * len(x_test)
    )
    live = live if live_only else np.arange(K)
    pairs = [(a, b) for i, a in enumerate(live) for b in live[i + 1 :]]
    spread = np.zeros(len(x_test)) + sum(
        np.sqrt(((out[:, a] - out[:, b]) ** 2).mean(1)) for a, b in pairs
    )
    return {
        "out": out,
        "losses": losses,
        "winners": winners,
        "live": len(live),
        "spread": spread / max(len(pairs), 1),
        "best_mse": float(losses.min(1).mean()),
        "H": table["conditional_entropy_bits"],
        "MI": table["mutual_information_bits"],
    }


# ## Training every configuration on every seed
runs = {}  # (dl, noise_space or baseline name) -> list over seeds
# Per code size and seed: the equal-weight baseline, one model per noise
# reading and the single decoder.
trainings = len(DLS) * len(SEEDS) * (len(SPACES) + 2)
print(f"Training {trainings} models")
bar = keras.utils.Progbar(
    trainings, verbose=0 if args.quiet else 1, unit_name="fit"
)
params, single_params = {}, {}  # per dl
for dl in DLS:
    for seed in SEEDS:
        equal_weight = train_set_min(dl, seed, "log", relaxation=(K - 1) / K)
        bar.add(1)
        base = measure(equal_weight, live_only=False)
        runs.setdefault((dl, "equal-weight"), []).append(base)
        for space in SPACES:
            model = train_set_min(dl, seed, space)
            bar.add(1)
            params[dl] = sum(
                int(np.prod(w.shape)) for w in model.trainable_weights
            )
            m = measure(model)
            runs.setdefault((dl, space), []).append(m)
            wins = (m["spread"] > base["spread"]).mean()  # sign test
            m["z"] = (wins - 0.5) * 2 * np.sqrt(len(x_test))
            m["ratio"] = float(m["spread"].mean() / base["spread"].mean())
            m["spread"] = float(m["spread"].mean())
        base["spread"] = float(base["spread"].mean())
        mse, single_params[dl] = train_single(dl, seed, params[dl])
        bar.add(1)
        runs.setdefault((dl, "single"), []).append({"mse": mse})
for dl in DLS:
    print(f"dl={dl}: {params[dl]} vs {single_params[dl]} parameters")

# ## Q1 and Q3: per code size and noise reading
# With 2,000 test digits a tiny difference is significant, so significance
# (sign-test z over the digits) and effect size (spread ratio) are two verdicts.
verdicts = {}
results = {"schedule": SCHEDULE, "seeds": args.seeds, "verdicts": verdicts}
for dl in DLS:
    single = [r["mse"] for r in runs[(dl, "single")]]
    eq = [r["spread"] for r in runs[(dl, "equal-weight")]]
    print(
        f"\n== dl={dl}: equal-weight spread {ms(eq)}; "
        f"single-decoder MSE {ms(single)}"
    )
    for space in SPACES:
        rs = runs[(dl, space)]
        z = [r["z"] for r in rs]
        ratio = [r["ratio"] for r in rs]
        best = [r["best_mse"] / s for r, s in zip(rs, single)]
        v_live = min(r["live"] for r in rs)
        v = verdicts[f"dl={dl} {space}"] = {
            "live_min": v_live,
            "spread": ms([r["spread"] for r in rs]),
            "z": ms(z),
            "ratio": ms(ratio),
            "MI_bits": ms([r["MI"] for r in rs]),
            "best_over_single": ms(best),
            "significant": bool(min(z) >= Z_MIN and v_live >= 2),
            "large_effect": bool(np.mean(ratio) >= RATIO_MIN),
            "best_beats_single": bool(np.mean(best) < 1),
        }
        print(
            f"  {space:6s} live variants (fewest over seeds) {v_live} of {K}, "
            f"I(class;winner) {v['MI_bits']} bits\n"
            f"    Q1 significant: z {v['z']} (min {min(z):.1f}) vs {Z_MIN}: "
            f"{yes(v['significant'])}; large effect: ratio {v['ratio']} vs "
            f"{RATIO_MIN}: {yes(v['large_effect'])}\n"
            f"    Q3 best-of-{K}/single MSE {v['best_over_single']} vs 1: "
            f"{yes(v['best_beats_single'])}"
        )

# ## Q2: does dl=2 specialise more than dl=10 (paired by seed)?
if len(DLS) > 1:
    for space in SPACES:
        pairs = zip(runs[(DLS[0], space)], runs[(DLS[1], space)])
        dh = [b["H"] - a["H"] for a, b in pairs]
        ok = bool(np.mean(dh) <= DH_MAX)
        verdicts[f"Q2 {space}"] = {"dH_bits": ms(dh), "more_specialised": ok}
        print(
            f"\nQ2 ({space}): H(winner|class) dl={DLS[1]} minus dl={DLS[0]} "
            f"{ms(dh)} bits vs {DH_MAX}: {yes(ok)}"
        )

# ## The two noise readings: is the winner still the best variant?
# On the per-variant test losses of each seed's first dl model (first noise
# reading): the share of test digits whose noisy winner is the noiseless
# one (chance: 1/K), for each sigma, mean ± sd over the seeds.
first_runs = runs[(DLS[0], SPACES[0])]
first = first_runs[0]
typical = np.median([np.median(r["losses"]) for r in first_runs])
print(
    f"\nwinner agreement under noise, {len(first_runs)} models (dl={DLS[0]}, "
    f"{SPACES[0]} reading, one per seed; typical loss {typical:.4f}):"
)
results["winner_agreement"] = agreement = {}
rng = np.random.default_rng(0)
readings = ["log", "linear", "linear, summed loss"]
for sigma in [0.1] + [s for _, s in SCHEDULE]:
    shares = {k: [] for k in readings}
    for r in first_runs:
        losses = r["losses"]
        eps = sigma * rng.standard_normal((20,) + losses.shape)
        noisy = [np.log(losses), losses, 784 * losses]  # 784: a summed loss
        for k, v in zip(readings, noisy):
            shares[k].append(
                float(((v + eps).argmin(-1) == losses.argmin(-1)).mean())
            )
    agreement[sigma] = {
        k: {"mean": float(np.mean(v)), "per_seed": v} for k, v in shares.items()
    }
    cells = [
        f"{k} {ms(v, '.2f')}{' (random)' if np.mean(v) <= RANDOM_MAX else ''}"
        for k, v in shares.items()
    ]
    print(f"  sigma {sigma:<5g} " + "  ".join(cells))

# ## A figure: the first test digit of each class and the first model's K
# variants, the winner marked
plt.switch_backend("Agg")
fig, axes = plt.subplots(10, K + 1, figsize=(K + 1, 10))
for r in range(10):
    i = np.flatnonzero(y_test == r)[0]
    for c, img in enumerate([x_test[i]] + list(first["out"][i])):
        axes[r, c].imshow(img.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        axes[r, c].set_axis_off()
        if c == first["winners"][i] + 1:
            axes[r, c].set_title("winner", fontsize=6, color="red")
fig.savefig(os.path.join(args.out, "samples.png"), dpi=80)
with open(os.path.join(args.out, "results.json"), "w") as f:
    json.dump(results, f, indent=2, default=str)
print(f"\nwrote {args.out}/results.json and samples.png")
