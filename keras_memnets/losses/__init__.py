"""Public losses of keras_memnets."""

__all__ = []
