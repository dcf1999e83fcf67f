"""Public callbacks of keras_memnets."""

from keras_memnets.callbacks.restart_dead_slots import RestartDeadSlots

__all__ = ["RestartDeadSlots"]
