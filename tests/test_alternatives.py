"""Do correct solutions other than the reference get full marks?

A grader that compares too literally (one algorithm's rounding, one container type, one order
of calls the docstring leaves free) fails honest students. The wrong-solution files in
tests/mutants/dayN/ also hold correct alternatives marked ``@alternative(exercise_id)``; each is
graded in this process with ``graders.check`` and must pass every check.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from graders.learner.notebook import check
from graders.testing import alternatives_in

MUTANTS_DIR = Path(__file__).resolve().parent / "mutants"


def _load_all():
    found = []
    for path in sorted(MUTANTS_DIR.glob("day*/*.py")):
        name = f"drills_alternatives_{path.parent.name}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for aname, ex_id, obj in alternatives_in(vars(module)):
            found.append(pytest.param(ex_id, obj, id=f"{ex_id}:{aname}"))
    return found


ALTERNATIVES = _load_all()


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("exercise_id", "obj"), ALTERNATIVES)
def test_alternative_gets_full_marks(exercise_id, obj):
    """Does this other correct solution pass every check of its exercise?"""
    result = check(exercise_id, obj, quiet=True)
    assert result.status == "passed", "\n".join(result.feedback)[:4000] or result.output[-3000:]
    assert result.points == result.max_points
