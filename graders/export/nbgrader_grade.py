"""Grade an nbgrader notebook as ``drills grade`` does: outside the student's kernel, sandboxed.

``nbgrader autograde`` runs the notebook in a kernel that the student's code controls. The
course's ``nbgrader_config.py`` (written by ``drills export nbgrader``) adds
:class:`GradeInSandbox` after nbgrader's ``Execute``: it rebuilds the exercise modules from the
notebook's own cells (:func:`module_files`), grades them with
:class:`graders.grading.engine.Grader` (the sandbox, checks, profile and points of
``drills grade``), and writes each autograder cell's output: the feedback on stdout and the
points as the cell's value, which nbgrader reads as partial credit.
"""

from __future__ import annotations

import ast
import atexit
import os
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from traitlets import Bool

from graders.core import registry

#: Statements of a notebook cell that do not go into the module: calls and loops run for a
#: look at the results (the module is imported, not run as a script).
_DROPPED = (ast.Expr, ast.For, ast.AsyncFor, ast.While, ast.Assert, ast.Raise)


def _grade_ids() -> dict[str, registry.Exercise]:
    return {e.id.replace(".", "-"): e for e in registry.exercises()}


def _python(source: str) -> str:
    """The cell's source as Python (IPython magics become calls, which are then dropped)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - nbgrader brings IPython
        return source
    return TransformerManager().transform_cell(source)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def definitions(source: str) -> str:
    """The top-level definitions of a cell: imports, functions, classes, assignments, blocks.

    Left out: expressions, loops and asserts (calls made to look at results), anything that
    imports or uses the kit's ``graders`` or IPython's ``get_ipython``; a cell that is not
    valid Python is left out whole.
    """
    python = _python(source)
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return ""
    kit_names = {"get_ipython"}
    keep: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] == "graders" for m in modules):
                kit_names |= {(a.asname or a.name).split(".")[0] for a in node.names}
                continue
        if isinstance(node, _DROPPED) or _names(node) & kit_names:
            continue
        keep.append(ast.get_source_segment(python, node) or ast.unparse(node))
    return "\n\n".join(keep)


def module_files(nb: Any) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The exercise modules a notebook defines, and its autograder cells by exercise id.

    A module's file holds the cells of its section (from its ``<module>.text`` cell to the next
    module's), after the cells that come before the first section (the student's own imports).
    """
    graded = _grade_ids()
    sections: dict[str, list[str]] = {}
    preamble: list[str] = []
    cells: dict[str, Any] = {}
    module = None
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id", "")
        if gid.endswith("-text") and gid[:-5].count("-") == 1:
            module = gid[:-5].replace("-", ".")
            sections.setdefault(module, [])
        if cell.cell_type != "code":
            continue
        if meta.get("grade") and gid in graded:
            cells[graded[gid].id] = cell
            continue
        code = definitions(cell.source)
        if code:
            (sections[module] if module else preamble).append(code)
    files = {}
    for name, parts in sections.items():
        day, mod = name.split(".")
        files[f"{day}/{mod}.py"] = ("\n\n\n".join([*preamble, *parts]) + "\n").encode("utf-8")
    return files, cells


_GRADER: Any = None


def _grader(protected: list[Path]) -> Any:
    """One grading session per nbgrader run (a private kit copy, warm grading processes)."""
    global _GRADER
    if _GRADER is None:
        from graders.grading.engine import Grader

        _GRADER = Grader(profile=os.environ.get("DRILLS_HYPOTHESIS_PROFILE", "grading"),
                         hint_command=False, protected=protected)
        atexit.register(_GRADER.close)
    return _GRADER


def _protected(path: str) -> list[Path]:
    """The course folder (other students' work, the solutions), never a top-level folder."""
    here = Path(path or ".").resolve()
    course = here.parents[2] if len(here.parents) > 2 else here
    return [p for p in {course, Path.cwd().resolve()} if len(p.parts) > 2]


def cell_outputs(entry: dict) -> list[Any]:
    """An autograder cell's outputs: the feedback (stdout), then the points as its value."""
    text = f"{entry['status']}: {entry['points']:g} / {entry['max_points']:g} points"
    if entry["feedback"] and entry["status"] != "passed":
        text += "\n\n" + entry["feedback"]
    return [new_output("stream", name="stdout", text=text + "\n"),
            new_output("execute_result", data={"text/plain": repr(float(entry["points"]))},
                       execution_count=None)]


class GradeInSandbox(Preprocessor):
    """Grade the notebook's exercises in the sandbox and write the autograder cells' outputs."""

    enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off unless enabled

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        files, cells = module_files(nb)
        if not cells:
            return nb, resources
        days = sorted({registry.by_id()[i].day for i in cells}, key=lambda d: int(d[3:]))
        path = resources.get("metadata", {}).get("path", "")
        grader = _grader(_protected(path))
        record = grader.grade(Path(path or ".").name, files, days=days, exercises=sorted(cells))
        for ex_id, cell in cells.items():
            cell.outputs = cell_outputs(record["exercises"][ex_id])
        return nb, resources
