"""What a student reads: the grading run's feedback, the staff's changes, lateness and the final
score; with ``public`` release, nothing the hidden checks said.

``--feedback public`` keeps the points (the hidden checks count) but replaces what a failed
hidden check said by how many hidden checks failed; ``--feedback all`` (after the grades are
released) shows everything. The text of the grading run is
:func:`graders.grading.outputs.feedback_text`, so both read the same.
"""

from __future__ import annotations

from graders.course.gradebook import NO_SUBMISSION, Row
from graders.grading.outputs import feedback_text

HIDDEN_NOTE = "Hidden checks failed: {failed} of {total}. What they found comes with the released grades."


def public_view(record: dict) -> dict:
    """``record`` with each exercise's feedback taken from its public checks only."""
    exercises = {}
    for ex_id, entry in record["exercises"].items():
        checks = entry.get("checks", [])
        hidden = [c for c in checks if c.get("hidden")]
        if entry["status"] in ("passed", "flagged") or not hidden:
            exercises[ex_id] = entry
            continue
        shown = next((c["feedback"] for c in checks
                      if not c.get("hidden") and c["outcome"] == "failed" and c["feedback"]), "")
        failed = sum(c["outcome"] == "failed" for c in hidden)
        if failed:
            shown = (shown + "\n" if shown else "") + HIDDEN_NOTE.format(failed=failed, total=len(hidden))
        exercises[ex_id] = {**entry, "feedback": shown,
                            "checks": [c for c in checks if not c.get("hidden")]}
    return {**record, "exercises": exercises}


def text(row: Row, *, release: str = "all") -> str:
    """The feedback file of ``row`` (``release``: ``all`` or ``public``)."""
    who = ""
    if row.student is not None and (row.student.name or row.student.student_id):
        ids = f" ({row.student.student_id})" if row.student.student_id and row.student.name else row.student.student_id
        who = f"Student: {row.student.name}{ids}\n"
    if row.record is None:
        return (f"Submission: {row.submission}\n{who}Status: {NO_SUBMISSION}: nothing was received.\n"
                f"Final score: 0 / {row.max_total:g} points\n")
    record = public_view(row.record) if release == "public" else row.record
    base = feedback_text(record)
    head, _, rest = base.partition("\n")
    total, _, body = rest.partition("\n")
    lines = [head]
    if who:
        lines.append(who.rstrip("\n"))
    lines.append(total)
    if row.overrides:
        lines += ["", "Changed by the course staff:"] + [f"  - {a.describe()}" for a in row.overrides]
    late = row.lateness
    if late.due is not None:
        when = late.submitted_at.strftime("%Y-%m-%d %H:%M") if late.submitted_at else "unknown"
        lines += ["", f"Handed in: {when} (due {late.due.strftime('%Y-%m-%d %H:%M')}): {late.describe()}"]
    if late.due is not None or row.overrides:
        lines.append(f"Raw score: {row.raw:g}; late penalty: {row.penalty:g}; "
                     f"final score: {row.final:g} / {row.max_total:g} points")
    if release == "public":
        lines.append("(Feedback of the hidden checks is left out until the grades are released.)")
    return "\n".join(lines) + "\n" + body
