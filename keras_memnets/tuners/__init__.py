"""Experiment runners on KerasTuner: capacity sweeps of autoencoders.

KerasTuner is optional (`pip install "keras-memnets[capacity]"`); it is
imported only when a sweep is created.
"""

from keras_memnets.tuners.capacity import capacity_tuner
from keras_memnets.tuners.results import architecture_name
from keras_memnets.tuners.results import plot_sweep
from keras_memnets.tuners.results import sweep_results
from keras_memnets.tuners.results import write_results

__all__ = [
    "architecture_name",
    "capacity_tuner",
    "plot_sweep",
    "sweep_results",
    "write_results",
]
