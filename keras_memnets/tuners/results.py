"""The rows of a capacity sweep: read from a tuner, written, plotted."""

import csv
import json
import os

import numpy as np

from keras_memnets.analysis.seeds import mean_sd
from keras_memnets.utils.optional import import_pyplot

# The keys of a row of `sweep_results`, in the order a CSV file lists them.
RESULT_KEYS = (
    "trial_id",
    "status",
    "architecture",
    "latent_dim",
    "seed",
    "params",
    "relu_layers",
    "relu_units",
    "model_dimension",
    "epochs_run",
    "converged_epoch",
    "converged_value",
    "loss",
    "train_loss",
    "train_floor",
    "train_excess",
    "val_loss",
    "val_floor",
    "val_excess",
    "seconds",
)
_INT_KEYS = (
    "params",
    "relu_layers",
    "relu_units",
    "model_dimension",
    "epochs_run",
    "converged_epoch",
)


def architecture_name(encoder_sizes):
    """Returns the label of an architecture, e.g. `"784-256-128"`.

    Args:
        encoder_sizes: list of ints, the input size first.

    Returns:
        The sizes joined by `"-"` (the hyperparameter value in a sweep).

    Example:

    >>> keras_memnets.tuners.architecture_name([784, 256, 128])
    '784-256-128'
    """
    return "-".join(str(int(v)) for v in encoder_sizes)


def architecture_sizes(name):
    """The inverse of `architecture_name`: `"784-256"` -> `[784, 256]`."""
    return [int(v) for v in name.split("-")]


def sweep_results(tuner):
    """Returns one row per trial of a capacity sweep, in trial order.

    Args:
        tuner: the tuner from `keras_memnets.tuners.capacity_tuner` (after
            `search`, or reloaded from its directory).

    Returns:
        A list of dicts with the keys of `RESULT_KEYS`
        (`architecture`, `latent_dim`, `seed`, the measured losses, floors,
        excesses, counts; `None` where a trial has no such value).
    """
    rows = []
    trials = tuner.oracle.trials
    for trial_id in sorted(trials):
        trial = trials[trial_id]
        row = {key: None for key in RESULT_KEYS}
        row["trial_id"] = trial_id
        row["status"] = str(trial.status)
        values = trial.hyperparameters.values
        row["architecture"] = values.get("architecture")
        row["latent_dim"] = values.get("latent_dim")
        row["seed"] = values.get("seed")
        for name in trial.metrics.metrics:
            if name in row:
                value = trial.metrics.get_last_value(name)
                row[name] = None if value is None else float(value)
        for name in _INT_KEYS:
            if row[name] is not None:
                row[name] = int(row[name])
        if row["converged_epoch"] == -1:
            row["converged_epoch"] = None
        if row["converged_value"] is not None and np.isnan(
            row["converged_value"]
        ):
            row["converged_value"] = None
        rows.append(row)
    return rows


def write_results(rows, path):
    """Writes sweep rows to a `.jsonl` or `.csv` file (by its extension).

    Args:
        rows: list of dicts, e.g. from `sweep_results`.
        path: str. Ends in `.jsonl` or `.csv`.

    Returns:
        `path`.
    """
    if not isinstance(path, str) or not path.endswith((".jsonl", ".csv")):
        raise ValueError(
            "write_results: `path` must be a str ending in .jsonl or .csv, "
            f"got {path!r}."
        )
    if path.endswith(".jsonl"):
        with open(path, "w") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
        return path
    keys = list(RESULT_KEYS)
    for row in rows:
        keys += [k for k in row if k not in keys]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: ("" if row.get(k) is None else row.get(k)) for k in keys}
            )
    return path


def _pyplot():
    return import_pyplot("plot_sweep", "capacity")


def plot_sweep(rows, out_dir, prefix="capacity"):
    """Plots a sweep: loss and excess against latent dim per architecture.

    Writes two figures with matplotlib:
    `{prefix}_loss.png` (training and held-out loss with the floor, mean
    +/- sd over seeds, log-scaled latent axis) and `{prefix}_excess.png`
    (excess over the floor, train solid, held-out dashed; the legend gives
    each architecture's parameters and ReLU layers).

    Args:
        rows: list of dicts from `sweep_results` (completed trials).
        out_dir: str. Folder for the figures (created).
        prefix: str. File name prefix.

    Returns:
        The list of written paths.
    """
    plt = _pyplot()
    os.makedirs(out_dir, exist_ok=True)
    rows = [r for r in rows if r.get("train_loss") is not None]
    archs = sorted({r["architecture"] for r in rows}, key=architecture_sizes)
    paths = []
    for what in ("loss", "excess"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, arch in enumerate(archs):
            _plot_architecture(ax, rows, arch, what, f"C{i % 10}")
        if what == "loss" and rows:
            ax.axhline(
                rows[0]["train_floor"],
                color="k",
                lw=0.8,
                label="floor (train): entropy of the targets",
            )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("latent dimension")
        ax.set_ylabel(
            "summed BCE (nats / image)"
            if what == "loss"
            else "excess over the floor (nats / image)"
        )
        ax.set_title(
            f"{what}: train (solid) vs held-out (dashed), mean ± sd over seeds"
        )
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(out_dir, f"{prefix}_{what}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _plot_architecture(ax, rows, arch, what, color):
    """One architecture's train and held-out curves of `what`."""
    sub = [r for r in rows if r["architecture"] == arch]
    latents = sorted({r["latent_dim"] for r in sub})
    params = sorted({r["params"] for r in sub})
    span = (
        f"{params[0]:,}"
        if len(params) == 1
        else f"{params[0]:,}-{params[-1]:,}"
    )
    label = (
        f"[{arch.replace('-', ', ')}]: {sub[0]['relu_layers']} ReLU "
        f"layers, {span} params"
    )
    for split, style in (("train", "-"), ("val", "--")):
        key = f"{split}_{'loss' if what == 'loss' else 'excess'}"
        stats = []
        for latent in latents:
            values = [
                r[key]
                for r in sub
                if r["latent_dim"] == latent and r.get(key) is not None
            ]
            if values:
                stats.append((latent, *mean_sd(values)))
        if not stats:
            continue
        xs, means, sds = (np.array(v) for v in zip(*stats))
        ax.errorbar(
            xs,
            means,
            yerr=sds,
            fmt=style + "o",
            color=color,
            markersize=3,
            capsize=2,
            label=label if split == "train" else None,
        )
