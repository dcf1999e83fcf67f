"""Step time of CorrelationNorm against BatchNormalization and nothing.

Model: Input(256) -> Dense(width) -> [norm] -> ReLU -> Dense(10), batch 256,
softmax cross-entropy, Adam. Each step is one `model.train_on_batch` call,
timed one by one, all variants of a width interleaved in one run
(`benchmarks/timing.py`), median with min/max after warm-up.

Variants: nothing, BatchNormalization, CorrelationNorm(block_size=8) as it
is now ("block8") and as released in 0.1 ("block8_v0_1", the frozen copy in
`benchmarks/reference/`, the "before" of issue 13), and the full covariance
(`block_size=None`, up to width 2048).

Goals (issue 13): block 8 <= 1.5 x BatchNormalization at every width
256 ... 4096 on each backend, <= 1.25 x on the best backend, and linear
growth in width (log-log slope of step time vs width at most
max(1.2, the plain model's slope + 0.2)).

Run: KERAS_BACKEND=jax python benchmarks/correlation_norm.py [--quick]

On a shared 2-core machine, PyTorch's two OpenMP threads turned the step
times into 10-100x outliers whenever another process held a core; run the
PyTorch benchmark with OMP_NUM_THREADS=1 (recorded in the JSON).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras

import keras_memnets
from benchmarks import timing
from benchmarks.reference.correlation_norm_v0_1 import CorrelationNormV01

BATCH = 256
INPUT_DIM = 256
WIDTHS = (256, 512, 1024, 2048, 4096)
FULL_MAX_WIDTH = 2048


def build(width, norm):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((INPUT_DIM,))
    h = keras.layers.Dense(width)(inputs)
    if norm == "batchnorm":
        h = keras.layers.BatchNormalization()(h)
    elif norm == "block8":
        h = keras_memnets.layers.CorrelationNorm(block_size=8, seed=0)(h)
    elif norm == "block8_v0_1":
        h = CorrelationNormV01(block_size=8, seed=0)(h)
    elif norm == "full":
        h = keras_memnets.layers.CorrelationNorm(block_size=None, seed=0)(h)
    h = keras.layers.Activation("relu")(h)
    outputs = keras.layers.Dense(10)(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def step_function(model, rng):
    x = rng.normal(size=(BATCH, INPUT_DIM)).astype("float32")
    y = rng.integers(0, 10, size=(BATCH,))

    def step():
        loss = model.train_on_batch(x, y)
        # Wait for the result (JAX and TF dispatch asynchronously).
        float(np.asarray(keras.tree.flatten(loss)[0]))

    return step


def time_width(width, repeats, rng):
    norms = ["none", "batchnorm", "block8", "block8_v0_1"]
    if width <= FULL_MAX_WIDTH:
        norms.append("full")
    steps = {norm: step_function(build(width, norm), rng) for norm in norms}
    times = timing.interleaved(steps, repeats=repeats, warmup=3)
    return {norm: timing.summary(t) for norm, t in times.items()}


def slope(growth, norm):
    """Log-log slope of the median step time against the width."""
    ws = [w for w in growth if norm in growth[w]]
    t = [growth[w][norm]["median_s"] for w in ws]
    return float(np.polyfit(np.log(ws), np.log(t), 1)[0])


def run(quick=False):
    """Times every variant at every width; returns and writes the payload."""
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()
    repeats = 5 if quick else 11
    widths = (256, 1024) if quick else WIDTHS
    print(
        f"backend {keras.backend.backend()}, batch {BATCH}, input {INPUT_DIM}"
    )
    print(
        "goals: block8 <= 1.50 x BatchNorm at every width (each backend), "
        "<= 1.25 x (best backend); slope <= max(1.2, none + 0.2)"
    )
    growth = {}
    for width in widths:
        growth[width] = time_width(width, repeats, rng)
        bn = growth[width]["batchnorm"]["median_s"]
        print(f"width {width}: median ms (min-max), x BatchNorm")
        for norm, s in growth[width].items():
            print(
                f"  {norm:<12} {1e3 * s['median_s']:8.2f} "
                f"({1e3 * s['min_s']:.2f}-{1e3 * s['max_s']:.2f})"
                f"  x{s['median_s'] / bn:.2f}"
            )

    def ratios(norm):
        return {
            str(w): growth[w][norm]["median_s"]
            / growth[w]["batchnorm"]["median_s"]
            for w in widths
        }

    after, before = ratios("block8"), ratios("block8_v0_1")
    slopes = {
        n: slope(growth, n)
        for n in ("none", "batchnorm", "block8", "block8_v0_1", "full")
    }
    linear = slopes["block8"] <= max(1.2, slopes["none"] + 0.2)
    worst = max(after.values())
    print(f"block8 / BatchNorm by width, before (v0.1): {_fmt(before)}")
    print(f"block8 / BatchNorm by width, after:         {_fmt(after)}")
    print(f"worst width: {worst:.2f}x (goal <= 1.50 here, <= 1.25 if best)")
    print(
        "log-log slope vs width: "
        + ", ".join(f"{n} {v:.2f}" for n, v in slopes.items())
        + f" -> block8 linear: {'MET' if linear else 'NOT MET'}"
    )
    payload = {
        "batch": BATCH,
        "input_dim": INPUT_DIM,
        "repeats": repeats,
        "quick": quick,
        "growth": {str(w): v for w, v in growth.items()},
        "block8_over_batchnorm_by_width": after,
        "block8_v0_1_over_batchnorm_by_width": before,
        "worst_block8_over_batchnorm": worst,
        "goal_le_1_5x_every_width": worst <= 1.5,
        "goal_le_1_25x_every_width": worst <= 1.25,
        "loglog_slope_step_time_vs_width": slopes,
        "goal_linear_in_width": linear,
        "loadavg_1_5_15_before": load_before,
        "loadavg_1_5_15_after": os.getloadavg(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    print(f"wrote {timing.write_results('correlation_norm', payload)}")
    return payload


def _fmt(ratios):
    return ", ".join(f"{w}: {r:.2f}x" for w, r in ratios.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    run(quick=args.quick)


if __name__ == "__main__":
    main()
