"""A synthetic graded class for the course tests: results written the way ``drills grade``
writes them (:func:`graders.grading.outputs.write_all`), without grading anything."""

from __future__ import annotations

import random
from pathlib import Path

from graders.core import registry
from graders.grading import outputs
from graders.grading.scoring import totals, unflagged

MISTAKES = [
    "What went wrong:\n    your running_var uses the biased batch variance: torch stores the unbiased one.",
    "What went wrong:\n    f(x) is not close enough to the expected values: {n} of 12 elements differ. "
    "The largest difference is 0.{n}3 at index ({n}, 2): got 1.5, expected 0.{n}",
    "What went wrong:\n    not started: `f` still raises NotImplementedError.",
]


def check(test: str, outcome: str, *, hidden: bool = False, feedback: str = "", violations=()) -> dict:
    kind = "not started" if "NotImplementedError" in feedback else ("failure" if outcome == "failed" else "")
    return {"test": test, "outcome": outcome, "kind": kind, "hidden": hidden, "question": f"Does {test} hold?",
            "feedback": feedback, "duration": 0.01, "violations": list(violations), "incident": ""}


def record(name: str, outcomes: dict[str, list[dict]]) -> dict:
    """A result record with these checks per exercise id (points by the scoreboard's rule)."""
    table = registry.by_id()
    exercises, flags = {}, []
    for ex_id, checks in outcomes.items():
        status, points = unflagged(ex_id, checks)
        violations = [v for c in checks for v in c["violations"]]
        entry = {"title": table[ex_id].title, "max_points": table[ex_id].points, "status": status,
                 "points": points, "feedback": next((c["feedback"] for c in checks if c["outcome"] == "failed"), ""),
                 "flagged": [], "checks": checks}
        if violations:
            entry.update(status="flagged", points=0.0, flagged=violations, feedback="Flagged: the code " + violations[0])
            flags += [f"{ex_id}: {v}" for v in violations]
        exercises[ex_id] = entry
    days, total = totals(exercises)
    return {"submission": name, "digest": name, "notes": [], "flags": flags, "exercises": exercises,
            "days": days, "review": [], "total": total,
            "max_total": sum(table[e].points for e in outcomes), "wall_s": 1.0, "restarts": 0}


def class_results(n: int, days: tuple[str, ...] = ("day1",), seed: int = 0) -> list[dict]:
    """``n`` students ``s000``... with random outcomes on two checks (one hidden) per exercise."""
    rng = random.Random(seed)
    ids = [e.id for e in registry.exercises() if e.day in days]
    out = []
    for i in range(n):
        skill = rng.random()
        outcomes = {}
        for ex_id in ids:
            checks = []
            for k, hidden in ((0, False), (1, True)):
                ok = rng.random() < skill
                fb = "" if ok else rng.choice(MISTAKES).format(n=rng.randint(1, 9))
                checks.append(check(f"graders/{ex_id.split('.')[0]}/test_x.py::test_{ex_id.split('.')[-1]}_{k}",
                                    "passed" if ok else "failed", hidden=hidden, feedback=fb))
            outcomes[ex_id] = checks
        out.append(record(f"s{i:03d}", outcomes))
    return out


def write(out: Path, results: list[dict]) -> Path:
    """Write ``results`` as a grading run's report folder."""
    outputs.write_all(results, out, {"digest": "kit", "days": sorted({d for r in results for d in r["days"]}),
                                     "exercises": [], "profile": "grading", "isolation": "audit hook, limits"})
    return out
