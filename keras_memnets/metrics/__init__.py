"""Public metrics of keras_memnets."""

from keras_memnets.metrics.memory_report import high_frequency_energy
from keras_memnets.metrics.memory_report import kmeans_baseline
from keras_memnets.metrics.memory_report import memory_report
from keras_memnets.metrics.report import selection_report
from keras_memnets.metrics.utilisation import DeadSlots
from keras_memnets.metrics.utilisation import MeanMaxSelection
from keras_memnets.metrics.utilisation import SelectionPerplexity
from keras_memnets.metrics.utilisation import SlotsForMass
from keras_memnets.metrics.utilisation import slot_label_mutual_information
from keras_memnets.metrics.variant_wins import VariantWins
from keras_memnets.metrics.variant_wins import best_variant
from keras_memnets.metrics.variant_wins import class_winner_distribution

__all__ = [
    "DeadSlots",
    "MeanMaxSelection",
    "SelectionPerplexity",
    "SlotsForMass",
    "VariantWins",
    "best_variant",
    "class_winner_distribution",
    "high_frequency_energy",
    "kmeans_baseline",
    "memory_report",
    "selection_report",
    "slot_label_mutual_information",
]
