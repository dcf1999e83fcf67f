"""Public regularizers of keras_memnets."""

__all__ = []
