"""The points rule: an exercise's status and points from the outcomes of its checks.

The one rule for the scoreboard students see (:mod:`graders.plugin.scoreboard`), ``drills grade``
(:mod:`graders.grading.scoring`) and the Gradescope autograder (:mod:`graders.export.gradescope_run`):

- ``error``: a check could not import the student's module; 0 points;
- ``not started``: every check that ran failed on the stub's own ``NotImplementedError("<id>")``;
  0 points (a ``NotImplementedError`` raised for one case is a failure);
- ``passed``: every assessed check passed and every check ran (checks not assessed here cost
  nothing, so an exercise whose every check is not assessed passes with full points);
- ``failed``: anything else.

Points: an exercise's points are split evenly over its assessed checks,
:math:`p = P \\cdot n_{passed} / n_{assessed}` (:math:`P` when none is assessed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Check(Protocol):
    """What the rule reads of a check (:class:`graders.core.outcomes.ItemResult` has it)."""

    outcome: str  # passed | failed | not assessed | not run
    kind: str  # error | not started | failure | ...


def status(checks: Sequence[Check]) -> str:
    """The exercise's status: ``passed``, ``failed``, ``not started`` or ``error``."""
    if any(c.kind == "error" for c in checks):
        return "error"
    assessed = [c for c in checks if c.outcome != "not assessed"]
    passed = [c for c in assessed if c.outcome == "passed"]
    failed = [c for c in assessed if c.outcome == "failed"]
    if not passed and failed and all(c.kind == "not started" for c in failed):
        return "not started"
    if len(passed) == len(assessed) and all(c.outcome != "not run" for c in checks):
        return "passed"
    return "failed"


def fold(max_points: float, checks: Sequence[Check]) -> tuple[str, float]:
    """The status and points (rounded to 4 places) of an exercise worth ``max_points``.

    Example:
        >>> from graders.core.outcomes import ItemResult
        >>> fold(2.0, [ItemResult("d.m.x", "passed"), ItemResult("d.m.x", "failed")])
        ('failed', 1.0)
    """
    state = status(checks)
    if state in ("not started", "error"):
        return state, 0.0
    assessed = [c for c in checks if c.outcome != "not assessed"]
    passed = sum(c.outcome == "passed" for c in assessed)
    points = max_points * passed / len(assessed) if assessed else max_points
    return state, round(points, 4)
