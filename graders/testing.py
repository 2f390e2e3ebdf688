"""Helpers for the kit's own tests: wrong solutions ("mutants") that the graders must catch.

A mutants file ``tests/mutants/dayN/<module>.py`` defines realistic wrong solutions, each
decorated with the exercise it breaks and a regular expression the feedback must match:

    from graders.testing import mutant

    @mutant("day1.tensors.pairwise_sq_dists", expect=r"negative")
    def no_clamp(x, y):
        return (x * x).sum(1, keepdim=True) - 2 * x @ y.T + (y * y).sum(1)

``tests/test_mutants.py`` grades every mutant in one process with ``graders.check`` and asserts
that the exercise is not passed and that some failing check's feedback matches ``expect``.
The same files may hold other *correct* solutions marked ``@alternative(exercise_id)`` (another
algorithm or container); ``tests/test_alternatives.py`` proves that they get full marks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def mutant(exercise_id: str, *, expect: str) -> Callable[[T], T]:
    """Mark a function or class as a wrong solution of ``exercise_id``."""

    def mark(obj: T) -> T:
        obj.__drills_mutant__ = (exercise_id, expect)  # type: ignore[attr-defined]
        return obj

    return mark


def mutants_in(namespace: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(name, exercise id, expect, object) for every mutant defined in a module namespace."""
    out = []
    for name, obj in namespace.items():
        info = vars(obj).get("__drills_mutant__") if hasattr(obj, "__dict__") else None  # not inherited
        if info is not None and getattr(obj, "__module__", None) == namespace.get("__name__"):
            out.append((name, info[0], info[1], obj))
    return out


def alternative(exercise_id: str) -> Callable[[T], T]:
    """Mark a function or class as another *correct* solution of ``exercise_id``.

    ``tests/test_alternatives.py`` grades it and asserts full marks: the graders must not
    depend on one particular algorithm or container.
    """

    def mark(obj: T) -> T:
        obj.__drills_alternative__ = exercise_id  # type: ignore[attr-defined]
        return obj

    return mark


def alternatives_in(namespace: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(name, exercise id, object) for every correct alternative defined in a module namespace."""
    out = []
    for name, obj in namespace.items():
        info = vars(obj).get("__drills_alternative__") if hasattr(obj, "__dict__") else None
        if info is not None and getattr(obj, "__module__", None) == namespace.get("__name__"):
            out.append((name, info, obj))
    return out
