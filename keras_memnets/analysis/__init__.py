"""Numpy-level analysis: weight statistics, hidden-layer compression,
autoencoder capacity, a memory's slot use, variant winners, feature
statistics and verdicts over seeds."""

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
from keras_memnets.analysis.images import high_frequency_energy
from keras_memnets.analysis.memory_decoder import kmeans_baseline
from keras_memnets.analysis.memory_decoder import memory_report
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
from keras_memnets.analysis.selection import selection_report
from keras_memnets.analysis.selection import slot_label_mutual_information
from keras_memnets.analysis.variants import best_variant
from keras_memnets.analysis.variants import class_winner_distribution
from keras_memnets.analysis.weights import array_statistics
from keras_memnets.analysis.weights import matrix_statistics
from keras_memnets.analysis.weights import power_law_alpha
from keras_memnets.analysis.weights import selected_variables
from keras_memnets.analysis.weights import variable_statistics
from keras_memnets.analysis.weights import weight_statistics

__all__ = [
    "Verdict",
    "array_statistics",
    "bce_floor",
    "best_variant",
    "bimodality_coefficient",
    "block_abs_correlation",
    "class_winner_distribution",
    "compress_dense",
    "format_mean_sd",
    "hidden_correlations",
    "high_frequency_energy",
    "histogram_matrix",
    "kmeans_baseline",
    "layer_outputs",
    "load_weight_history",
    "matrix_statistics",
    "mean_sd",
    "memory_report",
    "model_dimension",
    "model_dimension_search",
    "pair_cosines",
    "plot_curves",
    "plot_layer_panels",
    "plot_weight_density",
    "plot_weight_trajectories",
    "power_law_alpha",
    "relu_layers",
    "seed_verdict",
    "selected_variables",
    "selection_report",
    "slot_label_mutual_information",
    "svd_compress_dense",
    "threshold_text",
    "variable_statistics",
    "weight_statistics",
]
