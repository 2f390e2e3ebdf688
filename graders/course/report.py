"""``drills report OUT``: every report of a graded class computed again from its results and the
staff's files, without grading: ``grades.csv`` with roster, lateness and final columns,
``final.json`` (every student's final grade and how it came about; ``grades.json`` stays the
results as graded),
the feedback files, ``summary.html``, and with a roster the Canvas and Moodle imports
(``gradebook-canvas.csv``, ``gradebook-moodle.csv``). ``drills grade`` ends with the same step.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from graders.course import (
    deadlines,
    feedback,
    gradebook,
    overrides as overrides_mod,
    roster as roster_mod,
    settings as settings_mod,
)
from graders.course.files import StaffFileError
from graders.course.settings import Settings
from graders.grading import atomic, outputs

FINAL = "final.json"


@dataclass
class Computed:
    """The class as the reports show it."""

    results: list[dict]
    meta: dict
    records: list[dict]
    rows: list[gradebook.Row]
    roster: roster_mod.Roster | None
    warnings: list[str]


def compute(out: Path, settings: Settings) -> Computed:
    """Read ``out``'s results and the staff files of ``settings``; apply overrides and lateness."""
    results, meta = outputs.load(out)
    results = sorted(results, key=lambda r: r["submission"])
    roster_file, overrides_file = settings.path("roster"), settings.path("overrides")
    roster = roster_mod.load(roster_file) if roster_file else None
    changes = overrides_mod.load(overrides_file, roster) if overrides_file else []
    records, applied, warnings = overrides_mod.apply(results, changes)
    due = deadlines.parse_time(settings.due, "--due") if settings.due else None
    policy = deadlines.parse_policy(settings.late_policy)
    extensions_file, timestamps_file = settings.path("extensions"), settings.path("timestamps")
    extensions = deadlines.load_extensions(extensions_file, due, roster) \
        if extensions_file and due else {}
    times = {s.submission: deadlines.parse_time(s.extra["submitted_at"], f"roster {s.submission}")
             for s in (roster.students if roster else []) if s.extra.get("submitted_at")}
    if timestamps_file:
        times.update(deadlines.load_timestamps(timestamps_file))
    rows = gradebook.build_rows(records, roster=roster, applied=applied, due=due, extensions=extensions,
                                times=times, policy=policy)
    if due is not None:
        warnings += [f"{r.submission}: no submission time known, so no late penalty" for r in rows
                     if r.record is not None and not r.lateness.known]
    return Computed(results, meta, records, rows, roster, warnings)


def _similar(out: Path) -> list[dict] | None:
    text = atomic.read_text(out / "similarity.json")
    try:
        doc = json.loads(text) if text else None
    except ValueError:
        return None
    return doc.get("pairs") if isinstance(doc, dict) else None


def write(out: Path, c: Computed, settings: Settings) -> None:
    """Write every report of ``c`` into ``out``."""
    from graders.course import summary

    files = outputs.feedback_names([row.submission for row in c.rows])
    finals = {row.submission: row for row in c.rows}
    if settings.staffed:
        gradebook.write_grades_csv(c.rows, out / "grades.csv", roster=c.roster, files=files)
        final = {"settings": asdict(settings), "warnings": c.warnings,
                 "students": [row.to_json() for row in c.rows]}
        atomic.write(out / FINAL, json.dumps(final, indent=1, sort_keys=True) + "\n")
        folder = atomic.folder(out / "feedback")
        for row in c.rows:
            atomic.write(folder / files[row.submission], feedback.text(row, release=settings.feedback))
    else:
        outputs.write_csv(c.results, out / "grades.csv")  # as graded (a roster may have been dropped)
        outputs.write_feedback(c.results, out)
        if (out / FINAL).exists():
            (out / FINAL).unlink()
    if c.roster is not None:
        gradebook.write_canvas(c.rows, out / "gradebook-canvas.csv", settings.assignment)
        gradebook.write_moodle(c.rows, out / "gradebook-moodle.csv", settings.assignment)
    shown = [{**r, "total": finals[r["submission"]].final} for r in c.records]
    ids = outputs.exercise_ids(c.records)
    html = summary.render(c.rows, shown, ids=ids, files=files, timings=outputs._timings(c.results),
                          isolation=c.meta.get("isolation", ""), release=settings.feedback,
                          similar=_similar(out))
    atomic.write(out / "summary.html", html)
    settings_mod.save(out, settings)


def main(*, out: Path, quiet: bool = False, **given: str | Path | None) -> int:
    """Recompute the reports of ``out`` with the saved settings and those ``given`` (``roster``,
    ``due``, ``late_policy``, ``extensions``, ``timestamps``, ``overrides``, ``feedback``,
    ``assignment``; None: keep the saved one). Return the exit status."""
    out = Path(out)
    try:
        settings = settings_mod.merge(settings_mod.load(out), **given)
        computed = compute(out, settings)
        write(out, computed, settings)
    except (StaffFileError, ValueError) as exc:
        print(f"drills report: {exc}", file=sys.stderr)
        return 2
    for line in computed.warnings:
        print(f"drills report: {line}", file=sys.stderr)
    if not quiet:
        rows = computed.rows
        print(f"reported {len(rows)} row(s): {sum(r.status == gradebook.NO_SUBMISSION for r in rows)} with no "
              f"submission, {sum(r.status == gradebook.NOT_ON_ROSTER for r in rows)} not on the roster, "
              f"{sum(r.penalty > 0 for r in rows)} late penalties, {sum(bool(r.overrides) for r in rows)} "
              f"with overrides: {out / 'grades.csv'}, {out / 'summary.html'}")
    return 0
