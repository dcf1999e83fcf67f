"""Public losses of keras_memnets."""

from keras_memnets.losses.set_min import SetMinLoss

__all__ = ["SetMinLoss"]
