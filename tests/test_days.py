"""Does every day grade as promised: stubs "not started" with 0 points, the reference full marks?

Each check runs pytest in a subprocess exactly as a student or instructor would.
"""

from __future__ import annotations

import pytest

from conftest import run_pytest
from graders.core import registry

DAYS = registry.days()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("day", DAYS)
def test_stubs_are_not_started(day):
    """Does `pytest exercises/dayN` on the shipped stubs show every exercise "not started"?"""
    code, out, report = run_pytest(f"exercises/{day}")
    assert code != 0, out[-3000:]
    assert report is not None, out[-3000:]
    expected = {e.id for e in registry.exercises() if e.day == day}
    assert set(report["exercises"]) == expected, out[-3000:]
    wrong = {k: v["status"] for k, v in report["exercises"].items() if v["status"] != "not started"}
    assert not wrong, f"stubs that are not 'not started': {wrong}\n{out[-3000:]}"
    assert report["points"] == 0
    assert "Deep Learning Drills: scoreboard" in out


@pytest.mark.timeout(900)
@pytest.mark.parametrize("day", DAYS)
def test_reference_gets_full_marks(day):
    """Does the reference pass every check of the day (`--drills-target reference`)?"""
    code, out, report = run_pytest(f"exercises/{day}", "--drills-target", "reference")
    assert report is not None, out[-3000:]
    failed = {k: v for k, v in report["exercises"].items() if v["status"] != "passed"}
    assert not failed, f"{failed}\n{out[-6000:]}"
    assert report["points"] == report["max_points"] > 0
    assert code == 0, out[-3000:]
