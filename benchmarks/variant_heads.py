"""VariantHeads (batched or per-head) against K separate Dense heads.

All models are the decoder of `set_min_autoencoder` (code -> K heads of
Dense(hidden, relu) -> Dense(784, sigmoid)) trained with `SetMinLoss`; they
compute the same function with the same parameter count. One training step
(`model.train_on_batch`) is timed at a time, all models interleaved, after
warm-up; median, min and max are reported with the machine's load average
(the numbers are disturbed by anything else running on the machine).

`VariantHeads(implementation="auto")` picks `"per_head"` on TensorFlow and
`"batched"` elsewhere; this benchmark is where that rule comes from.

Run: `KERAS_BACKEND=jax python benchmarks/variant_heads.py [--quick]`.
"""

import argparse
import os

import keras
import numpy as np

import keras_memnets
from benchmarks import timing
from keras_memnets.layers.variant_heads import resolve_implementation

IMPLEMENTATIONS = ("batched", "per_head")


def separate_heads(latent_dim, num_variants, hidden, units):
    inputs = keras.Input((latent_dim,))
    heads = []
    for k in range(num_variants):
        h = keras.layers.Dense(hidden, activation="relu")(inputs)
        h = keras.layers.Dense(units, activation="sigmoid")(h)
        heads.append(keras.layers.Reshape((1, units))(h))
    outputs = keras.layers.Concatenate(axis=1)(heads)
    return keras.Model(inputs, outputs, name="separate_dense_heads")


def variant_heads(latent_dim, num_variants, hidden, units, implementation):
    inputs = keras.Input((latent_dim,))
    outputs = keras_memnets.layers.VariantHeads(
        units,
        num_variants,
        hidden_units=hidden,
        output_activation="sigmoid",
        implementation=implementation,
    )(inputs)
    return keras.Model(inputs, outputs, name=f"variant_heads_{implementation}")


def run(quick=False, batch_size=128):
    """Times the variants for K = 2, 5, 10 and writes the results.

    Args:
        quick: bool. Few repeats and K = 2, 5 only (for CI; no thresholds).
        batch_size: int. Rows per training step.

    Returns:
        The payload written to
        `benchmarks/results/variant_heads-<backend>.json`.
    """
    latent_dim, hidden, units = 10, 512, 784
    repeats, warmup = (5, 2) if quick else (25, 3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, latent_dim)).astype("float32")
    y = rng.random((batch_size, units)).astype("float32")
    auto = resolve_implementation("auto")
    load_before = os.getloadavg()
    results = {}
    for k in (2, 5) if quick else (2, 5, 10):
        models = {
            f"variant_heads_{impl}": variant_heads(
                latent_dim, k, hidden, units, impl
            )
            for impl in IMPLEMENTATIONS
        }
        models["separate_dense"] = separate_heads(latent_dim, k, hidden, units)
        params = {name: m.count_params() for name, m in models.items()}
        if len(set(params.values())) != 1:
            raise AssertionError(f"parameter counts differ: {params}")
        for m in models.values():
            m.compile(
                optimizer="adam", loss=keras_memnets.losses.SetMinLoss(seed=0)
            )
        steps = {
            name: (lambda m=m: m.train_on_batch(x, y))
            for name, m in models.items()
        }
        times = timing.interleaved(steps, repeats=repeats, warmup=warmup)
        summary = {name: timing.summary(t) for name, t in times.items()}
        separate = summary["separate_dense"]["median_s"]
        ratios = {
            f"separate_over_{impl}": separate
            / summary[f"variant_heads_{impl}"]["median_s"]
            for impl in IMPLEMENTATIONS
        }
        results[f"K={k}"] = {
            "parameters": params["separate_dense"],
            **summary,
            **ratios,
            "auto_not_slower": ratios[f"separate_over_{auto}"] >= 1.0,
        }
        print(
            f"K={k:2d}: "
            + "  ".join(
                f"{name} {s['median_s'] * 1e3:7.2f} ms"
                for name, s in summary.items()
            )
            + f"  (separate/auto[{auto}] = "
            f"{ratios[f'separate_over_{auto}']:.2f}; >= 1 means VariantHeads "
            "is not slower)"
        )
    payload = {
        "what": (
            "train_on_batch step time, VariantHeads (batched, per_head) vs "
            "K separate Dense heads, interleaved; median/min/max after warm-up"
        ),
        "auto_implementation": auto,
        "batch_size": batch_size,
        "latent_dim": latent_dim,
        "hidden_units": hidden,
        "units": units,
        "repeats": repeats,
        "warmup": warmup,
        "quick": quick,
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "results": results,
    }
    path = timing.write_results("variant_heads", payload)
    print(f"wrote {path} (load average {payload['load_average_after'][0]:.1f})")
    return payload


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    run(quick=args.quick, batch_size=args.batch_size)


if __name__ == "__main__":
    main()
