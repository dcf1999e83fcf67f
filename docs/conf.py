"""Sphinx configuration for keras_memnets."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("KERAS_BACKEND", "numpy")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_memnets  # noqa: E402

project = "keras_memnets"
author = "keras_memnets developers"
copyright = "2026, keras_memnets developers"
version = release = keras_memnets.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

# Keras docstrings use Google style plus headings napoleon does not know.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [
    ("Call arguments", "params_style"),
    ("Input shape", "notes_style"),
    ("Output shape", "notes_style"),
    ("Reference", "notes_style"),
    ("References", "notes_style"),
]
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": False,
}
autodoc_typehints = "description"
autodoc_inherit_docstrings = False

templates_path = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {
    "description": "Memory networks and local losses for Keras 3"
}


def _init_signature(
    app, what, name, obj, options, signature, return_annotation
):
    """Shows a class's `__init__` signature instead of `(*args, **kwargs)`.

    Keras' `Layer.__new__(cls, *args, **kwargs)` otherwise hides the real
    constructor arguments of every layer in the API reference.
    """
    import inspect

    if what != "class" or signature not in ("(*args, **kwargs)", None):
        return None
    try:
        init = inspect.signature(obj.__init__)
    except (TypeError, ValueError):
        return None
    params = [p for p in init.parameters.values() if p.name != "self"]
    return str(
        init.replace(parameters=params, return_annotation=inspect._empty)
    ), None


def setup(app):
    app.connect("autodoc-process-signature", _init_signature)
