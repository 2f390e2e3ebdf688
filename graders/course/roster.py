"""The class list: who should have handed something in, and under which submission name.

A roster is a CSV file with at least a ``submission`` column (the folder or zip name that
``drills grade`` reports, ``alice`` for ``alice.zip``); ``student_id``, ``name``, ``email`` and
``section`` are the usual others, and any extra column (``canvas_id``, ``username``,
``submitted_at``...) is kept and shown. Submissions are matched to students by name exactly,
then without case, then by student id::

    submission,student_id,name,email,section
    alice,s001,Alice Liddell,alice@uni.edu,A
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from graders.course.files import StaffFileError, read_rows, where

STANDARD = ("student_id", "name", "email", "section")


@dataclass(frozen=True)
class Student:
    """One roster row: its submission name, the standard columns and the others (``extra``)."""

    submission: str
    student_id: str = ""
    name: str = ""
    email: str = ""
    section: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> str:
        """The value of a column of the roster, standard or extra ("" when absent)."""
        if name == "submission":
            return self.submission
        return getattr(self, name) if name in STANDARD else self.extra.get(name, "")


@dataclass
class Roster:
    """The students in file order and the names of the roster's extra columns."""

    students: list[Student]
    extra_columns: list[str]

    def match(self, submissions: list[str]) -> dict[str, Student]:
        """``{submission: student}`` for every submission that matches a student: by name
        exactly, else without case, else by student id; one submission per student."""
        exact = {s.submission: s for s in self.students}
        folded: dict[str, Student] = {}
        for s in self.students:
            folded.setdefault(s.submission.casefold(), s)
        ids = {s.student_id: s for s in self.students if s.student_id}
        out: dict[str, Student] = {}
        taken: set[str] = set()
        for name in sorted(submissions, key=lambda n: n not in exact):  # exact names first
            hit = exact.get(name) or folded.get(name.casefold()) or ids.get(name)
            if hit is not None and hit.submission not in taken:
                out[name] = hit
                taken.add(hit.submission)
        return out


def load(path: Path) -> Roster:
    """Read a roster; two rows with one submission name (or one student id) are an error."""
    rows = read_rows(path, required=("submission",), what="roster")
    students: list[Student] = []
    seen: dict[str, int] = {}
    ids: dict[str, int] = {}
    extra_columns: list[str] = []
    for line, row in rows:
        name = row["submission"]
        if not name:
            raise StaffFileError(f"{where(path, line)}: the submission column is empty")
        if name in seen:
            raise StaffFileError(f"{where(path, line)}: submission {name!r} is already on line {seen[name]}")
        sid = row.get("student_id", "")
        if sid and sid in ids:
            raise StaffFileError(f"{where(path, line)}: student id {sid!r} is already on line {ids[sid]}")
        seen[name], ids[sid] = line, line
        extra = {k: v for k, v in row.items() if k != "submission" and k not in STANDARD}
        extra_columns += [k for k in extra if k not in extra_columns]
        students.append(Student(name, **{k: row.get(k, "") for k in STANDARD}, extra=extra))
    return Roster(students, extra_columns)
