"""Numpy-level analysis: weight statistics, hidden-layer compression,
autoencoder capacity sweeps, CorrelationNorm's feature statistics and
verdicts over seeds."""

from keras_memnets.analysis.capacity import bce_floor
from keras_memnets.analysis.capacity import model_dimension
from keras_memnets.analysis.capacity import model_dimension_search
from keras_memnets.analysis.capacity import relu_layers
from keras_memnets.analysis.compression import compress_dense
from keras_memnets.analysis.compression import hidden_correlations
from keras_memnets.analysis.compression import layer_outputs
from keras_memnets.analysis.compression import svd_compress_dense
from keras_memnets.analysis.correlation import bimodality_coefficient
from keras_memnets.analysis.correlation import block_abs_correlation
from keras_memnets.analysis.correlation import pair_cosines
from keras_memnets.analysis.history import load_weight_history
from keras_memnets.analysis.plotting import histogram_matrix
from keras_memnets.analysis.plotting import plot_curves
from keras_memnets.analysis.plotting import plot_layer_panels
from keras_memnets.analysis.plotting import plot_weight_density
from keras_memnets.analysis.plotting import plot_weight_trajectories
from keras_memnets.analysis.seeds import Verdict
from keras_memnets.analysis.seeds import format_mean_sd
from keras_memnets.analysis.seeds import mean_sd
from keras_memnets.analysis.seeds import seed_verdict
from keras_memnets.analysis.seeds import threshold_text
from keras_memnets.analysis.sweeps import architecture_name
from keras_memnets.analysis.sweeps import capacity_tuner
from keras_memnets.analysis.sweeps import plot_sweep
from keras_memnets.analysis.sweeps import sweep_results
from keras_memnets.analysis.sweeps import write_results
from keras_memnets.analysis.weights import array_statistics
from keras_memnets.analysis.weights import matrix_statistics
from keras_memnets.analysis.weights import power_law_alpha
from keras_memnets.analysis.weights import weight_statistics

__all__ = [
    "Verdict",
    "architecture_name",
    "array_statistics",
    "bce_floor",
    "bimodality_coefficient",
    "block_abs_correlation",
    "capacity_tuner",
    "compress_dense",
    "format_mean_sd",
    "hidden_correlations",
    "histogram_matrix",
    "layer_outputs",
    "load_weight_history",
    "matrix_statistics",
    "mean_sd",
    "model_dimension",
    "model_dimension_search",
    "pair_cosines",
    "plot_curves",
    "plot_layer_panels",
    "plot_sweep",
    "plot_weight_density",
    "plot_weight_trajectories",
    "power_law_alpha",
    "relu_layers",
    "seed_verdict",
    "svd_compress_dense",
    "sweep_results",
    "threshold_text",
    "weight_statistics",
    "write_results",
]
