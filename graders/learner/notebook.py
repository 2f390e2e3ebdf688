"""``check()``: run one exercise's graders on an object defined outside the exercise files.

It runs pytest in this process on the exercise's grader module, with ``obj`` served in place of
the exercise's name, and returns the exercise's score with the same feedback pytest prints.
The kit's own tests use it to grade many wrong solutions in one process.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.core import registry, runtime


@dataclass
class CheckResult:
    """The outcome of ``check()`` for one exercise."""

    exercise: str
    status: str
    points: float
    max_points: float
    feedback: list[str] = field(default_factory=list)
    not_assessed: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __str__(self) -> str:
        head = f"{self.exercise}: {self.status} ({self.points:g} / {self.max_points:g} points)"
        extra = "".join(f"\n  not assessed: {r}" for r in self.not_assessed)
        body = "\n\n".join(self.feedback)
        return head + extra + ("\n\n" + body if body else "")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython
        p.text(str(self))


def check(exercise_id: str, obj: Any, *, quiet: bool = False,
          target: Path | None = None, profile: str | None = None) -> CheckResult:
    """Grade ``obj`` as the solution of ``exercise_id`` (an id or an unambiguous abbreviation),
    with the hypothesis ``profile`` (default: the quick ``drills`` one)."""
    import pytest

    ex = registry.resolve(exercise_id)
    grader = ex.grader_file
    args = [
        str(grader),
        "-p", "graders.plugin",
        "--drills-exercise", ex.id,
        "--rootdir", str(runtime.KIT_ROOT),
        "-p", "no:cacheprovider",
        "-p", "no:unraisableexception",
        "--capture=no",
        "-q",
    ]
    if target is not None:
        args += ["--drills-target", str(target)]
    if profile is not None:
        args += ["--hypothesis-profile", profile]
    saved_target = runtime.target_dir()
    buffer = io.StringIO()
    runtime.set_last_board(None)
    try:
        with runtime.overriding({ex.id: obj}), contextlib.redirect_stdout(buffer), \
                contextlib.redirect_stderr(buffer):
            pytest.main(args)
    finally:
        runtime.set_target(saved_target)
    board = runtime.last_board()
    score = next((s for s in board.scores if s.exercise.id == ex.id), None) if board else None
    if score is None:
        result = CheckResult(ex.id, "error", 0.0, ex.points,
                             [f"the graders of {ex.id} could not run:\n{buffer.getvalue()[-3000:]}"],
                             output=buffer.getvalue())
    else:
        result = CheckResult(
            ex.id, score.status, score.points, score.max_points,
            [c.feedback for c in score.checks if c.outcome == "failed" and c.feedback],
            score.not_assessed, output=buffer.getvalue(),
        )
    if not quiet:
        print(result)
    return result
