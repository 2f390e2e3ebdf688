"""Deep Learning Drills graders: the pytest plugin, checks, strategies and the ``drills`` command.

Public entry points:

- ``check(exercise_id, obj)``: grade a function or class defined in a notebook;
- ``student(short)`` / ``reference(short)``: lazy proxies of exercise modules, for grader tests.

Importing this package does not import torch or TensorFlow.
"""

from __future__ import annotations

from typing import Any

from graders.core import runtime
from graders.core.runtime import reference, student

__all__ = ["check", "reference", "student"]


def check(exercise_id: str, obj: Any, *, quiet: bool = False, profile: str | None = None) -> Any:
    """Grade ``obj`` as the solution of ``exercise_id`` and print the same feedback as pytest.

    ``profile`` is the hypothesis profile (default: the quick ``drills``; ``grading`` is what
    ``drills grade`` uses).

    Example (in a notebook cell, after defining ``conv2d``):
        >>> from graders import check
        >>> check("day3.conv.conv2d", conv2d)
    """
    from graders.learner.notebook import check as _check

    return _check(exercise_id, obj, quiet=quiet, profile=profile)


def _recorded_answer(proxy: runtime.ModuleProxy, name: str) -> Any:
    """The reference's recorded answer (student releases), from :mod:`graders.checks.golden`."""
    from graders.checks import golden  # imports torch: only when a check asks the reference

    return golden.reference_attr(proxy, name)


runtime.set_replay(_recorded_answer)
