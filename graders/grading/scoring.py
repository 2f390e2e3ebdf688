"""Fold the checks of one submission into exercise statuses, points and flags.

Statuses and points follow the rule of the scoreboard students see (:mod:`graders.core.points`), with two
additions: an exercise whose day folder is missing is an ``error`` worth 0; an exercise during
whose checks the code broke a sandbox rule is ``flagged``: 0 points, and the reason in the
feedback and in the submission's flags. A crash or a hang fails only the check it happened in,
and is listed in the flags too. ``review`` lists what the static review
(:mod:`graders.grading.review`) found in the files, for the instructor; it costs no points.
"""

from __future__ import annotations

from typing import Any

from graders.core import points, registry
from graders.core.outcomes import ItemResult
from graders.grading.review import review
from graders.plugin import scoreboard


def _item(exercise: str, rec: dict) -> ItemResult:
    return ItemResult(
        exercise=exercise, outcome=rec.get("outcome", "failed"), kind=rec.get("kind", ""),
        feedback=rec.get("feedback", ""), reason=rec.get("reason", ""),
        duration=float(rec.get("duration", 0.0)), hidden=bool(rec.get("hidden", False)),
        question=rec.get("question", ""),
    )


def _check(rec: dict) -> dict[str, Any]:
    return {
        "test": rec["id"], "outcome": rec.get("outcome", "failed"), "kind": rec.get("kind", ""),
        "hidden": bool(rec.get("hidden", False)), "question": rec.get("question", ""),
        "feedback": rec.get("feedback", "") or rec.get("reason", ""),
        "duration": float(rec.get("duration", 0.0)),
        "violations": list(rec.get("violations", [])), "incident": rec.get("incident", ""),
    }


def score(job: Any, exercises: list[registry.Exercise], checks: list[dict],
          results: dict[str, dict], present: list[str], flags: list[str]) -> dict:
    """The result record of a submission: every selected exercise, with points and feedback."""
    owner = {c["id"]: c["exercise"] for c in checks}
    board = scoreboard.build(
        {cid: owner[cid] for cid in results if cid in owner},
        {cid: _item(owner[cid], rec) for cid, rec in results.items() if cid in owner},
    )
    by_id = {s.exercise.id: s for s in board.scores}
    flags = list(flags)
    out: dict[str, dict] = {}
    for ex in exercises:
        s = by_id.get(ex.id)
        recs = [results[c["id"]] for c in checks if c["exercise"] == ex.id and c["id"] in results]
        entry: dict[str, Any] = {
            "title": ex.title, "max_points": ex.points, "status": "error", "points": 0.0,
            "feedback": "", "flagged": [], "checks": [_check(r) for r in recs],
        }
        if job.refused:
            entry["feedback"] = f"The submission was refused: {job.refused}."
        elif ex.day not in present:
            entry["feedback"] = f"The submission has no {ex.day}/ folder with exercise files."
        elif s is not None:
            entry.update(status=s.status, points=s.points, feedback=s.first_feedback)
        violations = list(dict.fromkeys(v for r in recs for v in r.get("violations", [])))
        incidents = list(dict.fromkeys(r["incident"] for r in recs if r.get("incident")))
        if violations:
            entry.update(status="flagged", points=0.0, flagged=violations,
                         feedback="Flagged: the code " + "; ".join(violations) + ". This exercise scores 0.")
        flags += [f"{ex.id}: {v}" for v in violations] + [f"{ex.id}: {i}" for i in incidents]
        out[ex.id] = entry
    days, total = totals(out)
    return {
        "submission": job.name, "digest": job.digest, "notes": list(job.notes),
        "flags": list(dict.fromkeys(flags)), "exercises": out, "days": days,
        "review": [str(f) for f in review(job.files)],
        "total": total,
        "max_total": round(sum(e.points for e in exercises), 4),
    }


def totals(exercises: dict[str, dict]) -> tuple[dict[str, float], float]:
    """The day totals and the total of a submission's exercise entries (``{id: {"points": ..}}``),
    in the order of the entries: the one rule for every report that sums points."""
    days: dict[str, float] = {}
    for ex_id, entry in exercises.items():
        day = ex_id.split(".")[0]
        days[day] = round(days.get(day, 0.0) + entry["points"], 4)
    return days, round(sum(days.values()), 4)


def unflagged(exercise: str, checks: list[dict]) -> tuple[str, float]:
    """The status and points of ``exercise`` from its recorded checks (``grades.json``), as the
    scoreboard folds them, leaving the sandbox's flags out: what a flagged exercise earns once
    the instructor clears it. No checks (no day folder, a refused submission): ``error``, 0."""
    ex = registry.by_id().get(exercise)
    if not checks or ex is None:
        return "error", 0.0
    return points.fold(ex.points, [_item(exercise, c) for c in checks])
