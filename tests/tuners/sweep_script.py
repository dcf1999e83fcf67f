"""A tiny capacity sweep, run as a subprocess by tests/tuners/test_capacity.py.

`python tests/tuners/sweep_script.py DIRECTORY [--sleep S]` runs (or
resumes) a 2 architectures x 2 latents x 1 seed grid on 64 random 16-pixel
"images". `--sleep` waits S seconds after every epoch so that a test can
kill the process in the middle of a trial. The KERASTUNER_* environment
variables make it a chief or a worker.
"""

import argparse
import time

import keras
import numpy as np

import keras_memnets

GRID = dict(encoder_sizes=[[16, 8], [16, 4, 4]], latent_dims=[2, 4], seeds=[0])


class Sleep(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(self.seconds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    x = np.random.default_rng(0).random((64, 16)).astype("float32")
    tuner = keras_memnets.tuners.capacity_tuner(
        directory=args.directory, project_name="sweep", **GRID
    )
    tuner.search(
        x,
        x,
        epochs=args.epochs,
        batch_size=32,
        verbose=0,
        callbacks=[Sleep(args.sleep)] if args.sleep else [],
    )


if __name__ == "__main__":
    main()
