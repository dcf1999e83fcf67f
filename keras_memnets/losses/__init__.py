"""Public losses of keras_memnets."""

from keras_memnets.losses.one_max import OneMaxLoss

__all__ = ["OneMaxLoss"]
