"""Yes/no comparisons of plain data: :func:`equal_values` and :func:`close_values`, in place of
``torch.equal`` and ``torch.allclose`` for graders that decide something themselves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from graders.checks.bound import (
    _np_all,
    _np_array_equal,
    _np_broadcast_arrays,
    _np_complex128,
    _np_errstate,
    _np_float64,
    _np_isclose,
    _one_of,
)
from graders.checks.describe import _item
from graders.checks.plain_data import Opaque, PlainTensor, _plain


def _as_numbers(got: PlainTensor, expected: PlainTensor) -> tuple[np.ndarray, np.ndarray, bool]:
    """Both value arrays in one numpy type: float64 (complex128) when either is floating."""
    complex_ = got.is_complex or expected.is_complex
    floating = complex_ or got.is_floating or expected.is_floating
    if complex_:
        return got.values.astype(_np_complex128), expected.values.astype(_np_complex128), True
    if floating:
        return got.values.astype(_np_float64), expected.values.astype(_np_float64), True
    return got.values, expected.values, False


def _tensors_equal(g: PlainTensor, e: PlainTensor, *, nan_equal: bool) -> bool:
    if g.shape != e.shape:
        return False
    if g.values is None or e.values is None:
        return g.values is None and e.values is None
    a, b, floating = _as_numbers(g, e)
    return bool(_np_array_equal(a, b, equal_nan=nan_equal and floating))


def _equal(got: Any, expected: Any) -> bool:
    """Deep equality of plain data (what ``==`` means for built-ins; tensors by value)."""
    te, tg = type(expected), type(got)
    if (te is PlainTensor) != (tg is PlainTensor):  # a one-element tensor equals its number
        t, n = (got, expected) if tg is PlainTensor else (expected, got)
        return (_one_of(type(n), bool, int, float) and t.numel == 1 and t.values is not None
                and bool(_item(t.values, 0) == n))
    if te is PlainTensor or tg is PlainTensor:
        return (te is tg and got.dtype == expected.dtype and got.device == expected.device
                and _tensors_equal(got, expected, nan_equal=True))
    if te is Opaque or tg is Opaque:
        return te is tg and got.obj is expected.obj
    if _one_of(te, tuple, list) or _one_of(tg, tuple, list):
        return te is tg and len(got) == len(expected) and all(
            _equal(g, e) for g, e in zip(got, expected))
    if te is dict or tg is dict:
        return te is tg and set(got) == set(expected) and all(
            _equal(got[k], expected[k]) for k in expected)
    if _one_of(te, set, frozenset) or _one_of(tg, set, frozenset):
        return _one_of(tg, set, frozenset) and _one_of(te, set, frozenset) and got == expected
    return bool(got == expected)  # two exact built-in values (or torch.dtype, torch.device...)


def equal_values(a: Any, b: Any) -> bool:
    """``torch.equal`` on plain data: True when ``a`` and ``b`` have the same structure, shapes
    and values (NaN differs from NaN, as for ``torch.equal``; dtypes may differ)."""
    __tracebackhide__ = True
    ra, rb = _plain(a, "the value compared"), _plain(b, "the value compared")
    if type(ra) is PlainTensor and type(rb) is PlainTensor:
        return _tensors_equal(ra, rb, nan_equal=False)
    return _equal(ra, rb)


def close_values(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:
    """``torch.allclose`` on plain data: ``|a - b| <= atol + rtol * |b|`` elementwise, shapes
    broadcast; infinities equal when of the same sign."""
    __tracebackhide__ = True
    ra, rb = _plain(a, "the value compared"), _plain(b, "the value compared")
    if type(ra) is not PlainTensor or type(rb) is not PlainTensor:
        if _one_of(type(ra), int, float) and _one_of(type(rb), int, float):
            return bool(abs(ra - rb) <= atol + rtol * abs(rb)
                        or (equal_nan and math.isnan(ra) and math.isnan(rb))
                        or (ra == rb))
        return _equal(ra, rb)
    if ra.values is None or rb.values is None:
        return False
    x, y, _ = _as_numbers(ra, rb)
    try:
        x, y = _np_broadcast_arrays(x, y)
    except ValueError:
        return False
    with _np_errstate(invalid="ignore", over="ignore"):
        return bool(_np_all(_np_isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan)))
