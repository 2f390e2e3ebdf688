"""Does the warm worker behind `drills progress` and `drills watch` give a fresh pytest's verdicts?

Each command runs in a subprocess on a scratch copy of the kit, once with the worker
(``DRILLS_WARM`` unset) and once without it (``DRILLS_WARM=0``: a fresh pytest per run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import KIT, copy_kit

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def scratch(tmp_path):
    """A copy of the kit with day 1's tensors solved and its devices module half broken."""
    root = copy_kit(tmp_path / "kit")
    shutil.copy(KIT / "reference/day1/tensors.py", root / "exercises/day1/tensors.py")
    devices = (KIT / "reference/day1/devices.py").read_text()
    (root / "exercises/day1/devices.py").write_text(devices.replace("return", "return None #", 1))
    yield root
    (root / ".drills" / "warm.sock").unlink(missing_ok=True)  # the worker ends on its own


def progress(root: Path, *, warm: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1", "DRILLS_WARM_IDLE": "60"}
    env["DRILLS_WARM"] = "1" if warm else "0"
    proc = subprocess.run([sys.executable, "-m", "graders.cli", "progress", "day1", "--json", "--refresh"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=500, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    data.pop("graded_now")
    return data


def test_warm_progress_equals_a_fresh_run(scratch):
    """Are the statuses and points of `drills progress` the same with the warm worker (twice:
    starting it, then reusing it) as with a fresh pytest per run?"""
    fresh = progress(scratch, warm=False)
    assert not (scratch / ".drills" / "warm.sock").exists()
    first = progress(scratch, warm=True)
    again = progress(scratch, warm=True)
    assert first == fresh
    assert again == fresh
    statuses = {k: v["status"] for k, v in fresh["exercises"].items()}
    assert statuses["day1.tensors.describe"] == "passed"
    assert "failed" in statuses.values()


def test_worker_restarts_when_the_graders_change(scratch):
    """Does a worker started before a grader file changed give way to a new one, so that the
    verdict follows the changed grader?"""
    before = progress(scratch, warm=True)
    grader = scratch / "graders/day1/test_tensors.py"
    grader.write_text(grader.read_text() + "\n\ndef test_describe_is_never_right():\n"
                      "    from graders import student\n    student('day1.tensors').describe\n"
                      "    assert False, 'never'\n")
    after = progress(scratch, warm=True)
    assert before["exercises"]["day1.tensors.describe"]["status"] == "passed"
    assert after["exercises"]["day1.tensors.describe"]["status"] == "failed"
