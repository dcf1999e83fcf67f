"""Public model builders of keras_memnets."""

from keras_memnets.models.autoencoder import autoencoder
from keras_memnets.models.memory_decoder import memory_decoder
from keras_memnets.models.pretrain import pretrain_memory_decoder
from keras_memnets.models.relu_mlp import relu_mlp
from keras_memnets.models.row_sparse_model import RowSparseModel
from keras_memnets.models.set_min_autoencoder import set_min_autoencoder

__all__ = [
    "RowSparseModel",
    "autoencoder",
    "memory_decoder",
    "pretrain_memory_decoder",
    "relu_mlp",
    "set_min_autoencoder",
]
