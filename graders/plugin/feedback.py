"""Failure feedback written for a student.

Order (SPEC section 2): which exercise; the smallest failing input; what came back and what
was expected; the first hint; and last, the traceback trimmed to the student's own frames.

The hint is the check's own when it has one (``fail(..., hint=)``, ``assert_close(...,
hint=)``, ``@pytest.mark.hint("...")``); otherwise the exercise's first hint, which is labelled
as the exercise's general hint when the failure message already gives its own diagnosis.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import re
import textwrap
import os
import random
import sys
from typing import TYPE_CHECKING

import pytest

from graders.core import registry, runtime
from graders.core.paths import is_student_path as _is_student_path

if TYPE_CHECKING:
    from graders.core.outcomes import ItemResult
    from graders.core.registry import Exercise

MAX_SECTION = 4000


#: Whether feedback may point to ``drills hint`` (off where students grade through another
#: engine and have no ``drills`` command: Gradescope, nbgrader; see ``--drills-no-commands``).
HINT_COMMAND = True

def reset_seeds() -> None:
    """Seed every generator a grader might touch (torch only when already imported)."""
    random.seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)


def question_of(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def truncate(text: str, limit: int = MAX_SECTION) -> str:
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return text[: limit // 2] + f"\n... [{cut} characters cut] ...\n" + text[-limit // 2 :]


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for sub in exc.exceptions:
            out.extend(_leaves(sub))
        return out
    return [exc]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return seen


def _kind(exc: BaseException) -> tuple[str, BaseException]:
    """Classify a failure: not started, error (import), missing name, timeout or failure."""
    leaves = _leaves(exc)
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


def _show_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def student_traceback(exc: BaseException, limit: int = 8) -> str:
    """The frames of ``exc``'s traceback that are the student's own code, innermost last."""
    lines: list[str] = []
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if _is_student_path(code.co_filename):
            frames.append((code.co_filename, tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append((exc.filename, exc.lineno or 0, "<module>"))
    if not frames:
        return ""
    for filename, lineno, name in frames[-limit:]:
        lines.append(f"  {_show_path(filename)}:{lineno} in {name}")
        src = linecache.getline(filename, lineno).strip()
        if src:
            lines.append(f"      {src}")
    lines.append(f"  {type(exc).__name__}: {truncate(student_message(exc), 600)}")
    return "\n".join(lines)


_FILE_LINE = re.compile(r'^\s*File "([^"]+)", line \d+')
_BLOCK_END = re.compile(r"^(\S.*(Error|Exception)\b.*:|Traceback|The above|The following|\s*$)")


def student_message(exc: BaseException) -> str:
    """``str(exc)`` without the source locations that are not the student's own.

    TorchScript errors carry their own traceback (``File "...", line N`` followed by the code
    and a ``<--- HERE`` marker): blocks in the graders or in torch are dropped, the student's
    kept.
    """
    text = str(exc)
    if 'File "' not in text:
        return text
    out: list[str] = []
    keep = True
    for line in text.splitlines():
        found = _FILE_LINE.match(line)
        if found:
            keep = _is_student_path(found.group(1))
        elif _BLOCK_END.match(line):
            keep = True
        if keep:
            out.append(line)
    return "\n".join(out).strip()


def _unpacked_names(function: object) -> dict[str, list[str]]:
    """``{"case": ["embed", "heads", ...]}`` for each ``embed, heads, ... = case`` in the body of
    a grader test: the names its author gave the parts of a drawn tuple."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return {}
    names: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Tuple) and isinstance(node.value, ast.Name)
                and all(isinstance(t, ast.Name) for t in node.targets[0].elts)):
            names.setdefault(node.value.id, [t.id for t in node.targets[0].elts])
    return names


def _named_argument(line: str, names: dict[str, list[str]]) -> str:
    """``case=(4, 2, False),`` as ``case: heads=4, length=2, causal=False``."""
    arg, eq, value = line.strip().rstrip(",").partition("=")
    if not eq or arg.strip() not in names:
        return line
    try:
        parts = ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return line
    fields = names[arg.strip()]
    if not isinstance(parts, tuple) or len(parts) != len(fields):
        return line
    return f"{arg.strip()}: " + ", ".join(f"{f}={p!r}" for f, p in zip(fields, parts))


def falsifying_input(exc: BaseException, function: object = None) -> str:
    """The shrunk example hypothesis attached to ``exc`` (its notes), without the test's name;
    a drawn tuple that ``function`` (the grader test) unpacks is shown with the names it gives
    the parts."""
    notes: list[str] = list(getattr(exc, "__notes__", []) or [])
    if not notes:
        for leaf in _leaves(exc):
            notes.extend(getattr(leaf, "__notes__", []) or [])
            if notes:
                break
    shown: list[str] = []
    for note in notes:
        if note.startswith(("Falsifying", "Failing test case", "Failing explicit")):
            body = note.split(":", 1)[1].strip()
            head, _, rest = body.partition("(")
            args = rest.rsplit(")", 1)[0] if rest else body
            args = textwrap.dedent(args.strip("\n")).strip()
            args = "\n".join(a for a in args.splitlines() if a.strip() != "data=data(...),")
            if function is not None and "=(" in args:
                names = _unpacked_names(function)
                args = "\n".join(_named_argument(a, names) for a in args.splitlines())
            shown.append(args.rstrip(",") or "(no arguments)")
        elif note.startswith("Draw ") or note.startswith("Input:"):
            shown.append(note.strip())
    # keep order, drop duplicates
    return "\n".join(dict.fromkeys(shown))


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def hint_line(ex: "Exercise", *, check_hint: str = "", diagnosed: bool = False) -> str:
    """The hint of a failure: the check's own, else the exercise's first hint (labelled as the
    exercise's general hint where the problem already says what is likely wrong)."""
    more = f"  (more: drills hint {ex.id})" if ex.hints and HINT_COMMAND else ""
    if check_hint:
        return f"Hint: {check_hint}{more}"
    if not ex.hints:
        return ""
    more = more if len(ex.hints) > 1 else ""
    if diagnosed:
        return f"The exercise's first hint (general, not about this failure): {ex.hints[0]}{more}"
    return f"Hint: {ex.hints[0]}{more}"


def compose(
    ex: "Exercise", *, question: str, problem: str, example: str = "", trace: str = "",
    check_hint: str = "", diagnosed: bool = False,
) -> str:
    parts = [f"Exercise {ex.id}: {ex.title}"]
    if question:
        parts.append(f"Check: {question}")
    if example:
        parts.append("Smallest failing input:\n" + _indent(truncate(example, 1500)))
    parts.append("What went wrong:\n" + _indent(truncate(problem.strip(), 3000)))
    hint = hint_line(ex, check_hint=check_hint, diagnosed=diagnosed)
    if hint:
        parts.append(hint)
    if trace:
        parts.append("Your code (innermost call last):\n" + trace)
    return "\n".join(parts)


def classify(
    item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport, res: "ItemResult",
    ex: "Exercise",
) -> None:
    """Fold a test report into ``res`` and rewrite a failure's text for the student."""
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
                           check_hint=check_hint, diagnosed=diagnosed)
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
