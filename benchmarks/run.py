"""Runs every component benchmark on the current Keras backend.

Each module in `benchmarks/` that defines `run(quick=False) -> dict` is a
component benchmark (helpers such as `timing` and `machine` are not). The
runner calls each in turn (a module without `run` is skipped with a
message), collects their payloads, and writes

- `benchmarks/results/<backend>.json`: every payload, with the machine's
  load averages before and after;
- `benchmarks/results/<backend>.md`: one markdown table of every timed
  variant (median with min/max after warm-up), then each benchmark's
  headline ratios; the documentation page "Benchmarks" includes it.

`--quick` runs small versions (for CI: no threshold is asserted; the exit
status is non-zero only if a benchmark raised). They are written to
`*_quick*` files beside the committed results, never over them.

    KERAS_BACKEND=jax python benchmarks/run.py [--quick] [--only NAME ...]
    KERAS_BACKEND=jax python -m benchmarks [--quick]
"""

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402

from benchmarks import machine  # noqa: E402
from benchmarks import timing  # noqa: E402

# Modules of the package that are not benchmarks.
HELPERS = {"machine", "reference", "run", "timing", "__main__"}


def benchmark_names():
    """The component benchmark modules, sorted by name."""
    directory = os.path.dirname(os.path.abspath(__file__))
    return sorted(
        m.name
        for m in pkgutil.iter_modules([directory])
        if m.name not in HELPERS and not m.name.startswith("_")
    )


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Payload entries that describe the setup rather than a result.
_SETUP = {
    "batch",
    "batch_size",
    "count_params",
    "cpus",
    "example",
    "hidden_units",
    "input_dim",
    "latent_dim",
    "n",
    "parameters",
    "quick",
    "repeats",
    "sizes",
    "units",
    "warmup",
}


def _headline(payload, prefix=""):
    """Scalar results of a payload (ratios, goals, verdicts), flattened.

    Nested dicts give dotted keys (`goals.signsgd_vs_sgd.ratio`); timing
    summaries (dicts with `median_s`, listed in the first table) and setup
    entries are left out.
    """
    out = {}
    for key, value in payload.items():
        if key in _SETUP:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if "median_s" not in value:
                out.update(_headline(value, f"{name}."))
        elif _number(value) or isinstance(value, bool):
            out[name] = value
    return out


def _rows(results):
    """`(variant, summary)` pairs of a payload's `results`, nested or flat."""
    if not isinstance(results, dict):
        return []
    rows = []
    for name, value in results.items():
        if isinstance(value, dict) and "median_s" in value:
            rows.append((str(name), value))
        elif isinstance(value, dict):
            rows += [(f"{name} / {n}", v) for n, v in _rows(value)]
    return rows


def _ms(seconds):
    return f"{seconds * 1e3:.3g}"


def markdown(backend, payloads, skipped, failed, load):
    """The results as a markdown table (one row per timed variant)."""
    lines = [
        f"Backend `{backend}`, Keras {keras.__version__}, "
        f"{os.cpu_count()} CPUs; load average before/after "
        f"{load['before']} / {load['after']} (a shared machine: compare "
        "variants of one run, not runs).",
        "",
        "| benchmark | variant | median ms | min ms | max ms | n |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, payload in payloads.items():
        for variant, s in _rows(payload.get("results")):
            lines.append(
                f"| {name} | {variant} | {_ms(s['median_s'])} | "
                f"{_ms(s['min_s'])} | {_ms(s['max_s'])} | {s['n']} |"
            )
    lines += ["", "| benchmark | quantity | value |", "|---|---|---:|"]
    for name, payload in payloads.items():
        for key, value in _headline(payload).items():
            text = f"{value:.3g}" if isinstance(value, float) else str(value)
            lines.append(f"| {name} | {key} | {text} |")
    for name, why in skipped.items():
        lines.append(f"| {name} | skipped | {why} |")
    for name in failed:
        lines.append(f"| {name} | FAILED | see the run's output |")
    return "\n".join(lines) + "\n"


def render(backend):
    """Rewrites `<backend>.md` from `<backend>.json` (no benchmark runs)."""
    json_path = os.path.join(timing.RESULTS_DIR, f"{backend}.json")
    with open(json_path) as f:
        summary = json.load(f)
    md_path = os.path.join(timing.RESULTS_DIR, f"{backend}.md")
    with open(md_path, "w") as f:
        f.write(
            markdown(
                backend,
                summary["benchmarks"],
                {
                    k: v
                    for k, v in summary["skipped"].items()
                    if k not in HELPERS
                },
                summary["failed"],
                summary["loadavg"],
            )
        )
    return md_path


def run_all(quick=False, only=None):
    """Runs the benchmarks; returns `(payloads, skipped, failed)`."""
    backend = keras.backend.backend()
    load_before = machine.loadavg()
    payloads, skipped, failed = {}, {}, []
    for name in benchmark_names():
        if only and name not in only:
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        if not callable(getattr(module, "run", None)):
            skipped[name] = "no run(quick) function"
            print(f"== {name}: skipped (the module has no `run(quick)`)")
            continue
        print(f"== {name} ({'quick' if quick else 'full'}, {backend})")
        start = time.perf_counter()
        try:
            payload = module.run(quick=quick)
        except Exception:  # report, run the others, fail at the end
            traceback.print_exc()
            failed.append(name)
            continue
        payload = dict(payload)
        payload["wall_s"] = round(time.perf_counter() - start, 1)
        payloads[name] = payload
    load = {"before": load_before, "after": machine.loadavg()}
    os.makedirs(timing.RESULTS_DIR, exist_ok=True)
    # A quick run writes beside the committed results, never over them.
    stem = f"{backend}_quick" if quick else backend
    json_path = os.path.join(timing.RESULTS_DIR, f"{stem}.json")
    recorded = payloads
    if only and not quick and os.path.exists(json_path):
        # `--only`: update these benchmarks' entries, keep the others.
        with open(json_path) as f:
            previous = json.load(f)
        if not previous.get("quick"):
            kept = {
                k: v
                for k, v in previous["benchmarks"].items()
                if k not in failed
            }
            recorded = {**kept, **payloads}
    summary = {
        "backend": backend,
        "quick": quick,
        "loadavg": load,
        "benchmarks": recorded,
        "skipped": skipped,
        "failed": failed,
    }
    with open(json_path, "w") as f:
        json.dump(summary, f, indent=2)
    md_path = os.path.join(timing.RESULTS_DIR, f"{stem}.md")
    with open(md_path, "w") as f:
        f.write(markdown(backend, recorded, skipped, failed, load))
    print(f"wrote {json_path} and {md_path}")
    return payloads, skipped, failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, few rounds (CI)"
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these benchmarks"
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite results/<backend>.md from results/<backend>.json",
    )
    args = parser.parse_args(argv)
    if args.render:
        print(f"wrote {render(keras.backend.backend())}")
        return 0
    _, _, failed = run_all(quick=args.quick, only=args.only)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
