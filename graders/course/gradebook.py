"""One final row per student: roster, points as graded and overridden, lateness, final score;
and the CSV files a gradebook imports (Canvas, Moodle).

Every roster student has a row (``no submission`` and 0 when nothing came in), and so does
every submission (``not on roster`` when it matches nobody). ``raw`` is the total after the
overrides, ``penalty`` what lateness cost, ``final`` what counts (``total`` too, the column
scripts already read).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from graders.course.deadlines import Lateness, LatePolicy, assess
from graders.course.overrides import Applied
from graders.course.roster import STANDARD, Roster, Student
from graders.grading import atomic
from graders.grading.outputs import day_names, exercise_ids

NO_SUBMISSION, NOT_ON_ROSTER, GRADED = "no submission", "not on roster", "graded"


@dataclass
class Row:
    """A student's (or an unmatched submission's) final grade and how it came about."""

    submission: str
    student: Student | None
    record: dict | None
    status: str
    lateness: Lateness
    raw: float
    penalty: float
    final: float
    max_total: float
    overrides: list[Applied] = field(default_factory=list)

    def to_json(self) -> dict:
        late = self.lateness
        return {
            "submission": self.submission, "status": self.status,
            "student": ({"student_id": self.student.student_id, "name": self.student.name,
                         "email": self.student.email, "section": self.student.section, **self.student.extra}
                        if self.student else None),
            "submitted_at": late.submitted_at.isoformat() if late.submitted_at else None,
            "due": late.due.isoformat() if late.due else None, "late": late.describe(),
            "late_hours": round(late.late_s / 3600, 4),
            "raw": self.raw, "penalty": self.penalty, "final": self.final, "max_total": self.max_total,
            "overrides": [a.to_json() for a in self.overrides],
        }


def build_rows(records: list[dict], *, roster: Roster | None, applied: dict[str, list[Applied]],
               due: datetime | None, extensions: dict[str, datetime], times: dict[str, datetime],
               policy: LatePolicy | None) -> list[Row]:
    """The rows of the class, sorted by submission name (``records`` have the overrides in)."""
    names = [r["submission"] for r in records]
    matched = roster.match(names) if roster else {}
    max_total = max((r["max_total"] for r in records), default=0.0)
    rows = []
    for r in records:
        student = matched.get(r["submission"])
        at = times.get(r["submission"]) or (times.get(student.submission) if student else None)
        own_due = extensions.get(r["submission"]) or (extensions.get(student.submission) if student else None)
        late = assess(at, own_due or due, policy, r["max_total"])
        final = round(max(0.0, r["total"] - late.penalty), 4)
        status = GRADED if student or roster is None else NOT_ON_ROSTER
        rows.append(Row(r["submission"], student, r, status, late, r["total"], round(r["total"] - final, 4),
                        final, r["max_total"], applied.get(r["submission"], [])))
    present = {s.submission for s in matched.values()}
    for s in roster.students if roster else []:
        if s.submission not in present:
            rows.append(Row(s.submission, s, None, NO_SUBMISSION, Lateness(None, None, 0.0, 0.0),
                            0.0, 0.0, 0.0, max_total))
    return sorted(rows, key=lambda row: row.submission)


def _num(x: float) -> str:
    return f"{x:g}"


def write_grades_csv(rows: list[Row], path: Path, *, roster: Roster | None, files: dict[str, str]) -> None:
    """grades.csv with the course's columns: roster columns after ``submission``, then points
    per exercise and day, ``raw``, ``late``, ``penalty``, ``final``, ``total``, ``status``,
    ``overrides``, ``flags``, ``review`` (what the static review found, for the instructor to
    read) and ``feedback``."""
    records = [row.record for row in rows if row.record is not None]
    ids = exercise_ids(records)
    days = day_names(ids)
    people = [*STANDARD, *roster.extra_columns] if roster else []
    fh = io.StringIO(newline="")
    w = csv.writer(fh)
    w.writerow(["submission", *people, *ids, *days, "raw", "late", "penalty", "final", "total",
                "status", "overrides", "flags", "review", "feedback"])
    for row in rows:
        r = row.record
        w.writerow([
            row.submission,
            *((row.student.column(c) if row.student else "") for c in people),
            *((_num(r["exercises"][i]["points"]) if r and i in r["exercises"] else "") for i in ids),
            *((_num(r["days"].get(d, 0.0)) if r else "0") for d in days),
            _num(row.raw), row.lateness.describe(), _num(row.penalty), _num(row.final), _num(row.final),
            row.status, " | ".join(a.describe() for a in row.overrides),
            " | ".join(r["flags"]) if r else "", " | ".join(r.get("review", [])) if r else "",
            files.get(row.submission, ""),
        ])
    atomic.write(path, fh.getvalue())


def write_canvas(rows: list[Row], path: Path, assignment: str) -> None:
    """A Canvas gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section`` and one
    column for the assignment, with the ``Points Possible`` row Canvas's own export has. ``ID``
    is the roster's ``canvas_id`` column (Canvas's user id) where there is one; ``SIS Login
    ID`` its ``login``/``username`` or the email."""
    students = [(row, row.student) for row in rows if row.student is not None]
    top = max((row.max_total for row in rows), default=0.0)
    fh = io.StringIO(newline="")
    w = csv.writer(fh)
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
    w.writerow(["    Points Possible", "", "", "", "", _num(top)])
    for row, s in students:
        login = s.extra.get("login") or s.extra.get("username") or s.email
        w.writerow([s.name or s.submission, s.extra.get("canvas_id", ""), s.student_id, login, s.section,
                    _num(row.final)])
    atomic.write(path, fh.getvalue())


def write_moodle(rows: list[Row], path: Path, assignment: str) -> None:
    """A Moodle grade import (Grades > Import > CSV file): map ``ID number`` or ``Email
    address`` to the user, the assignment column to the grade item, ``Feedback`` to its
    feedback."""
    fh = io.StringIO(newline="")
    w = csv.writer(fh)
    w.writerow(["ID number", "Email address", "Full name", assignment, "Feedback"])
    for row in rows:
        if row.student is None:
            continue
        s = row.student
        note = [row.status] if row.status != GRADED else []
        note += [f"late penalty {_num(row.penalty)} ({row.lateness.describe()})"] if row.penalty else []
        note += [a.describe() for a in row.overrides]
        w.writerow([s.student_id, s.email, s.name, _num(row.final), "; ".join(note)])
    atomic.write(path, fh.getvalue())
