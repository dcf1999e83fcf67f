"""Public callbacks of keras_memnets."""

__all__ = []
