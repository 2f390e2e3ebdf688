"""How a check ends other than by passing: failed with a message for the student, or not
assessed here (no points lost)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import pytest

from graders.core import runtime
from graders.core.paths import GRADERS_DIR

_GRADERS_DIR = GRADERS_DIR.resolve()


class DrillsFailure(AssertionError):
    """A check failed; the message is meant for the student.

    Attributes:
        hint: the check's own hint for this failure ("" for none: the exercise's first hint).
        diagnosed: whether the message says what is likely wrong (then the exercise's general
            hint is labelled as such in the feedback).
    """

    def __init__(self, message: str = "", *, hint: str = "", diagnosed: bool = False) -> None:
        super().__init__(message)
        self.hint = hint
        self.diagnosed = diagnosed


def fail(message: str, *, hint: str = "", diagnosed: bool = True) -> NoReturn:
    """Fail the current check with ``message`` (written for a student).

    Args:
        message: what came back, what was expected and, where known, the likely mistake.
        hint: a hint for this failure, printed in place of the exercise's first hint.
        diagnosed: the message names the likely mistake (the default for a grader's own
            message); the comparisons pass False for their generic messages.
    """
    __tracebackhide__ = True
    raise DrillsFailure(message, hint=hint, diagnosed=diagnosed)


def not_assessed(reason: str) -> NoReturn:
    """Skip the current check as "not assessed" (for example "no CUDA device"): no points lost.

    Only the kit's graders may declare this; called from anywhere else it is a plain skip,
    which counts as a failure.
    """
    caller = Path(sys._getframe(1).f_code.co_filename).resolve()
    if _GRADERS_DIR in caller.parents:
        runtime.mark_not_assessed(reason)
    pytest.skip(f"not assessed: {reason}")
