"""Public callbacks of keras_memnets."""

from keras_memnets.callbacks.log_std_schedule import LogStdSchedule
from keras_memnets.callbacks.restart_dead_slots import RestartDeadSlots
from keras_memnets.callbacks.selection_monitor import SelectionMonitor

__all__ = ["LogStdSchedule", "RestartDeadSlots", "SelectionMonitor"]
