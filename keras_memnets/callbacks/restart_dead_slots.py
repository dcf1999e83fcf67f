"""RestartDeadSlots: revive unused memory slots, as VQ codebooks do."""

import keras
import numpy as np

from keras_memnets.api_export import register
from keras_memnets.layers.memory import MemoryLayer
from keras_memnets.utils.models import get_layer
from keras_memnets.utils.models import input_model
from keras_memnets.utils.models import layer_selection
from keras_memnets.utils.slots import dead_threshold
from keras_memnets.utils.validation import int_in_range
from keras_memnets.utils.validation import non_negative_int
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int
from keras_memnets.utils.validation import string


@register
class RestartDeadSlots(keras.callbacks.Callback):
    """Restarts the dead slots of a `MemoryLayer` from data samples.

    Vector-quantisation codebooks restart unused codes from data samples
    (e.g. Jukebox, SoundStream); a memory whose slots go unused can do the
    same. Every `frequency` epochs this callback computes the selection on
    (up to `num_samples` rows of) the data given to `set_data`, and finds
    the slots that are the argmax of less than a `threshold` share of the
    samples. Each dead slot then takes over half of the busiest slot, like
    splitting the largest cluster in k-means:

    - its memory row is written from the target of a random sample that the
      busiest slot currently wins;
    - its selector logit (kernel column and bias of the selection
      approximator's last `Dense`) becomes a copy of the busiest slot's, both
      lowered by `log 2` so that the pair shares the busiest slot's
      probability, and then the two are pulled apart along the direction
      from the mean hidden activation of the busiest slot's samples to that
      of the chosen sample: the chosen sample prefers the restarted slot by a
      logit margin of `split`, and the busiest slot's samples divide about
      evenly, those resembling the chosen sample going to the new slot.

    The surgery itself is `keras_memnets.layers.MemoryLayer.reset_slots`,
    which can also be called directly.

    It does nothing unless added to `fit(callbacks=[...])`.

    Args:
        layer_name: str. Name of the `MemoryLayer` in the model
            (`keras_memnets.models.memory_decoder` names it
            `"memory_layer"`).
        threshold: optional float. Argmax share below which a slot is dead;
            `None` uses `0.1 / memory_size`, as
            `keras_memnets.metrics.DeadSlots`.
        frequency: int. Check every this many epochs.
        num_samples: int. Rows of the data used per check.
        split: float. Logit margin by which the chosen sample prefers the
            restarted slot over the busiest one (0 makes the two logits
            equal).
        epsilon: float. Clipping margin of the memory activation's inverse.
        seed: optional int. Seed of the sample choice and the noise.
        verbose: int. 1 prints each restart.

    Example:

    >>> model = keras_memnets.models.memory_decoder(6, 784, hidden_units=32)
    >>> restart = keras_memnets.callbacks.RestartDeadSlots().set_data(
    ...     np.random.rand(256, 6), np.random.rand(256, 784))
    >>> model.compile("adam", loss={"memory": "mse", "informed": "mse"})
    >>> _ = model.fit(np.random.rand(256, 6),
    ...     {"memory": np.random.rand(256, 784),
    ...      "informed": np.random.rand(256, 784)},
    ...     epochs=1, verbose=0, callbacks=[restart])

    Reference:
        Dhariwal et al., "Jukebox: A Generative Model for Music", 2020
        (codebook restarts); Zeghidour et al., "SoundStream", 2021.
    """

    def __init__(
        self,
        layer_name="memory_layer",
        threshold=None,
        frequency=1,
        num_samples=2048,
        split=1.0,
        epsilon=1e-3,
        seed=None,
        verbose=0,
    ):
        super().__init__()
        name = type(self).__name__
        frequency = positive_int(frequency, "frequency", name)
        num_samples = positive_int(num_samples, "num_samples", name)
        if threshold is not None:
            threshold = number_in_range(threshold, "threshold", name, 0.0, 1.0)
        split = number_in_range(split, "split", name, low=0.0, finite=True)
        epsilon = number_in_range(
            epsilon, "epsilon", name, low=0.0, low_inclusive=False, finite=True
        )
        if seed is not None:
            seed = non_negative_int(seed, "seed", name)
        self.layer_name = string(layer_name, "layer_name", name)
        self.threshold = threshold
        self.frequency = frequency
        self.num_samples = num_samples
        self.split = float(split)
        self.epsilon = float(epsilon)
        self.seed = seed
        self.verbose = int_in_range(verbose, "verbose", name, low=0)
        self._x = None
        self._targets = None
        self._rng = np.random.default_rng(seed)
        self._features = None
        self.restarts = []

    def set_data(self, x, targets):
        """Gives the data to compute selections on and write slots from.

        Args:
            x: array `(n, ...)`: model inputs.
            targets: array `(n, *units)`: the memory output's targets.

        Returns:
            The callback itself, so that the call can be chained.
        """
        x = np.asarray(x)
        targets = np.asarray(targets)
        if len(x) != len(targets) or len(x) == 0:
            raise ValueError(
                "RestartDeadSlots.set_data: `x` and `targets` must have the "
                f"same, non-zero number of rows, got {len(x)} and "
                f"{len(targets)}."
            )
        self._x, self._targets = x, targets
        return self

    def _memory_layer(self):
        return get_layer(
            self.model, self.layer_name, MemoryLayer, "RestartDeadSlots"
        )

    def on_train_begin(self, logs=None):
        if self._x is None:
            raise ValueError(
                "RestartDeadSlots: no data; call "
                "`callback.set_data(x, targets)` "
                "before `fit`."
            )
        self._features = input_model(self.model, self._memory_layer().input)

    def restart(self, epoch=None):
        """Checks the slots once and restarts the dead ones.

        Computes the selection on up to `num_samples` rows of the data, and
        passes the dead slots to `MemoryLayer.reset_slots`.

        Args:
            epoch: optional int, recorded with each restart.

        Returns:
            The list of slot indices that were restarted.
        """
        layer = self._memory_layer()
        n = len(self._x)
        rows = self._rng.choice(n, size=min(n, self.num_samples), replace=False)
        x = self._x[rows]
        if self._features is not None:
            x = self._features.predict(x, verbose=0)
        winners = layer_selection(layer, x, 512).argmax(axis=-1)
        counts = np.bincount(winners, minlength=layer.memory_size)
        threshold = dead_threshold(layer.memory_size, self.threshold)
        dead = np.flatnonzero(counts / counts.sum() < threshold)
        if len(dead) == 0:
            return []
        records = layer.reset_slots(
            dead,
            x,
            targets=self._targets[rows],
            split=self.split,
            epsilon=self.epsilon,
            seed=self._rng,
        )
        for record in records:
            sample = int(rows[record["row"]])
            self.restarts.append(
                {"epoch": epoch, "slot": record["slot"], "from": record["from"]}
            )
            if self.verbose:
                print(
                    f"RestartDeadSlots: epoch {epoch}: slot {record['slot']} "
                    f"restarted from slot {record['from']} and sample {sample}."
                )
        return [record["slot"] for record in records]

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.frequency == 0:
            self.restart(epoch)

    def get_config(self):
        return {
            "layer_name": self.layer_name,
            "threshold": self.threshold,
            "frequency": self.frequency,
            "num_samples": self.num_samples,
            "split": self.split,
            "epsilon": self.epsilon,
            "seed": self.seed,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
