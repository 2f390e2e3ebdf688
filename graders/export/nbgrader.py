"""``drills export nbgrader --out DIR``: an nbgrader course source, one notebook per day.

    DIR/nbgrader_config.py
    DIR/source/day1/day1.ipynb   ...

Each notebook has, per module, a read-only markdown cell with the module's docstring, a
read-only setup cell (the stub's imports and helpers) and, where the reference has imports or
helpers of its own, a cell for the student's own helpers (the reference's in a solution region);
per exercise, a read-only markdown cell with the stub's docstring, a solution cell (the reference
between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, the signature and docstring outside: :mod:`graders.export.solution_cells`)
and a locked autograder cell worth the registry's points, with ``grade_id`` the exercise
id with dashes for dots (``day1-tensors-describe``)::

    from graders.export.nbgrader_cell import autograder
    autograder("day1.tensors.describe", lambda: describe)

A student running it sees the feedback and the points (:mod:`graders.export.nbgrader_cell`).
``nbgrader autograde`` grades outside the student's kernel: ``nbgrader_config.py`` adds
:class:`graders.export.nbgrader_grade.GradeInSandbox` after nbgrader's ``Execute``, which grades
the notebook's definitions as ``drills grade`` does (sandbox, hidden checks, the ``grading``
profile or ``DRILLS_HYPOTHESIS_PROFILE``) and writes each autograder cell's points as its value
(partial credit). nbgrader needs the instructor kit installed (``pip install -e .``). Files are
reproducible: cell ids derive from the exercise ids.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from graders.core import paths, registry, runtime
from graders.export.solution_cells import helpers_cell, sibling_imports, solution_cell, split_stub

CONFIG = '''\
"""nbgrader configuration of the Deep Learning Drills course (written by `drills export nbgrader`)."""

c = get_config()  # noqa: F821 - provided by nbgrader
c.CourseDirectory.course_id = "deep-learning-drills"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
# One kernel runs a whole day: training checks take minutes, and a cell is stopped at this limit.
c.Execute.timeout = 900
# Grades come from the kit's sandbox, outside the student's kernel, right after it ran.
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "graders.export.nbgrader_grade.GradeInSandbox",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
'''

AUTOGRADER = '''\
from graders.export.nbgrader_cell import autograder
autograder("{id}", lambda: {name})
'''


def grade_id(name: str) -> str:
    """nbgrader's ``grade_id`` for an exercise id or a cell name (dots become dashes)."""
    return name.replace(".", "-")


def _meta(name: str, *, solution: bool = False, points: float | None = None) -> dict:
    meta = {"grade": points is not None, "grade_id": grade_id(name), "locked": not solution,
            "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _cell_id(name: str) -> str:
    return grade_id(name).replace("_", "-")[:64]


def _markdown(text: str, name: str) -> nbformat.NotebookNode:
    cell = new_markdown_cell(text, metadata=_meta(name))
    cell.id = _cell_id(name)
    return cell


def _code(source: str, name: str, *, solution: bool = False,
          points: float | None = None) -> nbformat.NotebookNode:
    cell = new_code_cell(source.rstrip("\n"), metadata=_meta(name, solution=solution, points=points))
    cell.id = _cell_id(name)
    return cell


def day_notebook(day: str, only: set[str] | None = None) -> nbformat.NotebookNode:
    """The notebook of ``day``: its exercises of the registry (or those in ``only``), in order."""
    exercises = [e for e in registry.exercises() if e.day == day and (not only or e.id in only)]
    cells = [_markdown(
        f"# {day.capitalize()}\n\nWrite each function or class in its cell, in place of "
        f"`raise NotImplementedError()`, and run the cell below it: the same checks as "
        f"`pytest exercises/{day}` grade it and print what is wrong. Keep the names and "
        f"signatures.", f"{day}.intro")]
    for module in dict.fromkeys(e.module for e in exercises):
        mine = [e for e in exercises if e.module == module]
        rel = paths.module_file(Path(), module)
        stub = paths.stub_file(module).read_text("utf-8")
        ref = paths.reference_file(module).read_text("utf-8")
        parts = split_stub(stub, {e.name for e in registry.exercises() if e.module == module})
        cells.append(_markdown(f"## `{rel.as_posix()}`\n\n{parts.docstring}", f"{module}.text"))
        cells.append(_code(sibling_imports(parts.setup), f"{module}.setup"))
        helpers = helpers_cell(ref, stub)
        if helpers is not None:
            cells.append(_code(helpers, f"{module}.helpers", solution=True))
        for ex in mine:
            doc = parts.docstrings.get(ex.name, "")
            cells.append(_markdown(
                f"### `{ex.id}`: {ex.title} ({ex.points:g} points)\n\n```\n{doc}\n```",
                f"{ex.id}.text"))
            cells.append(_code(solution_cell(ref, stub, ex.name), f"{ex.id}.solution", solution=True))
            cells.append(_code(AUTOGRADER.format(id=ex.id, name=ex.name), ex.id, points=ex.points))
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    return nb


def export(out: Path, *, days: list[str], only: set[str] | None = None) -> list[Path]:
    """Write the course source of ``days`` (only the exercises in ``only``, when given) under
    ``out``; return the notebooks written."""
    if not runtime.REFERENCE_DIR.is_dir():
        raise FileNotFoundError("this kit has no reference/: export from the instructor kit")
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    written = []
    for day in days:
        nb = day_notebook(day, only)
        if len(nb.cells) == 1:
            continue
        path = out / "source" / day / f"{day}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(nb)
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        written.append(path)
    return written
