"""The guides' Python snippets run as they are, in order, on every backend.

Each guide listed here is executed top to bottom: its `.. code-block::
python` blocks share one namespace, as a reader would paste them into one
session. A guide whose snippets drift from the library fails here.
"""

import contextlib
import io
import os
import re

import keras
import pytest

import keras_memnets

GUIDES = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "docs", "guides"
)


def python_blocks(path):
    """The `.. code-block:: python` blocks of an .rst file, dedented."""
    lines = open(path, encoding="utf-8").read().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if re.match(r"\s*\.\. code-block:: python\s*$", lines[i]):
            i += 1
            body = []
            while i < len(lines) and (
                not lines[i].strip() or lines[i].startswith("   ")
            ):
                body.append(lines[i][3:])
                i += 1
            blocks.append("\n".join(body).strip("\n"))
        else:
            i += 1
    return blocks


def run_guide(name):
    namespace = {"keras": keras, "keras_memnets": keras_memnets}
    out = io.StringIO()
    for number, block in enumerate(python_blocks(os.path.join(GUIDES, name))):
        code = compile(block, f"{name}, python block {number + 1}", "exec")
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
    return namespace, out.getvalue()


def test_python_blocks_are_found():
    blocks = python_blocks(os.path.join(GUIDES, "memory_networks.rst"))
    assert len(blocks) >= 6
    assert all(block and not block.startswith(" ") for block in blocks)


def test_memory_networks_guide_runs():
    namespace, printed = run_guide("memory_networks.rst")
    # What the guide's text and comments say about what it shows.
    monitor_history = namespace["monitor"].model.history.history
    assert len(monitor_history["memory_slots_used"]) == 2
    assert "memory_purity" in monitor_history
    report = namespace["report"]
    assert report["num_samples"] == 512
    assert 1 <= report["slots_used"] <= 10
    assert (
        "['selection_dead_slots', 'selection_mean_max', "
        "'selection_perplexity', 'selection_slots_for_mass']"
    ) in printed
    assert namespace["kmeans"].centroids.shape == (10, 784)
    assert namespace["kmeans"].mse == pytest.approx(0.05, abs=0.03)
    assert len(namespace["records"]) <= 1
    # The default and the notes' setting.
    assert "100.0 {'weight': 0.01, 'mode': 'entropy'}" in printed
    notes = namespace["notes"].get_layer("memory_layer")
    assert notes.memory_scale == 1.0 and notes.selection_regularizer is None


def test_product_key_memory_guide_runs():
    namespace, printed = run_guide("product_key_memory.rst")
    history, report = namespace["history"], namespace["report"]
    assert len(history.history["memory_slot_usage"]) == 1
    assert 0 < report["slot_usage"] <= 1 and report["usage_kl"] >= 0
    assert "of the slots read" in printed
    # The metrics over the same reads, in four batches, give the report's
    # numbers.
    assert float(namespace["usage"].result()) == pytest.approx(
        report["slot_usage"], rel=1e-6
    )
    assert float(namespace["kl"].result()) == pytest.approx(
        report["usage_kl"], rel=1e-4, abs=1e-5
    )


def test_product_key_memory_guide_table_is_the_committed_run():
    """Every mean ± sd of the guide's table is the committed results.json."""
    import json

    root = os.path.dirname(GUIDES)
    path = os.path.join(root, "_static", "product_key_memory", "results.json")
    with open(path) as f:
        results = json.load(f)
    assert not results["config"]["quick"]
    assert results["config"]["seeds"] == 3
    page = open(os.path.join(GUIDES, "product_key_memory.rst")).read()
    specs = {
        "val_loss": ".4f",
        "slot_usage": ".3f",
        "usage_kl": ".2f",
        "perplexity": ".0f",
    }
    for block, runs in results["runs"].items():
        for key, spec in specs.items():
            if key in runs[0]:
                cell = keras_memnets.analysis.format_mean_sd(
                    [run[key] for run in runs], spec
                )
                assert cell in page, (block, key, cell)
    holding = 0
    for verdict in results["verdicts"].values():
        cell = f"{verdict['mean']:.3f} ± {verdict['sd']:.3f}"
        assert cell in page, cell
        holding += verdict["holds"]
    assert page.count(": holds.**") == holding
    assert page.count(": does not hold.**") == len(results["verdicts"]) - (
        holding
    )
