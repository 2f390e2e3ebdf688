"""What the class got wrong: per-check failure rates, a student-by-exercise matrix, and per
exercise the most common mistakes, grouped from the graders' own diagnoses.

A diagnosis is the first sentence of what a failed check said under "What went wrong" (the
graders write it for students: "your running_var uses the biased batch variance ..."), with
the numbers, indices and shapes that differ from one student to the next taken out, so that
the same mistake reads the same for everyone. Each submission counts once per diagnosis and
exercise; shares are of the graded submissions.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_SECTION = re.compile(r"What went wrong:\n(?P<body>(?:    .*\n?|\n)+)")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?(?![A-Za-z_])")
_TUPLE = re.compile(r"[\(\[]\s*N(?:\s*,\s*N)*\s*,?\s*[\)\]]")
_QUOTED = re.compile(r"'[^']{0,80}'|\"[^\"]{0,80}\"")
_FIRST = re.compile(r"^(.+?[.!?])(?:\s|$)")


def diagnosis(feedback: str) -> str:
    """The mistake a failed check's feedback names, the same for every student who made it."""
    m = _SECTION.search(feedback + "\n")
    body = m["body"] if m else feedback
    line = next((ln.strip() for ln in body.splitlines() if ln.strip()), "")
    if not line:
        return "failed without a message"
    line = line.split(": got ")[0]
    first = _FIRST.match(line)
    line = first.group(1) if first else line
    line = _NUMBER.sub("N", line)
    line = _TUPLE.sub("(…)", line)
    line = _QUOTED.sub("'…'", line)
    return line[:200]


@dataclass(frozen=True)
class Mistake:
    """A diagnosis shared by ``count`` of ``of`` submissions, and the checks that gave it."""

    text: str
    count: int
    of: int
    checks: tuple[str, ...]

    @property
    def share(self) -> float:
        return self.count / self.of if self.of else 0.0


def common_mistakes(records: list[dict], ids: list[str], top: int = 5) -> dict[str, list[Mistake]]:
    """``{exercise: its most common mistakes}``, most frequent first (``top`` at most); the share
    is of the whole class, and an exercise not started is no mistake."""
    n = len(records)
    out: dict[str, list[Mistake]] = {}
    for ex_id in ids:
        counts: Counter[str] = Counter()
        checks: dict[str, set[str]] = {}
        for r in records:
            entry = r["exercises"].get(ex_id)
            if entry is None or entry["status"] == "not started":
                continue  # not a mistake: the work is not there (the heat map shows it)
            seen = set()
            for c in entry.get("checks", []):
                if c["outcome"] != "failed":
                    continue
                d = diagnosis(c.get("feedback", ""))
                checks.setdefault(d, set()).add(c["test"].rsplit("::", 1)[-1])
                seen.add(d)
            if not entry.get("checks") and entry["status"] == "error":
                seen.add(diagnosis(entry.get("feedback", "")))
            counts.update(seen)
        out[ex_id] = [Mistake(text, count, n, tuple(sorted(checks.get(text, ()))))
                      for text, count in counts.most_common(top)]
    return out


@dataclass(frozen=True)
class CheckRate:
    """How often one grader check failed among the submissions that ran it."""

    test: str
    exercise: str
    question: str
    hidden: bool
    failed: int
    assessed: int

    @property
    def rate(self) -> float:
        return self.failed / self.assessed if self.assessed else 0.0


def check_failure_rates(records: list[dict]) -> list[CheckRate]:
    """Every check that ran, with its failure rate, most failed first (then by name)."""
    table: dict[str, list] = {}
    for r in records:
        for ex_id, entry in r["exercises"].items():
            for c in entry.get("checks", []):
                if c["outcome"] == "not assessed":
                    continue
                row = table.setdefault(c["test"], [ex_id, c.get("question", ""), bool(c.get("hidden")), 0, 0])
                row[3] += c["outcome"] != "passed"
                row[4] += 1
    rates = [CheckRate(test, *row) for test, row in table.items()]
    return sorted(rates, key=lambda c: (-c.rate, c.test))


def heat(records: list[dict], ids: list[str]) -> list[list[float | None]]:
    """Per record, per exercise: the share of the exercise's points earned (None: not graded)."""
    out = []
    for r in records:
        row = []
        for ex_id in ids:
            e = r["exercises"].get(ex_id)
            row.append(None if e is None else (e["points"] / e["max_points"] if e["max_points"] else 1.0))
        out.append(row)
    return out
