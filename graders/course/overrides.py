"""The instructor's changes to points, applied to the results after grading.

An overrides file is a CSV file with the columns ``submission`` (or ``student_id`` of the
roster), ``exercise`` (its id), ``points``, ``comment`` and ``who``::

    submission,exercise,points,comment,who
    bob,day1.tensors.describe,1.5,partial credit: the shapes are right,TA Ann
    carol,day1.autograd.grad_check,clear,flag reviewed: the file read was her own data,Prof. Lee

``points`` is the exercise's new points (0 to its maximum), or ``clear``: a flagged exercise
gets back what its checks earned, and its flags leave the reports. A later row for the same
exercise of the same submission replaces an earlier one. Day totals and the total follow by
the one rule of :func:`graders.grading.scoring.totals`; every override is listed, with its
comment and who made it, in every report and in the student's feedback.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from graders.course.files import StaffFileError, read_rows, where
from graders.course.roster import Roster
from graders.grading.scoring import totals, unflagged


@dataclass(frozen=True)
class Override:
    """One row of the overrides file; ``points`` is None for ``clear``."""

    submission: str
    exercise: str
    points: float | None
    comment: str
    who: str
    line: str


@dataclass(frozen=True)
class Applied:
    """An override as applied: the points before and after."""

    exercise: str
    before: float
    after: float
    comment: str
    who: str
    cleared: bool

    def describe(self) -> str:
        """``day1.tensors.describe: 1 -> 1.5 points (partial credit..., by TA Ann)``."""
        what = "flag cleared, " if self.cleared else ""
        by = f", by {self.who}" if self.who else ""
        note = f" ({self.comment}{by})" if self.comment or by else ""
        return f"{self.exercise}: {what}{self.before:g} -> {self.after:g} points{note}"

    def to_json(self) -> dict:
        return asdict(self)


def load(path: Path, roster: Roster | None = None) -> list[Override]:
    """Read an overrides file; an unknown exercise or a bad points value is an error."""
    from graders.core import registry

    table = registry.by_id()
    by_id = {s.student_id: s.submission for s in roster.students if s.student_id} if roster else {}
    out = []
    for line, row in read_rows(path, required=("exercise", "points"), what="overrides file"):
        here = where(path, line)
        name = row.get("submission") or by_id.get(row.get("student_id", ""), "")
        if not name:
            raise StaffFileError(f"{here}: give a submission (or a student_id of the roster)")
        ex = table.get(row["exercise"])
        if ex is None:
            raise StaffFileError(f"{here}: no such exercise {row['exercise']!r}")
        text = row["points"].lower()
        points = None
        if text != "clear":
            try:
                points = float(text)
            except ValueError:
                raise StaffFileError(f"{here}: points is a number or 'clear', not {row['points']!r}") from None
            if not 0 <= points <= ex.points:
                raise StaffFileError(f"{here}: {ex.id} is worth 0 to {ex.points:g} points, not {points:g}")
        out.append(Override(name, ex.id, points, row.get("comment", ""), row.get("who", ""), here))
    return out


def apply(results: list[dict], overrides: list[Override]) -> tuple[list[dict], dict[str, list[Applied]], list[str]]:
    """The results with ``overrides`` applied (records that change are copies), the overrides
    applied per submission, and a warning for each override that matched nothing."""
    last: dict[tuple[str, str], Override] = {}
    for o in overrides:
        last[(o.submission, o.exercise)] = o
    by_sub: dict[str, list[Override]] = {}
    for o in last.values():
        by_sub.setdefault(o.submission, []).append(o)
    names = {r["submission"] for r in results}
    warnings = [f"{o.line}: no submission {o.submission!r} in the results" for o in last.values()
                if o.submission not in names]
    out, applied = [], {}
    for r in results:
        mine = by_sub.get(r["submission"])
        if not mine:
            out.append(r)
            continue
        record = {**r, "exercises": dict(r["exercises"]), "flags": list(r["flags"])}
        done = []
        for o in mine:
            entry = record["exercises"].get(o.exercise)
            if entry is None:
                warnings.append(f"{o.line}: {o.exercise} was not graded for {o.submission!r}")
                continue
            entry = record["exercises"][o.exercise] = dict(entry)
            before, cleared = entry["points"], o.points is None
            if o.points is None:
                status, points = unflagged(o.exercise, entry["checks"])
                entry.update(status=status, points=points, flagged=[])
                record["flags"] = [f for f in record["flags"] if not f.startswith(o.exercise + ": ")]
            else:
                entry["points"] = points = o.points
            a = Applied(o.exercise, before, points, o.comment, o.who, cleared)
            entry["override"] = a.to_json()
            done.append(a)
        record["days"], record["total"] = totals(record["exercises"])
        out.append(record)
        applied[r["submission"]] = done
    return out, applied, warnings
