"""VariantHeads (one einsum per stage) against K separate Dense heads.

Both models are the decoder of `set_min_autoencoder` (code -> K heads of
Dense(hidden, relu) -> Dense(784, sigmoid)) trained with `SetMinLoss`; they
compute the same function with the same parameter count. One training step
(`model.train_on_batch`) is timed at a time, the two models interleaved.

Run: `KERAS_BACKEND=jax python benchmarks/variant_heads.py [--quick]`.
"""

import argparse

import keras
import numpy as np

import keras_memnets
from benchmarks import timing


def separate_heads(latent_dim, num_variants, hidden, units):
    inputs = keras.Input((latent_dim,))
    heads = []
    for k in range(num_variants):
        h = keras.layers.Dense(hidden, activation="relu", name=f"hidden_{k}")(inputs)
        h = keras.layers.Dense(units, activation="sigmoid", name=f"out_{k}")(h)
        heads.append(keras.layers.Reshape((1, units))(h))
    outputs = keras.layers.Concatenate(axis=1)(heads)
    return keras.Model(inputs, outputs, name="separate_dense_heads")


def batched_heads(latent_dim, num_variants, hidden, units):
    inputs = keras.Input((latent_dim,))
    outputs = keras_memnets.layers.VariantHeads(
        num_variants, units, hidden, output_activation="sigmoid"
    )(inputs)
    return keras.Model(inputs, outputs, name="variant_heads")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    latent_dim, hidden, units = 10, 512, 784
    repeats = 5 if args.quick else 30
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch_size, latent_dim)).astype("float32")
    y = rng.random((args.batch_size, units)).astype("float32")
    results = {}
    for k in (2, 5, 10):
        models = {
            "variant_heads": batched_heads(latent_dim, k, hidden, units),
            "separate_dense": separate_heads(latent_dim, k, hidden, units),
        }
        params = {name: m.count_params() for name, m in models.items()}
        assert params["variant_heads"] == params["separate_dense"], params
        for m in models.values():
            m.compile(optimizer="adam", loss=keras_memnets.losses.SetMinLoss(seed=0))
        steps = {
            name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()
        }
        times = timing.interleaved(steps, repeats=repeats, warmup=3)
        summary = {name: timing.summary(t) for name, t in times.items()}
        ratio = (
            summary["separate_dense"]["median_s"] / summary["variant_heads"]["median_s"]
        )
        results[f"K={k}"] = {
            "parameters": params["variant_heads"],
            **summary,
            "speedup_median": ratio,
        }
        print(
            f"K={k:2d}: VariantHeads {summary['variant_heads']['median_s'] * 1e3:7.2f} ms"
            f"  separate Dense {summary['separate_dense']['median_s'] * 1e3:7.2f} ms"
            f"  (median train step, batch {args.batch_size}; separate/batched = "
            f"{ratio:.2f})"
        )
    path = timing.write_results(
        "variant_heads",
        {
            "what": "train_on_batch step time, VariantHeads vs K separate Dense heads",
            "batch_size": args.batch_size,
            "latent_dim": latent_dim,
            "hidden_units": hidden,
            "units": units,
            "repeats": repeats,
            "results": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
