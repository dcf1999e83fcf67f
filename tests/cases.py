"""Every public keras_memnets object, as the shared harness exercises it.

Adding a public object to the library means adding one `Case` here; the
registry test (`tests/test_public_api.py`) fails for an exported object that
has no case and no entry in `NOT_KERAS_OBJECTS`.
"""

from keras_memnets.optimizers import SignSGD
from tests.harness import Case  # noqa: F401

CASES = [
    Case(SignSGD, "optimizer", dict(learning_rate=0.01), id="sign"),
    Case(
        SignSGD,
        "optimizer",
        dict(learning_rate=0.01, momentum=0.9, nesterov=True, weight_decay=0.01),
        id="signum_nesterov",
    ),
    Case(
        SignSGD,
        "optimizer",
        dict(learning_rate=0.01, error_feedback=True, clipnorm=1.0),
        id="error_feedback",
    ),
    Case(
        SignSGD,
        "optimizer",
        dict(learning_rate=0.01, majority_vote=True),
        id="majority_vote",
    ),
]

# Public callables that are not Keras objects (plain functions, constants):
# they have no config to round-trip and are tested in their own modules.
# Map each to the reason it is outside the harness.
NOT_KERAS_OBJECTS = {
}
