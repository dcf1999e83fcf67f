"""Public callbacks of keras_memnets."""

from keras_memnets.callbacks.convergence_stopping import ConvergenceStopping
from keras_memnets.callbacks.log_std_schedule import LogStdSchedule
from keras_memnets.callbacks.restart_dead_slots import RestartDeadSlots
from keras_memnets.callbacks.selection_monitor import SelectionMonitor
from keras_memnets.callbacks.weight_history import WeightHistory

__all__ = [
    "ConvergenceStopping",
    "LogStdSchedule",
    "RestartDeadSlots",
    "SelectionMonitor",
    "WeightHistory",
]
