"""Capacity sweeps of autoencoders on KerasTuner (resumable, distributable).

KerasTuner is an optional dependency: install it with
`pip install "keras-memnets[capacity]"`. It is imported only when a sweep is
created, so `import keras_memnets` works without it.
"""

import csv
import json
import os
import time

import numpy as np

from keras_memnets.analysis.capacity import bce_floor
from keras_memnets.analysis.capacity import model_dimension
from keras_memnets.analysis.capacity import relu_layers
from keras_memnets.models.autoencoder import PLACEMENTS
from keras_memnets.utils.validation import non_negative_int
from keras_memnets.utils.validation import one_of
from keras_memnets.utils.validation import positive_int

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


def _keras_tuner():
    try:
        import keras_tuner
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "keras_memnets.analysis capacity sweeps need KerasTuner; install "
            "it with the extra: pip install 'keras-memnets[capacity]' (or "
            "pip install keras-tuner)."
        ) from error
    return keras_tuner


def architecture_name(encoder_sizes):
    """Returns the label of an architecture, e.g. `"784-256-128"`.

    Args:
        encoder_sizes: list of ints, the input size first.

    Returns:
        The sizes joined by `"-"` (the hyperparameter value in a sweep).

    Example:

    >>> keras_memnets.analysis.architecture_name([784, 256, 128])
    '784-256-128'
    """
    return "-".join(str(int(v)) for v in encoder_sizes)


def _sizes(sizes, argument, owner):
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(
            f"{owner}: `{argument}` must hold lists of positive ints, got "
            f"{sizes!r}."
        )
    sizes = [positive_int(v, argument, owner) for v in sizes]
    if len(sizes) < 2:
        raise ValueError(
            f"{owner}: each of `{argument}` needs the input size and a hidden "
            f"width, got {sizes}."
        )
    return sizes


def _sizes_of(name):
    return [int(v) for v in name.split("-")]


_CLASSES = {}


def _classes():
    if _CLASSES:
        return _CLASSES["hypermodel"], _CLASSES["oracle"], _CLASSES["tuner"]
    kt = _keras_tuner()
    import keras

    from keras_memnets.callbacks.convergence_stopping import ConvergenceStopping
    from keras_memnets.losses.summed_bce import SummedBinaryCrossentropy
    from keras_memnets.models.autoencoder import autoencoder

    class CapacityHyperModel(kt.HyperModel):
        """Builds and trains one autoencoder of the grid per trial."""

        def __init__(self, settings):
            super().__init__(name="capacity_autoencoder")
            self.settings = settings
            self._floors = {}

        def build(self, hp):
            s = self.settings
            sizes = _sizes_of(hp.get("architecture"))
            keras.utils.set_random_seed(int(hp.get("seed")))
            model = autoencoder(
                sizes,
                int(hp.get("latent_dim")),
                relu_placement=s["relu_placement"],
            )
            optimizer = keras.optimizers.get(
                {
                    "class_name": s["optimizer"],
                    "config": {"learning_rate": s["learning_rate"]},
                }
            )
            model.compile(optimizer=optimizer, loss=SummedBinaryCrossentropy())
            return model

        def _floor(self, x):
            key = (id(x), x.shape)
            if key not in self._floors:
                self._floors[key] = bce_floor(x)
            return self._floors[key]

        def fit(self, hp, model, x, y=None, validation_data=None, **kwargs):
            s = self.settings
            y = x if y is None else y
            callbacks = list(kwargs.pop("callbacks", None) or [])
            stopper = ConvergenceStopping(
                monitor="loss", rel_tol=s["rel_tol"], patience=s["patience"]
            )
            callbacks.append(stopper)
            start = time.perf_counter()
            history = model.fit(
                x,
                y,
                validation_data=validation_data,
                callbacks=callbacks,
                **kwargs,
            )
            batch = kwargs.get("batch_size", 64)
            train_loss = float(
                model.evaluate(x, y, batch_size=batch, verbose=0)
            )
            sizes = _sizes_of(hp.get("architecture"))
            relus = relu_layers(sizes, s["relu_placement"])
            train_floor = self._floor(y)
            result = {
                "loss": float(history.history["loss"][-1]),
                "train_loss": train_loss,
                "train_floor": train_floor,
                "train_excess": train_loss - train_floor,
                "epochs_run": float(len(history.history["loss"])),
                "converged_epoch": float(
                    -1
                    if stopper.converged_epoch is None
                    else stopper.converged_epoch
                ),
                "converged_value": float(
                    "nan"
                    if stopper.converged_value is None
                    else stopper.converged_value
                ),
                "params": float(model.count_params()),
                "relu_layers": float(len(relus)),
                "relu_units": float(sum(relus)),
                "model_dimension": float(model_dimension(sizes)),
            }
            if validation_data is not None:
                xv, yv = validation_data[0], validation_data[1]
                val_loss = float(
                    model.evaluate(xv, yv, batch_size=batch, verbose=0)
                )
                val_floor = self._floor(yv)
                result.update(
                    val_loss=val_loss,
                    val_floor=val_floor,
                    val_excess=val_loss - val_floor,
                )
            result["seconds"] = time.perf_counter() - start
            return result

    class CapacityGridOracle(kt.Oracle):
        """Hands out the points of a fixed grid, in order, each once.

        Every new trial gets the first grid point that no trial (completed,
        failed or running) has yet. The oracle keeps no state beyond its
        trials, so a reloaded oracle resumes exactly. A trial that was
        running when the process died is retried by KerasTuner's own
        reload under its trial id.

        `keras_tuner.GridSearch` is not used because its oracle does not
        save its grid bookkeeping: a resumed `GridSearch` fails with a
        `KeyError` after the first trial of the new process
        (keras-team/keras-tuner#1055, KerasTuner 1.4.8).
        """

        def __init__(self, grid, **kwargs):
            super().__init__(**kwargs)
            self.grid = [dict(values) for values in grid]

        def populate_space(self, trial_id):
            tried = [t.hyperparameters.values for t in self.trials.values()]
            for values in self.grid:
                if values not in tried:
                    return {"status": "RUNNING", "values": dict(values)}
            return {"status": "STOPPED", "values": None}

    class CapacityTuner(kt.Tuner):
        """A KerasTuner `Tuner` on the grid oracle that logs its trials.

        The log, `<project>/trial_events.jsonl`, records which tuner ran
        which trial, when it started and when it ended, so a resumed or
        distributed sweep can be checked: a trial that completed never
        starts again.
        """

        def _event(self, event, trial):
            path = os.path.join(self.project_dir, "trial_events.jsonl")
            os.makedirs(self.project_dir, exist_ok=True)
            record = {
                "event": event,
                "trial_id": trial.trial_id,
                "tuner_id": self.tuner_id,
                "pid": os.getpid(),
                "time": time.time(),
                "values": dict(trial.hyperparameters.values),
            }
            with open(path, "a") as f:
                f.write(json.dumps(record) + "\n")

        def run_trial(self, trial, *args, **kwargs):
            self._event("start", trial)
            result = super().run_trial(trial, *args, **kwargs)
            self._event("end", trial)
            return result

    _CLASSES["hypermodel"] = CapacityHyperModel
    _CLASSES["oracle"] = CapacityGridOracle
    _CLASSES["tuner"] = CapacityTuner
    return CapacityHyperModel, CapacityGridOracle, CapacityTuner


def capacity_tuner(
    encoder_sizes,
    latent_dims,
    seeds=(0, 1, 2),
    directory="capacity_sweep",
    project_name="capacity",
    relu_placement="notes",
    optimizer="adam",
    learning_rate=1e-3,
    rel_tol=0.01,
    patience=5,
    overwrite=False,
):
    """Returns a KerasTuner grid search over autoencoder capacity.

    The grid is every architecture in `encoder_sizes` x every latent
    dimension x every seed, one trial per grid point, in that order: a
    `keras_tuner.Tuner` on a grid oracle (a `keras_tuner.Oracle` that hands
    out each point once; `keras_tuner.GridSearch` itself cannot resume, see
    keras-team/keras-tuner#1055). Each trial builds
    `keras_memnets.models.autoencoder(sizes, latent_dim, relu_placement=...)`
    with the seed, trains it with
    `keras_memnets.losses.SummedBinaryCrossentropy` and a
    `keras_memnets.callbacks.ConvergenceStopping(rel_tol, patience)` (up to
    the `epochs` given to `search`), and records the final epoch-average
    loss, the training (and validation) loss evaluated after training, the
    `bce_floor` of the data and the excess over it, the epoch of
    convergence, the parameter and ReLU counts and the note's
    `model_dimension`. The objective is the epoch-average training loss
    (`"loss"`, minimised).

    Resume: KerasTuner keeps its state in `directory/project_name`. Calling
    this again with the same arguments (and `overwrite=False`) and then
    `search` continues an interrupted sweep; completed trials are not run
    again, the trial that was running when the process died is run again
    from its start.

    Many machines: start the same script once with
    `KERASTUNER_TUNER_ID=chief` and once per worker with
    `KERASTUNER_TUNER_ID=tuner0`, `tuner1`, ..., all with
    `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` set to the chief's
    address; the chief hands out the grid points and workers train them
    (see the guide `docs/guides/overfit_capacity.rst`).

    Args:
        encoder_sizes: list of lists of ints. Architectures, input first.
        latent_dims: list of ints. Latent dimensions.
        seeds: list of ints. Seeds (each grid point is trained once per
            seed).
        directory: str. KerasTuner's directory.
        project_name: str. Sub-directory of this sweep.
        relu_placement: `"notes"` or `"symmetric"`.
        optimizer: str. A Keras optimizer name. Defaults to `"adam"`.
        learning_rate: float. Defaults to `1e-3`.
        rel_tol: float. `ConvergenceStopping` tolerance. Defaults to 0.01.
        patience: int. `ConvergenceStopping` patience. Defaults to 5.
        overwrite: bool. Start afresh instead of resuming.

    Returns:
        A `keras_tuner.Tuner`; call
        `tuner.search(x, x, epochs=..., batch_size=..., validation_data=
        (x_val, x_val), verbose=0)` and then `sweep_results(tuner)`.

    Example:

    >>> import tempfile
    >>> tuner = keras_memnets.analysis.capacity_tuner(
    ...     [[784, 32], [784, 32, 32]], [2, 4], seeds=[0, 1],
    ...     directory=tempfile.mkdtemp())
    >>> len(tuner.oracle.grid), tuner.oracle.grid[1]
    (8, {'architecture': '784-32', 'latent_dim': 2, 'seed': 1})

    Reference:
        The guide `docs/guides/overfit_capacity.rst`.
    """
    kt = _keras_tuner()
    hypermodel_cls, oracle_cls, tuner_cls = _classes()
    names = [
        architecture_name(_sizes(sizes, "encoder_sizes", "capacity_tuner"))
        for sizes in encoder_sizes
    ]
    if not names or not list(latent_dims) or not list(seeds):
        raise ValueError(
            "capacity_tuner: `encoder_sizes`, `latent_dims` and `seeds` must "
            "not be empty."
        )
    latent_dims = [
        positive_int(v, "latent_dims", "capacity_tuner") for v in latent_dims
    ]
    seeds = [non_negative_int(v, "seeds", "capacity_tuner") for v in seeds]
    one_of(relu_placement, "relu_placement", "capacity_tuner", PLACEMENTS)
    hp = kt.HyperParameters()
    hp.Choice("architecture", names)
    hp.Choice("latent_dim", latent_dims)
    hp.Choice("seed", seeds)
    grid = [
        {"architecture": name, "latent_dim": latent, "seed": seed}
        for name in names
        for latent in latent_dims
        for seed in seeds
    ]
    settings = {
        "relu_placement": relu_placement,
        "optimizer": optimizer,
        "learning_rate": float(learning_rate),
        "rel_tol": float(rel_tol),
        "patience": int(patience),
    }
    oracle = oracle_cls(
        grid,
        objective=kt.Objective("loss", direction="min"),
        max_trials=len(grid),
        hyperparameters=hp,
        tune_new_entries=False,
        allow_new_entries=False,
    )
    return tuner_cls(
        oracle=oracle,
        hypermodel=hypermodel_cls(settings),
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
    )


def sweep_results(tuner):
    """Returns one row per trial of a capacity sweep, in trial order.

    Args:
        tuner: the tuner from `capacity_tuner` (after `search`, or reloaded
            from its directory).

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
        for name in (
            "params",
            "relu_layers",
            "relu_units",
            "model_dimension",
            "epochs_run",
            "converged_epoch",
        ):
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
    if path.endswith(".jsonl"):
        with open(path, "w") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
    elif path.endswith(".csv"):
        keys = list(RESULT_KEYS)
        for row in rows:
            keys += [k for k in row if k not in keys]
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        k: ("" if row.get(k) is None else row.get(k))
                        for k in keys
                    }
                )
    else:
        raise ValueError(
            f"write_results: `path` must end in .jsonl or .csv; got {path!r}."
        )
    return path


def plot_sweep(rows, out_dir, prefix="capacity"):
    """Plots a sweep: loss and excess against latent dim per architecture.

    Writes two figures (matplotlib with the Agg backend):
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
    from keras_memnets.analysis.plotting import _pyplot
    from keras_memnets.analysis.seeds import mean_sd

    plt = _pyplot()
    os.makedirs(out_dir, exist_ok=True)
    rows = [r for r in rows if r.get("train_loss") is not None]
    archs = sorted({r["architecture"] for r in rows}, key=_sizes_of)
    paths = []
    for what in ("loss", "excess"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, arch in enumerate(archs):
            sub = [r for r in rows if r["architecture"] == arch]
            latents = sorted({r["latent_dim"] for r in sub})
            color = f"C{i % 10}"
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
                    vals = [
                        r[key]
                        for r in sub
                        if r["latent_dim"] == latent and r.get(key) is not None
                    ]
                    if vals:
                        stats.append((latent, *mean_sd(vals)))
                if not stats:
                    continue
                xs, ms, sds = (np.array(v) for v in zip(*stats))
                ax.errorbar(
                    xs,
                    ms,
                    yerr=sds,
                    fmt=style + "o",
                    color=color,
                    markersize=3,
                    capsize=2,
                    label=label if split == "train" else None,
                )
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
