"""Check helpers shared by every grader, with messages written for students.

- :func:`assert_close` / :func:`assert_equal`: compare what came back with what was expected
  (type, shape, dtype, device, then values: the largest difference and where it is).
- :func:`forbidden_calls`: fail when the code under test calls a library function that does
  the whole job (seen at run time, and in the function's syntax tree; never in comments).
- :func:`speed_check` (in :mod:`graders.speed`) and :func:`gpu_parity` (in :mod:`graders.gpu`).
- :func:`not_assessed`: a check that cannot run here (no GPU) and so costs no points.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from graders import _runtime
from graders.forbid import forbidden_calls, source_uses  # noqa: F401  (re-exported)

__all__ = [
    "DrillsFailure",
    "assert_close",
    "assert_equal",
    "describe_tensor",
    "fail",
    "forbidden_calls",
    "not_assessed",
    "source_uses",
]


_GRADERS_DIR = Path(__file__).resolve().parent


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
        _runtime.mark_not_assessed(reason)
    pytest.skip(f"not assessed: {reason}")


def describe_tensor(t: Any) -> str:
    """``shape (2, 3) float32 on cpu, strides (1, 2), offset 0`` or the repr of a non-tensor."""
    if not isinstance(t, torch.Tensor):
        text = repr(t)
        return text if len(text) < 200 else text[:200] + "..."
    return (
        f"shape {tuple(t.shape)} {str(t.dtype).replace('torch.', '')} on {t.device}, "
        f"strides {tuple(t.stride())}, offset {t.storage_offset()}"
    )


def _fmt_value(v: float) -> str:
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def _where(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for size in reversed(shape):
        out.append(flat_index % size if size else 0)
        flat_index = flat_index // size if size else 0
    return tuple(reversed(out))


def _check_tensor_meta(got: Any, expected: torch.Tensor, what: str, *, check_dtype: bool,
                       check_device: bool) -> None:
    __tracebackhide__ = True
    if not isinstance(got, torch.Tensor):
        fail(f"{what} returned {type(got).__name__} ({describe_tensor(got)}), expected a "
             f"torch.Tensor of {describe_tensor(expected)}.")
    if tuple(got.shape) != tuple(expected.shape):
        fail(f"{what} returned shape {tuple(got.shape)}, expected shape {tuple(expected.shape)}.")
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
) -> None:
    """Fail with a student-worded message unless ``got`` is close to ``expected``.

    Tensors: same type, shape, dtype and device, then ``|got - expected| <= atol + rtol *
    |expected|`` elementwise. Without tolerances the defaults of ``torch.testing.assert_close``
    for the dtype apply. Tuples and lists are compared item by item; Python numbers as numbers.

    Args:
        what: how to name the value in the message, e.g. ``"pairwise_sq_dists(x, y)"``.
    """
    __tracebackhide__ = True
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            fail(f"{what} returned {describe_tensor(got)}, expected a sequence of "
                 f"{len(expected)} items.")
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_close(g, e, rtol=rtol, atol=atol, what=f"{what}[{i}]",
                         check_dtype=check_dtype, check_device=check_device, equal_nan=equal_nan)
        return
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            fail(f"{what} returned {describe_tensor(got)}, expected a number close to {expected!r}.")
        tol = (atol if atol is not None else 1e-8) + (rtol if rtol is not None else 1e-6) * abs(expected)
        if not (abs(got - expected) <= tol or (equal_nan and math.isnan(got) and math.isnan(expected))):
            fail(f"{what} returned {got!r}, expected {expected!r} (allowed difference {tol:.3g}).")
        return
    _check_tensor_meta(got, expected, what, check_dtype=check_dtype, check_device=check_device)
    if got.numel() == 0:
        return
    if rtol is None or atol is None:
        from torch.testing._comparison import default_tolerances

        d_rtol, d_atol = default_tolerances(expected)
        rtol = d_rtol if rtol is None else rtol
        atol = d_atol if atol is None else atol
    g = got.detach().to("cpu", torch.float64) if got.is_floating_point() or expected.is_floating_point() else got.detach().cpu()
    e = expected.detach().to("cpu", torch.float64) if g.is_floating_point() else expected.detach().cpu()
    if not g.is_floating_point():
        bad = g != e
        if not bool(bad.any()):
            return
        idx = int(bad.flatten().nonzero()[0])
        where = _where(idx, tuple(g.shape))
        fail(f"{what} differs from the expected values at {int(bad.sum())} of {g.numel()} "
             f"positions; first at index {where}: got {g.flatten()[idx].item()!r}, expected "
             f"{e.flatten()[idx].item()!r}.")
    nan_g, nan_e = torch.isnan(g), torch.isnan(e)
    if bool((nan_g != nan_e).any()) or (bool(nan_g.any()) and not equal_nan):
        idx = int(((nan_g != nan_e) | (nan_g & ~torch.tensor(equal_nan))).flatten().nonzero()[0])
        where = _where(idx, tuple(g.shape))
        fail(f"{what} has NaN where it should not, first at index {where}: got "
             f"{_fmt_value(g.flatten()[idx].item())}, expected {_fmt_value(e.flatten()[idx].item())} "
             f"({int(nan_g.sum())} NaN values in all). Look for 0/0, inf - inf or log of 0.")
    ok_nan = nan_g & nan_e
    same_inf = torch.isinf(g) & (g == e)
    diff = (g - e).abs()
    diff = torch.where(ok_nan | same_inf, torch.zeros_like(diff), diff)
    if isinstance(atol, torch.Tensor):
        atol_t = atol.detach().to("cpu", torch.float64).expand_as(e)
        atol_text = "a per-element atol"
    else:
        atol_t, atol_text = atol, f"atol={atol:.2g}"
    allowed = atol_t + rtol * e.abs().nan_to_num(0.0, posinf=0.0, neginf=0.0)
    over = diff > allowed
    over = over | (torch.isnan(diff) & ~(ok_nan | same_inf))
    if not bool(over.any()):
        return
    excess = torch.where(over, (diff - allowed).nan_to_num(math.inf), torch.zeros_like(diff))
    idx = int(excess.flatten().argmax())
    where = _where(idx, tuple(g.shape))
    n_bad = int(over.sum())
    fail(f"{what} is not close enough to the expected values: {n_bad} of {g.numel()} elements "
         f"differ. The largest difference is {diff.flatten()[idx].item():.3g} at index {where}: "
         f"got {_fmt_value(g.flatten()[idx].item())}, expected "
         f"{_fmt_value(e.flatten()[idx].item())} (allowed: {atol_text} + rtol={rtol:.2g} * "
         f"|expected|, here {float(allowed.flatten()[idx]):.3g}).")


def assert_equal(got: Any, expected: Any, *, what: str = "your function") -> None:
    """Fail unless ``got == expected`` exactly (tensors: same shape, dtype, device and values)."""
    __tracebackhide__ = True
    if isinstance(expected, torch.Tensor):
        _check_tensor_meta(got, expected, what, check_dtype=True, check_device=True)
        if not torch.equal(got.detach().cpu(), expected.detach().cpu()) and not (
            got.is_floating_point() and torch.equal(got.isnan(), expected.isnan())
            and torch.equal(got.nan_to_num(0.0), expected.nan_to_num(0.0))
        ):
            assert_close(got, expected, rtol=0.0, atol=0.0, what=what)
        return
    if type(expected) in (tuple, list) and type(got) in (tuple, list) and type(got) is not type(expected):
        fail(f"{what} returned a {type(got).__name__} {got!r}, expected a "
             f"{type(expected).__name__} {expected!r}.")
    if got != expected:
        fail(f"{what} returned {describe_tensor(got)}, expected {describe_tensor(expected)}.")
