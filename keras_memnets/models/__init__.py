"""Public models of keras_memnets."""

from keras_memnets.models.memory_decoder import memory_decoder

__all__ = ["memory_decoder"]
