"""Grade one Gradescope submission and write ``results/results.json`` (run by ``run_autograder``).

    python -m graders.export.gradescope_run --days day1,day2 --root /autograder

The submission (``ROOT/submission``) may hold an ``exercises/`` tree, its ``dayN/`` folders, or
the day's module files directly, at any depth (an unpacked zip often adds a folder). Its files
are graded exactly as ``drills grade`` grades them (:class:`graders.grading.engine.Grader`: the
same sandbox, checks, public and hidden, and points), so the same code gets the same points.

Each exercise is one Gradescope test worth the registry's points, named by its id; its output
is the public checks' feedback. An exercise with hidden checks also gets a test worth nothing
that shows their outcome once grades are published (``after_published``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from graders.core import points, registry
from graders.core.outcomes import ItemResult

_MAX_BYTES = 1 << 20  # a module file larger than this is not a solution


def find_day(submission: Path, day: str) -> tuple[Path | None, list[Path]]:
    """The submitted ``dayN`` folder, or else the day's module files found anywhere in it."""
    for candidate in (submission / "exercises" / day, submission / day):
        if candidate.is_dir() and not candidate.is_symlink():
            return candidate, []
    folders = sorted((p for p in submission.rglob(day) if p.is_dir() and not p.is_symlink()),
                     key=lambda p: (len(p.parts), str(p)))
    if folders:
        return folders[0], []
    names = {e.module.split(".")[1] for e in registry.exercises() if e.day == day}
    found: dict[str, Path] = {}
    for path in sorted(submission.rglob("*.py"), key=lambda p: (len(p.parts), str(p))):
        if path.stem in names and path.stem not in found:
            found[path.stem] = path
    return None, sorted(found.values())


def _regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and path.stat().st_size <= _MAX_BYTES


def stage(submission: Path, days: list[str]) -> tuple[dict[str, bytes], list[str]]:
    """The submission's module files as ``{"dayN/module.py": bytes}``, and what was found."""
    files: dict[str, bytes] = {}
    found: list[str] = []
    for day in days:
        folder, modules = find_day(submission, day)
        if folder is not None:
            modules = sorted(p for p in folder.glob("*.py") if _regular(p))
            found.append(f"{day}: graded the folder {folder.relative_to(submission)}")
        elif modules:
            found.append(f"{day}: graded the files "
                         + ", ".join(str(p.relative_to(submission)) for p in modules))
        else:
            found.append(f"{day}: found no {day}/ folder and none of the day's files")
        for path in modules:
            if _regular(path):
                files[f"{day}/{path.name}"] = path.read_bytes()
    return files, found


def _items(exercise: str, checks: list[dict]) -> list[ItemResult]:
    return [ItemResult(exercise, outcome=c["outcome"], kind=c.get("kind", "")) for c in checks]


def _check_lines(checks: list[dict]) -> list[str]:
    mark = {"passed": "passed", "not assessed": "not assessed"}
    return [f"  {mark.get(c['outcome'], 'failed'):>12}  {c['question'] or c['test'].split('::')[-1]}"
            + (f" ({c['feedback']})" if c["outcome"] == "not assessed" and c["feedback"] else "")
            for c in checks]


def _output(entry: dict, checks: list[dict], *, hidden: bool) -> str:
    """What a student reads for one exercise: its status, each check, the first failure."""
    if hidden:
        lines = []
    else:
        lines = [f"{entry['status']}: {entry['points']:g} / {entry['max_points']:g} points"]
        if entry["status"] in ("not started", "error", "flagged") or not checks:
            return "\n".join([*lines, "", entry["feedback"]]) if entry["feedback"] else lines[0]
    lines += _check_lines(checks)
    failed = next((c["feedback"] for c in checks if c["outcome"] == "failed" and c["feedback"]), "")
    return "\n".join([*lines, "", failed] if failed else lines)


def results(days: list[str], record: dict, found: list[str], seconds: float) -> dict[str, Any]:
    """The Gradescope ``results.json`` for one graded submission (a record of the engine)."""
    tests: list[dict[str, Any]] = []
    summary = list(found) + [f"flagged: {f}" for f in record["flags"]]
    exercises = [e for e in registry.exercises() if e.day in days and e.id in record["exercises"]]
    for number, ex in enumerate(exercises, start=1):
        entry = record["exercises"][ex.id]
        public = [c for c in entry["checks"] if not c["hidden"]]
        hidden = [c for c in entry["checks"] if c["hidden"]]
        summary.append(f"{ex.id}: {entry['status']} ({entry['points']:g} / {ex.points:g})")
        tests.append({
            "name": f"{ex.id}: {ex.title}", "number": str(number),
            "score": entry["points"], "max_score": ex.points,
            "status": "passed" if entry["status"] == "passed" else "failed",
            "output": _output(entry, public, hidden=False),
            "visibility": "visible", "tags": [ex.id],
        })
        if hidden:
            tests.append({
                "name": f"{ex.id}: hidden checks", "number": f"{number}.h",
                "score": 0.0, "max_score": 0.0,
                "status": "passed" if points.status(_items(ex.id, hidden)) == "passed" else "failed",
                "output": _output(entry, hidden, hidden=True),
                "visibility": "after_published", "tags": [ex.id],
            })
    return {
        "score": record["total"],
        "max_score": record["max_total"],
        "execution_time": int(round(seconds)),
        "output": "\n".join(summary),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def main(argv: list[str] | None = None) -> int:
    """Grade ``ROOT/submission`` for the exported days and write ``ROOT/results/results.json``."""
    from graders.grading import atomic
    from graders.grading.engine import Grader

    parser = argparse.ArgumentParser(prog="gradescope_run")
    parser.add_argument("--days", required=True, help="comma-separated: day1,day2")
    parser.add_argument("--root", type=Path,
                        default=Path(os.environ.get("DRILLS_AUTOGRADER_ROOT", "/autograder")))
    parser.add_argument("--profile", default=os.environ.get("DRILLS_HYPOTHESIS_PROFILE", "grading"))
    args = parser.parse_args(argv)
    days = registry.parse_days(args.days)
    start = time.monotonic()
    root = args.root.resolve()
    files, found = stage(root / "submission", days)
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    with Grader(profile=args.profile, hint_command=False,
                protected=[root / "results", root / "submission"]) as grader:
        record = grader.grade("submission", files, days=days)
    data = results(days, record, found, time.monotonic() - start)
    atomic.write(out, json.dumps(data, indent=1) + "\n")  # never through what the code put there
    print(data["output"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
