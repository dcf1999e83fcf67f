"""The repository's promises: README's two commands are the ones CI runs,
the wheel ships what it says, and the extras give ranges."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*parts):
    with open(os.path.join(ROOT, *parts)) as f:
        return f.read()


def _ci_variable(name):
    match = re.search(rf"^{name}='(.*)'$", _read(".ci", "run"), re.M)
    assert match, f".ci/run defines no {name}"
    return match.group(1)


def test_readme_opens_with_pip_install():
    """PyPI-first: the README's first command installs the published wheel."""
    readme = _read("README.md")
    first = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    assert first.startswith('pip install "keras-memnets['), first


def test_readme_development_section_has_the_two_commands():
    readme = _read("README.md")
    development = readme[readme.index("\n## Development\n") :]
    block = re.search(r"```bash\n(.*?)```", development, re.S).group(1)
    commands = [l for l in block.splitlines() if l and not l.startswith("#")]
    assert len(commands) == 2
    demo, tests = commands
    # The demo is the memory-decoder reproduction, the script CI runs (with
    # --quick) among reproductions/*.py.
    script = re.search(r"\.venv/bin/python (\S+\.py)$", demo).group(1)
    assert script == "reproductions/memory_decoder.py", demo
    assert os.path.exists(os.path.join(ROOT, script))
    assert "for script in reproductions/*.py" in _read(".ci", "run")
    # .ci/run executes exactly README's install and test commands.
    assert (
        tests == f"{_ci_variable('INSTALL_CMD')} && {_ci_variable('TEST_CMD')}"
    )
    # ...and calls them.
    ci = _read(".ci", "run")
    assert 'eval "$INSTALL_CMD"' in ci and 'eval "$TEST_CMD"' in ci


def test_wheel_ships_the_bundled_data_and_py_typed():
    setup = _read("setup.cfg")
    assert "data/mnist10k.npz" in setup and "LICENSE-mnist10k.txt" in setup
    assert "keras_memnets = py.typed" in setup
    assert os.path.exists(os.path.join(ROOT, "keras_memnets", "py.typed"))


def test_extras_give_ranges_and_only_ci_pins():
    """Exact pins live in .ci/constraints.txt, never in the extras."""
    import configparser

    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    requirements = config["options"]["install_requires"].split()
    for extra, text in config["options.extras_require"].items():
        requirements += text.split()
    pinned = [r for r in requirements if "==" in r]
    assert not pinned, pinned


def test_installation_page_lists_every_extra():
    import configparser

    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    page = _read("docs", "installation.rst")
    missing = [
        extra
        for extra in config["options.extras_require"]
        if f"\n``{extra}``\n    " not in page
    ]
    assert not missing, f"docs/installation.rst does not list {missing}"


def test_changelog_has_unreleased_section():
    assert "## [Unreleased]" in _read("CHANGELOG.md")


def test_readme_python_snippet_runs(tmp_path, monkeypatch):
    """README's PyPI snippet runs as written (from an empty directory)."""
    blocks = re.findall(r"```python\n(.*?)```", _read("README.md"), re.S)
    assert blocks, "README.md has no python snippet"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    assert (tmp_path / "memory.keras").exists()


def test_docs_index_snippet_runs(monkeypatch, tmp_path):
    """The landing page's snippet builds and compiles as written."""
    page = _read("docs", "index.rst")
    match = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", page)
    assert match, "docs/index.rst has no python snippet"
    code = "\n".join(line[3:] for line in match.group(1).splitlines())
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_index"}
    exec(compile(code, "docs/index.rst", "exec"), namespace)
    assert namespace["model"].optimizer is not None


def test_docs_quickstart_snippets_run(monkeypatch, tmp_path):
    """The Quickstart's snippets run as written, in order, in one session."""
    from tests.test_guides import python_blocks

    blocks = python_blocks(os.path.join(ROOT, "docs", "quickstart.rst"))
    assert len(blocks) == 3, "docs/quickstart.rst: expected 3 snippets"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_quickstart"}
    for number, block in enumerate(blocks):
        name = f"docs/quickstart.rst, python block {number + 1}"
        exec(compile(block, name, "exec"), namespace)
    history = namespace["history"].history
    assert len(history["memory_slots_used"]) == 2
    assert 1 <= history["memory_slots_used"][-1] <= 10
    assert (tmp_path / "memory.keras").exists()


def _reproductions():
    folder = os.path.join(ROOT, "reproductions")
    return sorted(n for n in os.listdir(folder) if n.endswith(".py"))


def test_reproductions_have_quick_and_quiet():
    """CI runs every reproduction with `--quick --quiet`."""
    assert _reproductions()
    for name in _reproductions():
        text = _read("reproductions", name)
        for flag in ('"--quick"', '"--quiet"'):
            assert flag in text, f"reproductions/{name} has no {flag}"
    readme = _read("reproductions", "README.md")
    missing = [n for n in _reproductions() if n not in readme]
    assert not missing, f"reproductions/README.md does not list {missing}"


def test_tutorials_are_keras_io_style():
    """examples/: a keras.io header, prose cells, no flags, short."""
    import ast

    folder = os.path.join(ROOT, "examples")
    names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))
    assert len(names) >= 6
    for name in names:
        text = _read("examples", name)
        docstring = ast.get_docstring(ast.parse(text), clean=False)
        for field in (
            "Title",
            "Author",
            "Date created",
            "Last modified",
            "Description",
        ):
            assert f"\n{field}: " in "\n" + docstring.strip(), (name, field)
        assert '"""\n## ' in text, f"examples/{name} has no prose cells"
        assert "argparse" not in text and "sys.argv" not in text, name
        lines = len(text.splitlines())
        assert lines <= 150, f"examples/{name}: {lines} lines (at most 150)"
