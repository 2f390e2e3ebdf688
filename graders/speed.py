"""The numeric-speed check: the student's function timed against a baseline in one run.

Timings are ratios, never absolute thresholds: both functions run on the same inputs, in
interleaved rounds, on one thread, with the garbage collector off; each round times enough calls
to take a few milliseconds; the best round of each is kept (noise only ever slows code down);
and a failing ratio is measured again, up to ``attempts`` times, passing on any success. The
factor is generous (10x by default): a legitimately different vectorisation passes even on a
loaded 2-core machine, and a Python loop over elements fails by orders of magnitude.

Every timed call gets inputs of its own: new tensors (new storage) holding new values of the
same kind (floating tensors scaled by a factor between 1 and 2 that differs from call to call,
integer and boolean tensors shuffled), the same values for both functions. Every result of a
timed call is checked against the baseline's result for the same values. So a slow function
that remembers earlier inputs (by ``id``, ``data_ptr`` or a hash of the values) gains nothing,
and one that returns early when it notices it is being timed fails.
"""

from __future__ import annotations

import gc
import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from graders.checks import fail
from graders.checks.bound import _one_of
from graders.checks.describe import _describe
from graders.checks.plain_data import Opaque, PlainTensor, _Lie, _record
from graders.checks.values import _equal

MIN_ROUND_S = 0.001
MAX_STUDENT_ROUND_S = 1.5
#: The inputs of one round of one function take at most this much memory.
MAX_ROUND_BYTES = 64 << 20
#: Results of timed calls agree with the baseline's within this (relative to the largest value).
AGREE_RTOL = 1e-4
_GOLDEN = (math.sqrt(5) - 1) / 2
#: Numbers the timed calls of this process: no two calls ever get the same values.
_CALL_NUMBERS = itertools.count(1)


def _bytes(obj: Any) -> int:
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_bytes(v) for v in obj)
    return 0


def _vary(obj: Any, index: int, slots: Any = None) -> Any:
    """New tensors with new values of the same kind, for the ``index``-th call (each tensor of
    the call shuffled its own way)."""
    slots = itertools.count() if slots is None else slots
    if isinstance(obj, torch.Tensor):
        with torch.no_grad():
            if obj.is_floating_point() or obj.is_complex():
                factor = 1.0 + ((index + 1) * _GOLDEN) % 1.0
                out = obj.detach() * factor
            elif obj.numel() > 1:
                gen = torch.Generator().manual_seed(7919 * index + 104729 * next(slots) + 1)
                perm = torch.randperm(obj.numel(), generator=gen).to(obj.device)
                out = obj.detach().reshape(-1)[perm].reshape(obj.shape)
            else:
                out = obj.detach().clone()
        if obj.requires_grad and out.is_floating_point():
            out.requires_grad_(True)
        return out
    if type(obj) is dict:
        return {k: _vary(v, index, slots) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_vary(v, index, slots) for v in obj)
    return obj


def _copy(obj: Any) -> Any:
    """The same values in new tensors."""
    if isinstance(obj, torch.Tensor):
        with torch.no_grad():
            out = obj.detach().clone()
        return out.requires_grad_(obj.requires_grad) if out.is_floating_point() else out
    if type(obj) is dict:
        return {k: _copy(v) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_copy(v) for v in obj)
    return obj


class _Inputs:
    """Fresh inputs for every timed call, the same values for both functions."""

    def __init__(self, args: tuple, kwargs: dict,
                 fresh: Callable[[int], tuple] | None) -> None:
        self.args, self.kwargs, self.fresh = args, kwargs, fresh
        self.size = max(1, _bytes((args, kwargs)))

    def limit(self, n: int) -> int:
        """At most ``n`` calls per round, within :data:`MAX_ROUND_BYTES`."""
        return max(1, min(n, MAX_ROUND_BYTES // self.size))

    def round(self, n: int) -> tuple[list, list]:
        """``n`` new inputs for the baseline and copies of them for the student."""
        base, student = [], []
        for _ in range(n):
            number = next(_CALL_NUMBERS)
            if self.fresh is not None:
                args, kwargs = tuple(self.fresh(number)), dict(self.kwargs)
            else:
                slots = itertools.count()
                args, kwargs = _vary(self.args, number, slots), _vary(self.kwargs, number, slots)
            base.append((args, kwargs))
            student.append((_copy(args), _copy(kwargs)))
        return base, student


def _time(fn: Callable[..., Any], calls: list) -> tuple[float, list]:
    outs: list = [None] * len(calls)
    start = time.perf_counter()
    for i, (args, kwargs) in enumerate(calls):
        outs[i] = fn(*args, **kwargs)
    return (time.perf_counter() - start) / len(calls), outs


class ResultMismatch(Exception):
    """A timed call's result differs from the baseline's for the same values."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(problem)
        self.index, self.problem = index, problem


def _agree(got: Any, expected: Any) -> str:
    """Empty when ``got`` matches ``expected`` (plain data), else what differs."""
    if type(expected) is PlainTensor:
        if type(got) is not PlainTensor or got.shape != expected.shape:
            return f"{_describe(got)} instead of a tensor of shape {expected.shape}"
        if expected.values is None or got.values is None:
            return ""
        e, g = expected.values, got.values
        if expected.is_floating or expected.is_complex or got.is_floating or got.is_complex:
            e64, g64 = e.astype(np.complex128 if e.dtype.kind == "c" else np.float64), \
                g.astype(np.complex128 if g.dtype.kind == "c" else np.float64)
            finite = np.isfinite(e64)
            scale = float(np.abs(e64[finite]).max()) if finite.any() else 0.0
            with np.errstate(invalid="ignore", over="ignore"):
                ok = np.isclose(g64, e64, rtol=AGREE_RTOL, atol=AGREE_RTOL * scale + 1e-12,
                                equal_nan=True)
            return "" if bool(ok.all()) else "other values"
        return "" if g.shape == e.shape and bool((g == e).all()) else "other values"
    if _one_of(type(expected), tuple, list):
        if not _one_of(type(got), tuple, list) or len(got) != len(expected):
            return f"{_describe(got)} instead of {len(expected)} items"
        return next((p for p in (_agree(g, e) for g, e in zip(got, expected)) if p), "")
    if type(expected) is dict:
        if type(got) is not dict or set(got) != set(expected):
            return f"{_describe(got)} instead of a dict with keys {sorted(map(repr, expected))}"
        return next((p for p in (_agree(got[k], expected[k]) for k in expected) if p), "")
    if type(expected) is float and _one_of(type(got), int, float):
        return "" if math.isclose(got, expected, rel_tol=AGREE_RTOL, abs_tol=1e-12) or (
            math.isnan(got) and math.isnan(expected)) else f"{got!r} instead of {expected!r}"
    if type(expected) is Opaque:
        return ""  # an object of the baseline's own: nothing to compare by value
    return "" if _equal(got, expected) else f"{_describe(got)} instead of {_describe(expected)}"


def _verify(student_outs: list, base_outs: list) -> None:
    for i, (g, e) in enumerate(zip(student_outs, base_outs)):
        try:
            problem = _agree(_record(g), _record(e))
        except (_Lie, RecursionError):
            problem = "a value that cannot be compared"
        if problem:
            raise ResultMismatch(i, problem)


def measure_ratio(
    student_fn: Callable[..., Any],
    baseline_fn: Callable[..., Any],
    args: tuple,
    kwargs: dict | None = None,
    *,
    rounds: int = 15,
    fresh: Callable[[int], tuple] | None = None,
) -> float:
    """Best-round time of ``student_fn`` divided by that of ``baseline_fn``, each call on
    inputs of its own (see the module docstring; ``fresh(i)`` makes the arguments of call
    ``i`` where scaling and shuffling would not do). Raises :class:`ResultMismatch` when a
    timed result of the student's differs from the baseline's for the same values."""
    kwargs = kwargs or {}
    inputs = _Inputs(args, kwargs, fresh)
    threads = torch.get_num_threads()
    gc_was_enabled = gc.isenabled()
    torch.set_num_threads(1)
    gc.disable()
    try:
        base_in, student_in = inputs.round(3)
        warm = _time(baseline_fn, base_in[:2])[1]  # warm-up: lazy initialisation, caches
        one_student, outs = _time(student_fn, student_in[:1])
        _verify(outs, warm)
        one_base = max(_time(baseline_fn, base_in[2:])[0], 1e-7)
        n = inputs.limit(max(1, int(MIN_ROUND_S / one_base)))
        n_student = max(1, min(n, int(MAX_STUDENT_ROUND_S / max(one_student, 1e-9))))
        best_base, best_student = float("inf"), float("inf")
        for r in range(rounds):
            base_in, student_in = inputs.round(n)
            base_outs: list = []
            student_outs: list = []
            for which in ((0, 1) if r % 2 == 0 else (1, 0)):
                if which == 0:
                    t, base_outs = _time(baseline_fn, base_in)
                    best_base = min(best_base, t)
                else:
                    t, student_outs = _time(student_fn, student_in[:n_student])
                    best_student = min(best_student, t)
            _verify(student_outs, base_outs)
            del base_in, student_in, base_outs, student_outs
            if best_student > 50 * best_base and r >= 1:
                break  # far beyond any factor: no need to keep a slow loop running
        return best_student / best_base
    finally:
        torch.set_num_threads(threads)
        if gc_was_enabled:
            gc.enable()


def _baseline(fn: Callable[..., Any], native: Callable[..., Any] | None,
              what: str) -> tuple[Callable[..., Any], str]:
    """The function to time against, and how the failure message names it: ``native`` in every
    engine when given (one verdict everywhere, and a release records no timed call), else the
    reference where it exists; a student kit without either leaves the check not assessed."""
    from graders.checks import golden, not_assessed

    if native is not None:
        return native, "a PyTorch-native equivalent"
    real = golden.unwrap(fn)
    if real is not None:
        if golden.recording():
            golden.note(f"the speed check of {what} has no native= baseline: not assessed in the release")
        return real, "the reference"
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
    fresh: Callable[[int], tuple] | None = None,
) -> float:
    """Fail when ``student_fn`` is more than ``factor`` times slower than ``baseline_fn``, or
    when a result of a timed call differs from the baseline's for the same inputs.

    The baseline is ``native``, a PyTorch-native equivalent, when given (in every engine: student
    releases hold no reference code), else the reference; without either the check is not assessed.
    ``args`` are the inputs (each timed call gets new tensors with new values of the same kind,
    see the module docstring); ``fresh(i)``, when given, makes the arguments of the ``i``-th call
    instead (for inputs whose values must keep a structure). Returns the best measured ratio;
    the failure message prints it.
    """
    __tracebackhide__ = True
    baseline_fn, against = _baseline(baseline_fn, native, what)
    ratios = []
    for _ in range(attempts):
        try:
            ratio = measure_ratio(student_fn, baseline_fn, args, kwargs, fresh=fresh)
        except ResultMismatch as exc:
            fail(
                f"{what} returned {exc.problem} in a timed call, not what {against} returns "
                f"for the same inputs. Every timed call gets new tensors with new values, so "
                f"results remembered from earlier calls (by id, data_ptr or a hash of the "
                f"values) or a shortcut taken while timed are wrong: the result must depend "
                f"only on the inputs."
            )
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
