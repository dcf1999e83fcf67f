"""Analysis tools of keras_memnets (numpy functions and sweeps)."""

from keras_memnets.analysis.capacity import bce_floor
from keras_memnets.analysis.capacity import model_dimension
from keras_memnets.analysis.capacity import model_dimension_search
from keras_memnets.analysis.capacity import relu_layers
from keras_memnets.analysis.sweeps import architecture_name
from keras_memnets.analysis.sweeps import capacity_tuner
from keras_memnets.analysis.sweeps import plot_sweep
from keras_memnets.analysis.sweeps import sweep_results
from keras_memnets.analysis.sweeps import write_results

__all__ = [
    "architecture_name",
    "bce_floor",
    "capacity_tuner",
    "model_dimension",
    "model_dimension_search",
    "plot_sweep",
    "relu_layers",
    "sweep_results",
    "write_results",
]
