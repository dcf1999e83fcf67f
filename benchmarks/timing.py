"""Helpers shared by the benchmarks: interleaved timing with median/min/max."""

import json
import os
import platform
import statistics
import time

import keras

RESULTS_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "results"
)

# `run.py --quiet` turns the progress bars of `interleaved` off.
PROGRESS = True


def interleaved(variants, repeats, warmup=2):
    """Times `variants` (name -> zero-argument step function), interleaved.

    Each round runs every variant once, in turn, so a slow period of the
    machine hits all variants alike. Returns name -> list of seconds. A
    progress bar counts the rounds (outside the timed calls) unless
    `PROGRESS` is false.
    """
    bar = keras.utils.Progbar(
        warmup + repeats, verbose=1 if PROGRESS else 0, unit_name="round"
    )
    for _ in range(warmup):
        for fn in variants.values():
            fn()
        bar.add(1)
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        bar.add(1)
    return times


def summary(seconds):
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "n": len(seconds),
    }


def write_results(name, payload):
    """Writes `payload` and machine facts to `results/<name>-<backend>.json`.

    A quick payload (`payload["quick"]`) goes to `<name>_quick-<backend>.json`
    instead, beside the committed full results and never over them.
    """
    os.makedirs(RESULTS_DIR, exist_ok=True)
    payload = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        **payload,
    }
    if payload.get("quick"):
        name = f"{name}_quick"
    path = os.path.join(RESULTS_DIR, f"{name}-{keras.backend.backend()}.json")
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
    return path
