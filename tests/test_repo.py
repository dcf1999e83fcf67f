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
    assert "examples/memory_decoder.py" in demo
    assert os.path.exists(os.path.join(ROOT, "examples", "memory_decoder.py"))
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
