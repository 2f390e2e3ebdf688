"""What an autograder cell of the nbgrader course runs in the student's kernel.

    from graders.export.nbgrader_cell import autograder
    autograder("day1.tensors.describe", lambda: describe)

Run by a student (or ``nbgrader validate``), it grades the definition with ``check()`` and
shows the feedback and the points earned: the cell's value is the number nbgrader reads as
partial credit. Under ``nbgrader autograde`` the kernel is the student's own and grades nothing:
the cell's value is 0 until :class:`graders.export.nbgrader_grade.GradeInSandbox` replaces
its output with the points that the sandboxed grading gave (nothing the notebook's code does
in its kernel can change them). Nothing is written to stderr: nbgrader scores such a cell 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def autograder(exercise_id: str, definition: Callable[[], Any]) -> float:
    """The points of ``definition()`` as the solution of ``exercise_id`` (0 under autograde)."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        return 0.0
    import warnings

    from graders.learner.notebook import check

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            obj = definition()
        except NameError as exc:
            print(f"{exercise_id}: not defined yet ({exc}); run the cell above first.")
            return 0.0
        result = check(exercise_id, obj, quiet=True)
    print(result)
    return result.points
