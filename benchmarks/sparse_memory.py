"""Sparse top-k memory: step time against memory_size, dense and top_k.

Two measurements, each timing one forward + backward pass (the gradients of
`sum(output**2)` with respect to the layer's weights; jitted on JAX, a
`tf.function` on TensorFlow, eager on PyTorch), variants interleaved:

- `informed`: `MemoryInformedLayer(784, memory_size, hidden_units=512)` on a
  batch of 256 (features 64, a fixed softmax selection), dense
  (`top_k=None`) and `top_k=1, 2` (default `capacity_factor=2.0`), at
  memory_size 16, 64, 256. Goal: the sparse layer's step within 2x of its
  memory_size-16 step while the dense one grows about linearly.
- `read`: `MemoryLayer.read(selection)` alone (784 units, batch 256, the
  selection given) from memory_size 16 to 65,536, gradient to the memory.

The optimizer update is not timed: any non-sparse optimizer touches every
weight, which is O(memory_size) for both variants.

    KERAS_BACKEND=jax python benchmarks/sparse_memory.py [--quick]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

import keras_memnets  # noqa: E402
from benchmarks import machine  # noqa: E402
from benchmarks import timing  # noqa: E402

GROWTH_LIMIT = 2.0


def gradient_step(fn, variables, inputs):
    """A zero-argument function: gradients of `sum(fn(*inputs)**2)`."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def loss(values, inputs):
            mapping = list(zip(variables, values))
            with keras.StatelessScope(state_mapping=mapping):
                out = fn(*inputs)
            return jnp.sum(jnp.square(out))

        grad = jax.jit(jax.grad(loss))
        values = [v.value for v in variables]
        inputs = [jnp.asarray(x) for x in inputs]
        return lambda: jax.block_until_ready(grad(values, inputs))
    if backend == "tensorflow":
        import tensorflow as tf

        inputs = [tf.constant(x) for x in inputs]

        @tf.function
        def grad():
            with tf.GradientTape() as tape:
                value = tf.reduce_sum(tf.square(fn(*inputs)))
            return tape.gradient(value, variables)

        # On CPU a tf.function returns once its ops ran. A gather's gradient
        # is `tf.IndexedSlices` (rows only), as Keras' TF optimizers take it.
        return grad
    import torch

    inputs = [torch.as_tensor(x) for x in inputs]

    def step():
        for v in variables:
            v.value.grad = None
        torch.sum(torch.square(fn(*inputs))).backward()
        return variables[0].value.grad[0, 0].item()

    return step


def _selection(rng, batch, memory_size):
    logits = 3 * rng.normal(size=(batch, memory_size))
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


def informed_variants(memory_size, top_ks, batch, features, hidden, units):
    rng = np.random.default_rng(memory_size)
    x = rng.normal(size=(batch, features)).astype("float32")
    selection = _selection(rng, batch, memory_size)
    variants = {}
    for k in top_ks:
        layer = keras_memnets.layers.MemoryInformedLayer(
            units, memory_size, hidden_units=hidden, top_k=k
        )
        layer([x[:2], selection[:2]])
        name = f"informed N={memory_size} " + (
            "dense" if k is None else f"k={k}"
        )
        variants[name] = gradient_step(
            lambda a, b, layer=layer: layer([a, b]),
            layer.trainable_variables,
            [x, selection],
        )
    return variants


def read_variants(memory_size, top_ks, batch, units):
    rng = np.random.default_rng(memory_size)
    selection = _selection(rng, batch, memory_size)
    variants = {}
    for k in top_ks:
        layer = keras_memnets.layers.MemoryLayer(
            units, memory_size, hidden_units=4, top_k=k
        )
        layer.build((None, 4))
        name = f"read N={memory_size} " + ("dense" if k is None else f"k={k}")
        variants[name] = gradient_step(
            lambda s, layer=layer: layer.read(s), [layer.memory], [selection]
        )
    return variants


def run(quick=False, repeats=None, warmup=None):
    """Runs both measurements and returns (and writes) the payload.

    Args:
        quick: bool. A smoke run for CI (hidden 32, batch 32, memory_size 8
            and 32 for the layer, 16 and 1,024 for the read, 3 rounds).
        repeats: int or None. Timed rounds (default 3 / 5).
        warmup: int or None. Untimed rounds first (default 1 / 2; the first
            includes compilation).
    """
    repeats = repeats or (3 if quick else 5)
    warmup = warmup or (1 if quick else 2)
    if quick:
        sizes, read_sizes = (8, 32), (16, 1024)
        batch, hidden = 32, 32
    else:
        sizes, read_sizes = (16, 64, 256), (16, 256, 4096, 65536)
        batch, hidden = 256, 512
    units, features, top_ks = 784, 64, (None, 1, 2)
    load_before = machine.loadavg()
    results = {}
    # Each memory_size is timed in its own interleaved rounds (the dense
    # variants at the largest sizes would not fit in memory all at once).
    for n in sizes:
        variants = informed_variants(n, top_ks, batch, features, hidden, units)
        times = timing.interleaved(variants, repeats=repeats, warmup=warmup)
        results.update({k: timing.summary(t) for k, t in times.items()})
        del variants
    for n in read_sizes:
        variants = read_variants(n, top_ks, batch, units)
        times = timing.interleaved(variants, repeats=repeats, warmup=warmup)
        results.update({k: timing.summary(t) for k, t in times.items()})
        del variants

    def growth(prefix, sizes, variant):
        base = results[f"{prefix} N={sizes[0]} {variant}"]["median_s"]
        return {
            str(n): results[f"{prefix} N={n} {variant}"]["median_s"] / base
            for n in sizes
        }

    growths = {
        f"{prefix} {v}": growth(prefix, s, v)
        for prefix, s in (("informed", sizes), ("read", read_sizes))
        for v in ("dense", "k=1", "k=2")
    }
    largest = str(sizes[-1])
    meets = all(
        growths[f"informed k={k}"][largest] <= GROWTH_LIMIT for k in (1, 2)
    )
    payload = {
        "benchmark": "sparse top-k memory: forward + backward step",
        "quick": quick,
        "sizes": dict(
            memory_sizes=list(sizes),
            read_memory_sizes=list(read_sizes),
            batch_size=batch,
            hidden_units=hidden,
            units=units,
            features=features,
            capacity_factor=2.0,
        ),
        "results": results,
        "growth_over_smallest_memory_size": growths,
        "growth_limit_sparse_informed": GROWTH_LIMIT,
        "meets_growth_limit": meets,
        "loadavg": {"before": load_before, "after": machine.loadavg()},
    }
    path = timing.write_results("sparse_memory", payload)
    print(
        f"sparse_memory: backend {keras.backend.backend()}, batch {batch}, "
        f"hidden {hidden}, {repeats} interleaved rounds (load {load_before}):"
    )
    for name, r in results.items():
        print(
            f"  {name:22s} median {r['median_s'] * 1e3:8.1f} ms "
            f"(min {r['min_s'] * 1e3:.1f}, max {r['max_s'] * 1e3:.1f})"
        )
    print(
        f"  threshold: sparse informed step at N={largest} <= "
        f"{GROWTH_LIMIT}x its N={sizes[0]} step"
    )
    for name, g in growths.items():
        print(
            f"  growth {name:14s} "
            + ", ".join(f"N={n}: {v:.2f}x" for n, v in g.items())
        )
    print(f"  sparse within {GROWTH_LIMIT}x: {'met' if meets else 'NOT met'}")
    print(f"wrote {path}")
    return payload


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    run(quick=args.quick, repeats=args.repeats)


if __name__ == "__main__":
    main()
