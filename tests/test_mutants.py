"""Do the graders catch realistic wrong solutions, with feedback that names the mistake?

Every wrong solution in tests/mutants/dayN/<module>.py is graded in this one process with
``graders.check``; it must not pass its exercise, and a failing check's feedback must match the
mutant's ``expect`` pattern.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from graders.core import registry
from graders.learner.notebook import check
from graders.testing import mutants_in

MUTANTS_DIR = Path(__file__).resolve().parent / "mutants"


def _load_all():
    found = []
    for path in sorted(MUTANTS_DIR.glob("day*/*.py")):
        name = f"drills_mutants_{path.parent.name}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for mname, ex_id, expect, obj in mutants_in(vars(module)):
            found.append(pytest.param(ex_id, expect, obj, id=f"{ex_id}:{mname}"))
    return found


MUTANTS = _load_all()


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("exercise_id", "expect", "obj"), MUTANTS)
def test_mutant_is_caught(exercise_id, expect, obj):
    """Is this wrong solution failed, with feedback that points at the mistake?"""
    result = check(exercise_id, obj, quiet=True)
    assert result.status != "passed", f"{exercise_id}: a wrong solution passed every check"
    assert result.points < result.max_points
    text = "\n".join(result.feedback)
    assert re.search(expect, text, re.IGNORECASE | re.DOTALL), (
        f"the feedback does not match {expect!r}:\n{text[:3000]}"
    )


def test_every_exercise_has_two_mutants():
    """Does every exercise of the registry have at least two wrong solutions on file?"""
    counts: dict[str, int] = {}
    for p in MUTANTS:
        counts[p.values[0]] = counts.get(p.values[0], 0) + 1
    lacking = [e.id for e in registry.exercises() if counts.get(e.id, 0) < 2]
    assert not lacking, f"exercises with fewer than two mutants: {lacking}"
