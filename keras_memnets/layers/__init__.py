"""Public layers of keras_memnets."""

from keras_memnets.layers.approximator import ApproximatorLayer
from keras_memnets.layers.memory import MemoryLayer
from keras_memnets.layers.memory_informed import MemoryInformedLayer
from keras_memnets.layers.pca import PCAReduction

__all__ = [
    "ApproximatorLayer",
    "MemoryInformedLayer",
    "MemoryLayer",
    "PCAReduction",
]
