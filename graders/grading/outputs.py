"""The reports of a graded class: grades.csv, grades.json, feedback/<submission>.txt.

Every submission and every selected exercise appears in every report, whatever happened to
it. ``grades.json`` holds every check's outcome and feedback; check durations are kept apart
(``timings.json``) so that the grades of two runs compare equal.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def exercise_ids(results: list[dict]) -> list[str]:
    from graders import registry

    seen = {e for r in results for e in r["exercises"]}
    return [e.id for e in registry.exercises() if e.id in seen]


def day_names(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(i.split(".")[0] for i in ids))


def _num(x: float) -> str:
    return f"{x:g}"


def write_csv(results: list[dict], path: Path) -> None:
    ids = exercise_ids(results)
    days = day_names(ids)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["submission", *ids, *days, "total", "flags"])
        for r in results:
            w.writerow([
                r["submission"],
                *(_num(r["exercises"][i]["points"]) if i in r["exercises"] else "" for i in ids),
                *(_num(r["days"].get(d, 0.0)) for d in days),
                _num(r["total"]),
                " | ".join(r["flags"]),
            ])


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
    (out / "grades.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out / "timings.json").write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def feedback_name(submission: str) -> str:
    return (_SAFE.sub("_", submission).strip("._") or "submission") + ".txt"


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
        lines.append(f"{ex['status']:>11}  {_num(ex['points']):>5} / {_num(ex['max_points']):<4} {ex_id}  ({ex['title']})")
        if ex["status"] != "passed" and ex["feedback"]:
            lines += ["      " + line for line in ex["feedback"].splitlines()]
    return "\n".join(lines) + "\n"


def write_feedback(results: list[dict], out: Path) -> None:
    folder = out / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    for r in results:
        (folder / feedback_name(r["submission"])).write_text(feedback_text(r), encoding="utf-8")


def write_all(results: list[dict], out: Path, meta: dict) -> None:
    """Write every report of ``results`` (sorted by submission name) into ``out``."""
    from graders.grading.summary import write_summary

    results = sorted(results, key=lambda r: r["submission"])
    out.mkdir(parents=True, exist_ok=True)
    write_csv(results, out / "grades.csv")
    write_json(results, out, meta)
    write_feedback(results, out)
    write_summary(results, out / "summary.html", timings=_timings(results))


def _timings(results: list[dict]) -> list[tuple[float, str, str]]:
    rows = [(c["duration"], r["submission"], c["test"]) for r in results
            for ex in r["exercises"].values() for c in ex["checks"]]
    return sorted(rows, reverse=True)


def load(out: Path) -> tuple[list[dict], dict]:
    """Read back the results of a report folder (for ``--merge``), timings included."""
    doc = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    tpath = out / "timings.json"
    timings = json.loads(tpath.read_text(encoding="utf-8")) if tpath.exists() else {}
    for r in doc["submissions"]:
        t = timings.get(r["submission"], {})
        r["wall_s"], r["restarts"] = t.get("wall_s"), t.get("restarts")
        for ex in r["exercises"].values():
            for c in ex["checks"]:
                c["duration"] = t.get("checks", {}).get(c["test"], 0.0)
    return doc["submissions"], doc.get("kit", {})
