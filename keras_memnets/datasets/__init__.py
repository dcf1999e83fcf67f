"""Datasets of keras_memnets: MNIST with an offline bundled sample."""

from keras_memnets.datasets.mnist import BUNDLED_SHA256
from keras_memnets.datasets.mnist import load_mnist
from keras_memnets.datasets.mnist import resolve_mnist_source
from keras_memnets.datasets.piecewise import piecewise_steps

__all__ = [
    "BUNDLED_SHA256",
    "load_mnist",
    "piecewise_steps",
    "resolve_mnist_source",
]
