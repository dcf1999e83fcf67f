"""Public model builders of keras_memnets."""

from keras_memnets.models.memory_decoder import memory_decoder
from keras_memnets.models.pretrain import pretrain_memory_decoder
from keras_memnets.models.set_min_autoencoder import set_min_autoencoder

__all__ = [
    "memory_decoder",
    "pretrain_memory_decoder",
    "set_min_autoencoder",
]
