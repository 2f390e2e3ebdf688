"""Due dates, extensions, submission times and the late policy.

Times are ISO 8601 (``2025-03-07T23:59``, ``2025-03-07 23:59:00+01:00``, ``...Z``); a time
without an offset is the machine's local time. A submission's time comes from the roster's
``submitted_at`` column or a timestamps file (``submission,submitted_at``), never from file
modification times: a submission with no known time is not penalised, and the reports say so.

A late policy reads ``AMOUNT/UNIT[,cap=AMOUNT][,grace=DURATION]``: ``10%/day,cap=50%``,
``0.5pt/hour,cap=3pt``, ``20%/day,grace=15min``. A percentage is of the maximum points; every
started day (or hour) past the due date counts; no penalty within the grace period; the
penalty stops at the cap and never takes a score below 0. Extensions move one student's due
date: a file with ``submission`` (or ``student_id``) and ``days``, ``hours`` or a new ``due``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from graders.course.files import StaffFileError, read_rows, where
from graders.course.roster import Roster

_UNITS = {"day": 86400.0, "d": 86400.0, "hour": 3600.0, "h": 3600.0}
_AMOUNT = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<kind>%|pts?|points?)?")
_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>min|m|h|hours?|d|days?)")


def parse_time(text: str, what: str = "time") -> datetime:
    """An ISO 8601 time as an aware datetime (local time when it has no offset)."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise StaffFileError(f"{what}: {text!r} is not a time like 2025-03-07T23:59") from None
    return t.astimezone() if t.tzinfo is None else t


@dataclass(frozen=True)
class Amount:
    """A penalty amount: ``value`` percent of the maximum points, or ``value`` points."""

    value: float
    percent: bool

    def points(self, max_points: float) -> float:
        return self.value * max_points / 100 if self.percent else self.value

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else f"{self.value:g}pt"


def _amount(text: str, policy: str) -> Amount:
    m = _AMOUNT.fullmatch(text.strip())
    if not m:
        raise StaffFileError(f"late policy {policy!r}: {text!r} is not an amount like 10% or 2pt")
    return Amount(float(m["n"]), m["kind"] == "%")


@dataclass(frozen=True)
class LatePolicy:
    """``per`` deducted for each started ``unit`` (seconds) late, at most ``cap``."""

    per: Amount
    unit: float
    cap: Amount | None = None
    grace: float = 0.0

    def penalty(self, late_s: float, max_points: float) -> float:
        """Points deducted for ``late_s`` seconds late (before the floor at 0)."""
        if late_s <= self.grace:
            return 0.0
        points = self.per.points(max_points) * math.ceil(late_s / self.unit - 1e-9)
        if self.cap is not None:
            points = min(points, self.cap.points(max_points))
        return round(points, 4)

    def __str__(self) -> str:
        unit = "day" if self.unit == 86400.0 else "hour"
        return (f"{self.per}/{unit}" + (f",cap={self.cap}" if self.cap else "")
                + (f",grace={self.grace / 60:g}min" if self.grace else ""))


def parse_policy(text: str) -> LatePolicy | None:
    """A late policy from its spelling (``none`` or empty: no penalty)."""
    if not text or text.strip().lower() == "none":
        return None
    head, *options = [p.strip() for p in text.split(",")]
    amount, _, unit = head.partition("/")
    if unit.strip().lower() not in _UNITS:
        raise StaffFileError(f"late policy {text!r}: say per day or per hour, e.g. 10%/day")
    cap, grace = None, 0.0
    for option in options:
        key, _, value = option.partition("=")
        if key.strip() in ("cap", "max"):
            cap = _amount(value, text)
        elif key.strip() == "grace":
            grace = _seconds(value, text)
        else:
            raise StaffFileError(f"late policy {text!r}: unknown option {key!r} (cap=, grace=)")
    return LatePolicy(_amount(amount, text), _UNITS[unit.strip().lower()], cap, grace)


def _seconds(text: str, policy: str) -> float:
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise StaffFileError(f"late policy {policy!r}: {text!r} is not a duration like 15min or 1h")
    scale = {"m": 60, "h": 3600, "d": 86400}[m["unit"][0]]
    return float(m["n"]) * scale


def load_extensions(path: Path, due: datetime, roster: Roster | None) -> dict[str, datetime]:
    """``{submission: its own due date}`` from an extensions file (rows by ``submission`` or,
    with a roster, ``student_id``; ``days``/``hours`` added to ``due``, or a new ``due``)."""
    by_id = {s.student_id: s.submission for s in roster.students if s.student_id} if roster else {}
    out: dict[str, datetime] = {}
    for line, row in read_rows(path, required=(), what="extensions file"):
        here = where(path, line)
        name = row.get("submission") or by_id.get(row.get("student_id", ""), "")
        if not name:
            raise StaffFileError(f"{here}: give a submission (or a student_id of the roster)")
        if row.get("due"):
            out[name] = parse_time(row["due"], here)
            continue
        try:
            extra = float(row.get("days") or 0) * 86400 + float(row.get("hours") or 0) * 3600
        except ValueError:
            raise StaffFileError(f"{here}: days and hours are numbers") from None
        out[name] = due + timedelta(seconds=extra)
    return out


def load_timestamps(path: Path) -> dict[str, datetime]:
    """``{submission: time handed in}`` from a ``submission,submitted_at`` file."""
    return {row["submission"]: parse_time(row["submitted_at"], where(path, line))
            for line, row in read_rows(path, required=("submission", "submitted_at"), what="timestamps file")
            if row["submitted_at"]}


@dataclass(frozen=True)
class Lateness:
    """When a submission came in against its due date, and what it costs."""

    submitted_at: datetime | None
    due: datetime | None
    late_s: float
    penalty: float

    @property
    def known(self) -> bool:
        return self.submitted_at is not None

    def describe(self) -> str:
        """``on time``, ``2 d 3 h late``, ``time unknown`` or ``""`` (no due date)."""
        if self.due is None:
            return ""
        if self.submitted_at is None:
            return "time unknown"
        if self.late_s <= 0:
            return "on time"
        minutes = math.ceil(self.late_s / 60)
        d, rest = divmod(minutes, 1440)
        h, m = divmod(rest, 60)
        return " ".join(f"{v} {u}" for v, u in ((d, "d"), (h, "h"), (m, "min")) if v) + " late"


def assess(submitted_at: datetime | None, due: datetime | None, policy: LatePolicy | None,
           max_points: float) -> Lateness:
    """The lateness of a submission handed in at ``submitted_at`` against ``due``."""
    if due is None or submitted_at is None:
        return Lateness(submitted_at, due, 0.0, 0.0)
    late_s = (submitted_at - due).total_seconds()
    penalty = policy.penalty(late_s, max_points) if policy and late_s > 0 else 0.0
    return Lateness(submitted_at, due, max(0.0, late_s), penalty)
