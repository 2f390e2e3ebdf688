"""The comparisons that fail a check: :func:`assert_close` and :func:`assert_equal`, with
messages that say what differs (type, shape, dtype, device, then the largest difference and
where it is).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from graders.checks.bound import (
    _exact,
    _np_abs,
    _np_any,
    _np_argmax,
    _np_broadcast_to,
    _np_errstate,
    _np_float64,
    _np_isinf,
    _np_isnan,
    _np_nan_to_num,
    _np_nonzero,
    _np_where,
    _one_of,
)
from graders.checks.describe import _describe, _fmt_pair, _fmt_value, _item, _kind, _repr, _where
from graders.checks.failures import DrillsFailure, fail
from graders.checks.plain_data import PlainTensor, _plain
from graders.checks.values import _as_numbers, _equal, _tensors_equal

_default_tolerances = None  # bound on first use (torch.testing is imported lazily)


def _subject(what: str) -> tuple[str, str]:
    """How to name the value in a message, and a sentence of context to print before it.

    ``what`` is a noun phrase ("conv2d(x, w)"); a full sentence is kept whole as context, and
    the message names "the value" instead, so no sentence is continued by a fragment.
    """
    text = what.strip()
    if not text:
        return "the value your code returned", ""
    if text[-1] in ".!?:":
        return "the value", text
    return text, ""


def _compose_failure(exc: DrillsFailure, *, lead: str, advice: str, hint: str) -> None:
    """Give a comparison's failure its context, advice and hint (the same exception, raised on
    from where it was raised: hypothesis tells failures apart by where they come from)."""
    message = str(exc)
    if lead:
        message = message[:1].upper() + message[1:]
    exc.args = (" ".join(part.strip() for part in (lead, message, advice) if part.strip()),)
    exc.hint, exc.diagnosed = hint, bool(advice)


def _check_tensor_meta(got: Any, expected: PlainTensor, what: str, *, check_dtype: bool,
                       check_device: bool) -> None:
    __tracebackhide__ = True
    if type(got) is not PlainTensor or got.array != expected.array:
        fail(f"{what} returned {_kind(got)} ({_describe(got)}), expected a "
             f"{'numpy array' if expected.array else 'torch.Tensor'} of {expected.describe()}.")
    if got.shape != expected.shape:
        fail(f"{what} returned shape {got.shape}, expected shape {expected.shape}.")
    if check_dtype and got.dtype != expected.dtype:
        fail(f"{what} returned dtype {got.dtype}, expected {expected.dtype} "
             f"(keep the input's dtype; do not convert).")
    if check_device and got.device != expected.device:
        fail(f"{what} returned a tensor on {got.device}, expected it on {expected.device} "
             f"(create new tensors on the input's device).")



def assert_close(
    got: Any,
    expected: Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    what: str = "your function",
    check_dtype: bool = True,
    check_device: bool = True,
    equal_nan: bool = False,
    advice: str = "",
    hint: str = "",
) -> None:
    """Fail with a student-worded message unless ``got`` is close to ``expected``.

    Tensors: same type, shape, dtype and device, then ``|got - expected| <= atol + rtol *
    |expected|`` elementwise. Without tolerances the defaults of ``torch.testing.assert_close``
    for the dtype apply. Tuples and lists are compared item by item, dicts key by key; Python
    numbers as numbers. Both sides are turned into plain data first (:func:`plain`).

    Args:
        what: how to name the value in the message, e.g. ``"pairwise_sq_dists(x, y)"`` (a
            noun phrase; a full sentence is printed whole before the message).
        advice: the likely mistake, a sentence printed after the numbers.
        hint: a hint for this failure, printed in place of the exercise's first hint.
    """
    __tracebackhide__ = True
    name, lead = _subject(what)
    try:
        g = _plain(got, name)
        e = _plain(expected, "the expected value")
        a = _plain(atol, "atol") if isinstance(atol, torch.Tensor) else atol
        _assert_close(g, e, rtol=rtol, atol=a, what=name, check_dtype=check_dtype,
                      check_device=check_device, equal_nan=equal_nan)
    except DrillsFailure as exc:
        _compose_failure(exc, lead=lead, advice=advice, hint=hint)
        raise


def _assert_close(got: Any, expected: Any, *, rtol, atol, what: str, check_dtype: bool,
                  check_device: bool, equal_nan: bool) -> None:
    __tracebackhide__ = True
    te = type(expected)
    if te is tuple or te is list:
        if not _one_of(type(got), tuple, list) or len(got) != len(expected):
            fail(f"{what} returned {_describe(got)}, expected a sequence of "
                 f"{len(expected)} items.")
        for i, (g, e) in enumerate(zip(got, expected)):
            _assert_close(g, e, rtol=rtol, atol=atol, what=f"{what}[{i}]",
                          check_dtype=check_dtype, check_device=check_device, equal_nan=equal_nan)
        return
    if te is dict:
        if type(got) is not dict:
            fail(f"{what} returned {_describe(got)}, expected a dict with keys "
                 f"{_repr(list(expected))}.")
        if set(got) != set(expected):
            missing = [k for k in expected if k not in got]
            extra = [k for k in got if k not in expected]
            fail(f"{what} has the wrong keys: missing {_repr(missing)}, unexpected {_repr(extra)}.")
        for k, e in expected.items():
            _assert_close(got[k], e, rtol=rtol, atol=atol, what=f"{what}[{_repr(k)}]",
                          check_dtype=check_dtype, check_device=check_device, equal_nan=equal_nan)
        return
    if te is int or te is float:
        if type(got) is PlainTensor and got.numel == 1 and got.values is not None:
            got = _item(got.values, 0)
        if not _one_of(type(got), int, float):
            fail(f"{what} returned {_describe(got)}, expected a number close to {expected!r}.")
        tol = (atol if atol is not None else 1e-8) + (rtol if rtol is not None else 1e-6) * abs(expected)
        if not (abs(got - expected) <= tol or (equal_nan and math.isnan(got) and math.isnan(expected))):
            fail(f"{what} returned {got!r}, expected {expected!r} (allowed difference {tol:.3g}).")
        return
    if te is not PlainTensor:
        if _exact(expected):
            if type(got) is not te or got != expected:
                fail(f"{what} returned {_describe(got)}, expected {_describe(expected)}.")
            return
        fail(f"{what} returned {_describe(got)}, expected {_describe(expected)}.")
    _check_tensor_meta(got, expected, what, check_dtype=check_dtype, check_device=check_device)
    if got.numel == 0 or got.values is None or expected.values is None:
        return
    if rtol is None or atol is None:
        d_rtol, d_atol = _tolerances(expected.dtype)
        rtol = d_rtol if rtol is None else rtol
        atol = d_atol if atol is None else atol
    _compare_values(got, expected, rtol=rtol, atol=atol, what=what, equal_nan=equal_nan)


def _tolerances(dtype: torch.dtype) -> tuple[float, float]:
    global _default_tolerances
    if _default_tolerances is None:
        from torch.testing._comparison import default_tolerances

        _default_tolerances = default_tolerances
    return _default_tolerances(dtype)


def _compare_values(got: PlainTensor, expected: PlainTensor, *, rtol: float, atol: Any,
                    what: str, equal_nan: bool) -> None:
    __tracebackhide__ = True
    g, e, floating = _as_numbers(got, expected)
    g, e = g.reshape(-1), e.reshape(-1)
    shape = got.shape
    if not floating:
        bad = g != e
        if not bool(_np_any(bad)):
            return
        idx = int(_np_nonzero(bad)[0])
        fail(f"{what} differs from the expected values at {int(bad.sum())} of {g.size} "
             f"positions; first at index {_where(idx, shape)}: got {g[idx].item()!r}, expected "
             f"{e[idx].item()!r}.")
    nan_g, nan_e = _np_isnan(g), _np_isnan(e)
    if bool(_np_any(nan_g != nan_e)) or (bool(_np_any(nan_g)) and not equal_nan):
        idx = int(_np_nonzero((nan_g != nan_e) | (nan_g & (not equal_nan)))[0])
        fail(f"{what} has NaN where it should not, first at index {_where(idx, shape)}: got "
             f"{_fmt_value(g[idx].item())}, expected {_fmt_value(e[idx].item())} "
             f"({int(nan_g.sum())} NaN values in all). Look for 0/0, inf - inf or log of 0.")
    ok_nan = nan_g & nan_e
    with _np_errstate(invalid="ignore", over="ignore"):
        same_inf = _np_isinf(g) & (g == e)
        diff = _np_abs(g - e)
        diff = _np_where(ok_nan | same_inf, 0.0, diff)
        if type(atol) is PlainTensor:
            atol_v = _np_broadcast_to(atol.values.astype(_np_float64), expected.shape).reshape(-1)
            atol_text = "a per-element atol"
        else:
            atol_v, atol_text = float(atol), f"atol={float(atol):.2g}"  # type: ignore[assignment]
        allowed = atol_v + rtol * _np_nan_to_num(_np_abs(e), nan=0.0, posinf=0.0, neginf=0.0)
        over = (diff > allowed) | (_np_isnan(diff) & ~(ok_nan | same_inf))
        if not bool(_np_any(over)):
            return
        excess = _np_where(over, _np_nan_to_num(diff - allowed, nan=math.inf), 0.0)
    idx = int(_np_argmax(excess))
    allowed_here = float(_np_broadcast_to(allowed, diff.shape)[idx])
    shown_got, shown_expected = _fmt_pair(g[idx].item(), e[idx].item())
    fail(f"{what} is not close enough to the expected values: {int(over.sum())} of {g.size} "
         f"elements differ. The largest difference is {diff[idx].item():.3g} at index "
         f"{_where(idx, shape)}: got {shown_got}, expected {shown_expected} (allowed: "
         f"{atol_text} + rtol={rtol:.2g} * |expected|, here {allowed_here:.3g}).")


def assert_equal(got: Any, expected: Any, *, what: str = "your function", advice: str = "",
                 hint: str = "") -> None:
    """Fail unless ``got == expected`` exactly (tensors: same shape, dtype, device and values;
    NaN equals NaN). Both sides are turned into plain data first (:func:`plain`). ``what``,
    ``advice`` and ``hint`` as for :func:`assert_close`."""
    __tracebackhide__ = True
    name, lead = _subject(what)
    try:
        _assert_equal(got, expected, what=name)
    except DrillsFailure as exc:
        _compose_failure(exc, lead=lead, advice=advice, hint=hint)
        raise


def _assert_equal(got: Any, expected: Any, *, what: str) -> None:
    __tracebackhide__ = True
    g = _plain(got, what)
    e = _plain(expected, "the expected value")
    if type(e) is PlainTensor:
        _check_tensor_meta(g, e, what, check_dtype=True, check_device=True)
        if not _tensors_equal(g, e, nan_equal=True):
            _compare_values(g, e, rtol=0.0, atol=0.0, what=what, equal_nan=True)
        return
    if _one_of(type(e), tuple, list) and _one_of(type(g), tuple, list) and type(g) is not type(e):
        fail(f"{what} returned a {type(g).__name__} {_repr(g)}, expected a "
             f"{type(e).__name__} {_repr(e)}.")
    if not _equal(g, e):
        fail(f"{what} returned {_describe(g)}, expected {_describe(e)}.")

