"""Does the Gradescope autograder grade a submission and write a valid results.json?

The zip is unpacked into a temporary folder laid out like Gradescope's ``/autograder``
(``DRILLS_AUTOGRADER_ROOT`` points there), and ``run_autograder`` runs with this interpreter
(``DRILLS_PYTHON``) instead of the one ``setup.sh`` would install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import KIT
from graders.core import registry
from graders.export import gradescope

DAY = "day1"
TEST_KEYS = {"name", "number", "score", "max_score", "status", "output", "visibility", "tags"}


@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    proc = subprocess.run([sys.executable, "-m", "graders.cli", "export", "gradescope", "--day", "1",
                           "--out", str(out)], cwd=KIT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_zip_holds_what_gradescope_runs(autograder):
    """Does the zip hold setup.sh and run_autograder (executable) and the grading kit?"""
    with zipfile.ZipFile(autograder) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    for script in ("setup.sh", "run_autograder"):
        assert (infos[script].external_attr >> 16) & 0o111, f"{script} is not executable"
    assert f"kit/reference/{DAY}/tensors.py" in infos and "kit/requirements.txt" in infos
    assert not any(n.startswith(("kit/tests/", "kit/reference/day2")) for n in infos)
    assert {i.date_time for i in infos.values()} == {(1980, 1, 1, 0, 0, 0)}
    subprocess.run(["bash", "-n", "-"], input=zipfile.ZipFile(autograder).read("setup.sh"),
                   check=True)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_zip_is_reproducible(autograder, tmp_path):
    """Does exporting the same day twice give the same bytes?"""
    again = tmp_path / "again.zip"
    gradescope.export(again, days=[DAY])
    assert again.read_bytes() == autograder.read_bytes()


def _submission(root: Path) -> None:
    """Right strides (nested in a folder, as an unpacked zip), a broken devices.py, stubs else."""
    day = root / "submission" / "my-work" / "exercises" / DAY
    day.mkdir(parents=True)
    for name in ("__init__.py", "tensors.py", "autograd.py"):
        shutil.copy(KIT / "exercises" / DAY / name, day / name)
    shutil.copy(KIT / "reference" / DAY / "strides.py", day / "strides.py")
    (day / "devices.py").write_text("import torch\nthis is not Python\n")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_run_autograder_writes_gradescope_results(autograder, tmp_path):
    """Does run_autograder grade the submission and write results.json in Gradescope's format?"""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(root / "source")
    _submission(root)
    env = {**os.environ, "DRILLS_AUTOGRADER_ROOT": str(root), "DRILLS_PYTHON": sys.executable,
           "DRILLS_HYPOTHESIS_PROFILE": "drills"}
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    exercises = [e for e in registry.exercises() if e.day == DAY]
    assert data["max_score"] == sum(e.points for e in exercises)
    strides = sum(e.points for e in exercises if e.module == f"{DAY}.strides")
    assert data["score"] == pytest.approx(strides), data["output"]
    assert abs(sum(t["score"] for t in data["tests"]) - data["score"]) < 1e-6
    assert isinstance(data["execution_time"], int) and "tests" in data
    for test in data["tests"]:
        assert TEST_KEYS <= set(test) and test["visibility"] in ("visible", "after_published")
        assert test["status"] in ("passed", "failed") and 0 <= test["score"] <= test["max_score"] + 1e-9
    graded = {t["tags"][0] for t in data["tests"]}
    assert graded == {e.id for e in exercises}
    devices = [t for t in data["tests"] if t["tags"][0].startswith(f"{DAY}.devices")]
    assert devices and all(t["score"] == 0 for t in devices)
    assert any("could not be imported" in t["output"] or "error" in t["output"] for t in devices)
    assert "my-work/exercises/day1" in data["output"]
    assert len({t["name"] for t in data["tests"]}) == len(data["tests"])
    assert not any("drills hint" in t["output"] for t in data["tests"])


CHEAT = """\
import runpy
_ref = runpy.run_path({path!r})
contiguous_strides, storage_index = _ref["contiguous_strides"], _ref["storage_index"]
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_submission_that_runs_the_bundled_reference_gains_nothing(autograder, tmp_path):
    """Does a module that runs the reference bundled in the autograder score 0, flagged?"""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(root / "source")
    day = root / "submission" / DAY
    shutil.copytree(KIT / "exercises" / DAY, day, ignore=shutil.ignore_patterns("__pycache__"))
    bundled = root / "source" / "kit" / "reference" / DAY / "strides.py"
    (day / "strides.py").write_text(CHEAT.format(path=str(bundled)))
    env = {**os.environ, "DRILLS_AUTOGRADER_ROOT": str(root), "DRILLS_PYTHON": sys.executable,
           "DRILLS_HYPOTHESIS_PROFILE": "drills"}
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0, data["output"]
    strides = [t for t in data["tests"] if t["tags"][0] == f"{DAY}.strides.contiguous_strides"]
    assert "reference" in strides[0]["output"], strides[0]["output"]


def _record(ex, checks, points, status="failed"):
    entry = {"title": ex.title, "max_points": ex.points, "status": status, "points": points,
             "feedback": "", "flagged": [], "checks": checks}
    return {"exercises": {ex.id: entry}, "flags": [], "total": points, "max_total": ex.points}


def test_hidden_checks_are_shown_after_publishing():
    """Is an exercise one test worth its points, with its hidden checks in a test shown after
    publishing and worth nothing, and "not assessed" named?"""
    from graders.export.gradescope_run import results

    ex = next(e for e in registry.exercises() if e.day == DAY)
    check = {"test": "x::test_q", "question": "Q?", "feedback": "", "kind": "", "duration": 0.0,
             "violations": [], "incident": ""}
    checks = [{**check, "outcome": "passed", "hidden": True},
              {**check, "outcome": "not assessed", "hidden": False, "feedback": "no CUDA device"}]
    data = results([DAY], _record(ex, checks, ex.points, "passed"), ["found"], 1.0)
    mine = [t for t in data["tests"] if t["tags"] == [ex.id]]
    assert [t["visibility"] for t in mine] == ["visible", "after_published"]
    assert mine[0]["score"] == mine[0]["max_score"] == ex.points and mine[1]["max_score"] == 0
    assert "not assessed" in mine[0]["output"] and "no CUDA device" in mine[0]["output"]
    assert "Q?" in mine[1]["output"] and "Q?" in mine[0]["output"].split("not assessed")[1]


def test_max_score_does_not_depend_on_the_submission():
    """Is every test's max_score fixed by the registry, whatever the checks did, with names
    that never repeat, and no pointer to a drills command students do not have?"""
    from graders.export.gradescope_run import results

    ex = next(e for e in registry.exercises() if e.day == DAY and e.points > 1)
    check = {"test": "x::test_q[1]", "question": "Q?", "feedback": "", "kind": "", "hidden": False,
             "duration": 0.0, "violations": [], "incident": ""}
    runs = [[{**check, "outcome": "not assessed"}, {**check, "outcome": "passed"}],
            [{**check, "outcome": "failed", "feedback": "boom"}, {**check, "outcome": "failed"}]]
    for checks, points in zip(runs, (ex.points, 0.0)):
        data = results([DAY], _record(ex, checks, points), [], 1.0)
        (test,) = [t for t in data["tests"] if t["tags"] == [ex.id]]
        assert test["max_score"] == ex.points and test["score"] == points
