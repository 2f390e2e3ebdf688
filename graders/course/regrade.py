"""Grading a few submissions again into a report folder: ``drills grade alice --out grades/
--update`` replaces alice's row and keeps every other one (``--merge`` would refuse the
duplicate name, and the cache alone cannot tell whose files changed)."""

from __future__ import annotations

import sys
from pathlib import Path

from graders.grading import outputs


def keep_others(out: Path, graded: list[dict], meta: dict) -> tuple[list[dict], dict]:
    """The results already in ``out`` with the rows of ``graded`` put in place of those of the
    same submissions (or added), and the run's description joined with the earlier one's. A
    folder without reports yet is just the new results."""
    try:
        old, old_meta = outputs.load(out)
    except ValueError:
        return graded, meta
    names = {r["submission"] for r in graded}
    kept = [r for r in old if r["submission"] not in names]
    if kept and old_meta.get("digest") and old_meta.get("digest") != meta.get("digest"):
        print(f"drills grade --update: the graders changed since {out} was graded; the "
              f"{len(kept)} other submission(s) keep their earlier grades (grade them again for the new ones)",
              file=sys.stderr)
    parts = {p for m in (old_meta, meta) for p in str(m.get("isolation", "")).split(" / ") if p}
    days = sorted(set(old_meta.get("days", [])) | set(meta.get("days", [])))
    exercises = [] if not (old_meta.get("exercises") and meta.get("exercises")) else \
        sorted(set(old_meta["exercises"]) | set(meta["exercises"]))
    return kept + graded, {**meta, "days": days, "exercises": exercises, "isolation": " / ".join(sorted(parts))}
