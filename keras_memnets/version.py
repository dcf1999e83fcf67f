"""The version of keras_memnets."""

__version__ = "0.2.0"
