"""Public layers of keras_memnets."""

from keras_memnets.layers.approximator import ApproximatorLayer
from keras_memnets.layers.correlation_norm import CorrelationNorm
from keras_memnets.layers.memory import MemoryLayer
from keras_memnets.layers.memory_informed import MemoryInformedLayer
from keras_memnets.layers.pca import PCAReduction
from keras_memnets.layers.product_key_memory import ProductKeyMemory
from keras_memnets.layers.set_min_selection import SetMinSelection
from keras_memnets.layers.variant_heads import VariantHeads

__all__ = [
    "ApproximatorLayer",
    "CorrelationNorm",
    "MemoryInformedLayer",
    "MemoryLayer",
    "PCAReduction",
    "ProductKeyMemory",
    "SetMinSelection",
    "VariantHeads",
]
