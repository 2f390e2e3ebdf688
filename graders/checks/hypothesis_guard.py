"""Hypothesis' control flow is the graders', not the code under test's: a ``@given`` grader
test whose code under test raised hypothesis' own exceptions or changed its settings fails.
"""

from __future__ import annotations

from typing import Any

from graders.checks.failures import DrillsFailure
from graders.core.paths import is_student_path


def _hypothesis_control(exc: BaseException) -> str | None:
    """The name of the hypothesis class ``exc`` is an instance of (``UnsatisfiedAssumption``,
    ``StopTest``...), or None."""
    for cls in type.__dict__["__mro__"].__get__(type(exc)):
        module = type.__dict__["__module__"].__get__(cls) if cls is not object else ""
        if isinstance(module, str) and module.split(".")[0] in ("hypothesis", "_hypothesis"):
            return type.__dict__["__name__"].__get__(cls)
    return None


def _through_student(exc: BaseException) -> bool:
    """True when a frame of the code under test is in ``exc``'s traceback."""
    tb = exc.__traceback__
    while tb is not None:
        if is_student_path(tb.tb_frame.f_code.co_filename):
            return True
        tb = tb.tb_next
    return False


def _hypothesis_state() -> tuple:
    from hypothesis import _settings as hs

    return (hs.settings._current_profile, id(hs.default_variable.value),
            tuple((k, id(v)) for k, v in hs.settings._profiles.items()))


def _restore_hypothesis_state(name: Any, default: Any, profiles: dict) -> None:
    from hypothesis import _settings as hs

    hs.settings._current_profile = name
    hs.default_variable.value = default
    hs.settings._profiles.clear()
    hs.settings._profiles.update(profiles)


#: Problems :func:`guard_hypothesis` found in the running grader test. Hypothesis cannot report
#: a failure once the code under test has concluded the test case itself (its internals), so
#: the plugin also fails the test after it ran (:func:`take_hypothesis_problems`).
_HYPOTHESIS_PROBLEMS: list[str] = []


def take_hypothesis_problems() -> list[str]:
    """The problems found since the last call (and forget them)."""
    out = list(_HYPOTHESIS_PROBLEMS)
    _HYPOTHESIS_PROBLEMS.clear()
    return out


def guard_hypothesis(test: Any) -> Any:
    """Wrap the body of a ``@given`` grader test (its ``hypothesis.inner_test``) so that the
    code under test cannot steer hypothesis: an exception of hypothesis' own (``assume(False)``,
    ``reject()``, ``UnsatisfiedAssumption``, ``StopTest``...) that passed through the code under
    test, or a change to hypothesis' settings profiles, fails the check (a rejected input
    counts as a failure, never as an input skipped)."""
    import functools

    if getattr(test, "_drills_guarded", False):
        return test

    @functools.wraps(test)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        from hypothesis import _settings as hs

        state, profiles = _hypothesis_state(), dict(hs.settings._profiles)
        name, default = hs.settings._current_profile, hs.default_variable.value
        problem = None
        try:
            return test(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - inspected, then re-raised
            control = _hypothesis_control(exc)
            if control is None or not _through_student(exc):
                raise
            problem = (f"the code under test raised hypothesis' `{control}` (from `assume`, "
                       f"`reject` or hypothesis' internals)")
        finally:
            if _hypothesis_state() != state:
                _restore_hypothesis_state(name, default, profiles)
                problem = problem or "the code under test changed hypothesis' settings profiles"
            if problem:
                message = (f"{problem}. Code under test must not call hypothesis or raise its "
                           f"exceptions: an input it rejects counts as an input it gets wrong.")
                _HYPOTHESIS_PROBLEMS.append(message)
                raise DrillsFailure(message) from None

    guarded._drills_guarded = True  # type: ignore[attr-defined]
    return guarded
