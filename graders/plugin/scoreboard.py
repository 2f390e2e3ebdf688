"""Per-exercise statuses and points, folded from grader test outcomes.

Status rules (SPEC section 2):
- ``error``: the student's module could not be imported;
- ``not started``: every check that ran failed on the stub's own ``NotImplementedError("<id>")``;
- ``passed``: every assessed check passed (checks not assessed here cost nothing);
- ``failed``: anything else (a ``NotImplementedError`` raised for one case is a failure).

Points: an exercise's points are split evenly over its assessed checks (:data:`CREDIT_RULE`).
Only exercises with at least one check that ran are on the board (``--collect-only``, ``-x``
stopping early, ``-k`` selecting nothing); the others are listed in :attr:`Scoreboard.not_run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.core import registry
from graders.core.outcomes import ItemResult
from graders.core.points import fold

STATUSES = ("passed", "failed", "not started", "error")
_SYMBOL = {"passed": "✔", "failed": "✘", "not started": "·", "error": "!"}
_COLOUR = {"passed": "green", "failed": "red", "not started": "yellow", "error": "red"}

#: How partial credit is counted, printed under the board.
CREDIT_RULE = ("Points: an exercise's points are shared equally by its checks; you earn the share "
               "of each check that passed (not started and error earn 0).")


@dataclass
class ExerciseScore:
    exercise: registry.Exercise
    status: str
    points: float
    checks: list[Any] = field(default_factory=list)

    @property
    def max_points(self) -> float:
        return self.exercise.points

    @property
    def not_assessed(self) -> list[str]:
        return sorted({c.reason for c in self.checks if c.outcome == "not assessed"})

    @property
    def first_feedback(self) -> str:
        for c in self.checks:
            if c.outcome == "failed" and c.feedback:
                return c.feedback
        return ""


@dataclass
class Scoreboard:
    scores: list[ExerciseScore]
    not_run: list[str] = field(default_factory=list)  # selected exercises none of whose checks ran

    @property
    def points(self) -> float:
        return round(sum(s.points for s in self.scores), 4)

    @property
    def max_points(self) -> float:
        return round(sum(s.max_points for s in self.scores), 4)

    def all_passed(self) -> bool:
        return all(s.status == "passed" for s in self.scores)

    def by_day(self) -> dict[str, list[ExerciseScore]]:
        out: dict[str, list[ExerciseScore]] = {}
        for s in self.scores:
            out.setdefault(s.exercise.day, []).append(s)
        return out

    def to_json(self) -> dict:
        return {
            "exercises": {
                s.exercise.id: {
                    "status": s.status,
                    "points": s.points,
                    "max_points": s.max_points,
                    "title": s.exercise.title,
                    "not_assessed": s.not_assessed,
                    "feedback": s.first_feedback,
                }
                for s in self.scores
            },
            "points": self.points,
            "max_points": self.max_points,
            "not_run": list(self.not_run),
        }


def build(owners: dict[str, str], results: dict[str, Any]) -> Scoreboard:
    """Fold ``results`` (node id -> ItemResult) of the selected tests (``owners``) per exercise."""
    table = registry.by_id()
    grouped: dict[str, list[Any]] = {}
    for nodeid, ex_id in owners.items():
        res = results.get(nodeid)
        if res is None:  # selected but never reported (interrupted run)
            res = ItemResult(exercise=ex_id, outcome="not run", kind="failure")
        grouped.setdefault(ex_id, []).append(res)
    scores: list[ExerciseScore] = []
    not_run: list[str] = []
    for ex in registry.exercises():
        checks = grouped.get(ex.id)
        if not checks:
            continue
        if all(c.outcome == "not run" for c in checks):
            not_run.append(ex.id)
            continue
        status, points = fold(ex.points, checks)  # the one rule: graders.core.points
        scores.append(ExerciseScore(table[ex.id], status, points, checks))
    return Scoreboard(scores, not_run)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _note(s: ExerciseScore) -> str:
    """What the status alone does not say: checks not assessed here, checks that did not run."""
    notes = []
    if s.not_assessed:
        reasons = ", ".join(s.not_assessed)
        lead = "passed; " if s.status == "passed" else ""
        count = sum(c.outcome == "not assessed" for c in s.checks)
        checks = "check" if count == 1 else f"{count} checks"
        notes.append(f"{lead}{checks} not run here, at no cost: {reasons}")
    skipped = sum(c.outcome == "not run" for c in s.checks)
    if skipped:
        notes.append(f"{skipped} of {len(s.checks)} checks did not run")
    return f"  ({'; '.join(notes)})" if notes else ""


def render_terminal(board: Scoreboard, tr: Any, *, target: Path, stopped: str = "") -> None:
    """Print the scoreboard at the end of a pytest run.

    ``stopped`` says why some selected checks did not run (``--collect-only``, ``-x``...).
    """
    tr.write_sep("=", "Deep Learning Drills: scoreboard", bold=True)
    tr.write_line(f"graded: {target}")
    if not board.scores:
        why = f" ({stopped})" if stopped else ""
        tr.write_line(f"No check ran{why}, so nothing was scored.")
        return
    width = max((len(s.exercise.id) for s in board.scores), default=20)
    for day, scores in board.by_day().items():
        tr.write_line("")
        for s in scores:
            mark = {"bold": True, _COLOUR[s.status]: True}
            tr.write(f" {_SYMBOL[s.status]} ", **mark)
            tr.write(f"{s.exercise.id:<{width}}  ")
            tr.write(f"{s.status:<12}", **mark)
            tr.write(f"{_fmt(s.points):>6} / {_fmt(s.max_points):<4}")
            tr.write_line(f"  {s.exercise.title}{_note(s)}")
        got = sum(s.points for s in scores)
        top = sum(s.max_points for s in scores)
        done = sum(s.status == "passed" for s in scores)
        tr.write_line(
            f"   {day} total: {_fmt(round(got, 2))} / {_fmt(top)} points, "
            f"{done} of {len(scores)} exercises passed",
            bold=True,
        )
    if len(board.by_day()) > 1:
        tr.write_line("")
        tr.write_line(f"   total: {_fmt(round(board.points, 2))} / {_fmt(board.max_points)} points", bold=True)
    tr.write_line("")
    tr.write_line(CREDIT_RULE)
    if board.not_run:
        why = f" ({stopped})" if stopped else ""
        tr.write_line(f"Only the exercises whose checks ran are listed: {len(board.not_run)} selected "
                      f"exercise(s) did not run{why}.")
