"""The reports of a graded class: grades.csv, grades.json, feedback/<submission>.txt.

Every submission and every selected exercise appears in every report, whatever happened to
it. ``grades.json`` holds every check's outcome and feedback; check durations are kept apart
(``timings.json``) so that the grades of two runs compare equal.

Each submission's feedback file is named by :func:`feedback_names`, one-to-one: a name that is
already a safe file name keeps it (``alice.txt``); one that had to be changed (``a b``) gets a
short hash of the original name (``a_b-4f1c2e9a.txt``); ``grades.csv`` says which file is whose.

Every file is written through :func:`graders.grading.atomic.write` (a new file renamed over
the old one), so nothing put in the reports folder in the meantime, a FIFO or a link, is ever
opened, and a reader never sees half a report.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from graders.grading import atomic
from graders.grading.names import (
    day_names,
    exercise_ids,
    feedback_names,
)


def _num(x: float) -> str:
    return f"{x:g}"


def write_csv(results: list[dict], path: Path) -> None:
    ids = exercise_ids(results)
    days = day_names(ids)
    fh = io.StringIO(newline="")
    w = csv.writer(fh)
    w.writerow(["submission", *ids, *days, "total", "flags", "review", "feedback"])
    files = feedback_names([r["submission"] for r in results])
    for r in results:
        w.writerow([
            r["submission"],
            *(_num(r["exercises"][i]["points"]) if i in r["exercises"] else "" for i in ids),
            *(_num(r["days"].get(d, 0.0)) for d in days),
            _num(r["total"]),
            " | ".join(r["flags"]),
            " | ".join(r.get("review", [])),
            files[r["submission"]],
        ])
    atomic.write(path, fh.getvalue())


def _strip_timings(r: dict) -> tuple[dict, dict]:
    clean = json.loads(json.dumps(r))
    timings = {"wall_s": clean.pop("wall_s", None), "restarts": clean.pop("restarts", None),
               "checks": {}}
    for ex in clean["exercises"].values():
        for c in ex["checks"]:
            timings["checks"][c["test"]] = c.pop("duration", 0.0)
    return clean, timings


def write_json(results: list[dict], out: Path, meta: dict) -> None:
    grades, timings = [], {}
    for r in results:
        clean, t = _strip_timings(r)
        grades.append(clean)
        timings[r["submission"]] = t
    doc = {"kit": meta, "exercises": exercise_ids(results), "submissions": grades}
    atomic.write(out / "grades.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")
    atomic.write(out / "timings.json", json.dumps(timings, indent=1, sort_keys=True) + "\n")


def feedback_text(r: dict) -> str:
    lines = [f"Submission: {r['submission']}", f"Total: {_num(r['total'])} / {_num(r['max_total'])} points"]
    if r["flags"]:
        lines += ["", "Flagged:"] + [f"  - {f}" for f in r["flags"]]
    if r.get("notes"):
        lines += ["", "Notes:"] + [f"  - {n}" for n in r["notes"]]
    day = None
    for ex_id, ex in r["exercises"].items():
        if ex_id.split(".")[0] != day:
            day = ex_id.split(".")[0]
            lines += ["", f"== {day}: {_num(r['days'].get(day, 0.0))} points =="]
        lines.append(f"{ex['status']:>11}  {_num(ex['points']):>5} / {_num(ex['max_points']):<4} {ex_id}  "
                     f"({ex['title']})")
        if ex["status"] != "passed" and ex["feedback"]:
            lines += ["      " + line for line in ex["feedback"].splitlines()]
    return "\n".join(lines) + "\n"


def write_feedback(results: list[dict], out: Path) -> None:
    folder = atomic.folder(out / "feedback")
    files = feedback_names([r["submission"] for r in results])
    for r in results:
        atomic.write(folder / files[r["submission"]], feedback_text(r))


def write_all(results: list[dict], out: Path, meta: dict) -> None:
    """Write every report of ``results`` (sorted by submission name) into ``out``."""
    from graders.grading.summary import write_summary

    results = sorted(results, key=lambda r: r["submission"])
    out.mkdir(parents=True, exist_ok=True)
    write_csv(results, out / "grades.csv")
    write_json(results, out, meta)
    write_feedback(results, out)
    write_summary(results, out / "summary.html", timings=_timings(results),
                  isolation=meta.get("isolation", ""))


def _timings(results: list[dict]) -> list[tuple[float, str, str]]:
    rows = [(c["duration"], r["submission"], c["test"]) for r in results
            for ex in r["exercises"].values() for c in ex["checks"]]
    return sorted(rows, reverse=True)


def load(out: Path) -> tuple[list[dict], dict]:
    """Read back the results of a report folder (for ``--merge``), timings included; a
    ``grades.json`` that is missing, not a regular file or not a report is a ValueError."""
    text = atomic.read_text(out / "grades.json")
    try:
        doc = json.loads(text) if text is not None else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("submissions"), list):
        raise ValueError(f"{out / 'grades.json'} is not the grades.json of a drills grade run")
    try:
        timings = json.loads(atomic.read_text(out / "timings.json") or "{}")
    except ValueError:
        timings = {}
    for r in doc["submissions"]:
        t = timings.get(r["submission"], {})
        r["wall_s"], r["restarts"] = t.get("wall_s"), t.get("restarts")
        for ex in r["exercises"].values():
            for c in ex["checks"]:
                c["duration"] = t.get("checks", {}).get(c["test"], 0.0)
    return doc["submissions"], doc.get("kit", {})
