"""Running the grader tests: the same start for every check, and each report folded into its
exercise's result with feedback written for a student (see :mod:`graders.plugin.feedback`).

- Every grader test starts from the same seeds, on one torch thread.
- Every grader test starts from the kit's hypothesis settings; the body of every ``@given``
  grader test runs through :func:`graders.checks.guard_hypothesis`, so code under test that
  raises hypothesis' own exceptions (``assume``, ``reject``) or steers hypothesis fails.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from graders import budget
from graders.core import registry, runtime
from graders.core.outcomes import ItemResult
from graders.plugin import feedback, state


@pytest.fixture(autouse=True)
def _drills_seed(request: pytest.FixtureRequest):
    """Same code, same result: every grader test starts from the same seeds, on one thread.

    One torch thread makes results independent of the machine's core count (the order of
    floating-point reductions) and CPU-time budgets of training checks comparable everywhere.
    """
    graded = request.node.nodeid in state.owners(request.config)
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if graded and torch is not None else None
    if graded:
        feedback.reset_seeds()
        runtime.set_current(request.node.nodeid)
        if torch is not None:
            torch.set_num_threads(1)
    yield
    runtime.set_current(None)
    if threads is not None and torch is not None:
        torch.set_num_threads(threads)


def _hypothesis_settings() -> tuple[Any, ...]:
    """hypothesis' active profile, default settings and registered profiles."""
    from hypothesis import _settings as hs

    return hs.settings._current_profile, hs.default_variable.value, dict(hs.settings._profiles)


def _restore_hypothesis(saved: tuple[Any, ...]) -> None:
    name, default, registered = saved
    if _hypothesis_settings() != (name, default, registered):
        from hypothesis import _settings as hs

        hs.settings._current_profile = name
        hs.default_variable.value = default
        hs.settings._profiles.clear()
        hs.settings._profiles.update(registered)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """Remember hypothesis' settings as the kit chose them, before any code under test runs
    (a module under test may be imported while tests are collected)."""
    state.remember_hypothesis(session.config, _hypothesis_settings())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A check whose code under test steered hypothesis fails, even where hypothesis could not
    record the failure (see :func:`graders.checks.guard_hypothesis`)."""
    graded = item.nodeid in state.owners(item.config)
    saved = state.hypothesis_at_start(item.config)
    if graded and saved is not None:
        _restore_hypothesis(saved)
    checks = sys.modules.get("graders.checks")
    if checks is not None:
        checks.take_hypothesis_problems()
    try:
        result = yield
    finally:
        checks = sys.modules.get("graders.checks")
        problems = checks.take_hypothesis_problems() if checks is not None else []
        if problems and graded and checks is not None:
            raise checks.DrillsFailure(problems[0]) from None  # in place of hypothesis' report
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Fold each report of a grader test into its result, with feedback for the student."""
    report = yield
    ex_id = state.owners(item.config).get(item.nodeid)
    if ex_id is None:
        return report
    results = state.results(item.config)
    res = results.get(item.nodeid)
    if res is None:
        res = results[item.nodeid] = ItemResult(
            exercise=ex_id,
            hidden=item.get_closest_marker("hidden") is not None,
            question=feedback.question_of(item),
        )
    if report.when == "call" or report.outcome != "passed":
        res.duration += report.duration
        feedback.classify(item, call, report, res, registry.by_id()[ex_id])
        res.feedback = budget.noted(item.nodeid, res.feedback)  # a training check's CPU budget used
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep captured output of student code to a readable size."""
    if report.failed and report.sections:
        report.sections = [(t, feedback.truncate(c)) for t, c in report.sections]
