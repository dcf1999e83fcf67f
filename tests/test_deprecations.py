"""The old names of moved objects: importable for one release, with a
DeprecationWarning that names the new path, and the very same object."""

import importlib

import pytest

import keras_memnets
from keras_memnets._deprecations import MOVED

ALIASES = [
    (old, name, new)
    for old, names in MOVED.items()
    for name, new in names.items()
]


@pytest.mark.parametrize(
    "old,name,new", ALIASES, ids=[f"{o}.{n}" for o, n, _ in ALIASES]
)
def test_old_name_warns_and_is_the_new_object(old, name, new):
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=f"`{new}.{name}`"):
        alias = getattr(module, name)
    assert alias is getattr(importlib.import_module(new), name)
    # `from old import name` goes through the same path.
    with pytest.warns(DeprecationWarning, match=f"`{old}.{name}` is deprec"):
        exec(f"from {old} import {name} as imported", {})
    # The old package no longer lists the name.
    assert name not in module.__all__


def test_the_expected_names_moved():
    assert sorted(MOVED["keras_memnets.metrics"]) == [
        "best_variant",
        "class_winner_distribution",
        "high_frequency_energy",
        "kmeans_baseline",
        "memory_report",
        "selection_report",
        "slot_label_mutual_information",
    ]
    assert sorted(MOVED["keras_memnets.analysis"]) == [
        "architecture_name",
        "capacity_tuner",
        "plot_sweep",
        "sweep_results",
        "write_results",
    ]


def test_unknown_names_still_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        keras_memnets.metrics.nothing
