"""The repository's promises: README's two commands are the ones CI runs."""

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


def test_readme_opens_with_the_two_commands():
    readme = _read("README.md")
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
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


def test_wheel_ships_the_bundled_data():
    setup = _read("setup.cfg")
    assert "data/mnist10k.npz" in setup and "LICENSE-mnist10k.txt" in setup


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
