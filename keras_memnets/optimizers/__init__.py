"""Public optimizers of keras_memnets."""

__all__ = []
