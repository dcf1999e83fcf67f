"""Runs every component benchmark on the current Keras backend.

Each module in `benchmarks/` that defines `run(quick=False) -> dict` is a
component benchmark (helpers such as `timing` and `machine` are not). The
runner calls each in turn (a module without `run` is skipped with a
message), collects their payloads, and writes

- `benchmarks/results/<backend>.json`: every payload, with the machine's
  load averages before and after;
- `benchmarks/results/<backend>.md`: one markdown table of every timed
  variant (median with min/max after warm-up), then each benchmark's
  headline ratios;
- `benchmarks/results/figures/`: the figures of `report.py` (cost against
  size on log-log axes, ratios against their goals), from every backend's
  results file.

`--quick` runs small versions (for CI: no threshold is asserted; the exit
status is non-zero only if a benchmark raised). They are written to
`*_quick*` files beside the committed results, never over them.

`--render` runs no benchmark: it rewrites every backend's markdown table
and the figures from the results files. The documentation's Benchmarks
page builds its tables and figures from the same files (`report.py`).

    KERAS_BACKEND=jax python benchmarks/run.py [--quick] [--only NAME ...]
    KERAS_BACKEND=jax python -m benchmarks [--quick]
    python benchmarks/run.py --render
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
from benchmarks import report  # noqa: E402
from benchmarks import timing  # noqa: E402

# Modules of the package that are not benchmarks.
HELPERS = {"machine", "reference", "report", "run", "timing", "__main__"}


def benchmark_names():
    """The component benchmark modules, sorted by name."""
    directory = os.path.dirname(os.path.abspath(__file__))
    return sorted(
        m.name
        for m in pkgutil.iter_modules([directory])
        if m.name not in HELPERS and not m.name.startswith("_")
    )


# The tables' rows come from `report`, shared with the documentation.
_headline = report.headline
_rows = report.timed_rows


_ms = report.ms


def markdown(
    backend, payloads, skipped, failed, load, keras_version=None, cpus=None
):
    """The results as a markdown table (one row per timed variant)."""
    keras_version = keras_version or keras.__version__
    cpus = cpus or os.cpu_count()
    lines = [
        f"Backend `{backend}`, Keras {keras_version}, "
        f"{cpus} CPUs; load average before/after "
        f"{load['before']} / {load['after']} (a shared machine: compare "
        "variants of one run, not runs).",
        "",
        "| benchmark | variant | median ms | min ms | max ms | n |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, payload in payloads.items():
        for variant, s in report.timings(payload):
            lines.append(
                f"| {name} | {variant} | {_ms(s['median_s'])} | "
                f"{_ms(s['min_s'])} | {_ms(s['max_s'])} | {s['n']} |"
            )
    lines += ["", "| benchmark | quantity | value |", "|---|---|---:|"]
    for name, payload in payloads.items():
        for key, value in _headline(payload).items():
            text = report.value_text(value)
            lines.append(f"| {name} | {key} | {text} |")
    for name, why in skipped.items():
        lines.append(f"| {name} | skipped | {why} |")
    for name in failed:
        lines.append(f"| {name} | FAILED | see the run's output |")
    return "\n".join(lines) + "\n"


def render(backend):
    """Rewrites `<backend>.md` from `<backend>.json` (no benchmark runs).

    The Keras version and CPU count are the run's (from its files), not
    this machine's.
    """
    json_path = os.path.join(timing.RESULTS_DIR, f"{backend}.json")
    with open(json_path) as f:
        summary = json.load(f)
    _, rows = report.environment({backend: summary}, timing.RESULTS_DIR)
    _, keras_version, cpus, _, _ = rows[0]
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
                keras_version=keras_version,
                cpus=cpus,
            )
        )
    return md_path


def figures_dir():
    return os.path.join(timing.RESULTS_DIR, "figures")


def render_all():
    """Every backend's markdown table and the figures, from the results
    files (no benchmark runs). Returns the paths written."""
    paths = [
        render(backend)
        for backend in report.BACKENDS
        if os.path.exists(os.path.join(timing.RESULTS_DIR, f"{backend}.json"))
    ]
    return paths + report.render(timing.RESULTS_DIR, figures_dir())


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
        "keras": keras.__version__,
        "cpus": os.cpu_count(),
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
    if not quick:
        try:
            written = report.render(timing.RESULTS_DIR, figures_dir())
            print(f"wrote {len(written)} figures to {figures_dir()}")
        except ImportError as error:  # matplotlib is optional here
            print(f"no figures ({error}); `pip install matplotlib`")
    return payloads, skipped, failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, few rounds (CI)"
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these benchmarks"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--render",
        action="store_true",
        help="run nothing: rewrite every results/<backend>.md and the "
        "figures in results/figures/ from the results files",
    )
    args = parser.parse_args(argv)
    timing.PROGRESS = not args.quiet
    if args.render:
        for path in render_all():
            print(f"wrote {os.path.relpath(path)}")
        return 0
    _, _, failed = run_all(quick=args.quick, only=args.only)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
