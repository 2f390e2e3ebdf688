"""What a failure shows of the student's code and input: the student's own frames, error
messages without the graders' or torch's source locations (TorchScript), and hypothesis'
shrunk example with the names the grader gives its parts."""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import re
import textwrap
from typing import Any

from graders.core import runtime
from graders.core.paths import is_student_path as _is_student_path

MAX_MESSAGE = 600


def truncate(text: str, limit: int) -> str:
    """``text`` cut in the middle to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return text[: limit // 2] + f"\n... [{cut} characters cut] ...\n" + text[-limit // 2 :]


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc`` (itself, or every one an exception group holds)."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for sub in exc.exceptions:
            out.extend(leaves(sub))
        return out
    return [exc]


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
    lines.append(f"  {type(exc).__name__}: {truncate(student_message(exc), MAX_MESSAGE)}")
    return "\n".join(lines)


_FILE_LINE = re.compile(r'^\s*File "([^"]+)", line \d+')
#: A copy of the student's module made for other processes to import (its package's name, in a
#: temporary folder of a new name each run): shown as the student's own ``dayN/module.py``.
_COPY = re.compile(r'File "[^"]*[/\\]' + re.escape(runtime._STUDENT_PKG) + r'[/\\]')
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
            out.append(_COPY.sub('File "', line) if found else line)
    return "\n".join(out).strip()


def _unpacked_names(function: Any) -> dict[str, list[str]]:
    """``{"case": ["embed", "heads", ...]}`` for each ``embed, heads, ... = case`` in the body of
    a grader test: the names its author gave the parts of a drawn tuple."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return {}
    names: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Tuple) and isinstance(node.value, ast.Name)):
            continue
        targets = [t.id for t in node.targets[0].elts if isinstance(t, ast.Name)]
        if len(targets) == len(node.targets[0].elts):
            names.setdefault(node.value.id, targets)
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
        for leaf in leaves(exc):
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
