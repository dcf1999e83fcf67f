"""Public metrics of keras_memnets."""

from keras_memnets.metrics.utilisation import DeadSlots
from keras_memnets.metrics.utilisation import MeanMaxSelection
from keras_memnets.metrics.utilisation import SelectionPerplexity
from keras_memnets.metrics.utilisation import SlotsForMass
from keras_memnets.metrics.utilisation import slot_label_mutual_information

__all__ = [
    "DeadSlots",
    "MeanMaxSelection",
    "SelectionPerplexity",
    "SlotsForMass",
    "slot_label_mutual_information",
]
