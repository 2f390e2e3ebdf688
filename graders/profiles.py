"""Hypothesis profiles: the same code gets the same score on every run and every machine.

- ``drills`` (the default): derandomised, few examples, quick feedback for students.
- ``grading``: derandomised, more examples; what instructors grade with (``drills grade``).
- ``thorough``: derandomised, many examples; for the kit's own CI.

Choose one with ``pytest --hypothesis-profile grading``. Every profile is derandomised and keeps
no example database, so a failing example is reproducible and never depends on earlier runs.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

DEFAULT = "drills"
_COMMON = dict(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.differing_executors,
    ],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)
EXAMPLES = {"drills": 25, "grading": 60, "thorough": 150}


def register() -> None:
    """Register the three profiles (idempotent)."""
    for name, n in EXAMPLES.items():
        settings.register_profile(name, max_examples=n, **_COMMON)


def load_default() -> None:
    settings.load_profile(DEFAULT)


def examples(n: int) -> int:
    """``n`` examples under the default profile, scaled with the active one.

    Use in grader tests that need their own count: ``@settings(max_examples=examples(10))``.
    """
    active = settings.default.max_examples
    return max(1, round(n * active / EXAMPLES[DEFAULT]))
