"""Public layers of keras_memnets."""

from keras_memnets.layers.correlation_norm import CorrelationNorm
from keras_memnets.layers.variant_heads import VariantHeads

__all__ = ["CorrelationNorm", "VariantHeads"]
