"""ProductKeyMemory training step against memory_size, with a PyTorch peer.

One full training step (forward, MSE loss, backward, optimizer update) of
`Input(128) -> ProductKeyMemory(num_keys, value_dim=64, heads=4, top_k=32,
key_dim=128)` on a batch of 1,024 vectors, at `num_keys**2` = 2^12, 2^16
and 2^20 slots. Variants, timed one step at a time and interleaved per
size (half the rounds in reversed order), median with min/max:

- `lazy_adam`: `keras_memnets.models.RowSparseModel` with
  `keras_memnets.optimizers.LazyAdam` (on TensorFlow and PyTorch the model
  is a plain `keras.Model`; on JAX its step passes the table's gradient
  row-sparse);
- `lazy_adam_keras_model` (JAX only): a plain `keras.Model` with LazyAdam,
  JAX's dense route (a dense table gradient, a masked update);
- `adam`: a plain `keras.Model` with Keras' `Adam`;
- `torch_reference`: the same layer written directly in PyTorch from the
  paper (`benchmarks/reference/pkm_torch.py`: `EmbeddingBag(mode="sum",
  sparse=True)` with `per_sample_weights`, `SparseAdam` for the values,
  `Adam` for the rest), in the same process.

Goals: the `lazy_adam` step at 2^20 slots at most 3x its step at 2^12 on
TensorFlow and PyTorch (JAX measured); at most 1.0x the PyTorch reference
at 2^20 slots on the best backend. A full run also measures each
variant's peak RSS at each size, in a child process of its own running
three steps.

    KERAS_BACKEND=jax python benchmarks/pkm_scale.py [--quick]
    KERAS_BACKEND=jax python benchmarks/run.py --only pkm_scale
"""

import argparse
import gc
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402

import keras_memnets  # noqa: E402
from benchmarks import machine  # noqa: E402
from benchmarks import timing  # noqa: E402
from benchmarks.reference import pkm_torch  # noqa: E402

FULL = dict(
    num_keys=(64, 256, 1024),
    input_dim=128,
    value_dim=64,
    heads=4,
    top_k=32,
    key_dim=128,
    batch_size=1024,
)
QUICK = dict(
    num_keys=(8, 16),
    input_dim=16,
    value_dim=8,
    heads=2,
    top_k=4,
    key_dim=8,
    batch_size=64,
)
GROWTH_LIMIT = 3.0
REFERENCE_LIMIT = 1.0
LEARNING_RATE = 1e-3


def _layer_arguments(config, num_keys):
    return dict(
        num_keys=num_keys,
        value_dim=config["value_dim"],
        heads=config["heads"],
        top_k=config["top_k"],
        key_dim=config["key_dim"],
    )


def keras_model(variant, config, num_keys):
    """The compiled Keras model of `variant`."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((config["input_dim"],))
    outputs = keras_memnets.layers.ProductKeyMemory(
        **_layer_arguments(config, num_keys)
    )(inputs)
    if variant == "lazy_adam":
        model = keras_memnets.models.RowSparseModel(inputs, outputs)
    else:
        model = keras.Model(inputs, outputs)
    if variant == "adam":
        optimizer = keras.optimizers.Adam(LEARNING_RATE)
    else:
        optimizer = keras_memnets.optimizers.LazyAdam(LEARNING_RATE)
    model.compile(optimizer=optimizer, loss="mse")
    return model


def variants():
    names = ["lazy_adam", "adam", "torch_reference"]
    if keras.backend.backend() == "jax":
        names.insert(1, "lazy_adam_keras_model")
    return names


def batch(config, seed=0):
    rng = np.random.default_rng(seed)
    n = config["batch_size"]
    x = rng.standard_normal((n, config["input_dim"])).astype("float32")
    y = rng.standard_normal((n, config["value_dim"])).astype("float32")
    return x, y


def step_function(variant, config, num_keys, x, y):
    """A zero-argument function running one training step of `variant`,
    returning once the step has finished."""
    if variant == "torch_reference":
        step, _ = pkm_torch.training_step(
            x, y, lr=LEARNING_RATE, **_layer_arguments(config, num_keys)
        )
        return step
    model = keras_model(variant, config, num_keys)

    def step():
        loss = model.train_on_batch(x, y)
        # Wait for the result (JAX and TensorFlow dispatch asynchronously).
        return float(np.asarray(keras.tree.flatten(loss)[0]))

    return step


def peak_rss(variant, config, num_keys, steps=3):
    """Peak RSS (MiB) of a child process that builds `variant` at
    `num_keys` and runs `steps` training steps (the PyTorch reference's
    child imports neither Keras nor a Keras backend).

    The child reports its own high-water mark (`VmHWM`): the `ru_maxrss`
    that `wait4` gives a parent counts the parent's own peak too, since a
    forked child starts from a copy of the parent's memory map.
    """
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    env["PYTHONPATH"] = os.pathsep.join(
        [ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    sizes = [
        f"--{key.replace('_', '-')}={config[key]}"
        for key in ("input_dim", "value_dim", "heads", "top_k", "key_dim")
    ] + [f"--batch-size={config['batch_size']}", f"--steps={steps}"]
    if variant == "torch_reference":
        script = os.path.join(ROOT, "benchmarks", "reference", "pkm_torch.py")
        command = [sys.executable, script, f"--num-keys={num_keys}", *sizes]
    else:
        command = [
            sys.executable,
            os.path.abspath(__file__),
            f"--child={variant}",
            f"--num-keys={num_keys}",
            *sizes,
        ]
    child = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [
        line
        for line in child.stdout.splitlines()
        if line.startswith("peak_rss_mib ")
    ]
    if child.returncode != 0 or not lines:
        print(child.stderr[-2000:])
        raise RuntimeError(
            f"the peak-RSS child of {variant} at num_keys={num_keys} exited "
            f"with status {child.returncode}; nothing recorded."
        )
    value = lines[-1].split()[1]
    return None if value == "None" else float(value)


def _threads():
    """The intra-op threads of each library in this process."""
    out = {
        "cpus": os.cpu_count(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }
    try:
        import torch

        out["torch"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        pass
    return out


def run(quick=False, repeats=None, warmup=None, rss=None):
    """Times every variant at every size; returns and writes the payload.

    Args:
        quick: bool. A smoke run for CI: memories of 64 and 256 slots,
            batch 64, small dimensions, 3 rounds, no peak-RSS children.
        repeats: int or None. Timed rounds per size (default 3 / 10).
        warmup: int or None. Untimed rounds first (default 1 / 2; the first
            includes compilation).
        rss: bool or None. Also measure each variant's peak RSS at each
            size in a child process (default: not in quick mode).
    """
    config = QUICK if quick else FULL
    repeats = repeats or (3 if quick else 10)
    warmup = warmup or (1 if quick else 2)
    rss = (not quick) if rss is None else rss
    backend = keras.backend.backend()
    load_before = machine.loadavg()
    x, y = batch(config)
    names = variants()
    sizes = [k * k for k in config["num_keys"]]
    results, peaks = {}, {}
    print(
        f"pkm_scale: backend {backend}, batch {config['batch_size']}, "
        f"{repeats} interleaved rounds per size (load {load_before})"
    )
    for num_keys, size in zip(config["num_keys"], sizes):
        steps = {
            name: step_function(name, config, num_keys, x, y) for name in names
        }
        first = timing.interleaved(
            steps, repeats=repeats - repeats // 2, warmup=warmup
        )
        second = timing.interleaved(
            {name: steps[name] for name in reversed(names)},
            repeats=repeats // 2,
            warmup=1,
        )
        results[str(size)] = {
            name: timing.summary(first[name] + second[name]) for name in names
        }
        del steps
        keras.backend.clear_session()
        gc.collect()
        line = ", ".join(
            f"{name} {s['median_s'] * 1e3:.1f} ms "
            f"({s['min_s'] * 1e3:.1f}-{s['max_s'] * 1e3:.1f})"
            for name, s in results[str(size)].items()
        )
        print(f"  {size:>8} slots: {line} (load {machine.loadavg()})")
        if rss:
            peaks[str(size)] = {
                name: peak_rss(name, config, num_keys) for name in names
            }
            print(f"  {size:>8} slots: peak RSS MiB {peaks[str(size)]}")

    smallest, largest = str(sizes[0]), str(sizes[-1])

    def median(size, name):
        return results[size][name]["median_s"]

    growth = {
        name: median(largest, name) / median(smallest, name) for name in names
    }
    over_reference = {
        size: {
            name: median(size, name) / median(size, "torch_reference")
            for name in names
            if name != "torch_reference"
        }
        for size in results
    }
    payload = {
        "benchmark": "ProductKeyMemory training step against memory_size",
        "quick": quick,
        "sizes": dict(
            memory_sizes=sizes,
            num_keys=list(config["num_keys"]),
            **{k: v for k, v in config.items() if k != "num_keys"},
        ),
        "repeats": repeats,
        "threads": _threads(),
        "results": results,
        "growth_largest_over_smallest": growth,
        "growth_limit": GROWTH_LIMIT,
        "meets_growth_limit": growth["lazy_adam"] <= GROWTH_LIMIT,
        "over_torch_reference": over_reference,
        "reference_limit": REFERENCE_LIMIT,
        "meets_reference_limit": (
            over_reference[largest]["lazy_adam"] <= REFERENCE_LIMIT
        ),
    }
    if peaks:
        payload["peak_rss_mib"] = peaks
    payload["loadavg"] = {"before": load_before, "after": machine.loadavg()}
    path = timing.write_results("pkm_scale", payload)
    print(
        f"  lazy_adam step {largest} / {smallest} slots: "
        f"{growth['lazy_adam']:.2f}x (goal <= {GROWTH_LIMIT:g}x on "
        "TensorFlow and PyTorch)"
    )
    print(
        f"  lazy_adam step / PyTorch reference at {largest} slots: "
        f"{over_reference[largest]['lazy_adam']:.2f}x (goal <= "
        f"{REFERENCE_LIMIT:g}x on the best backend)"
    )
    print(f"wrote {path}")
    return payload


def _child(args):
    """Builds one Keras variant and runs `args.steps` steps (peak RSS)."""
    config = {
        key: getattr(args, key)
        for key in (
            "input_dim",
            "value_dim",
            "heads",
            "top_k",
            "key_dim",
            "batch_size",
        )
    }
    x, y = batch(config)
    step = step_function(args.child, config, args.num_keys, x, y)
    for _ in range(args.steps):
        step()
    print(f"peak_rss_mib {pkm_torch.high_water_mib()}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument(
        "--rss",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure peak RSS in child processes (default: on, off with "
        "--quick)",
    )
    # A peak-RSS child: one variant, one size.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--num-keys", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=3, help=argparse.SUPPRESS)
    for key in ("input_dim", "value_dim", "heads", "top_k", "key_dim"):
        parser.add_argument(
            f"--{key.replace('_', '-')}", type=int, help=argparse.SUPPRESS
        )
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return
    run(
        quick=args.quick,
        repeats=args.repeats,
        warmup=args.warmup,
        rss=args.rss,
    )


if __name__ == "__main__":
    main()
