"""Grade one Gradescope submission and write ``results/results.json`` (run by ``run_autograder``).

    python -m graders.export.gradescope_run --day day1 --root /autograder

The submission (``ROOT/submission``) may hold an ``exercises/`` tree, its ``dayN/`` folders, or
the day's module files directly, at any depth (an unpacked zip often adds a folder). It is copied
into a fresh folder and graded there in a separate pytest process with every check, public and
hidden, against the reference. Each check becomes one Gradescope test: its share of the
exercise's points, its feedback, ``visible`` or (hidden checks) ``after_published``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from graders import registry
from graders.export.checks_report import ENV as CHECKS_ENV

KIT = Path(__file__).resolve().parents[2]


def find_day(submission: Path, day: str) -> tuple[Path | None, list[Path]]:
    """The submitted ``dayN`` folder, or else the day's module files found anywhere in it."""
    for candidate in (submission / "exercises" / day, submission / day):
        if candidate.is_dir():
            return candidate, []
    folders = sorted((p for p in submission.rglob(day) if p.is_dir()), key=lambda p: len(p.parts))
    if folders:
        return folders[0], []
    names = {e.module.split(".")[1] for e in registry.exercises() if e.day == day}
    found: dict[str, Path] = {}
    for path in sorted(submission.rglob("*.py"), key=lambda p: (len(p.parts), str(p))):
        if path.stem in names and path.stem not in found:
            found[path.stem] = path
    return None, sorted(found.values())


def stage(submission: Path, day: str, target: Path) -> str:
    """Copy the submission's day into ``target/day``; return what was found, for the output."""
    folder, modules = find_day(submission, day)
    dest = target / day
    dest.mkdir(parents=True)
    if folder is not None:
        for path in sorted(folder.glob("*.py")):
            shutil.copyfile(path, dest / path.name)
        return f"graded the folder {folder.relative_to(submission)}"
    for path in modules:
        shutil.copyfile(path, dest / path.name)
    if not modules:
        return f"found no {day}/ folder and none of the day's files in the submission"
    return "graded the files " + ", ".join(str(p.relative_to(submission)) for p in modules)


def grade(target: Path, day: str, work: Path, *, profile: str, timeout: float) -> tuple[dict | None, list]:
    """Run every check of ``day`` on ``target``; return the scoreboard and the per-check rows."""
    report, checks = work / "report.json", work / "checks.json"
    env = {**os.environ, CHECKS_ENV: str(checks)}
    cmd = [sys.executable, "-m", "pytest", f"exercises/{day}", "--drills-target", str(target),
           "--drills-report", str(report), "--hypothesis-profile", profile,
           "-p", "graders.export.checks_report", "-p", "no:cacheprovider", "-q"]
    try:
        subprocess.run(cmd, cwd=KIT, env=env, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        pass
    board = json.loads(report.read_text("utf-8")) if report.exists() else None
    rows = json.loads(checks.read_text("utf-8")) if checks.exists() else []
    return board, rows


def results(day: str, board: dict | None, rows: list[dict], found: str, seconds: float) -> dict[str, Any]:
    """The Gradescope ``results.json`` for one graded submission."""
    exercises = [e for e in registry.exercises() if e.day == day]
    statuses = (board or {}).get("exercises", {})
    tests: list[dict[str, Any]] = []
    summary = [found]
    for i, ex in enumerate(exercises, start=1):
        mine = [r for r in rows if r["exercise"] == ex.id]
        status = statuses.get(ex.id, {}).get("status", "error")
        assessed = [r for r in mine if r["outcome"] != "not assessed"]
        share = ex.points / len(assessed) if assessed else 0.0
        earned = status not in ("not started", "error")
        summary.append(f"{ex.id}: {status}")
        for j, r in enumerate(mine, start=1):
            counted = r["outcome"] != "not assessed"
            passed = r["outcome"] == "passed" or not counted
            tests.append({
                "name": f"{ex.id}: {r['question'] or r['nodeid'].split('::')[-1]}",
                "number": f"{i}.{j}",
                "score": round(share, 4) if counted and passed and earned else 0.0,
                "max_score": round(share, 4) if counted else 0.0,
                "status": "passed" if passed and (earned or not counted) else "failed",
                "output": r["feedback"] if counted else f"not assessed: {r['reason']}",
                "visibility": "after_published" if r["hidden"] else "visible",
                "tags": [ex.id],
            })
        if not mine:
            tests.append({"name": f"{ex.id}: graded", "number": f"{i}.1", "score": 0.0,
                          "max_score": ex.points, "status": "failed", "visibility": "visible",
                          "output": "the checks of this exercise did not run (time limit or crash)",
                          "tags": [ex.id]})
    score = round(sum(t["score"] for t in tests), 4)
    return {
        "score": score,
        "max_score": round(sum(e.points for e in exercises), 4),
        "execution_time": int(round(seconds)),
        "output": "\n".join(summary),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def main(argv: list[str] | None = None) -> int:
    """Grade ``ROOT/submission`` for one day and write ``ROOT/results/results.json``."""
    parser = argparse.ArgumentParser(prog="gradescope_run")
    parser.add_argument("--day", required=True)
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("DRILLS_AUTOGRADER_ROOT", "/autograder")))
    parser.add_argument("--profile", default=os.environ.get("DRILLS_HYPOTHESIS_PROFILE", "grading"))
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("DRILLS_GRADING_TIMEOUT", 1800)))
    args = parser.parse_args(argv)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="drills-gs-") as tmp:
        work = Path(tmp)
        found = stage(args.root / "submission", args.day, work / "target")
        board, rows = grade(work / "target", args.day, work, profile=args.profile, timeout=args.timeout)
    data = results(args.day, board, rows, found, time.monotonic() - start)
    out = args.root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(data["output"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
