"""The version of keras_memnets."""

__version__ = "0.1.0.dev0"
