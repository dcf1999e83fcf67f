"""Public optimizers of keras_memnets."""

from keras_memnets.optimizers.lazy_adam import LazyAdam
from keras_memnets.optimizers.sign_sgd import SignSGD
from keras_memnets.optimizers.skip_non_finite import SkipNonFiniteOptimizer

__all__ = ["LazyAdam", "SignSGD", "SkipNonFiniteOptimizer"]
