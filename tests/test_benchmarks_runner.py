"""The benchmark runner's tables and its `--only` / `--render` modes."""

import json
import sys
import types

import pytest

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


@pytest.mark.parametrize("name", ["machine", "reference", "run", "timing"])
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
