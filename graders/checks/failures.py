"""How a check ends other than by passing: failed with a message for the student, or not
assessed here (no points lost)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from graders.core import runtime
from graders.core.paths import GRADERS_DIR

_GRADERS_DIR = GRADERS_DIR.resolve()


class DrillsFailure(AssertionError):
    """A check failed; the message is meant for the student."""


def fail(message: str) -> None:
    """Fail the current check with ``message`` (written for a student)."""
    __tracebackhide__ = True
    raise DrillsFailure(message)


def not_assessed(reason: str) -> None:
    """Skip the current check as "not assessed" (for example "no CUDA device"): no points lost.

    Only the kit's graders may declare this; called from anywhere else it is a plain skip,
    which counts as a failure.
    """
    caller = Path(sys._getframe(1).f_code.co_filename).resolve()
    if _GRADERS_DIR in caller.parents:
        runtime.mark_not_assessed(reason)
    pytest.skip(f"not assessed: {reason}")
