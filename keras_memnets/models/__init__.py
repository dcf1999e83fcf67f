"""Public models of keras_memnets."""

__all__ = []
