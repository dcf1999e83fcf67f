"""Every `>>>` example in the public docstrings runs, on every backend.

The examples are collected from the public objects of each subpackage (and
their public methods) and run with `numpy as np`, `keras` and
`keras_memnets` in scope, so an example that drifts from the code fails here.
"""

import doctest
import inspect

import keras
import numpy as np
import pytest

import keras_memnets

SUBPACKAGES = (
    "analysis",
    "callbacks",
    "datasets",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "tuners",
)


def _docstring_tests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    seen = set()
    for sub in SUBPACKAGES:
        module = getattr(keras_memnets, sub, None)
        if module is None:
            continue
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if id(obj) in seen or not (
                inspect.isclass(obj) or inspect.isfunction(obj)
            ):
                continue
            seen.add(id(obj))
            # The finder visits the object and its methods defined in the
            # same module, so examples inherited from Keras are not run.
            for test in finder.find(obj, f"keras_memnets.{sub}.{name}"):
                if test.examples:
                    yield test


TESTS = list(_docstring_tests())


def test_docstring_examples_were_found():
    # A guard against the collection silently finding nothing.
    assert len(TESTS) >= 10


@pytest.mark.parametrize("test", TESTS, ids=[t.name for t in TESTS])
def test_docstring_example(test):
    test.globs = {"np": np, "keras": keras, "keras_memnets": keras_memnets}
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    keras.utils.set_random_seed(0)
    report = []
    result = runner.run(test, out=report.append)
    if result.failed:
        pytest.fail("".join(report), pytrace=False)
