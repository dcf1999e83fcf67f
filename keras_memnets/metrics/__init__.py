"""Public metrics of keras_memnets."""

__all__ = []
