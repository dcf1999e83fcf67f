"""Names that moved, importable from their old place for one release.

Each old name resolves, with a `DeprecationWarning` naming the new path, to
the very object at the new path. The aliases are wired here, from the top of
the package, because the new homes sit above the old ones (a lower package
must not import a higher one).
"""

import importlib
import warnings

# Old package -> {name: new package}. Remove after the next release.
MOVED = {
    "keras_memnets.metrics": {
        "best_variant": "keras_memnets.analysis",
        "class_winner_distribution": "keras_memnets.analysis",
        "high_frequency_energy": "keras_memnets.analysis",
        "kmeans_baseline": "keras_memnets.analysis",
        "memory_report": "keras_memnets.analysis",
        "selection_report": "keras_memnets.analysis",
        "slot_label_mutual_information": "keras_memnets.analysis",
    },
    "keras_memnets.analysis": {
        "architecture_name": "keras_memnets.tuners",
        "capacity_tuner": "keras_memnets.tuners",
        "plot_sweep": "keras_memnets.tuners",
        "sweep_results": "keras_memnets.tuners",
        "write_results": "keras_memnets.tuners",
    },
}


def _module_getattr(old, moved):
    def __getattr__(name):
        if name not in moved:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        new = moved[name]
        warnings.warn(
            f"`{old}.{name}` is deprecated and will be removed in the next "
            f"release; use `{new}.{name}` (the same object).",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new), name)

    return __getattr__


def install():
    """Gives each old package a module `__getattr__` for its moved names."""
    for old, moved in MOVED.items():
        importlib.import_module(old).__getattr__ = _module_getattr(old, moved)
