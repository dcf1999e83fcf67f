"""Every public keras_memnets object, as the shared harness exercises it.

Adding a public object to the library means adding one `Case` here; the
registry test (`tests/test_public_api.py`) fails for an exported object that
has no case and no entry in `NOT_KERAS_OBJECTS`.
"""

import keras_memnets
from tests.harness import Case  # noqa: F401

CASES = [
    Case(
        keras_memnets.layers.CorrelationNorm,
        "layer",
        {"block_size": 4, "seed": 1},
        input_shape=(6,),
        id="dense",
    ),
    Case(
        keras_memnets.layers.CorrelationNorm,
        "layer",
        {
            "block_size": None,
            "num_pair_offsets": None,
            "hurdle_momentum": 0.9,
            "seed": 1,
        },
        input_shape=(5, 5, 3),
        id="conv2d",
    ),
]

# Public callables that are not Keras objects (plain functions, constants):
# they have no config to round-trip and are tested in their own modules.
# Map each to the reason it is outside the harness.
NOT_KERAS_OBJECTS = {
}
