"""The points rule (graders/core/points.py), shared by the scoreboard, drills grade and Gradescope."""

from __future__ import annotations

from graders.core.outcomes import ItemResult
from graders.core.points import fold
from graders.export import gradescope_run
from graders.grading import scoring


def _r(outcome: str, kind: str = "") -> ItemResult:
    return ItemResult("day1.tensors.describe", outcome, kind)


def test_every_check_not_assessed_passes_with_full_points():
    """Does an exercise none of whose checks is assessed here pass with its full points?"""
    assert fold(3.0, [_r("not assessed"), _r("not assessed")]) == ("passed", 3.0)


def test_points_are_shared_by_the_assessed_checks():
    """Are an exercise's points split evenly over its assessed checks only?"""
    assert fold(3.0, [_r("passed"), _r("failed"), _r("not assessed"), _r("passed")]) == ("failed", 2.0)


def test_not_started_and_error_earn_nothing():
    """Do an untouched stub and a module that cannot be imported earn 0 points?"""
    assert fold(2.0, [_r("failed", "not started"), _r("not assessed")]) == ("not started", 0.0)
    assert fold(2.0, [_r("passed"), _r("failed", "error")]) == ("error", 0.0)


def test_drills_grade_and_gradescope_use_the_same_rule():
    """Do drills grade's cleared flags and Gradescope's hidden checks fold checks by the same rule?"""
    checks = [{"test": "a", "outcome": "not assessed", "kind": ""},
              {"test": "b", "outcome": "not assessed", "kind": ""}]
    ex = "day1.tensors.describe"
    assert scoring.unflagged(ex, checks) == fold(scoring.registry.by_id()[ex].points,
                                                 [_r("not assessed"), _r("not assessed")])
    assert [i.outcome for i in gradescope_run._items(ex, checks)] == ["not assessed"] * 2
