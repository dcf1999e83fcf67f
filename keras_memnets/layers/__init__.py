"""Public layers of keras_memnets."""

__all__ = []
