"""Sphinx configuration for keras_memnets.

The API reference is generated: `_write_api_pages` writes one page per
subpackage named in `keras_memnets.__all__`, listing that subpackage's own
`__all__`, and autosummary writes one page per public object from those
lists. A new public object (or subpackage) appears in the reference once
it is exported; no `.rst` file lists objects by hand.
"""

import inspect
import os
import pkgutil
import sys

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(DOCS, "_ext"))
# The docs extra installs jax (Keras' numpy backend imports it as well).
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tutobooks  # noqa: E402

import keras_memnets  # noqa: E402

project = "keras_memnets"
author = "keras_memnets developers"
copyright = "2026, keras_memnets developers"
version = release = keras_memnets.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

# Docstrings write code in single backticks, as Keras does: render it as
# code, linked when it names a documented object.
default_role = "py:obj"

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
    "show-inheritance": True,
}
autodoc_typehints = "description"
autodoc_inherit_docstrings = False

# One page per object, from each subpackage's `__all__`.
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = True

# The copy button copies the code without `>>>` / `$ ` prompts or output.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

# CHANGELOG.md is Markdown; myst_parser renders it (docs/changelog.rst).
myst_heading_anchors = 3
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated/tutorials_src"]

html_theme = "furo"
html_title = f"keras_memnets {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "source_repository": "https://github.com/keras-memnets/keras-memnets/",
    "source_branch": "main",
    "source_directory": "docs/",
}

# Generated sources (rewritten by every build; ignored by git).
API_DIR = os.path.join(DOCS, "api")

# -- Tutorials: examples/*.py, executed by sphinx-gallery at build time --
#
# The tutorials are keras.io-style scripts; docs/_ext/tutobooks.py writes
# sphinx-gallery copies of them (same code, prose as reST comments) to
# _generated/tutorials_src, and sphinx-gallery runs each one on this
# build's backend (JAX) and renders docs/tutorials/ with its output and
# figures. A tutorial that raises fails the build; an unchanged one is not
# run again (sphinx-gallery compares checksums).
TUTORIALS_SRC = os.path.join(DOCS, "_generated", "tutorials_src")
sphinx_gallery_conf = {
    "examples_dirs": os.path.relpath(TUTORIALS_SRC, DOCS),
    "gallery_dirs": "tutorials",
    "filename_pattern": r".*\.py$",
    "within_subsection_order": "tutobooks.TutorialOrder",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "reset_modules": ("matplotlib",),
    "capture_repr": (),
    "download_all_examples": True,
    "remove_config_comments": True,
    "show_signature": False,
    "min_reported_time": 0,
}


# keras.io's order; subpackages not listed here follow, alphabetically.
API_ORDER = [
    "models",
    "layers",
    "callbacks",
    "optimizers",
    "metrics",
    "losses",
    "regularizers",
    "datasets",
    "analysis",
]


def _public_subpackages():
    """Subpackages named in `keras_memnets.__all__`, in `API_ORDER`."""
    names = [
        name
        for name in keras_memnets.__all__
        if inspect.ismodule(getattr(keras_memnets, name, None))
    ]
    known = [name for name in API_ORDER if name in names]
    return known + sorted(set(names) - set(known))


def _kinds(module):
    """`{"Classes": [...], "Functions": [...], "Constants": [...]}`."""
    kinds = {"Classes": [], "Functions": [], "Constants": []}
    for name in sorted(module.__all__, key=str.lower):
        obj = getattr(module, name)
        if inspect.isclass(obj):
            kinds["Classes"].append(name)
        elif callable(obj):
            kinds["Functions"].append(name)
        else:
            kinds["Constants"].append(name)
    return kinds


def _package_page(subpackage):
    fullname = f"keras_memnets.{subpackage}"
    module = getattr(keras_memnets, subpackage)
    title = subpackage.replace("_", " ").capitalize()
    lines = [
        title,
        "=" * len(title),
        "",
        f".. automodule:: {fullname}",
        "   :no-members:",
        "",
        f".. currentmodule:: {fullname}",
        "",
    ]
    for kind, names in _kinds(module).items():
        if not names:
            continue
        lines += [
            kind,
            "-" * len(kind),
            "",
            ".. autosummary::",
            "   :toctree: .",
            "   :nosignatures:",
            "",
        ]
        lines += [f"   {name}" for name in names]
        lines.append("")
    return "\n".join(lines)


def _packages_index(subpackages):
    """The table and toctree that docs/api.rst includes."""
    lines = [
        ".. autosummary::",
        "   :nosignatures:",
        "",
    ]
    lines += [f"   keras_memnets.{name}" for name in subpackages]
    lines += ["", ".. toctree::", "   :hidden:", ""]
    lines += [f"   api/{name}" for name in subpackages]
    return "\n".join(lines) + "\n"


def _write(path, text):
    """Writes only when the text changed (Sphinx rereads newer files)."""
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    with open(path, "w") as f:
        f.write(text)


def _write_api_pages(app, config):
    """Writes docs/api/: one page per subpackage, and removes stale pages.

    autosummary then writes `docs/api/keras_memnets.<sub>.<name>.rst` for
    each exported object; a page whose object is no longer exported is
    removed here (it would be an orphan, a warning under -W).
    """
    os.makedirs(API_DIR, exist_ok=True)
    subpackages = _public_subpackages()
    expected = {"_packages.rst.txt"}
    for sub in subpackages:
        expected.add(f"{sub}.rst")
        module = getattr(keras_memnets, sub)
        if not isinstance(getattr(module, "__all__", None), (list, tuple)):
            raise RuntimeError(
                f"keras_memnets.{sub} has no `__all__`: the API reference "
                "lists each subpackage's `__all__`."
            )
        expected.update(f"keras_memnets.{sub}.{n}.rst" for n in module.__all__)
        _write(os.path.join(API_DIR, f"{sub}.rst"), _package_page(sub))
    _write(
        os.path.join(API_DIR, "_packages.rst.txt"),
        _packages_index(subpackages),
    )
    for name in os.listdir(API_DIR):
        if name not in expected:
            os.remove(os.path.join(API_DIR, name))


def _init_signature(
    app, what, name, obj, options, signature, return_annotation
):
    """Shows a class's `__init__` signature instead of `(*args, **kwargs)`.

    Keras' `Layer.__new__(cls, *args, **kwargs)` otherwise hides the real
    constructor arguments of every layer in the API reference.
    """
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


def _data_docstring(app, what, name, obj, options, lines):
    """A constant's `#:` comment instead of its type's docstring.

    autodoc documents `keras_memnets.datasets.BUNDLED_SHA256` through the
    subpackage that re-exports it, so it finds no comment there and falls
    back to `str`'s docstring; the comment lives in the defining module.
    """
    type_doc = inspect.getdoc(type(obj))
    if what != "data" or not lines or not type_doc:
        return
    if lines[0].strip() != type_doc.splitlines()[0].strip():
        return
    del lines[:]
    from sphinx.pycode import ModuleAnalyzer

    package, attribute = name.rsplit(".", 1)
    for info in pkgutil.iter_modules(sys.modules[package].__path__):
        try:
            analyzer = ModuleAnalyzer.for_module(f"{package}.{info.name}")
            docs = analyzer.find_attr_docs()
        except Exception:  # no source: nothing to show
            continue
        if ("", attribute) in docs:
            lines.extend(docs[("", attribute)])
            return


# -- Benchmarks page: tables and figures from benchmarks/results/*.json --

RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
FIGURES_DIR = os.path.join(DOCS, "_generated", "benchmarks")


def _list_table(header, rows, caption, code=True, css="numbers"):
    """reST lines of a list-table; the first column is code if `code`.

    `css` is the table's class: `numbers` keeps every cell but the first
    on one line (the table scrolls sideways on a narrow screen), `goals`
    also lets the second (a sentence) wrap.
    """

    def cell(text, as_code):
        return f"``{text}``" if as_code and text != "-" else text

    lines = [
        f".. list-table:: {caption}",
        "   :header-rows: 1",
        f"   :class: benchmark-{css}",
        "",
    ]
    for i, row in enumerate([header] + rows):
        for j, text in enumerate(row):
            as_code = code and j == 0 and i > 0
            lines.append(f"   {'*' if j == 0 else ' '} - {cell(text, as_code)}")
    return lines + [""]


class BenchmarkResults(SphinxDirective):
    """`.. benchmark-results:: NAME` renders a benchmark's figures and
    tables from benchmarks/results/<backend>.json (NAME `environment`:
    the machine of each run; `goals`: every goal on every backend)."""

    required_arguments = 1

    def run(self):
        from benchmarks import report

        for backend in report.BACKENDS:
            path = os.path.join(RESULTS_DIR, f"{backend}.json")
            if os.path.exists(path):
                self.env.note_dependency(path)
        self.env.note_dependency(report.__file__)
        summaries = report.load(RESULTS_DIR)
        name = self.arguments[0]
        if name == "environment":
            header, rows = report.environment(summaries, RESULTS_DIR)
            lines = _list_table(
                header, rows, "Where each backend ran", code=False
            )
        elif name == "goals":
            header, rows = report.goal_table(summaries)
            # One column for the benchmark and its goal: it fits a phone.
            header = ["goal"] + header[2:]
            rows = [[f"``{b}``: {text}"] + rest for b, text, *rest in rows]
            lines = _list_table(
                header,
                rows,
                "Worst case per backend: \u2713 met, \u2717 not met",
                code=False,
                css="goals",
            )
        elif name in report.benchmark_names(summaries):
            lines = self._benchmark(report, name, summaries)
        else:
            raise self.error(f"no results for benchmark {name!r}")
        container = nodes.container()
        self.state.nested_parse(
            StringList(lines, source="benchmark-results"),
            self.content_offset,
            container,
        )
        return container.children

    def _benchmark(self, report, name, summaries):
        lines = []
        paths = report.render(RESULTS_DIR, FIGURES_DIR, only_if_newer=True)
        up = "../" * self.env.docname.count("/")
        for filename in report.figure_names(summaries).get(name, []):
            path = os.path.join(FIGURES_DIR, filename)
            assert path in paths, path
            uri = "/" + os.path.relpath(path, DOCS)
            lines += [
                f".. figure:: {uri}",
                f"   :target: {up}_images/{filename}",
                f"   :alt: {name}: {filename[len(name) + 1 : -4]}",
                "",
            ]
        header, rows = report.timing_table(name, summaries)
        if rows:
            lines += _list_table(
                header,
                rows,
                f"Median (min-max) ms over {report.rounds(name, summaries)}"
                " timed rounds",
            )
        header, rows = report.quantity_table(name, summaries)
        if rows:
            lines += _list_table(header, rows, "Ratios, goals and verdicts")
        return lines


def _public_bases(app, name, obj, options, bases):
    """Shows a private base class (`_SelectionMetric`) as its public
    ancestors (`keras.metrics.Metric`): users cannot look the private one
    up."""

    def public(cls):
        if getattr(cls, "__name__", "").startswith("_"):
            return [b for base in cls.__bases__ for b in public(base)]
        return [cls]

    found = []
    for base in bases:
        found += [b for b in public(base) if b not in found]
    # A private mixin's own base, `object`, says nothing beside the others.
    bases[:] = [b for b in found if b is not object] or [object]


def _write_tutorial_sources(app, config):
    tutobooks.write_gallery_sources(
        os.path.join(ROOT, "examples"),
        TUTORIALS_SRC,
        names=tutobooks.public_names(keras_memnets),
    )


def _finish_gallery(app):
    tutobooks.finish_gallery(app, os.path.join(ROOT, "examples"))


def setup(app):
    # Before sphinx-gallery reads the sources (at builder-inited).
    app.connect("config-inited", _write_tutorial_sources)
    # After sphinx-gallery has written the pages (priority 500).
    app.connect("builder-inited", _finish_gallery, priority=900)
    app.connect("autodoc-process-bases", _public_bases)
    app.add_directive("benchmark-results", BenchmarkResults)
    app.connect("autodoc-process-docstring", _data_docstring)
    app.connect("config-inited", _write_api_pages)
    app.connect("autodoc-process-signature", _init_signature)
