"""Which default makes a memory decoder use its slots: candidates measured.

A measurement script, not a test. `memory_decoder` built with default
arguments and trained with `compile` + `fit` only collapses onto one or two
slots (the guide "Memory networks" measures why: ten identical grey slots,
and memory logits that Adam moves by about one learning rate per step).
This script prototypes candidate defaults *outside* the package, as a
subclass of `MemoryLayer` and a copy of the `memory_decoder` graph, and
measures each on the demo setting:

- bundled MNIST, PCA to 6 whitened components adapted on the training
  digits; 5,000 training digits, the next 1,000 training digits as the
  validation split (every choice is made on it), the 2,000 test digits for
  the final numbers only;
- 10 slots, 512 hidden units, batch 64, 4 epochs, Adam at Keras' default
  learning rate, `compile` + `fit`, nothing else;
- live slots (slots that are the argmax of >= 0.1 / memory_size of the
  digits: 1 % at 10 slots), memory and informed MSE, against the k-means
  test MSE of the same seed (`keras_memnets.metrics.kmeans_baseline`) and
  the mean training image's MSE.

Goal (printed first): >= 8 live slots and memory test MSE <= 1.2 x k-means,
mean over the seeds; the informed MSE no worse than the baseline's.

Candidates (see `VARIANTS`): a scaled memory parametrisation (the stored
weight is multiplied by a fixed `memory_scale` before the activation, so
Adam's step moves the logits `memory_scale` times faster), larger memory
initialisations, a linear memory stored in output space, selector
temperatures, a first-batch (data-dependent, inputs only) standardisation
of the selector logits, per-row and batch-normalised logits, a cosine
selector, and `LoadBalance` at several weights; and combinations.

    KERAS_BACKEND=jax python benchmarks/memory_default.py \
        --variants baseline,scale30 --seeds 0,1,2
    KERAS_BACKEND=jax python benchmarks/memory_default.py --list

Each finished training is appended to
`benchmarks/results/memory_default-<backend>.json` at once (a rerun skips
what is there), so the script can be stopped and resumed; `--table` prints
the mean +- sd per variant from that file, `--markdown` writes every
backend's table to `benchmarks/results/memory_default-table.md`, and
`--time` times training steps of the given variants, interleaved. Other
settings: `--memory-size`, `--hidden-units`, `--learning-rate`,
`--optimizer sgd`, `--memory-only` (no informed layer), `--set JSON` (e.g.
`'{"memory_activation": "linear"}'`). The summary and the recommendation
are in `benchmarks/results/memory_default.md`.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
from keras import ops  # noqa: E402

import keras_memnets  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
GOAL_SLOTS = 8
GOAL_RATIO = 1.2


class CandidateMemoryLayer(keras_memnets.layers.MemoryLayer):
    """`MemoryLayer` with the candidate parametrisations switched by args.

    Args (on top of `MemoryLayer`'s):
        memory_scale: float. The memory logits are `memory_scale * W`, `W`
            the stored weight (initialised with the memory initializer
            divided by `memory_scale`, so the logits start as today).
        selector_temperature: float. Factor on the selector logits.
        selector_norm: `None`, `"first_batch"` (each slot's logit shifted
            and scaled by its mean and standard deviation on the first
            training batch, held fixed afterwards: a data-dependent init
            that uses the layer's inputs only), `"row"` (logits
            standardised over the slots of each row), `"batch"` (each
            slot's logit standardised over the batch, moving statistics at
            inference, as batch normalisation) or `"cosine"` (cosine of the
            hidden features and each slot's output kernel column).
    """

    def __init__(
        self,
        *args,
        memory_scale=1.0,
        selector_temperature=1.0,
        selector_norm=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.memory_scale = float(memory_scale)
        self.selector_temperature = float(selector_temperature)
        self.selector_norm = selector_norm

    def build(self, input_shape):
        self.selector.build(input_shape)
        base = self.memory_initializer
        scale = self.memory_scale

        def initializer(shape, dtype=None):
            return base(shape, dtype=dtype) / scale

        self.memory = self.add_weight(
            name="memory",
            shape=(self.memory_size, self.units),
            initializer=initializer,
            regularizer=self.memory_regularizer,
        )
        m = self.memory_size
        if self.selector_norm in ("first_batch", "batch"):
            self.logit_shift = self.add_weight(
                name="logit_shift",
                shape=(m,),
                initializer="zeros",
                trainable=False,
            )
            self.logit_gain = self.add_weight(
                name="logit_gain",
                shape=(m,),
                initializer="ones",
                trainable=False,
            )
            self.initialized = self.add_weight(
                name="initialized",
                shape=(),
                initializer="zeros",
                trainable=False,
            )

    def logits(self, inputs, training=False):
        selector = self.selector
        hidden = selector.hidden(inputs)
        if self.selector_norm == "cosine":
            kernel = selector.output_dense.kernel
            hidden = hidden / (
                ops.sqrt(ops.sum(hidden**2, -1, keepdims=True)) + 1e-6
            )
            kernel = kernel / (
                ops.sqrt(ops.sum(kernel**2, 0, keepdims=True)) + 1e-6
            )
            return self.selector_temperature * ops.matmul(hidden, kernel)
        z = selector.output_dense(hidden)
        if self.selector_norm == "row":
            mean = ops.mean(z, -1, keepdims=True)
            sd = ops.std(z, -1, keepdims=True)
            z = (z - mean) / (sd + 1e-6)
        elif self.selector_norm == "first_batch":
            if training:
                mean = ops.mean(z, 0)
                sd = ops.std(z, 0)
                done = self.initialized.value > 0
                self.logit_shift.assign(
                    ops.where(
                        done, self.logit_shift.value, ops.stop_gradient(mean)
                    )
                )
                self.logit_gain.assign(
                    ops.where(
                        done,
                        self.logit_gain.value,
                        ops.stop_gradient(1.0 / (sd + 1e-6)),
                    )
                )
                self.initialized.assign(1.0)
            z = (z - self.logit_shift) * self.logit_gain
        elif self.selector_norm == "batch":
            if training:
                mean = ops.mean(z, 0)
                sd = ops.std(z, 0)
                momentum = 0.99
                self.logit_shift.assign(
                    momentum * self.logit_shift
                    + (1 - momentum) * ops.stop_gradient(mean)
                )
                self.logit_gain.assign(
                    momentum * self.logit_gain
                    + (1 - momentum) * ops.stop_gradient(1.0 / (sd + 1e-6))
                )
                z = (z - mean) / (sd + 1e-6)
            else:
                z = (z - self.logit_shift) * self.logit_gain
        return self.selector_temperature * z

    def compute_selection(self, inputs, training=False):
        return ops.softmax(self.logits(inputs, training), axis=-1)

    def call(self, inputs, training=False):
        selection = self.compute_selection(inputs, training)
        if self.selection_regularizer is not None:
            penalty = self.selection_regularizer(selection)
            batch_size = ops.cast(ops.shape(selection)[0], "float32")
            self.add_loss(ops.divide_no_nan(penalty, batch_size))
        output = self.read(selection)
        return output, selection

    def read(self, selection):
        logits = self.memory_scale * self.memory
        return ops.matmul(selection, self.memory_activation(logits))


# Each variant: CandidateMemoryLayer arguments plus `memory_stddev` (the
# standard deviation of the initial memory logits, today 0.05) and
# `load_balance` (the LoadBalance weight, 0 for none).
VARIANTS = {
    "baseline": {},
    # The package's own memory_decoder as it is today (a check that
    # "baseline", the prototype with every candidate off, matches it).
    "library": {"library": True},
    # The package's memory_decoder with the defaults chosen here
    # (memory_scale=100, selection_regularizer="auto"), once they landed.
    # ("library" runs in the results files predate them.)
    "package_default": {"library": True},
    # (a) a memory whose logits move faster than Adam's step.
    "scale3": {"memory_scale": 3.0},
    "scale10": {"memory_scale": 10.0},
    "scale30": {"memory_scale": 30.0},
    "scale100": {"memory_scale": 100.0},
    "scale300": {"memory_scale": 300.0},
    "scale1000": {"memory_scale": 1000.0},
    "output_space": {"memory_activation": None, "memory_mean": 0.5},
    "output_space_scale10": {
        "memory_activation": None,
        "memory_mean": 0.5,
        "memory_scale": 10.0,
    },
    # (b) symmetry-breaking initializers.
    "init_sd0.5": {"memory_stddev": 0.5},
    "init_sd1": {"memory_stddev": 1.0},
    "init_sd2": {"memory_stddev": 2.0},
    # (c) first-batch standardisation of the selector logits (inputs only).
    "first_batch_t1": {"selector_norm": "first_batch"},
    "first_batch_t3": {
        "selector_norm": "first_batch",
        "selector_temperature": 3.0,
    },
    # (d) a balancing term on by default.
    "balance0.01": {"load_balance": 0.01},
    "balance0.03": {"load_balance": 0.03},
    "balance0.1": {"load_balance": 0.1},
    "balance1": {"load_balance": 1.0},
    "entropy0.01": {"load_balance": 0.01, "balance_mode": "entropy"},
    "entropy0.1": {"load_balance": 0.1, "balance_mode": "entropy"},
    # (e) selector parametrisations.
    "temperature10": {"selector_temperature": 10.0},
    "row_norm_t2": {"selector_norm": "row", "selector_temperature": 2.0},
    "batch_norm_t2": {"selector_norm": "batch", "selector_temperature": 2.0},
    "cosine_t10": {"selector_norm": "cosine", "selector_temperature": 10.0},
}


def combine(*names, **extra):
    config = {}
    for name in names:
        config.update(VARIANTS[name])
    config.update(extra)
    return config


def build_model(
    config, memory_size, hidden_units, output_activation, informed=True
):
    """The `memory_decoder` graph with a `CandidateMemoryLayer`."""
    config = dict(config)
    if config.pop("library", False):
        return keras_memnets.models.memory_decoder(
            6,
            784,
            memory_size,
            hidden_units,
            output_activation=output_activation,
        )
    stddev = config.pop("memory_stddev", 0.05)
    mean = config.pop("memory_mean", 0.0)
    weight = config.pop("load_balance", 0.0)
    mode = config.pop("balance_mode", "switch")
    memory_activation = config.pop("memory_activation", "sigmoid")
    regularizer = None
    if weight:
        regularizer = keras_memnets.regularizers.LoadBalance(weight, mode)
    inputs = keras.Input((6,), name="features")
    memory_output, selection = CandidateMemoryLayer(
        784,
        memory_size,
        hidden_units=hidden_units,
        memory_activation=memory_activation,
        memory_initializer=keras.initializers.RandomNormal(mean, stddev),
        return_selection=True,
        selection_regularizer=regularizer,
        name="memory_layer",
        **config,
    )(inputs)
    memory_output = keras.layers.Identity(name="memory")(memory_output)
    if not informed:
        return keras.Model(inputs, {"memory": memory_output})
    informed_output = keras_memnets.layers.MemoryInformedLayer(
        784,
        memory_size,
        hidden_units=hidden_units,
        output_activation=output_activation,
        name="informed_layer",
    )([inputs, selection])
    outputs = {
        "memory": memory_output,
        "informed": keras.layers.Identity(name="informed")(informed_output),
    }
    return keras.Model(inputs, outputs)


class StepTimer(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self.start)

    def on_train_begin(self, logs=None):
        self.times = []


def load_data(n_train=5000, n_val=1000):
    (x_all, _), (x_test, y_test) = keras_memnets.datasets.load_mnist(
        source="bundled", normalize=True, flatten=True
    )
    x_train = x_all[:n_train]
    x_val = x_all[n_train : n_train + n_val]
    pca = keras_memnets.layers.PCAReduction(6, whiten=True)
    pca.adapt(x_train)
    features = [
        keras.ops.convert_to_numpy(pca(x)) for x in (x_train, x_val, x_test)
    ]
    return (x_train, x_val, x_test), features


def evaluate(model, features, targets, memory_size):
    layer = model.get_layer("memory_layer")
    outputs = model.predict(features, batch_size=500, verbose=0)
    outputs.setdefault("informed", np.full_like(targets, np.nan))
    selection = np.concatenate(
        [
            keras.ops.convert_to_numpy(
                layer.compute_selection(features[i : i + 500])
            )
            for i in range(0, len(features), 500)
        ]
    )
    share = np.bincount(selection.argmax(-1), minlength=memory_size)
    share = share / len(features)
    mean = selection.mean(0)
    return {
        "memory_mse": float(np.mean((outputs["memory"] - targets) ** 2)),
        "informed_mse": float(np.mean((outputs["informed"] - targets) ** 2)),
        "live_slots": int(np.sum(share >= 0.1 / memory_size)),
        "perplexity": float(np.exp(-np.sum(mean * np.log(mean + 1e-12)))),
        "mean_max": float(selection.max(-1).mean()),
        "finite": bool(np.all(np.isfinite(outputs["memory"]))),
    }


def train_one(config, seed, data, args):
    (x_train, x_val, x_test), (f_train, f_val, f_test) = data
    keras.utils.set_random_seed(seed)
    model = build_model(
        config,
        args.memory_size,
        args.hidden_units,
        args.output_activation,
        informed=not args.memory_only,
    )
    targets = {"memory": x_train, "informed": x_train}
    if args.memory_only:
        del targets["informed"]
    if args.optimizer == "adam":
        optimizer = keras.optimizers.Adam(args.learning_rate or 0.001)
    else:
        optimizer = keras.optimizers.SGD(args.learning_rate or 0.01)
    model.compile(optimizer, loss={k: "mse" for k in targets})
    timer = StepTimer()
    start = time.perf_counter()
    model.fit(
        f_train,
        targets,
        batch_size=64,
        epochs=args.epochs,
        verbose=0,
        callbacks=[timer],
    )
    wall = time.perf_counter() - start
    steps = np.array(timer.times[10:]) * 1000
    return {
        "val": evaluate(model, f_val, x_val, args.memory_size),
        "test": evaluate(model, f_test, x_test, args.memory_size),
        "params": int(model.count_params()),
        "step_ms_median": float(np.median(steps)),
        "fit_s": wall,
        "load": os.getloadavg()[0],
    }


def time_steps(names, data, args, rounds=40):
    """Median ms of one training step per variant, interleaved."""
    (x_train, _, _), (f_train, _, _) = data
    models = {}
    for name in names:
        keras.utils.set_random_seed(0)
        config = combine(*name.split("+"))
        model = build_model(
            config, args.memory_size, args.hidden_units, args.output_activation
        )
        model.compile("adam", loss={"memory": "mse", "informed": "mse"})
        models[name] = model
    rng = np.random.default_rng(0)
    times = {name: [] for name in names}
    for step in range(rounds + 5):
        rows = rng.choice(len(f_train), 64, replace=False)
        x, y = f_train[rows], x_train[rows]
        for name in rng.permutation(names):
            start = time.perf_counter()
            models[name].train_on_batch(x, {"memory": y, "informed": y})
            if step >= 5:
                times[name].append(time.perf_counter() - start)
    base = np.median(times[names[0]])
    for name in names:
        median = np.median(times[name])
        print(
            f"{name:32s} {median * 1000:7.1f} ms  x{median / base:.3f} "
            f"({models[name].count_params()} parameters)"
        )
    print(f"load average {os.getloadavg()}")


def anchors(data, memory_size, seed):
    (x_train, x_val, x_test), _ = data
    result = {}
    for split, targets in (("val", x_val), ("test", x_test)):
        kmeans = keras_memnets.metrics.kmeans_baseline(
            x_train, memory_size, targets, seed=seed
        )
        result[split] = {
            "kmeans_mse": kmeans["test_mse"],
            "mean_image_mse": float(np.mean((targets - x_train.mean(0)) ** 2)),
        }
    return result


def run_key(name, seed, args):
    optimizer = ""
    if args.optimizer != "adam" or args.learning_rate:
        optimizer = f"|{args.optimizer}{args.learning_rate or ''}"
    if args.memory_only:
        optimizer += "|memory_only"
    return (
        f"{name}|m{args.memory_size}|h{args.hidden_units}|"
        f"{args.output_activation}|e{args.epochs}{optimizer}|s{seed}"
    )


def load_results(path):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {"runs": {}, "anchors": {}, "variants": {}}


def save_run(path, key, run, name, config, anchor_key, results):
    """Merges one run into the file (other processes may have added)."""
    os.makedirs(RESULTS, exist_ok=True)
    stored = load_results(path)
    stored["runs"][key] = run
    stored["variants"][name] = config
    stored["anchors"][anchor_key] = results["anchors"][anchor_key]
    with open(path + ".tmp", "w") as f:
        json.dump(stored, f, indent=1)
    os.replace(path + ".tmp", path)


def mean_sd(values, digits=4):
    values = np.asarray(values, "float64")
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {sd:.{digits}f}"


def print_table(results, split="test"):
    groups = {}
    for key, run in results["runs"].items():
        name, *setting, seed = key.split("|")
        groups.setdefault((name, "|".join(setting)), []).append((seed, run))
    columns = ("live_slots", "memory_mse", "informed_mse", "mean_max")
    print(
        f"{'variant':32s} {'setting':26s} n "
        + " ".join(f"{c:>17s}" for c in columns)
        + f" {'mem/kmeans':>17s} {'kmeans':>8s} {'step ms':>8s}"
    )
    for (name, setting), runs in sorted(groups.items()):
        m = setting.split("|")[0]
        cells = [mean_sd([r[split][c] for _, r in runs]) for c in columns]
        ratios = []
        kms = []
        for seed, r in runs:
            anchor = results["anchors"][f"{m}|{seed}"][split]
            ratios.append(r[split]["memory_mse"] / anchor["kmeans_mse"])
            kms.append(anchor["kmeans_mse"])
        step = np.median([r["step_ms_median"] for _, r in runs])
        print(
            f"{name:32s} {setting:26s} {len(runs)} "
            + " ".join(f"{c:>17s}" for c in cells)
            + f" {mean_sd(ratios):>17s} {np.mean(kms):8.4f} {step:8.1f}"
        )


def markdown(split="test"):
    """A markdown table of every backend's results file, mean ± sd."""
    lines = [
        f"Mean ± sd over the seeds ({split} split; `n` seeds). Live slots: "
        "argmax of >= 0.1 / memory_size of the digits. Goal: >= "
        f"{GOAL_SLOTS} live slots and memory MSE <= {GOAL_RATIO} x k-means "
        "(10 slots).",
        "",
        "| variant | setting | backend | n | live slots | memory MSE | "
        "informed MSE | k-means MSE | mean-image MSE | memory / k-means "
        "| mean max | goal |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend in ("jax", "tensorflow", "torch"):
        path = os.path.join(RESULTS, f"memory_default-{backend}.json")
        if not os.path.exists(path):
            continue
        results = load_results(path)
        groups = {}
        for key, run in results["runs"].items():
            name, *setting, seed = key.split("|")
            groups.setdefault((name, "|".join(setting)), []).append((seed, run))
        for (name, setting), runs in sorted(groups.items()):
            m = setting.split("|")[0]
            anchor = [
                results["anchors"][f"{m}|{seed}"][split] for seed, _ in runs
            ]
            kmeans = [a["kmeans_mse"] for a in anchor]
            mean_image = [a["mean_image_mse"] for a in anchor]
            live = [r[split]["live_slots"] for _, r in runs]
            memory = [r[split]["memory_mse"] for _, r in runs]
            informed = [r[split]["informed_mse"] for _, r in runs]
            ratio = np.divide(memory, kmeans)
            goal = ""
            if m == "m10":
                met = (
                    np.mean(live) >= GOAL_SLOTS and np.mean(ratio) <= GOAL_RATIO
                )
                goal = "meets" if met else "misses"
            cells = [
                name,
                setting.replace("|", " "),
                backend,
                str(len(runs)),
                mean_sd(live, 1),
                mean_sd(memory),
                mean_sd(informed),
                f"{np.mean(kmeans):.4f}",
                f"{np.mean(mean_image):.4f}",
                mean_sd(ratio, 2),
                mean_sd([r[split]["mean_max"] for _, r in runs], 2),
                goal,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default="baseline")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--memory-size", type=int, default=10)
    parser.add_argument("--hidden-units", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--output-activation", default="sigmoid")
    parser.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument(
        "--set",
        default="",
        help="extra arguments for every variant, as JSON",
    )
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--time", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--split", default="test")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    backend = keras.backend.backend()
    path = os.path.join(RESULTS, f"memory_default-{backend}.json")
    results = load_results(path)
    if args.list:
        for name, config in VARIANTS.items():
            print(f"{name:24s} {config}")
        return
    if args.markdown:
        text = markdown(args.split)
        with open(os.path.join(RESULTS, "memory_default-table.md"), "w") as f:
            f.write(text)
        print(text)
        return
    if args.table:
        print_table(results, args.split)
        return
    print(
        f"Goal: >= {GOAL_SLOTS} live slots and memory test MSE <= "
        f"{GOAL_RATIO} x k-means-{args.memory_size}, mean over the seeds."
    )
    data = load_data()
    if args.time:
        time_steps(args.variants.split(","), data, args)
        return
    extra = json.loads(args.set) if args.set else {}
    for seed in (int(s) for s in args.seeds.split(",")):
        anchor_key = f"m{args.memory_size}|s{seed}"
        if anchor_key not in results["anchors"]:
            results["anchors"][anchor_key] = anchors(
                data, args.memory_size, seed
            )
        for name in args.variants.split(","):
            if "+" in name:
                config = combine(*name.split("+"))
            else:
                config = dict(VARIANTS[name])
            config.update(extra)
            if extra:
                name = (
                    name
                    + "@"
                    + ",".join(f"{k}={v}" for k, v in sorted(extra.items()))
                )
            key = run_key(name, seed, args)
            if key in results["runs"]:
                continue
            run = train_one(config, seed, data, args)
            results["variants"][name] = config
            results["runs"][key] = run
            anchor = results["anchors"][anchor_key]["test"]
            print(
                f"{key:56s} live {run['test']['live_slots']:3d} memory "
                f"{run['test']['memory_mse']:.4f} (k-means "
                f"{anchor['kmeans_mse']:.4f}) informed "
                f"{run['test']['informed_mse']:.4f} mean max "
                f"{run['test']['mean_max']:.2f} step "
                f"{run['step_ms_median']:.0f} ms load {run['load']:.1f}",
                flush=True,
            )
            save_run(path, key, run, name, config, anchor_key, results)


if __name__ == "__main__":
    main()
