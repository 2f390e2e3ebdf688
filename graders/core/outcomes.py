"""What one grader test did: its outcome and, for a failure, its kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ItemResult:
    """What one grader test did."""

    exercise: str
    outcome: str = "not run"  # passed | failed | not assessed
    kind: str = ""  # not started | error | missing | failure | timeout | skipped
    feedback: str = ""
    reason: str = ""
    duration: float = 0.0
    hidden: bool = False
    question: str = ""
