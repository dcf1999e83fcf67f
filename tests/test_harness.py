"""Runs every applicable harness check on every case of `tests/cases.py`."""

import numpy as np
import pytest

from tests import harness
from tests.cases import CASES

PARAMS = [
    pytest.param(case, check, id=f"{case.name}-{check}")
    for case in CASES
    for check in case.checks
]


@pytest.mark.parametrize("case,check", PARAMS)
def test_public_object(case, check, request):
    rng = np.random.default_rng(0)
    if check == "save_load":
        harness.check_save_load(
            case, rng, request.getfixturevalue("fresh_loader")
        )
    else:
        getattr(harness, f"check_{check}")(case, rng)
