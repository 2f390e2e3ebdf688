"""Does a training check's feedback say how much of its CPU budget the student's code used?"""

from __future__ import annotations

import pytest

from graders import budget
from graders.core import runtime


@pytest.fixture
def running():
    runtime.set_current("graders/day9/test_x.py::test_trains")
    yield "graders/day9/test_x.py::test_trains"
    runtime.set_current(None)


def test_spent_is_said_in_the_feedback_of_the_check_that_measured_it(running):
    """Is the use recorded for the running check and added once to its feedback, passed or failed?"""
    run = budget.spent("train(seed=0)", 12.34, 60)
    assert not run.over
    sentence = "CPU budget: train(seed=0) used 12.3 s of the 60 s CPU budget (21%; time.process_time of the call)."
    assert budget.noted(running, "") == sentence
    assert budget.noted(running, "failed") == "failed"  # taken once


def test_over_budget_is_said_too(running):
    """Does a failed check keep its text and get the use after it?"""
    assert budget.spent("train(seed=0)", 90.0, 60).over
    assert budget.noted(running, "too slow").endswith("used 90.0 s of the 60 s CPU budget (150%; time.process_time of the call).")


def test_cpu_budget_measures_the_block(running):
    """Does the context manager record the block's CPU seconds, also when the block raises?"""
    with pytest.raises(RuntimeError):
        with budget.cpu_budget("train()", 60) as run:
            raise RuntimeError("boom")
    assert run.seconds >= 0 and budget.noted(running, "").startswith("CPU budget: train() used")
    with pytest.raises(ValueError, match="budget"):
        with budget.cpu_budget("train()", 0):
            pass


def test_nothing_is_recorded_outside_a_check():
    """Outside a grader test, is nothing kept for later?"""
    budget.spent("train()", 1.0, 60)
    assert budget._USED == {}
