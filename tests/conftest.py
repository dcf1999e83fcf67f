"""Pytest configuration shared by all keras_memnets tests."""

import os
import sys

# Test the checkout this file lives in, also from a git worktree and in the
# fresh subprocesses the harness starts (they inherit PYTHONPATH).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_ROOT]
    + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

from tests import harness  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Each test starts from the float32 policy and a fixed seed."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1337)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def fresh_loader():
    """A Python process that has never built the objects it loads."""
    worker = harness.FreshProcessLoader()
    yield worker
    worker.close()


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"
