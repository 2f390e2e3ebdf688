"""The numeric-speed check: the student's function timed against a baseline in one run.

Timings are ratios, never absolute thresholds: both functions run on the same inputs, in
interleaved rounds, on one thread, with the garbage collector off; each round times enough calls
to take a few milliseconds; the best round of each is kept (noise only ever slows code down);
and a failing ratio is measured again, up to ``attempts`` times, passing on any success. The
factor is generous (10x by default): a legitimately different vectorisation passes even on a
loaded 2-core machine, and a Python loop over elements fails by orders of magnitude.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import torch

from graders.checks import fail

MIN_ROUND_S = 0.001
MAX_STUDENT_ROUND_S = 1.5


def _time(fn: Callable[..., Any], args: tuple, kwargs: dict, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn(*args, **kwargs)
    return (time.perf_counter() - start) / n


def measure_ratio(
    student_fn: Callable[..., Any],
    baseline_fn: Callable[..., Any],
    args: tuple,
    kwargs: dict | None = None,
    *,
    rounds: int = 15,
) -> float:
    """Best-round time of ``student_fn`` divided by that of ``baseline_fn`` on the same inputs."""
    kwargs = kwargs or {}
    threads = torch.get_num_threads()
    gc_was_enabled = gc.isenabled()
    torch.set_num_threads(1)
    gc.disable()
    try:
        for _ in range(2):  # warm-up: lazy initialisation, caches
            baseline_fn(*args, **kwargs)
        t0 = time.perf_counter()
        student_fn(*args, **kwargs)
        one_student = time.perf_counter() - t0
        one_base = max(_time(baseline_fn, args, kwargs, 3), 1e-7)
        n = max(1, int(MIN_ROUND_S / one_base))
        n_student = max(1, min(n, int(MAX_STUDENT_ROUND_S / max(one_student, 1e-9))))
        best_base, best_student = float("inf"), float("inf")
        for r in range(rounds):
            order = (0, 1) if r % 2 == 0 else (1, 0)
            for which in order:
                if which == 0:
                    best_base = min(best_base, _time(baseline_fn, args, kwargs, n))
                else:
                    best_student = min(best_student, _time(student_fn, args, kwargs, n_student))
            if best_student > 50 * best_base and r >= 1:
                break  # far beyond any factor: no need to keep a slow loop running
        return best_student / best_base
    finally:
        torch.set_num_threads(threads)
        if gc_was_enabled:
            gc.enable()


def _baseline(fn: Callable[..., Any], native: Callable[..., Any] | None,
              what: str) -> tuple[Callable[..., Any], str]:
    """The function to time against, and how the failure message names it."""
    from graders import golden
    from graders.checks import not_assessed

    real = golden.unwrap(fn)
    if real is not None:
        if native is None and golden.recording():
            golden.note(f"the speed check of {what} has no native= baseline: not assessed in the release")
        return real, "the reference"
    if native is not None:
        return native, "a PyTorch-native equivalent"
    not_assessed(f"the speed of {what} is compared with the reference by your instructor")
    raise AssertionError("unreachable")


def speed_check(
    student_fn: Callable[..., Any],
    baseline_fn: Callable[..., Any],
    args: tuple,
    kwargs: dict | None = None,
    *,
    what: str,
    factor: float = 10.0,
    attempts: int = 3,
    advice: str = "a Python loop over elements is the usual cause; use whole-tensor operations.",
    native: Callable[..., Any] | None = None,
) -> float:
    """Fail when ``student_fn`` is more than ``factor`` times slower than ``baseline_fn``.

    The baseline is the reference where it exists, else ``native``, a PyTorch-native equivalent
    (student releases hold no reference code); without either the check is not assessed.
    Returns the best measured ratio; the failure message prints it.
    """
    __tracebackhide__ = True
    baseline_fn, against = _baseline(baseline_fn, native, what)
    ratios = []
    for _ in range(attempts):
        ratio = measure_ratio(student_fn, baseline_fn, args, kwargs)
        ratios.append(ratio)
        if ratio <= factor:
            return ratio
        if ratio > 3 * factor:
            break  # far beyond what a loaded machine does to the same code: no retry
    best = min(ratios)
    fail(
        f"{what} is {best:.1f}x slower than {against} on the same input (allowed: "
        f"{factor:g}x; best of {attempts} measurements, each over interleaved rounds). "
        f"{advice[0].upper() + advice[1:]}"
    )
    return best
