"""Every public object is registered and covered by the shared harness."""

import inspect

import keras
import pytest

import keras_memnets
from tests.cases import CASES
from tests.cases import NOT_KERAS_OBJECTS

SUBPACKAGES = (
    "callbacks",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
)


def public_objects():
    for sub in SUBPACKAGES:
        module = getattr(keras_memnets, sub)
        for name in module.__all__:
            yield f"keras_memnets.{sub}.{name}", getattr(module, name)


def test_version():
    assert isinstance(keras_memnets.__version__, str)
    assert keras_memnets.__version__[0].isdigit()


def test_all_lists_match_module_contents():
    for sub in SUBPACKAGES:
        module = getattr(keras_memnets, sub)
        for name in module.__all__:
            assert hasattr(module, name), (
                f"keras_memnets.{sub}.{name} is missing"
            )


@pytest.mark.parametrize(
    "path,obj", list(public_objects()), ids=[p for p, _ in public_objects()]
)
def test_public_object_is_covered_and_registered(path, obj):
    covered = {case.obj for case in CASES}
    if obj in NOT_KERAS_OBJECTS:
        assert NOT_KERAS_OBJECTS[obj], (
            f"{path} needs a reason to skip the harness"
        )
        return
    assert obj in covered, (
        f"{path} is public but has no Case in tests/cases.py: add one line "
        "there so the shared harness checks it."
    )
    registered = keras.saving.get_registered_name(obj)
    if inspect.isclass(obj):
        assert registered == f"keras_memnets>{obj.__name__}"
        assert obj.__doc__ and "Example" in obj.__doc__, (
            f"{path} lacks an Example"
        )
    else:
        # Builder functions return a Functional model; only serializable
        # objects are registered.
        assert registered == obj.__name__, f"{path} should not be registered"


def test_every_case_is_public():
    public = {obj for _, obj in public_objects()}
    for case in CASES:
        assert case.obj in public, f"{case.name} is in CASES but not exported"
