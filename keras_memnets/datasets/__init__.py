"""Datasets of keras_memnets: MNIST with an offline bundled sample."""

from keras_memnets.datasets.mnist import BUNDLED_SHA256
from keras_memnets.datasets.mnist import load_mnist
from keras_memnets.datasets.mnist import resolve_mnist_source

__all__ = ["BUNDLED_SHA256", "load_mnist", "resolve_mnist_source"]
