"""Public metrics of keras_memnets: Keras metrics of a memory's selection
and of K variant predictions."""

from keras_memnets.metrics.utilisation import DeadSlots
from keras_memnets.metrics.utilisation import MeanMaxSelection
from keras_memnets.metrics.utilisation import SelectionPerplexity
from keras_memnets.metrics.utilisation import SlotsForMass
from keras_memnets.metrics.variant_wins import VariantWins

__all__ = [
    "DeadSlots",
    "MeanMaxSelection",
    "SelectionPerplexity",
    "SlotsForMass",
    "VariantWins",
]
