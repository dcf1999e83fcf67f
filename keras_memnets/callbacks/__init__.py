"""Public callbacks of keras_memnets."""

from keras_memnets.callbacks.log_std_schedule import LogStdSchedule

__all__ = ["LogStdSchedule"]
