"""The KerasTuner classes of a capacity sweep: a hypermodel that trains one
autoencoder per trial, a grid oracle that can resume, and a tuner that logs
its trials.

This module imports KerasTuner; `keras_memnets.tuners.capacity_tuner`
imports it only when a sweep is created.
"""

import json
import os
import time

import keras
import keras_tuner

from keras_memnets.analysis.capacity import bce_floor
from keras_memnets.analysis.capacity import model_dimension
from keras_memnets.analysis.capacity import relu_layers
from keras_memnets.callbacks.convergence_stopping import ConvergenceStopping
from keras_memnets.losses.summed_bce import SummedBinaryCrossentropy
from keras_memnets.models.autoencoder import autoencoder
from keras_memnets.tuners.results import architecture_sizes


class CapacityHyperModel(keras_tuner.HyperModel):
    """Builds and trains one autoencoder of the grid per trial.

    A trial's hyperparameters are `architecture` (an `architecture_name`),
    `latent_dim` and `seed`; `fit` trains with `ConvergenceStopping` and
    returns the measured losses, floors and counts as the trial's metrics.

    Args:
        relu_placement: str. As for `keras_memnets.models.autoencoder`.
        optimizer: str. A Keras optimizer name.
        learning_rate: float.
        rel_tol: float. `ConvergenceStopping` tolerance.
        patience: int. `ConvergenceStopping` patience.
    """

    def __init__(
        self, relu_placement, optimizer, learning_rate, rel_tol, patience
    ):
        super().__init__(name="capacity_autoencoder")
        self.relu_placement = relu_placement
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.rel_tol = rel_tol
        self.patience = patience
        self._floors = {}

    def build(self, hp):
        keras.utils.set_random_seed(int(hp.get("seed")))
        model = autoencoder(
            architecture_sizes(hp.get("architecture")),
            int(hp.get("latent_dim")),
            relu_placement=self.relu_placement,
        )
        optimizer = keras.optimizers.get(
            {
                "class_name": self.optimizer,
                "config": {"learning_rate": self.learning_rate},
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
        y = x if y is None else y
        callbacks = list(kwargs.pop("callbacks", None) or [])
        stopper = ConvergenceStopping(
            monitor="loss", rel_tol=self.rel_tol, patience=self.patience
        )
        callbacks.append(stopper)
        start = time.perf_counter()
        history = model.fit(
            x, y, validation_data=validation_data, callbacks=callbacks, **kwargs
        )
        batch_size = kwargs.get("batch_size", 64)
        train_loss = float(
            model.evaluate(x, y, batch_size=batch_size, verbose=0)
        )
        sizes = architecture_sizes(hp.get("architecture"))
        relus = relu_layers(sizes, self.relu_placement)
        train_floor = self._floor(y)
        converged_epoch = stopper.converged_epoch
        converged_value = stopper.converged_value
        result = {
            "loss": float(history.history["loss"][-1]),
            "train_loss": train_loss,
            "train_floor": train_floor,
            "train_excess": train_loss - train_floor,
            "epochs_run": float(len(history.history["loss"])),
            "converged_epoch": float(
                -1 if converged_epoch is None else converged_epoch
            ),
            "params": float(model.count_params()),
            "relu_layers": float(len(relus)),
            "relu_units": float(sum(relus)),
            "model_dimension": float(model_dimension(sizes)),
        }
        # A trial that did not converge reports no `converged_value`
        # (`sweep_results` gives `None`): KerasTuner tracks every metric
        # it is given, and warns about one that is NaN in every trial.
        if converged_value is not None:
            result["converged_value"] = float(converged_value)
        if validation_data is not None:
            x_val, y_val = validation_data[0], validation_data[1]
            val_loss = float(
                model.evaluate(x_val, y_val, batch_size=batch_size, verbose=0)
            )
            val_floor = self._floor(y_val)
            result.update(
                val_loss=val_loss,
                val_floor=val_floor,
                val_excess=val_loss - val_floor,
            )
        result["seconds"] = time.perf_counter() - start
        return result


class GridOracle(keras_tuner.Oracle):
    """Hands out the points of a fixed grid, in order, each once.

    Every new trial gets the first grid point that no trial (completed,
    failed or running) has yet. The oracle keeps no state beyond its
    trials, so a reloaded oracle resumes exactly; a trial that was running
    when the process died is retried by KerasTuner's own reload under its
    trial id. (`keras_tuner.GridSearch` does not save its grid bookkeeping,
    so a resumed `GridSearch` fails after the first trial of the new
    process: keras-team/keras-tuner#1055.)

    Args:
        grid: list of dicts, each the hyperparameter values of one trial.
        **kwargs: passed to `keras_tuner.Oracle`.
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


class EventLoggingTuner(keras_tuner.Tuner):
    """A KerasTuner `Tuner` that logs when each trial starts and ends.

    The log, `<project>/trial_events.jsonl`, records which tuner ran which
    trial, when it started and when it ended, so a resumed or distributed
    sweep can be checked: a trial that completed never starts again.
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
