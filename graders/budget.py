"""CPU budgets of training checks, and how much of one the student's code used.

A training check times the student's call with :func:`time.process_time` (one torch thread, as
in every grader test) and fails it past a budget. :func:`cpu_budget` measures the call and
records the usage for the running check; the plugin adds it to that check's feedback, whether
the check passes or fails (``used 12.3 s of the 60 s CPU budget``)::

    with cpu_budget("train_digits_cnn(seed=0)", 120) as run:
        model = mod.train_digits_cnn(seed=0)
    ...
    if run.over:
        fail(f"train_digits_cnn(seed=0) took {run.seconds:.1f} s of CPU (allowed: 120 s).")

A check that reuses a measured run (a cached training) records it with :func:`spent`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from graders.core import runtime

__all__ = ["CpuRun", "cpu_budget", "noted", "spent"]

#: The usage recorded by each check (node id: sentence), taken by the plugin when it reports it.
_USED: dict[str, str] = {}


@dataclass
class CpuRun:
    """The CPU seconds of one timed call and its budget."""

    what: str
    budget: float
    seconds: float = 0.0

    @property
    def over(self) -> bool:
        return self.seconds > self.budget

    def sentence(self) -> str:
        share = self.seconds / self.budget if self.budget > 0 else 0.0
        return (f"CPU budget: {self.what} used {self.seconds:.1f} s of the {self.budget:g} s CPU "
                f"budget ({share:.0%}; time.process_time of the call).")


@contextmanager
def cpu_budget(what: str, budget: float) -> Iterator[CpuRun]:
    """Time the block's CPU seconds (``time.process_time``) against ``budget``; the usage is
    recorded for the running check when the block ends (also when it raises)."""
    if budget <= 0:
        raise ValueError(f"cpu_budget: budget must be positive seconds, got {budget!r}")
    run = CpuRun(what, float(budget))
    start = time.process_time()
    try:
        yield run
    finally:
        run.seconds = time.process_time() - start
        _record(run)


def spent(what: str, seconds: float, budget: float) -> CpuRun:
    """Record ``seconds`` already measured for ``what`` against ``budget`` for the running check."""
    run = CpuRun(what, float(budget), float(seconds))
    _record(run)
    return run


def _record(run: CpuRun) -> None:
    current = runtime.current()
    if current is not None:
        _USED[current] = run.sentence()


def noted(nodeid: str, feedback: str) -> str:
    """``feedback`` of the check ``nodeid`` with the CPU budget usage it recorded, if any."""
    sentence = _USED.pop(nodeid, "")
    if not sentence or sentence in feedback:
        return feedback
    return f"{feedback}\n{sentence}" if feedback else sentence
