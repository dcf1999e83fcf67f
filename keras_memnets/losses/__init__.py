"""Public losses of keras_memnets."""

from keras_memnets.losses.one_max import OneMaxLoss
from keras_memnets.losses.set_min import SetMinLoss
from keras_memnets.losses.summed_bce import SummedBinaryCrossentropy

__all__ = ["OneMaxLoss", "SetMinLoss", "SummedBinaryCrossentropy"]
