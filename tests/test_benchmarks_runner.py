"""The benchmark runner's tables, its `--only` / `--render` modes, and the
report's tables and figures."""

import json
import os
import shutil
import sys
import types

import pytest

from benchmarks import report
from benchmarks import run
from benchmarks import timing


def _timing(ms):
    return {"median_s": ms / 1e3, "min_s": ms / 1e3, "max_s": ms / 1e3, "n": 3}


def test_headline_flattens_results_and_skips_timings_and_setup():
    payload = {
        "repeats": 20,
        "ratio": 1.5,
        "goals": {"a_vs_b": {"ratio": 2.0, "met": False}},
        "results": {"K=2": {"fast": _timing(1.0), "speedup": 1.25}},
        "growth": {"16": {"dense": _timing(2.0)}},
        "note": "text",
    }
    assert run._headline(payload) == {
        "ratio": 1.5,
        "goals.a_vs_b.ratio": 2.0,
        "goals.a_vs_b.met": False,
        "results.K=2.speedup": 1.25,
    }
    table = run.markdown(
        "jax", {"bench": payload}, {}, [], {"before": [0], "after": [0]}
    )
    assert "| bench | K=2 / fast | 1 | 1 | 1 | 3 |" in table
    assert "| bench | goals.a_vs_b.ratio | 2 |" in table
    assert "repeats" not in table


def test_only_updates_its_entries_and_render_rewrites_the_table(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(timing, "RESULTS_DIR", str(tmp_path))
    backend = run.keras.backend.backend()
    previous = {
        "backend": backend,
        "quick": False,
        "loadavg": {"before": [1.0], "after": [1.0]},
        "benchmarks": {"old": {"ratio": 3.0}, "fake": {"ratio": 9.0}},
        "skipped": {"reference": "no run(quick) function"},
        "failed": [],
    }
    (tmp_path / f"{backend}.json").write_text(json.dumps(previous))
    fake = types.ModuleType("benchmarks.fake")
    fake.run = lambda quick=False: {"ratio": 0.5}
    monkeypatch.setitem(sys.modules, "benchmarks.fake", fake)
    monkeypatch.setattr(run, "benchmark_names", lambda: ["fake"])

    payloads, skipped, failed = run.run_all(only=["fake"])
    assert (payloads, skipped, failed) == ({"fake": payloads["fake"]}, {}, [])
    written = json.loads((tmp_path / f"{backend}.json").read_text())
    assert written["benchmarks"]["old"] == {"ratio": 3.0}
    assert written["benchmarks"]["fake"]["ratio"] == 0.5

    (tmp_path / f"{backend}.md").write_text("stale")
    run.render(backend)
    table = (tmp_path / f"{backend}.md").read_text()
    assert "| old | ratio | 3 |" in table and "| fake | ratio | 0.5 |" in table
    assert "reference" not in table


@pytest.mark.parametrize(
    "name", ["machine", "reference", "report", "run", "timing"]
)
def test_helpers_are_not_benchmarks(name):
    assert name not in run.benchmark_names()


def test_quick_runs_never_overwrite_the_full_results(tmp_path, monkeypatch):
    monkeypatch.setattr(timing, "RESULTS_DIR", str(tmp_path))
    backend = run.keras.backend.backend()
    full = tmp_path / f"{backend}.json"
    full.write_text("full results")
    fake = types.ModuleType("benchmarks.fake")
    fake.run = lambda quick=False: {
        "quick": quick,
        "path": timing.write_results("fake", {"quick": quick}),
    }
    monkeypatch.setitem(sys.modules, "benchmarks.fake", fake)
    monkeypatch.setattr(run, "benchmark_names", lambda: ["fake"])
    payloads, _, failed = run.run_all(quick=True)
    assert failed == [] and full.read_text() == "full results"
    assert (tmp_path / f"{backend}_quick.json").exists()
    assert payloads["fake"]["path"].endswith(f"fake_quick-{backend}.json")


def _committed_results(tmp_path):
    """A copy of the committed full-run results (the repository's files
    are never rewritten by a test)."""
    for name in os.listdir(timing.RESULTS_DIR):
        if name.endswith((".json", ".md")) and "_quick" not in name:
            shutil.copy(os.path.join(timing.RESULTS_DIR, name), tmp_path)
    return report.load(str(tmp_path))


def test_render_draws_the_committed_results_without_running(
    tmp_path, monkeypatch
):
    pytest.importorskip("matplotlib")
    summaries = _committed_results(tmp_path)
    assert set(summaries) == set(report.BACKENDS)
    committed_md = {
        b: (tmp_path / f"{b}.md").read_text() for b in report.BACKENDS
    }
    monkeypatch.setattr(timing, "RESULTS_DIR", str(tmp_path))

    def no_benchmarks(*args, **kwargs):
        raise AssertionError("--render ran a benchmark")

    monkeypatch.setattr(run, "run_all", no_benchmarks)
    assert run.main(["--render"]) == 0
    # The committed tables are what --render writes from the committed JSON.
    for backend in report.BACKENDS:
        assert (tmp_path / f"{backend}.md").read_text() == committed_md[
            backend
        ], f"benchmarks/results/{backend}.md is stale: run --render"
    figures = sorted(os.listdir(tmp_path / "figures"))
    assert figures == [
        "correlation_norm-cost.png",
        "correlation_norm-goals.png",
        "memory_decoder-goals.png",
        "pkm_scale-cost.png",
        "pkm_scale-goals.png",
        "sign_sgd-goals.png",
        "sparse_memory-cost.png",
        "sparse_memory-goals.png",
        "variant_heads-cost.png",
        "variant_heads-goals.png",
    ]
    for name in figures:
        with open(tmp_path / "figures" / name, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name


def test_goal_table_reports_the_worst_group_against_its_goal():
    summaries = {
        "jax": {
            "benchmarks": {
                "memory_decoder": {
                    "ratio_keras_memnets_over_plain_keras": 0.9,
                    "target_ratio": 1.03,
                    "speedup_keras_memnets_over_torch_eager": 1.1,
                    "target_speedup_over_torch_eager": 1.15,
                },
                "variant_heads": {
                    "auto_implementation": "per_head",
                    "results": {
                        "K=2": {"separate_over_per_head": 1.5},
                        "K=5": {"separate_over_per_head": 0.8},
                    },
                },
            }
        }
    }
    header, rows = report.goal_table(summaries)
    assert header == ["benchmark", "ratio and goal", "JAX"]
    values = {
        (r[0], r[1].split(" \u2264")[0].split(" \u2265")[0]): r[2] for r in rows
    }
    # At most 1.03: 0.9 is met; at least 1.15: 1.1 is not.
    assert values[
        ("memory_decoder", "keras_memnets step / plain Keras step")
    ] == ("0.9\u00a0\u2713")
    assert values[("memory_decoder", "speed-up over eager PyTorch")] == (
        "1.1\u00a0\u2717"
    )
    # A goal per K holds at every K: the worst (smallest) of 1.5 and 0.8.
    assert (
        values[("variant_heads", "K Dense heads / VariantHeads(auto) step")]
        == "0.8\u00a0\u2717"
    )


def test_timing_table_has_one_column_per_backend():
    summaries = {
        "jax": {"benchmarks": {"b": {"results": {"x": _timing(1.0)}}}},
        "torch": {
            "benchmarks": {
                "b": {"results": {"x": _timing(250.0), "y": _timing(2.5)}}
            }
        },
    }
    header, rows = report.timing_table("b", summaries)
    assert header == ["variant", "JAX ms", "PyTorch ms"]
    dash = "\u2060\u2013\u2060"
    assert rows == [
        ["x", f"1 (1{dash}1)", f"250 (250{dash}250)"],
        ["y", "-", f"2.5 (2.5{dash}2.5)"],
    ]


def test_docs_page_shows_every_benchmark():
    summaries = report.load(timing.RESULTS_DIR)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "benchmarks.rst")) as f:
        page = f.read()
    for name in report.benchmark_names(summaries):
        assert f".. benchmark-results:: {name}\n" in page, name
