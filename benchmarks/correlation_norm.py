"""Step time of CorrelationNorm against BatchNormalization and nothing.

Model: Input(256) -> Dense(width) -> [norm] -> ReLU -> Dense(10), batch 256,
softmax cross-entropy, Adam. Each step is one `model.train_on_batch` call,
timed one by one, the variants interleaved (`benchmarks/timing.py`).

1. At width 512: nothing, BatchNormalization, CorrelationNorm(block_size=8)
   and CorrelationNorm(block_size=None) (full covariance). Goal: block 8 <=
   1.5 x BatchNormalization.
2. Growth with width 256 ... 4096 for nothing, BatchNormalization and
   CorrelationNorm block 8 (full covariance up to 2048): the cost of block 8
   should grow linearly with the width, the full covariance quadratically.

Run: KERAS_BACKEND=jax python benchmarks/correlation_norm.py [--quick]

On a shared 2-core machine, PyTorch's two OpenMP threads turned the step
times into 10-100x outliers whenever another process held a core; the
committed PyTorch results were run with OMP_NUM_THREADS=1 (recorded in the
JSON), TensorFlow and JAX with their default thread pools.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

import keras_memnets  # noqa: E402
from benchmarks import timing  # noqa: E402

BATCH = 256
INPUT_DIM = 256


def build(width, norm):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((INPUT_DIM,))
    h = keras.layers.Dense(width)(inputs)
    if norm == "batchnorm":
        h = keras.layers.BatchNormalization()(h)
    elif norm == "corrnorm_block8":
        h = keras_memnets.layers.CorrelationNorm(block_size=8, seed=0)(h)
    elif norm == "corrnorm_full":
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


def time_variants(width, norms, repeats, rng):
    steps = {norm: step_function(build(width, norm), rng) for norm in norms}
    times = timing.interleaved(steps, repeats=repeats, warmup=3)
    return {norm: timing.summary(t) for norm, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    # The machine may be shared: record its load so readers can judge noise.
    load_before = os.getloadavg()
    repeats = 5 if args.quick else args.repeats
    widths = [256, 1024] if args.quick else [256, 512, 1024, 2048, 4096]

    print(f"backend {keras.backend.backend()}, batch {BATCH}, input {INPUT_DIM}")
    main_norms = ["none", "batchnorm", "corrnorm_block8", "corrnorm_full"]
    at512 = time_variants(512, main_norms, repeats, rng)
    bn = at512["batchnorm"]["median_s"]
    print("\nwidth 512, median ms per train_on_batch step (min-max):")
    for norm, s in at512.items():
        print(
            f"  {norm:<16} {1e3 * s['median_s']:8.2f}  "
            f"({1e3 * s['min_s']:.2f}-{1e3 * s['max_s']:.2f})"
            f"   x{s['median_s'] / bn:.2f} BatchNorm"
        )
    ratio_block8 = at512["corrnorm_block8"]["median_s"] / bn
    goal_speed = ratio_block8 <= 1.5
    print(
        f"goal block 8 <= 1.5 x BatchNorm: {ratio_block8:.2f}x -> "
        f"{'MET' if goal_speed else 'NOT MET'}"
    )

    growth = {}
    for width in widths:
        norms = ["none", "batchnorm", "corrnorm_block8"]
        if width <= 2048:
            norms.append("corrnorm_full")
        growth[width] = time_variants(width, norms, max(5, repeats // 2), rng)
        cells = [f"{n} {1e3 * s['median_s']:.2f}ms" for n, s in growth[width].items()]
        print(f"width {width:5d}: " + "  ".join(cells))

    # Linear growth. The plain model is itself linear in the width (its
    # Dense layers are), so each variant's step time is fitted as
    # time ~ width^slope over the widths measured (the full covariance only
    # up to 2048); block 8 counts as linear when its slope is at most
    # max(1.2, plain model's slope + 0.2). The full covariance (quadratic)
    # shows the contrast.
    def slope(norm):
        ws = [w for w in widths if norm in growth[w]]
        t = [growth[w][norm]["median_s"] for w in ws]
        return float(np.polyfit(np.log(ws), np.log(t), 1)[0])

    slopes = {n: slope(n) for n in main_norms}
    linear = slopes["corrnorm_block8"] <= max(1.2, slopes["none"] + 0.2)
    print(
        "\nlog-log slope of step time vs width (1 = linear): "
        + ", ".join(f"{n} {v:.2f}" for n, v in slopes.items())
    )
    print(
        f"goal block 8 linear in width (slope <= max(1.2, none + 0.2)): "
        f"{slopes['corrnorm_block8']:.2f} -> {'MET' if linear else 'NOT MET'}"
    )
    ratios = {
        w: growth[w]["corrnorm_block8"]["median_s"] / growth[w]["batchnorm"]["median_s"]
        for w in widths
    }
    print(
        "block 8 / BatchNorm by width: "
        + ", ".join(f"{w}: {r:.2f}x" for w, r in ratios.items())
    )

    path = timing.write_results(
        "correlation_norm",
        {
            "batch": BATCH,
            "input_dim": INPUT_DIM,
            "repeats": repeats,
            "width_512": at512,
            "ratio_block8_vs_batchnorm_512": ratio_block8,
            "goal_block8_le_1_5x_batchnorm": goal_speed,
            "growth": {str(w): v for w, v in growth.items()},
            "block8_over_batchnorm_by_width": {str(w): r for w, r in ratios.items()},
            "loglog_slope_step_time_vs_width": slopes,
            "goal_linear_in_width": linear,
            "loadavg_1_5_15_before": load_before,
            "loadavg_1_5_15_after": os.getloadavg(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
