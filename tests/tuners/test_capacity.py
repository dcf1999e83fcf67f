"""Capacity sweeps on KerasTuner: resume after an interruption or a kill,
chief and workers on localhost, export and plots."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

pytest.importorskip("keras_tuner")

import keras_memnets
from tests.tuners.sweep_script import GRID

SCRIPT = os.path.join(os.path.dirname(__file__), "sweep_script.py")
GRID_SIZE = 4


def events(directory):
    path = os.path.join(directory, "sweep", "trial_events.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def starts_and_ends(records):
    starts, ends = {}, {}
    for r in records:
        table = starts if r["event"] == "start" else ends
        table[r["trial_id"]] = table.get(r["trial_id"], 0) + 1
    return starts, ends


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt in the second trial, as Ctrl-C would.

    KerasTuner deep-copies callbacks per trial; the class attribute counts
    the trials over all copies.
    """

    trials = 0

    def on_train_begin(self, logs=None):
        type(self).trials += 1
        if type(self).trials == 2:
            raise KeyboardInterrupt


def test_resume_after_interrupt_runs_no_trial_twice(tmp_path):
    directory = str(tmp_path)
    x = np.random.default_rng(0).random((64, 16)).astype("float32")

    def search(callbacks):
        tuner = keras_memnets.tuners.capacity_tuner(
            [[16, 8]],
            [2, 4, 8],
            seeds=[0],
            directory=directory,
            project_name="sweep",
            patience=1,
            rel_tol=0.5,
        )
        tuner.search(
            x, x, epochs=2, batch_size=32, verbose=0, callbacks=callbacks
        )
        return tuner

    Interrupt.trials = 0
    with pytest.raises(KeyboardInterrupt):
        search([Interrupt()])
    starts, ends = starts_and_ends(events(directory))
    assert starts == {"0": 1, "1": 1} and ends == {"0": 1}

    tuner = search([])
    starts, ends = starts_and_ends(events(directory))
    # Trial 0 completed before the interruption and never runs again; the
    # interrupted trial 1 is retried under its own id; 2 runs once.
    assert starts == {"0": 1, "1": 2, "2": 1}
    assert ends == {"0": 1, "1": 1, "2": 1}

    rows = keras_memnets.tuners.sweep_results(tuner)
    assert [r["status"] for r in rows] == ["COMPLETED"] * 3
    assert [(r["architecture"], r["latent_dim"]) for r in rows] == [
        ("16-8", 2),
        ("16-8", 4),
        ("16-8", 8),
    ]
    floor = keras_memnets.analysis.bce_floor(x)
    for r, latent in zip(rows, (2, 4, 8)):
        assert (
            r["params"]
            == keras_memnets.models.autoencoder([16, 8], latent).count_params()
        )
        assert r["relu_layers"] == 1 and r["model_dimension"] == 16
        assert r["train_floor"] == pytest.approx(floor)
        assert r["train_excess"] == pytest.approx(r["train_loss"] - floor)
        assert r["train_excess"] > 0
        # rel_tol 0.5, patience 1: the first epoch's change is below 50 %
        # on this data, so each trial stops after 2 epochs.
        if r["converged_epoch"] is not None:
            assert r["epochs_run"] == r["converged_epoch"] + 1
    assert tuner.oracle.get_best_trials(1)[0].trial_id in {"0", "1", "2"}

    # Export: JSONL and CSV hold the same rows; plots are written.
    out = tmp_path / "out"
    out.mkdir()
    keras_memnets.tuners.write_results(rows, str(out / "s.jsonl"))
    keras_memnets.tuners.write_results(rows, str(out / "s.csv"))
    with open(out / "s.jsonl") as f:
        assert [json.loads(line) for line in f] == rows
    with open(out / "s.csv") as f:
        table = list(csv.DictReader(f))
    assert [float(t["train_loss"]) for t in table] == pytest.approx(
        [r["train_loss"] for r in rows]
    )
    paths = keras_memnets.tuners.plot_sweep(rows, str(out))
    assert all(os.path.getsize(p) > 1000 for p in paths) and len(paths) == 2
    with pytest.raises(ValueError, match="jsonl or .csv"):
        keras_memnets.tuners.write_results(rows, str(out / "s.txt"))


def _env(**extra):
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("KERASTUNER_"):
            del env[key]
    env.update(extra)
    return env


@pytest.mark.slow
def test_resume_after_kill_in_a_subprocess(tmp_path):
    directory = str(tmp_path)
    command = [sys.executable, SCRIPT, directory, "--sleep", "1.5"]
    process = subprocess.Popen(
        command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            starts, ends = starts_and_ends(events(directory))
            if ends.get("0") and starts.get("1") and not ends.get("1"):
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.1)
        else:
            pytest.fail("the sweep did not reach its second trial")
        process.send_signal(signal.SIGKILL)
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
    starts, ends = starts_and_ends(events(directory))
    killed = [t for t in starts if t not in ends]
    assert len(killed) == 1
    done_before = set(ends)

    subprocess.run(
        command[:3],
        env=_env(),
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    starts, ends = starts_and_ends(events(directory))
    assert len(ends) == GRID_SIZE and set(ends.values()) == {1}
    for trial_id in done_before:
        assert starts[trial_id] == 1, "a completed trial ran again"
    assert starts[killed[0]] == 2
    tuner = keras_memnets.tuners.capacity_tuner(
        directory=directory, project_name="sweep", **GRID
    )
    rows = keras_memnets.tuners.sweep_results(tuner)
    assert [r["status"] for r in rows] == ["COMPLETED"] * GRID_SIZE


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_chief_and_two_workers_on_localhost(tmp_path):
    directory = str(tmp_path)
    port = str(_free_port())
    processes = {}
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            env = _env(
                KERASTUNER_TUNER_ID=tuner_id,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=port,
            )
            processes[tuner_id] = subprocess.Popen(
                [sys.executable, SCRIPT, directory, "--sleep", "2"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if tuner_id == "chief":
                time.sleep(2)
        for tuner_id, process in processes.items():
            _, err = process.communicate(timeout=500)
            assert process.returncode == 0, (tuner_id, err.decode()[-3000:])
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    records = events(directory)
    starts, ends = starts_and_ends(records)
    assert len(ends) == GRID_SIZE and set(ends.values()) == {1}
    assert set(starts.values()) == {1}
    ran = {r["tuner_id"] for r in records if r["event"] == "end"}
    # The chief only hands out trials; both workers trained some.
    assert ran == {"tuner0", "tuner1"}
    tuner = keras_memnets.tuners.capacity_tuner(
        directory=directory, project_name="sweep", **GRID
    )
    rows = keras_memnets.tuners.sweep_results(tuner)
    assert [r["status"] for r in rows] == ["COMPLETED"] * GRID_SIZE
    assert sorted((r["architecture"], r["latent_dim"]) for r in rows) == [
        ("16-4-4", 2),
        ("16-4-4", 4),
        ("16-8", 2),
        ("16-8", 4),
    ]


def test_unconverged_trials_do_not_track_a_converged_value(tmp_path):
    """A trial that does not converge has `converged_value` None and does
    not give KerasTuner a NaN to track (which it warns about, "All-NaN axis
    encountered", when every trial has one)."""
    import warnings

    x = np.random.default_rng(0).random((32, 16)).astype("float32")
    tuner = keras_memnets.tuners.capacity_tuner(
        [[16, 8]], [2], seeds=[0, 1], directory=str(tmp_path)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        tuner.search(x, x, epochs=1, batch_size=32, verbose=0)
    rows = keras_memnets.tuners.sweep_results(tuner)
    assert [r["status"] for r in rows] == ["COMPLETED"] * 2
    assert [r["converged_value"] for r in rows] == [None, None]
    assert [r["converged_epoch"] for r in rows] == [None, None]
    # Not tracked at all (a NaN would be tracked, and warned about).
    for trial in tuner.oracle.trials.values():
        assert "converged_value" not in trial.metrics.metrics
        assert "train_excess" in trial.metrics.metrics
