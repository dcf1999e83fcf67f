"""Argument checks that the library's optimizers share (private)."""

import math

import keras

from keras_memnets.utils.validation import number_in_range

# Base-optimizer arguments that must be finite numbers >= 0 when given.
_NON_NEGATIVE = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm")


def finite_non_negative(value, argument, owner):
    """`value` if it is a finite number >= 0, else raises (names `owner`)."""
    return number_in_range(
        value, argument, owner, 0.0, math.inf, high_inclusive=False
    )


def check_base_arguments(owner, learning_rate, kwargs):
    """Checks the arguments every Keras optimizer takes.

    Returns `(learning_rate, kwargs)`: a float learning rate checked to be
    finite and >= 0 (a schedule or a callable is passed through), and the
    base keyword arguments (`weight_decay`, `clipnorm`, `clipvalue`,
    `global_clipnorm`) checked likewise where given.
    """
    if not isinstance(
        learning_rate, keras.optimizers.schedules.LearningRateSchedule
    ) and not callable(learning_rate):
        learning_rate = finite_non_negative(
            learning_rate, "learning_rate", owner
        )
    kwargs = dict(kwargs)
    for argument in _NON_NEGATIVE:
        if kwargs.get(argument) is not None:
            kwargs[argument] = finite_non_negative(
                kwargs[argument], argument, owner
            )
    return learning_rate, kwargs
