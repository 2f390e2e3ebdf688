"""Does real nbgrader generate the student notebook and autograde it with our graders?

A course source with three day-1 exercises is exported, ``nbgrader generate_assignment`` writes
the student version, a student answers one exercise right, one wrong and leaves one untouched,
and ``nbgrader autograde`` grades it in a Jupyter kernel running this interpreter. The scores in
nbgrader's gradebook must be the registry's points for the right answer and 0 for the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import KIT
from graders.core import registry
from graders.export.nbgrader import day_notebook, grade_id

pytest.importorskip("nbgrader")
pytest.importorskip("ipykernel")
nbformat = pytest.importorskip("nbformat")

RIGHT, WRONG, UNTOUCHED = "day1.strides.contiguous_strides", "day1.strides.storage_index", \
    "day1.tensors.describe"
WRONG_ANSWER = "def storage_index(index, strides, offset=0):\n    return sum(i * s for i, s in zip(index, strides))\n"


CHEAT = """\
import runpy
_ref = runpy.run_path({path!r})
contiguous_strides = _ref["contiguous_strides"]
"""


def _nbgrader(course: Path, *args: str) -> str:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_notebook_cells_follow_the_registry():
    """Does each exercise get a text cell, a solution cell and a locked autograder cell?"""
    nb = day_notebook("day1")
    graded = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    for ex in (e for e in registry.exercises() if e.day == "day1"):
        cell = graded[grade_id(ex.id)]
        assert cell.metadata["nbgrader"]["points"] == ex.points and cell.metadata["nbgrader"]["locked"]
        assert f'autograder("{ex.id}", lambda: {ex.name})' in cell.source
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert all("### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source for c in solutions)
    assert json.dumps(day_notebook("day1")) == json.dumps(nb)  # reproducible


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_nbgrader_generates_and_autogrades(tmp_path):
    """Do generate_assignment and autograde run, and does the gradebook hold the right scores?"""
    course = tmp_path / "course"
    proc = subprocess.run([sys.executable, "-m", "graders.cli", "export", "nbgrader", "--out",
                           str(course), "--exercises", f"{RIGHT},{WRONG},{UNTOUCHED}"],
                          cwd=KIT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _nbgrader(course, "generate_assignment", "day1", "--force")
    student = nbformat.read(course / "release" / "day1" / "day1.ipynb", as_version=4)
    source = nbformat.read(course / "source" / "day1" / "day1.ipynb", as_version=4)
    assert "### BEGIN SOLUTION" not in json.dumps(student)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in student.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == grade_id(RIGHT) + "-solution":
            cell.source = "\n".join(l for l in answers[gid].splitlines() if "### " not in l)
        elif gid == grade_id(WRONG) + "-solution":
            cell.source = WRONG_ANSWER
    submitted = course / "submitted" / "alice" / "day1"
    submitted.mkdir(parents=True)
    nbformat.write(student, submitted / "day1.ipynb")
    for cell in student.cells:  # mallory runs the kit's reference instead
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id(RIGHT) + "-solution":
            cell.source = CHEAT.format(path=str(KIT / "reference" / "day1" / "strides.py"))
    (course / "submitted" / "mallory" / "day1").mkdir(parents=True)
    nbformat.write(student, course / "submitted" / "mallory" / "day1" / "day1.ipynb")
    _nbgrader(course, "autograde", "day1", "--force")

    from nbgrader.api import Gradebook

    points = registry.by_id()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission = gb.find_submission("day1", "alice")
        scores = {g.name: (g.score, g.max_score) for nb in submission.notebooks for g in nb.grades}
        total = submission.score
    assert scores == {
        grade_id(RIGHT): (points[RIGHT].points, points[RIGHT].points),
        grade_id(WRONG): (0.0, points[WRONG].points),
        grade_id(UNTOUCHED): (0.0, points[UNTOUCHED].points),
    }
    assert total == points[RIGHT].points
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        mallory = gb.find_submission("day1", "mallory")
        assert mallory.score == 0, {g.name: g.score for nb in mallory.notebooks for g in nb.grades}
    assert not list(course.rglob(".hypothesis"))


@pytest.mark.parametrize("day", registry.days())
def test_helpers_cells_run_in_both_versions(day):
    """Do the setup cells run in a notebook (imports from the day's other modules included), and
    each module's helpers cell as written (the reference's helpers at module level) and as
    nbgrader gives it to students (its region replaced by a raising stub)?"""
    import re

    nb = day_notebook(day)
    namespace: dict = {"__name__": f"notebook_{day}"}
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        if meta["grade_id"].endswith("-setup"):
            exec(compile(cell.source, meta["grade_id"], "exec"), namespace)
        elif meta["grade_id"].endswith("-solution"):  # the names later modules import
            exec(compile(cell.source.replace("### ", "# "), meta["grade_id"], "exec"), namespace)
        elif meta["grade_id"].endswith("-helpers"):
            student = re.sub(r"( *)### BEGIN SOLUTION.*?### END SOLUTION",
                             r"\1# YOUR CODE HERE\n\1raise NotImplementedError()", cell.source, flags=re.S)
            exec(compile(student, meta["grade_id"], "exec"), dict(namespace))
            exec(compile(cell.source, meta["grade_id"], "exec"), namespace)
