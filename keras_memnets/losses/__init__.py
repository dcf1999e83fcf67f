"""Public losses of keras_memnets."""

from keras_memnets.losses.one_max import OneMaxLoss
from keras_memnets.losses.set_min import SetMinLoss

__all__ = ["OneMaxLoss", "SetMinLoss"]
