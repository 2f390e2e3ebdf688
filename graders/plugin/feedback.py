"""Failure feedback written for a student.

Order (SPEC section 2): which exercise; the smallest failing input; what came back and what
was expected; the first hint; and last, the traceback trimmed to the student's own frames.

The hint is the check's own when it has one (``fail(..., hint=)``, ``assert_close(...,
hint=)``, ``@pytest.mark.hint("...")``); otherwise the exercise's first hint, which is labelled
as the exercise's general hint when the failure message already gives its own diagnosis.
"""

from __future__ import annotations

import random
import sys
from typing import TYPE_CHECKING

import pytest

from graders.core import registry, runtime
from graders.plugin import excerpts
from graders.plugin.excerpts import falsifying_input, student_message, student_traceback

if TYPE_CHECKING:
    from graders.core.outcomes import ItemResult
    from graders.core.registry import Exercise

MAX_SECTION = 4000


def reset_seeds() -> None:
    """Seed every generator a grader might touch (torch only when already imported)."""
    random.seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)
    torch = sys.modules.get("torch")
    if torch is None:
        return
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None and not accelerator.is_available():
        # the CPU's generator is all there is: torch.manual_seed would also queue a seed for
        # each device type torch knows and, to do so, format the stack (half a millisecond)
        torch.default_generator.manual_seed(0)
    else:
        torch.manual_seed(0)


def question_of(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def truncate(text: str, limit: int = MAX_SECTION) -> str:
    return excerpts.truncate(text, limit)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return seen


def _kind(exc: BaseException) -> tuple[str, BaseException]:
    """Classify a failure: not started, error (import), missing name, timeout or failure."""
    leaves = excerpts.leaves(exc)
    for leaf in leaves:
        for e in _chain(leaf):
            if isinstance(e, runtime.StudentImportError):
                return "error", e
    for leaf in leaves:
        for e in _chain(leaf):
            if isinstance(e, runtime.MissingNameError):
                return "missing", e
    for leaf in leaves:
        if any(type(e) is NotImplementedError and _is_stub_raise(e) for e in _chain(leaf)):
            return "not started", leaf
    leaf = leaves[0]
    if "Timeout" in str(leaf)[:40] and type(leaf).__name__ == "Failed":
        return "timeout", leaf
    return "failure", leaf


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def hint_line(ex: Exercise, *, check_hint: str = "", diagnosed: bool = False,
              commands: bool = True) -> str:
    """The hint of a failure: the check's own, else the exercise's first hint (labelled as the
    exercise's general hint where the problem already says what is likely wrong); ``commands``
    False leaves out the pointer to ``drills hint`` (Gradescope, nbgrader)."""
    more = f"  (more: drills hint {ex.id})" if ex.hints and commands else ""
    if check_hint:
        return f"Hint: {check_hint}{more}"
    if not ex.hints:
        return ""
    more = more if len(ex.hints) > 1 else ""
    if diagnosed:
        return f"The exercise's first hint (general, not about this failure): {ex.hints[0]}{more}"
    return f"Hint: {ex.hints[0]}{more}"


def compose(
    ex: Exercise, *, question: str, problem: str, example: str = "", trace: str = "",
    check_hint: str = "", diagnosed: bool = False, commands: bool = True,
) -> str:
    parts = [f"Exercise {ex.id}: {ex.title}"]
    if question:
        parts.append(f"Check: {question}")
    if example:
        parts.append("Smallest failing input:\n" + _indent(truncate(example, 1500)))
    parts.append("What went wrong:\n" + _indent(truncate(problem.strip(), 3000)))
    hint = hint_line(ex, check_hint=check_hint, diagnosed=diagnosed, commands=commands)
    if hint:
        parts.append(hint)
    if trace:
        parts.append("Your code (innermost call last):\n" + trace)
    return "\n".join(parts)


def classify(
    item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport, res: ItemResult,
    ex: Exercise,
) -> None:
    """Fold a test report into ``res`` and rewrite a failure's text for the student."""
    commands = not item.config.getoption("drills_no_commands", False)
    if report.passed:
        if report.when == "call" and res.outcome == "not run":
            res.outcome = "passed"
        return
    if report.skipped:
        reason = runtime.not_assessed_reason(item.nodeid)
        if reason is not None and not hasattr(report, "wasxfail"):
            res.outcome, res.reason = "not assessed", reason
            return
        res.outcome, res.kind = "failed", "skipped"
        res.feedback = compose(
            ex,
            question=res.question,
            problem="The check was skipped or marked as expected to fail from inside the code "
            "under test. A skipped check counts as failed: exercise code must not call "
            "pytest.skip, pytest.xfail or similar.",
            commands=commands,
        )
        report.outcome = "failed"
        report.longrepr = res.feedback
        return
    excinfo = call.excinfo
    exc: BaseException = excinfo.value if excinfo is not None else AssertionError("failed")
    kind, cause = _kind(exc)
    res.outcome, res.kind = "failed", kind
    function = getattr(item, "function", None)
    example = falsifying_input(cause, function) or falsifying_input(exc, function)
    marker = item.get_closest_marker("hint")
    check_hint = str(getattr(cause, "hint", "") or (marker.args[0] if marker and marker.args else ""))
    diagnosed = bool(getattr(cause, "diagnosed", False))
    trace = ""
    if kind == "not started":
        problem = (
            f"not started: `{ex.name}` still raises NotImplementedError. Write it in "
            f"{ex.module.split('.')[0]}/{ex.module.split('.')[1]}.py."
        )
        example = ""
        trace = student_traceback(cause) if not _is_stub_raise(cause) else ""
    elif kind == "error":
        original = cause.__cause__ or cause
        problem = f"error: {cause}"
        trace = student_traceback(original)
        example = ""
    elif kind == "missing":
        problem = str(cause)
        example = ""
    elif kind == "timeout":
        problem = (
            "Your code ran past the time limit of this check and was stopped. Look for an "
            "endless loop, or for a Python loop over elements where a tensor operation would do."
        )
    else:
        trace = student_traceback(cause)
        problem = _problem_text(cause, from_student=bool(trace))
        if trace and type(cause).__name__ in ("DrillsFailure",):
            trace = ""
    res.feedback = compose(ex, question=res.question, problem=problem, example=example, trace=trace,
                           check_hint=check_hint, diagnosed=diagnosed, commands=commands)
    if kind == "not started" and not trace:
        report.longrepr = f"{ex.id}: not started (`{ex.name}` still raises NotImplementedError)"
    else:
        report.longrepr = res.feedback


def _is_stub_raise(exc: BaseException) -> bool:
    """True when the NotImplementedError is a stub's own ``raise NotImplementedError("<id>")``
    (any other NotImplementedError is the student's: a failure, not "not started")."""
    return bool(exc.args) and isinstance(exc.args[0], str) and exc.args[0] in registry.by_id()


def _problem_text(exc: BaseException, *, from_student: bool) -> str:
    from graders.checks import DrillsFailure  # local: checks imports torch lazily

    if isinstance(exc, DrillsFailure):
        return str(exc)
    if isinstance(exc, AssertionError) and str(exc):
        return str(exc)
    if from_student:
        return f"Your code raised {type(exc).__name__}: {truncate(student_message(exc), 800)}"
    return (
        f"The check raised {type(exc).__name__} while using what your code returned: "
        f"{truncate(student_message(exc), 800)} (is the return value of the documented type and "
        "shape?)"
    )
