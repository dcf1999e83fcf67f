"""Every public keras_memnets object, as the shared harness exercises it.

Adding a public object to the library means adding one `Case` here; the
registry test (`tests/test_public_api.py`) fails for an exported object that
has no case and no entry in `NOT_KERAS_OBJECTS`.
"""

from tests.harness import Case  # noqa: F401

CASES = [
]

# Public callables that are not Keras objects (plain functions, constants):
# they have no config to round-trip and are tested in their own modules.
# Map each to the reason it is outside the harness.
NOT_KERAS_OBJECTS = {
}
