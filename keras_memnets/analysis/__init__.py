"""Numpy-level analysis of models: weights, hidden layers, compression."""

from keras_memnets.analysis.compression import compress_dense
from keras_memnets.analysis.compression import hidden_correlations
from keras_memnets.analysis.compression import layer_outputs
from keras_memnets.analysis.compression import svd_compress_dense
from keras_memnets.analysis.history import load_weight_history
from keras_memnets.analysis.plotting import histogram_matrix
from keras_memnets.analysis.plotting import plot_curves
from keras_memnets.analysis.plotting import plot_layer_panels
from keras_memnets.analysis.plotting import plot_weight_density
from keras_memnets.analysis.plotting import plot_weight_trajectories
from keras_memnets.analysis.weights import array_statistics
from keras_memnets.analysis.weights import matrix_statistics
from keras_memnets.analysis.weights import power_law_alpha
from keras_memnets.analysis.weights import weight_statistics

__all__ = [
    "array_statistics",
    "compress_dense",
    "hidden_correlations",
    "histogram_matrix",
    "layer_outputs",
    "load_weight_history",
    "matrix_statistics",
    "plot_curves",
    "plot_layer_panels",
    "plot_weight_density",
    "plot_weight_trajectories",
    "power_law_alpha",
    "svd_compress_dense",
    "weight_statistics",
]
