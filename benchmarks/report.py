"""Tables and figures from the benchmark results, without running anything.

Reads the full-run files `results/<backend>.json` that `run.py` writes and
turns them into

- tables with one column per backend (`timing_table`, `quantity_table`,
  `goal_table`), which the documentation's Benchmarks page shows;
- figures (`render`): for a benchmark whose size grows, its cost against
  that size on log-log axes, one panel per backend (`<name>-cost.png`);
  for a benchmark with goals, each ratio as bars per backend with the goal
  as a line (`<name>-goals.png`).

`python benchmarks/run.py --render` and the documentation build call
`render`; neither runs a benchmark. Needs matplotlib for the figures only.
"""

import dataclasses
import json
import os
import re

# Column order of every table and panel order of every figure.
BACKENDS = ("jax", "tensorflow", "torch")
BACKEND_NAMES = {"jax": "JAX", "tensorflow": "TensorFlow", "torch": "PyTorch"}

# Payload entries that describe the setup rather than a result.
SETUP = {
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
    "threads",
    "units",
    "warmup",
}

# Payload entries holding timing summaries (dicts with `median_s`).
TIMED = ("results", "growth")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def headline(payload, prefix=""):
    """Scalar results of a payload (ratios, goals, verdicts), flattened.

    Nested dicts give dotted keys (`goals.signsgd_vs_sgd.ratio`); timing
    summaries (dicts with `median_s`) and setup entries are left out.
    """
    out = {}
    for key, value in payload.items():
        if key in SETUP:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if "median_s" not in value:
                out.update(headline(value, f"{name}."))
        elif _number(value) or isinstance(value, bool):
            out[name] = value
    return out


def timed_rows(results):
    """`(variant, summary)` pairs of a dict of timings, nested or flat."""
    if not isinstance(results, dict):
        return []
    rows = []
    for name, value in results.items():
        if isinstance(value, dict) and "median_s" in value:
            rows.append((str(name), value))
        elif isinstance(value, dict):
            rows += [(f"{name} / {n}", v) for n, v in timed_rows(value)]
    return rows


def timings(payload):
    """Every timed variant of a payload: its `results`, then its `growth`."""
    rows = []
    for key in TIMED:
        rows += timed_rows(payload.get(key))
    return rows


def load(results_dir):
    """`{backend: summary}` of the full-run files present, in `BACKENDS`
    order (quick runs' `*_quick.json` are never read)."""
    summaries = {}
    for backend in BACKENDS:
        path = os.path.join(results_dir, f"{backend}.json")
        if os.path.exists(path):
            with open(path) as f:
                summary = json.load(f)
            if not summary.get("quick"):
                summaries[backend] = summary
    return summaries


def benchmark_names(summaries):
    """Benchmarks with a payload on at least one backend, sorted."""
    return sorted({n for s in summaries.values() for n in s["benchmarks"]})


def ms(seconds):
    """Milliseconds to 3 significant digits, whole from 100 ms up."""
    ms = seconds * 1e3
    return f"{ms:.0f}" if abs(ms) >= 100 else f"{ms:.3g}"


def _spread(s):
    """`median (min-max)` of a timing summary, in milliseconds; a line
    may break before the bracket only (word joiners around the dash)."""
    low, high = ms(s["min_s"]), ms(s["max_s"])
    return f"{ms(s['median_s'])} ({low}\u2060\u2013\u2060{high})"


def value_text(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def _merge(keyed_rows):
    """Union of row keys over backends, in order of first appearance."""
    keys = []
    for rows in keyed_rows.values():
        keys += [k for k in rows if k not in keys]
    return keys


def environment(summaries, results_dir):
    """Rows `(backend, keras, cpus, load before, load after)`.

    The Keras version and CPU count come from the summary, or (for files
    written before the runner recorded them) from the benchmark's own
    `<name>-<backend>.json` of the same run.
    """
    rows = []
    for backend, summary in summaries.items():
        facts = {k: summary.get(k) for k in ("keras", "cpus")}
        for name in summary["benchmarks"]:
            path = os.path.join(results_dir, f"{name}-{backend}.json")
            if None not in facts.values() or not os.path.exists(path):
                continue
            with open(path) as f:
                own = json.load(f)
            for key in facts:
                facts[key] = facts[key] or own.get(key)
        load = summary.get("loadavg", {})
        rows.append(
            [
                BACKEND_NAMES.get(backend, backend),
                str(facts["keras"] or "?"),
                str(facts["cpus"] or "?"),
                ", ".join(str(x) for x in load.get("before", [])),
                ", ".join(str(x) for x in load.get("after", [])),
            ]
        )
    header = ["backend", "Keras", "CPUs", "load before (1, 5, 15 min)", "after"]
    return header, rows


def timing_table(name, summaries):
    """Median (min-max) milliseconds of each variant, one column per
    backend. Returns `(header, rows)`; a missing entry is a dash."""
    per_backend = {
        b: dict(timings(s["benchmarks"][name]))
        for b, s in summaries.items()
        if name in s["benchmarks"]
    }
    header = ["variant"] + [
        f"{BACKEND_NAMES.get(b, b)} ms" for b in per_backend
    ]
    rows = []
    for variant in _merge(per_backend):
        row = [variant]
        for values in per_backend.values():
            s = values.get(variant)
            row.append(_spread(s) if s else "-")
        rows.append(row)
    return header, rows


def rounds(name, summaries):
    """The timed rounds per variant (`n`), as text ("20", or "5-30")."""
    ns = {
        s["n"]
        for summary in summaries.values()
        if name in summary["benchmarks"]
        for _, s in timings(summary["benchmarks"][name])
    }
    if not ns:
        return "?"
    low, high = min(ns), max(ns)
    return str(low) if low == high else f"{low}-{high}"


def quantity_table(name, summaries):
    """Every ratio, goal and verdict of a benchmark, one column per
    backend. Returns `(header, rows)`."""
    per_backend = {
        b: headline(s["benchmarks"][name])
        for b, s in summaries.items()
        if name in s["benchmarks"]
    }
    header = ["quantity"] + [BACKEND_NAMES.get(b, b) for b in per_backend]
    rows = []
    for key in _merge(per_backend):
        row = [key]
        for values in per_backend.values():
            row.append(value_text(values[key]) if key in values else "-")
        rows.append(row)
    return header, rows


# -- Goals -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Goal:
    """A ratio a benchmark aims for: `values(payload)` gives `{group:
    ratio}` (one group, or one per size), `limit(payload)` the goal, and
    `at_most` whether the ratio should stay at or under it."""

    benchmark: str
    title: str
    values: object
    limit: object
    at_most: bool = True
    group_label: str = ""

    def met(self, value, limit):
        return value <= limit if self.at_most else value >= limit


def _variant_heads_auto(payload):
    auto = payload.get("auto_implementation", "batched")
    return {
        k.removeprefix("K="): v[f"separate_over_{auto}"]
        for k, v in payload["results"].items()
    }


def _pkm_over_reference(payload):
    largest = str(payload["sizes"]["memory_sizes"][-1])
    return {"": payload["over_torch_reference"][largest]["lazy_adam"]}


def _sparse_growth(payload):
    largest = str(payload["sizes"]["memory_sizes"][-1])
    growth = payload["growth_over_smallest_memory_size"]
    return {
        f"k={k}": growth[f"informed k={k}"][largest]
        for k in (1, 2)
        if f"informed k={k}" in growth
    }


GOALS = (
    Goal(
        "memory_decoder",
        "keras_memnets step / plain Keras step",
        lambda p: {"": p["ratio_keras_memnets_over_plain_keras"]},
        lambda p: p["target_ratio"],
    ),
    Goal(
        "memory_decoder",
        "speed-up over eager PyTorch",
        lambda p: {"": p["speedup_keras_memnets_over_torch_eager"]},
        lambda p: p["target_speedup_over_torch_eager"],
        at_most=False,
    ),
    Goal(
        "sign_sgd",
        "SignSGD update / SGD update",
        lambda p: {"": p["goals"]["signsgd_vs_sgd"]["ratio"]},
        lambda p: p["goals"]["signsgd_vs_sgd"]["limit"],
    ),
    Goal(
        "sign_sgd",
        "Signum update / Adam update",
        lambda p: {"": p["goals"]["signum_vs_adam"]["ratio"]},
        lambda p: p["goals"]["signum_vs_adam"]["limit"],
    ),
    Goal(
        "correlation_norm",
        "CorrelationNorm(8) step / BatchNorm step",
        lambda p: p["block8_over_batchnorm_by_width"],
        lambda p: 1.5,
        group_label="width",
    ),
    Goal(
        "sparse_memory",
        "sparse informed step, largest / smallest memory",
        _sparse_growth,
        lambda p: p["growth_limit_sparse_informed"],
        group_label="top_k",
    ),
    Goal(
        "pkm_scale",
        "LazyAdam step at 2^20 / at 2^12 slots",
        lambda p: {"": p["growth_largest_over_smallest"]["lazy_adam"]},
        lambda p: p["growth_limit"],
    ),
    Goal(
        "pkm_scale",
        "LazyAdam step / PyTorch reference, 2^20 slots",
        _pkm_over_reference,
        lambda p: p["reference_limit"],
    ),
    Goal(
        "variant_heads",
        "K Dense heads / VariantHeads(auto) step",
        _variant_heads_auto,
        lambda p: 1.0,
        at_most=False,
        group_label="K",
    ),
)


def goal_values(goal, summaries):
    """`{backend: ({group: ratio}, limit)}` for the backends that ran it."""
    out = {}
    for backend, summary in summaries.items():
        payload = summary["benchmarks"].get(goal.benchmark)
        if payload is None:
            continue
        try:
            out[backend] = (goal.values(payload), goal.limit(payload))
        except KeyError:  # an older payload without this entry
            continue
    return out


def goal_table(summaries):
    """One row per goal: the benchmark, the ratio and its goal, then per
    backend its value (the worst group's for a goal per size) marked
    \u2713 (met) or \u2717 (not met)."""
    header = ["benchmark", "ratio and goal"] + [
        BACKEND_NAMES.get(b, b) for b in summaries
    ]
    rows = []
    for goal in GOALS:
        values = goal_values(goal, summaries)
        if not values:
            continue
        limits = sorted({limit for _, limit in values.values()})
        sign = "\u2264" if goal.at_most else "\u2265"
        every = f", every {goal.group_label}" if goal.group_label else ""
        goal_text = ", ".join(f"{limit:g}" for limit in limits)
        row = [goal.benchmark, f"{goal.title} {sign} {goal_text}{every}"]
        for backend in summaries:
            if backend not in values:
                row.append("-")
                continue
            groups, limit = values[backend]
            worst = (max if goal.at_most else min)(groups.values())
            mark = "\u2713" if goal.met(worst, limit) else "\u2717"
            row.append(f"{worst:.3g}\u00a0{mark}")
        rows.append(row)
    return header, rows


# -- Figures ---------------------------------------------------------------


def _sparse_cost(payload):
    """`{panel: {variant: {size: median_s}}}` of sparse_memory."""
    pattern = re.compile(r"^(\w+) N=(\d+) (.+)$")
    panels = {}
    for name, s in payload["results"].items():
        match = pattern.match(name)
        if match:
            panel, size, variant = match.groups()
            panels.setdefault(panel, {}).setdefault(variant, {})[int(size)] = s[
                "median_s"
            ]
    titles = {
        "informed": "MemoryInformedLayer step",
        "read": "MemoryLayer.read step",
    }
    return {titles.get(k, k): v for k, v in panels.items()}


def _by_size(timed):
    """`{size: {variant: summary}}` -> `{variant: {size: median_s}}`."""
    out = {}
    for size, variants in timed.items():
        for variant, s in variants.items():
            if isinstance(s, dict) and "median_s" in s:
                size_number = int(str(size).removeprefix("K="))
                out.setdefault(variant, {})[size_number] = s["median_s"]
    return out


# Benchmarks whose size grows: `{name: (x label, {panel: {variant:
# {size: seconds}}})}` from a payload.
COSTS = {
    "pkm_scale": (
        "memory_size (slots)",
        lambda p: {"training step": _by_size(p["results"])},
    ),
    "sparse_memory": ("memory_size", _sparse_cost),
    "correlation_norm": (
        "layer width",
        lambda p: {"training step": _by_size(p["growth"])},
    ),
    "variant_heads": (
        "K (number of heads)",
        lambda p: {"training step": _by_size(p["results"])},
    ),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_cost(name, summaries, path):
    """Cost against size, log-log: a row per panel, a column per backend."""
    plt = _pyplot()
    label, extract = COSTS[name]
    data = {
        b: extract(s["benchmarks"][name])
        for b, s in summaries.items()
        if name in s["benchmarks"]
    }
    panels = _merge(data)
    fig, axes = plt.subplots(
        len(panels),
        len(data),
        figsize=(3.6 * len(data), 3.0 * len(panels)),
        squeeze=False,
        sharey="row",
        constrained_layout=True,
    )
    variants = _merge({b: _merge(d) for b, d in data.items()})
    colors = {v: f"C{i}" for i, v in enumerate(variants)}
    markers = "osD^vP*X"
    for col, (backend, panels_of) in enumerate(data.items()):
        for row, panel in enumerate(panels):
            ax = axes[row][col]
            for i, (variant, points) in enumerate(
                panels_of.get(panel, {}).items()
            ):
                sizes = sorted(points)
                ax.plot(
                    sizes,
                    [points[n] * 1e3 for n in sizes],
                    marker=markers[variants.index(variant) % len(markers)],
                    color=colors[variant],
                    label=variant,
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            sizes = sorted(
                {n for p in panels_of.get(panel, {}).values() for n in p}
            )
            ax.set_xticks(sizes)
            ax.set_xticklabels([str(n) for n in sizes])
            ax.minorticks_off()
            ax.grid(True, which="major", alpha=0.3)
            ax.set_title(
                f"{BACKEND_NAMES.get(backend, backend)}: {panel}", fontsize=10
            )
            if row == len(panels) - 1:
                ax.set_xlabel(label)
            if col == 0:
                ax.set_ylabel("median ms (log)")
    handles = {}
    for ax in axes.flat:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(text, handle)
    fig.legend(
        handles.values(),
        handles.keys(),
        loc="outside lower center",
        ncol=min(len(handles), 5),
        frameon=False,
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _backend_color(backend):
    return f"C{BACKENDS.index(backend)}" if backend in BACKENDS else "C7"


def plot_goals(name, summaries, path):
    """Each goal of a benchmark as bars per backend with the goal line."""
    plt = _pyplot()
    goals = [g for g in GOALS if g.benchmark == name]
    goals = [(g, goal_values(g, summaries)) for g in goals]
    goals = [(g, v) for g, v in goals if v]
    fig, axes = plt.subplots(
        1,
        len(goals),
        figsize=(4.6 * len(goals), 3.3),
        squeeze=False,
        constrained_layout=True,
    )
    backends = [b for b in summaries]
    for ax, (goal, values) in zip(axes[0], goals):
        groups = _merge({b: v[0] for b, v in values.items()})
        # One group: a bar per backend. Several (sizes): grouped bars.
        single = len(groups) == 1
        width = 0.6 if single else 0.8 / len(backends)
        for i, backend in enumerate(backends):
            if backend not in values:
                continue
            ratios, _ = values[backend]
            xs = [
                i if single else j + (i - (len(backends) - 1) / 2) * width
                for j, g in enumerate(groups)
                if g in ratios
            ]
            ys = [ratios[g] for g in groups if g in ratios]
            bars = ax.bar(
                xs,
                ys,
                width,
                color=_backend_color(backend),
                label=BACKEND_NAMES.get(backend, backend),
            )
            if single:
                ax.bar_label(
                    bars,
                    fmt="%.2f",
                    label_type="center",
                    color="white",
                    fontsize=9,
                )
        limits = sorted({limit for _, limit in values.values()})
        for limit in limits:
            ax.axhline(limit, color="black", linestyle="--", linewidth=1)
        sign = "\u2264" if goal.at_most else "\u2265"
        goal_text = ", ".join(f"{limit:g}" for limit in limits)
        ax.set_title(f"{goal.title}\ngoal {sign} {goal_text}", fontsize=10)
        if single:
            ax.set_xticks(range(len(backends)))
            ax.set_xticklabels([BACKEND_NAMES.get(b, b) for b in backends])
        else:
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels(groups)
        if goal.group_label:
            ax.set_xlabel(goal.group_label)
        ax.set_ylabel("ratio")
        ax.set_ylim(
            0,
            max(max(limits), *(max(v[0].values()) for v in values.values()))
            * 1.18,
        )
        ax.grid(True, axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=len(labels),
        frameon=False,
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def figure_names(summaries):
    """The figures `render` writes for these results, by benchmark."""
    names = benchmark_names(summaries)
    out = {}
    for name in names:
        if name in COSTS:
            out.setdefault(name, []).append(f"{name}-cost.png")
        if any(
            g.benchmark == name and goal_values(g, summaries) for g in GOALS
        ):
            out.setdefault(name, []).append(f"{name}-goals.png")
    return out


def render(results_dir, figures_dir, only_if_newer=False):
    """Writes every figure for the results in `results_dir`; returns the
    paths. `only_if_newer`: skip a figure newer than every results file
    (the documentation build redraws only what changed)."""
    summaries = load(results_dir)
    os.makedirs(figures_dir, exist_ok=True)
    newest = max(
        (
            os.path.getmtime(os.path.join(results_dir, f"{b}.json"))
            for b in summaries
        ),
        default=0.0,
    )
    paths = []
    for name, files in figure_names(summaries).items():
        for filename in files:
            path = os.path.join(figures_dir, filename)
            paths.append(path)
            if (
                only_if_newer
                and os.path.exists(path)
                and os.path.getmtime(path) > newest
                and os.path.getmtime(path) > os.path.getmtime(__file__)
            ):
                continue
            if filename.endswith("-cost.png"):
                plot_cost(name, summaries, path)
            else:
                plot_goals(name, summaries, path)
    return paths
