"""Public layers of keras_memnets."""

from keras_memnets.layers.correlation_norm import CorrelationNorm

__all__ = ["CorrelationNorm"]
