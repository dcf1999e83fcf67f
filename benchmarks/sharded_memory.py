"""Sharded memory: a training step at 2^20 slots on 8 devices against 1 (JAX).

One full training step (`train_on_batch`: forward, backward, Adam) of a
model holding one `ProductKeyMemory` (`num_keys=1024`, so 2^20 slots;
`value_dim=64`, `heads=4`, `top_k=32`, `key_dim=128`) on a batch of 1,024
vectors of 64 features, timed interleaved in one process with eight XLA host
devices (`XLA_FLAGS=--xla_force_host_platform_device_count=8`, so the run
starts a child process with it):

- `one_device`: no distribution, everything on the first device;
- `mesh_1x8`: `ModelParallel` on a `(1, 8)` mesh, the table split over
  `"model"` by `keras_memnets.layers.memory_layout_map`, the batch whole;
- `mesh_8`: an `(8,)` mesh whose one axis splits both the batch and the
  table (XLA's partitioner reads the table in place, shard by shard).

XLA host devices share the machine's cores: the numbers say what the
sharded program costs on one machine (its collectives, and the work that is
replicated on every device), not what eight accelerators would gain.

    KERAS_BACKEND=jax python benchmarks/sharded_memory.py [--quick]
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

from benchmarks import machine  # noqa: E402
from benchmarks import timing  # noqa: E402

DEVICES = 8


def _model(num_keys, features):
    import keras_memnets

    inputs = keras.Input((features,))
    outputs = keras_memnets.layers.ProductKeyMemory(
        num_keys, 64, heads=4, top_k=32, key_dim=128, name="memory"
    )(inputs)
    return keras.Model(inputs, outputs)


def _variants(num_keys, batch, features):
    """name -> zero-argument step function (each model compiled once), and
    name -> the step's memory per device."""
    from keras_memnets.layers import memory_layout_map

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, features)).astype("float32")
    y = rng.standard_normal((batch, 64)).astype("float32")
    devices = keras.distribution.list_devices("cpu")
    meshes = {
        "one_device": None,
        "mesh_1x8": keras.distribution.DeviceMesh(
            (1, DEVICES), ("batch", "model"), devices
        ),
        "mesh_8": keras.distribution.DeviceMesh(
            (DEVICES,), ("batch",), devices
        ),
    }
    variants, memory = {}, {}
    for name, mesh in meshes.items():
        if mesh is None:
            distribution = None
        else:
            layout_map = memory_layout_map(
                mesh, model_parallel_dim_name=mesh.axis_names[-1]
            )
            distribution = keras.distribution.ModelParallel(
                layout_map=layout_map, batch_dim_name="batch"
            )
        variants[name], memory[name] = _step(
            distribution, num_keys, features, x, y
        )
    return variants, memory


def _step(distribution, num_keys, features, x, y):
    """`(step, memory)`: a zero-argument training step of a compiled model,
    and the per-device memory XLA plans for that step."""

    def scope():
        if distribution is None:
            return contextlib.nullcontext()
        return distribution.scope()

    with scope():
        keras.utils.set_random_seed(0)
        model = _model(num_keys, features)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.train_on_batch(x, y)
        memory = _step_memory(model, distribution, x, y)

    def step():
        with scope():
            model.train_on_batch(x, y)

    return step, memory


def _step_memory(model, distribution, x, y):
    """MiB per device of the compiled training step: its arguments (the
    state and the batch) and its temporaries (`memory_analysis()` of Keras'
    `train_step`, jitted as the JAX trainer jits it)."""
    import jax

    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    data = (x, y)
    if distribution is not None:
        layout = distribution.get_data_layout(x.shape).backend_layout
        data = tuple(jax.device_put(a, layout) for a in data)
    shardings = jax.tree_util.tree_map(lambda a: a.sharding, state)
    compiled = (
        jax.jit(
            lambda state, data: model.train_step(state, data),
            donate_argnums=0,
            out_shardings=(None, shardings),
        )
        .lower(state, data)
        .compile()
    )
    analysis = compiled.memory_analysis()
    mib = 2.0**20
    return {
        "arguments_mib": analysis.argument_size_in_bytes / mib,
        "temporaries_mib": analysis.temp_size_in_bytes / mib,
    }


def worker(quick, repeats):
    import jax

    assert len(jax.devices()) == DEVICES, jax.devices()
    num_keys, batch, features = (64, 128, 64) if quick else (1024, 1024, 64)
    load_before = machine.loadavg()
    variants, memory = _variants(num_keys, batch, features)
    times = timing.interleaved(variants, repeats=repeats, warmup=1)
    results = {name: timing.summary(t) for name, t in times.items()}
    base = results["one_device"]["median_s"]
    return {
        "quick": quick,
        "slots": num_keys**2,
        "devices": DEVICES,
        "batch": batch,
        "repeats": repeats,
        "results": results,
        "memory_per_device": memory,
        "ratios": {
            name: results[name]["median_s"] / base
            for name in results
            if name != "one_device"
        },
        "loadavg": {"before": load_before, "after": machine.loadavg()},
    }


def run(quick=False, repeats=None):
    if keras.backend.backend() != "jax":
        return {"note": "JAX only: keras.distribution shards only on JAX"}
    repeats = repeats or (2 if quick else 5)
    env = dict(os.environ)
    env.update(
        {
            "KERAS_BACKEND": "jax",
            "JAX_PLATFORMS": "cpu",
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}",
        }
    )
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "payload.json")
        args = [os.path.abspath(__file__), "--worker", out]
        args += ["--repeats", str(repeats)] + (["--quick"] if quick else [])
        subprocess.run([sys.executable] + args, env=env, check=True)
        with open(out) as f:
            payload = json.load(f)
    payload["path"] = timing.write_results("sharded_memory", payload)
    for name, summary in payload["results"].items():
        print(f"{name:>20}: {summary['median_s'] * 1e3:9.1f} ms (median)")
    print("ratios to one device:", payload["ratios"])
    print("memory per device (MiB):", payload["memory_per_device"])
    return payload


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        payload = worker(args.quick, args.repeats)
        with open(args.worker, "w") as f:
            json.dump(payload, f)
        return
    run(quick=args.quick, repeats=args.repeats)


if __name__ == "__main__":
    main()
