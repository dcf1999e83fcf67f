"""Public models of keras_memnets."""

from keras_memnets.models.set_min_autoencoder import set_min_autoencoder

__all__ = ["set_min_autoencoder"]
