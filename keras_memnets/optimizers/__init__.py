"""Public optimizers of keras_memnets."""

from keras_memnets.optimizers.lazy_adam import LazyAdam
from keras_memnets.optimizers.sign_sgd import SignSGD

__all__ = ["LazyAdam", "SignSGD"]
