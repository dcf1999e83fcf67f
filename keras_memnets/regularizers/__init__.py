"""Public regularizers of keras_memnets."""

from keras_memnets.regularizers.load_balance import LoadBalance
from keras_memnets.regularizers.one_max import OneMax

__all__ = ["LoadBalance", "OneMax"]
