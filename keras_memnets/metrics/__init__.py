"""Public metrics of keras_memnets."""

from keras_memnets.metrics.variant_wins import VariantWins
from keras_memnets.metrics.variant_wins import best_variant
from keras_memnets.metrics.variant_wins import class_winner_distribution

__all__ = ["VariantWins", "best_variant", "class_winner_distribution"]
