"""How much faster is `drills grade` than `nbgrader autograde` of the exported course?

Builds one small class of day-1 submissions the way tests/test_engines.py does (the reference,
the shipped stubs, its partly-wrong submission, and a second partly-wrong one holding the
reference's solution of every other exercise), then, in one run and with the same hypothesis
profile (``DRILLS_HYPOTHESIS_PROFILE=drills``):

- ``drills grade`` of the four folders (``--no-cache``, ``--workers N``: 1 by default), and
- ``nbgrader autograde day1`` of the course from ``drills export nbgrader``, the same answers
  filled into the released notebook's solution cells (``generate_assignment`` is set-up and is
  not timed).

``--copies K`` hands in each of the four K times (a class of 4K submissions: what the command
pays once, such as its start-up, is shared as it is in a real class).

It prints each engine's wall time, the throughput ratio, the per-submission overhead beyond the
checks themselves (the checks' own time is taken from drills grade's ``timings.json``) and
whether both engines gave every submission the same points.

    python bench/grade_vs_nbgrader.py
    python bench/grade_vs_nbgrader.py --workers 2 --copies 3
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT / "tests"), str(KIT)]  # tests/conftest.py, not the kit's

from test_engines import RIGHT, TOUCHED, _defs, _solution, partial_modules  # noqa: E402

from graders.core import registry  # noqa: E402

DAY = "day1"
PROFILE = "drills"
STUDENTS = ("reference", "stubs", "partial", "halfway")


def roster(copies: int) -> list[tuple[str, str]]:
    """(submission name, whose answers it holds): each of :data:`STUDENTS` ``copies`` times."""
    return [(s if k == 0 else f"{s}{k + 1}", s) for k in range(copies) for s in STUDENTS]


def _env() -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    return {**os.environ, "DRILLS_HYPOTHESIS_PROFILE": PROFILE,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def _run(cmd: list[str], cwd: Path) -> float:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return time.monotonic() - start


def _exercises() -> list[registry.Exercise]:
    return [e for e in registry.exercises() if e.day == DAY]


def answers() -> dict[str, dict[str, str]]:
    """Per student, ``{exercise id: source}`` of what it wrote (absent: the stub as shipped)."""
    modules = partial_modules()
    out: dict[str, dict[str, str]] = {"reference": {}, "stubs": {}, "partial": {}, "halfway": {}}
    for i, ex in enumerate(_exercises()):
        rel = f"{ex.module.replace('.', '/')}.py"
        reference, stub = (KIT / "reference" / rel).read_text(), (KIT / "exercises" / rel).read_text()
        if ex.id in TOUCHED:
            text = modules[rel]
            out["partial"][ex.id] = _solution(reference, stub, ex.name) if ex.id in RIGHT else \
                ast.get_source_segment(text, _defs(text)[ex.name])
        if i % 2 == 0:
            out["halfway"][ex.id] = _solution(reference, stub, ex.name)
    return out


def _replaced(source: str, name: str, new: str) -> str:
    node = _defs(source)[name]
    lines = source.splitlines(keepends=True)
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    return "".join(lines[:start]) + new.rstrip("\n") + "\n" + "".join(lines[node.end_lineno:])


def write_class(root: Path, written: dict[str, dict[str, str]], names: list[tuple[str, str]]) -> None:
    """The class as folders for drills grade: the reference's modules, or the stubs with each
    student's answers in place of the exercises it wrote."""
    for name, student in names:
        if student == "reference":
            shutil.copytree(KIT / "reference" / DAY, root / name / "exercises" / DAY,
                            ignore=shutil.ignore_patterns("__pycache__"))
            continue
        folder = root / name / "exercises" / DAY
        shutil.copytree(KIT / "exercises" / DAY, folder, ignore=shutil.ignore_patterns("__pycache__"))
        for ex in _exercises():
            if ex.id in written[student]:
                path = folder / f"{ex.module.split('.')[-1]}.py"
                path.write_text(_replaced(path.read_text(), ex.name, written[student][ex.id]))


def grade_drills(root: Path, out: Path, names: list[tuple[str, str]], workers: int) -> float:
    return _run([sys.executable, "-m", "graders.cli", "grade", *(str(root / s) for s, _ in names),
                 "--out", str(out), "--profile", PROFILE, "--days", DAY[3:], "--workers", str(workers),
                 "--no-cache", "--no-progress"], KIT)


def drills_points(out: Path) -> tuple[dict[str, dict[str, float]], float, float]:
    """Points per student and exercise, the checks' own seconds in all, and the median seconds
    a submission's grading took beyond its checks (the command's start-up left out)."""
    import statistics

    doc = json.loads((out / "grades.json").read_text())
    points = {s["submission"]: {k: v["points"] for k, v in s["exercises"].items()} for s in doc["submissions"]}
    timings = json.loads((out / "timings.json").read_text())
    extra = statistics.median(t["wall_s"] - sum(t["checks"].values()) for t in timings.values())
    return points, sum(sum(t["checks"].values()) for t in timings.values()), extra


def prepare_nbgrader(course: Path, written: dict[str, dict[str, str]], names: list[tuple[str, str]]) -> None:
    """Export the course, generate day 1 and submit the class (none of it timed)."""
    import nbformat

    _run([sys.executable, "-m", "graders.cli", "export", "nbgrader", "--out", str(course)], KIT)
    _run([str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", DAY, "--force"], course)
    source = nbformat.read(course / "source" / DAY / f"{DAY}.ipynb", as_version=4)
    solutions = {}  # every solution cell of the reference: the exercises' and the helpers' cells
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            solutions[meta["grade_id"]] = "\n".join(line for line in cell.source.splitlines() if "### " not in line)
    cells = {"reference": solutions}
    for student in ("stubs", "partial", "halfway"):
        cells[student] = {f"{eid.replace('.', '-')}-solution": text for eid, text in written[student].items()}
    for name, student in names:
        nb = nbformat.read(course / "release" / DAY / f"{DAY}.ipynb", as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if gid in cells[student]:
                cell.source = cells[student][gid]
        folder = course / "submitted" / name / DAY
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{DAY}.ipynb")


def nbgrader_points(course: Path, names: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    points: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, _ in names:
            for nb in gb.find_submission(DAY, student).notebooks:
                for g in nb.grades:
                    points.setdefault(student, {})[g.name.replace("-", ".")] = g.score
    return points


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=1, help="drills grade's workers")
    p.add_argument("--copies", type=int, default=1, help="hand in each of the four this many times")
    args = p.parse_args()
    names = roster(args.copies)
    written = answers()
    with tempfile.TemporaryDirectory(prefix="drills-vs-nbgrader-") as tmp:
        root, course, out = Path(tmp) / "class", Path(tmp) / "course", Path(tmp) / "grades"
        write_class(root, written, names)
        prepare_nbgrader(course, written, names)
        n = len(names)
        print(f"class: {n} {DAY} submissions ({', '.join(STUDENTS)}, each {args.copies}x), hypothesis "
              f"profile {PROFILE}, drills grade with {args.workers} worker(s)")
        drills = grade_drills(root, out, names, args.workers)
        nbgrader = _run([str(Path(sys.executable).parent / "nbgrader"), "autograde", DAY, "--force"], course)
        points, checks, inside = drills_points(out)
        theirs = nbgrader_points(course, names)
    same = all(points[s] == {k: theirs.get(s, {}).get(k) for k in points[s]} for s, _ in names)
    per_checks = checks / n
    print(f"drills grade:       {drills:7.1f} s  {n * 60 / drills:6.1f} submissions/min  "
          f"overhead beyond the checks {drills / n - per_checks:5.2f} s per submission")
    print(f"nbgrader autograde: {nbgrader:7.1f} s  {n * 60 / nbgrader:6.1f} submissions/min  "
          f"overhead beyond the checks {nbgrader / n - per_checks:5.2f} s per submission")
    print(f"(the checks themselves: {per_checks:.2f} s per submission, from drills grade's timings.json; "
          f"its median submission took {inside:.2f} s beyond them once the command had started)")
    print(f"throughput: drills grade is {nbgrader / drills:.1f}x nbgrader autograde (goal: at least 5x); "
          f"same points: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
