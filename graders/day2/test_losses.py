"""Graders for day2/losses.py: cross-entropy and BCE-with-logits, as torch computes them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from graders import strategies as ds
from graders import student
from graders.checks import assert_close, fail
from graders.day2._helpers import probabilities, randn, sizes
from graders.forbid import forbidden_calls

mod = student("day2.losses")

CE_FORBIDDEN = ("torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss",
                "torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss", "torch.nn.functional.nll_loss2d")
BCE_FORBIDDEN = ("torch.nn.functional.binary_cross_entropy_with_logits",
                 "torch.binary_cross_entropy_with_logits", "torch.nn.BCEWithLogitsLoss",
                 "torch.nn.functional.binary_cross_entropy", "torch.nn.BCELoss")


def _tol(t: torch.Tensor, scale: float = 1.0) -> dict:
    if t.dtype == torch.float64:
        return dict(rtol=1e-7, atol=1e-9 * max(1.0, scale))
    return dict(rtol=1e-5, atol=1e-5 * max(1.0, scale))


def _call_ce(logits, targets, **kw):
    with forbidden_calls(*CE_FORBIDDEN, what="cross_entropy",
                         why="write it from log-probabilities (F.log_softmax or logsumexp)."):
        return mod.cross_entropy(logits, targets, **kw)


def _call_bce(logits, targets, pos_weight=None):
    with forbidden_calls(*BCE_FORBIDDEN, what="bce_with_logits",
                         why="write it with F.logsigmoid/F.softplus or the max trick."):
        return mod.bce_with_logits(logits, targets, pos_weight)


# --- cross_entropy --------------------------------------------------------------------------

@st.composite
def ce_inputs(draw, dtype=None):
    dtype = draw(ds.dtypes()) if dtype is None else dtype
    n, c = draw(sizes(6)), draw(sizes(5))
    scale = draw(st.sampled_from([1.0, 5.0, 100.0, 1e4]))
    logits = draw(randn((n, c), dtype, scale=scale))
    smoothing = draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]) | st.floats(0.0, 1.0))
    ignore_index = draw(st.sampled_from([-100, -1, 0, c - 1]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    targets = torch.randint(0, c, (n,), generator=g)
    drop = torch.rand(n, generator=g) < draw(st.sampled_from([0.0, 0.4, 0.7]))
    targets = torch.where(drop, torch.full_like(targets, ignore_index), targets)
    if not bool((targets != ignore_index).any()):  # all-ignored batches are not checked
        if c == 1:
            targets, ignore_index = torch.zeros_like(targets), -100
        else:
            targets[0] = (ignore_index + 1) % c
    return logits, targets, smoothing, ignore_index


def _ce_feedback(got, logits, targets, eps, ignore_index, what):
    """Name the usual mistakes when the value is wrong."""
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        return
    g = float(got)
    keep = targets != ignore_index
    n, k = len(targets), int(keep.sum())
    expected = float(F.cross_entropy(logits.double(), targets, label_smoothing=eps,
                                     ignore_index=ignore_index))
    tol = 1e-6 * max(1.0, abs(expected))
    if abs(g - expected) <= tol:
        return
    if k < n and abs(g - expected * k / n) <= tol:
        fail(f"{what} is {g:.6g}, expected {expected:.6g}: you divide by all {n} samples, but the "
             f"mean runs over the {k} samples whose target is not ignore_index.")
    logp = torch.log_softmax(logits.double()[keep], dim=1)
    nll = -logp.gather(1, targets[keep][:, None]).squeeze(1)
    c = logits.shape[1]
    if eps > 0 and c > 1:
        wrong_sum = ((1 - eps) * nll + eps * -logp.sum(1)).mean()
        others = (-logp.sum(1) - nll) / (c - 1)
        wrong_others = ((1 - eps) * nll + eps * others).mean()
        if abs(g - float(wrong_sum)) <= tol:
            fail(f"{what} is {g:.6g}, expected {expected:.6g}: the smoothing term sums -log p over "
                 f"the classes; torch takes the mean over the C classes (eps / C each).")
        if abs(g - float(wrong_others)) <= tol:
            fail(f"{what} is {g:.6g}, expected {expected:.6g}: torch spreads eps over all C "
                 f"classes (the target included), not over the C - 1 others.")
    if eps > 0 and abs(g - float(nll.mean())) <= tol:
        fail(f"{what} is {g:.6g}, expected {expected:.6g}: label_smoothing={eps:g} is ignored.")


@given(inputs=ce_inputs())
def test_cross_entropy_matches_F_cross_entropy(inputs):
    """Does cross_entropy equal F.cross_entropy with label smoothing and ignore_index (combined too)?"""
    logits, targets, eps, ignore_index = inputs
    what = (f"cross_entropy(logits {tuple(logits.shape)}, targets, label_smoothing={eps:g}, "
            f"ignore_index={ignore_index})")
    got = _call_ce(logits, targets, label_smoothing=eps, ignore_index=ignore_index)
    if isinstance(got, torch.Tensor) and not bool(torch.isfinite(got).all()):
        fail(f"{what} is {got.item()} for logits up to {float(logits.abs().max()):.3g}: "
             f"exp() of large logits overflows; use log_softmax or logsumexp.")
    _ce_feedback(got, logits, targets, eps, ignore_index, what)
    expected = F.cross_entropy(logits.double(), targets, label_smoothing=eps,
                               ignore_index=ignore_index).to(logits.dtype)
    assert_close(got, expected, **_tol(logits, float(logits.abs().max())), what=what)


@given(inputs=ce_inputs(dtype=torch.float64))
def test_cross_entropy_gradient_matches_torch(inputs):
    """Is cross_entropy differentiable, with the gradient of F.cross_entropy (float64)?"""
    logits, targets, eps, ignore_index = inputs
    x = logits.clone().requires_grad_(True)
    got = _call_ce(x, targets, label_smoothing=eps, ignore_index=ignore_index)
    if not isinstance(got, torch.Tensor) or got.grad_fn is None:
        fail("cross_entropy returns a value that autograd cannot differentiate: keep the "
             "computation in torch tensors (no .item(), numpy or torch.no_grad()).")
    (g,) = torch.autograd.grad(got, x)
    y = logits.clone().requires_grad_(True)
    (e,) = torch.autograd.grad(F.cross_entropy(y, targets, label_smoothing=eps,
                                               ignore_index=ignore_index), y)
    assert_close(g, e, rtol=1e-7, atol=1e-9,
                 what=f"the gradient of cross_entropy(..., label_smoothing={eps:g}, "
                 f"ignore_index={ignore_index}) with respect to the logits")


def test_cross_entropy_ignores_a_valid_class_index():
    """With ignore_index=0, are the samples of class 0 left out and the mean over the others?"""
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 3.0]],
                          dtype=torch.float64)
    targets = torch.tensor([0, 1, 2, 0])
    for eps in (0.0, 0.2):
        what = f"cross_entropy(logits, targets, label_smoothing={eps}, ignore_index=0)"
        got = _call_ce(logits, targets, label_smoothing=eps, ignore_index=0)
        _ce_feedback(got, logits, targets, eps, 0, what)
        expected = F.cross_entropy(logits, targets, label_smoothing=eps, ignore_index=0)
        assert_close(got, expected, rtol=1e-7, atol=1e-9, what=what)


def test_cross_entropy_rejects_bad_label_smoothing():
    """Does a label_smoothing outside [0, 1] raise ValueError?"""
    logits, targets = torch.zeros(2, 3), torch.tensor([0, 1])
    for bad in (-0.1, 1.5):
        try:
            _call_ce(logits, targets, label_smoothing=bad)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail(f"cross_entropy(..., label_smoothing={bad}) raised {type(exc).__name__}; "
                 f"expected ValueError.")
        fail(f"cross_entropy(..., label_smoothing={bad}) returned a value; expected ValueError.")


# --- bce_with_logits ------------------------------------------------------------------------

@st.composite
def bce_inputs(draw, dtype=None):
    dtype = draw(ds.dtypes()) if dtype is None else dtype
    shape = draw(ds.shapes(min_dims=1, max_dims=3, max_side=4))
    scale = draw(st.sampled_from([1.0, 10.0, 100.0, 1e4]))
    logits = draw(randn(shape, dtype, scale=scale))
    targets = draw(probabilities(shape, dtype))
    kind = draw(st.sampled_from(["none", "last", "one", "full", "leading"]))
    pw = None
    if kind != "none":
        pw_shape = {"last": shape[-1:], "one": (1,), "full": shape,
                    "leading": shape[:1] + (1,) * (len(shape) - 1)}[kind]
        pw = draw(probabilities(pw_shape, dtype)) * 5
    return logits, targets, pw


def _bce_feedback(got, logits, targets, pw, what):
    if not isinstance(got, torch.Tensor) or got.numel() != 1 or pw is None:
        return
    x, t, w = logits.double(), targets.double(), pw.double()
    expected = float(F.binary_cross_entropy_with_logits(x, t, pos_weight=w))
    tol = 1e-6 * max(1.0, abs(expected))
    if abs(float(got) - expected) <= tol:
        return
    both = float((w * -(t * F.logsigmoid(x) + (1 - t) * F.logsigmoid(-x))).mean())
    none = float(F.binary_cross_entropy_with_logits(x, t))
    if abs(float(got) - both) <= tol and abs(both - expected) > tol:
        fail(f"{what} is {float(got):.6g}, expected {expected:.6g}: pos_weight multiplies the "
             f"whole loss; it weighs only the positive term t * log(sigmoid(x)).")
    if abs(float(got) - none) <= tol and abs(none - expected) > tol:
        fail(f"{what} is {float(got):.6g}, expected {expected:.6g}: pos_weight is ignored.")


@given(inputs=bce_inputs())
def test_bce_with_logits_matches_torch(inputs):
    """Does bce_with_logits equal F.binary_cross_entropy_with_logits, pos_weight broadcasting included?"""
    logits, targets, pw = inputs
    what = (f"bce_with_logits(logits {tuple(logits.shape)}, targets, pos_weight="
            f"{None if pw is None else tuple(pw.shape)})")
    got = _call_bce(logits, targets, pw)
    if isinstance(got, torch.Tensor) and not bool(torch.isfinite(got).all()):
        fail(f"{what} is {got.item()} for |logits| up to {float(logits.abs().max()):.3g}: "
             f"log(sigmoid(x)) underflows to log(0); use F.logsigmoid or the max trick.")
    _bce_feedback(got, logits, targets, pw, what)
    expected = F.binary_cross_entropy_with_logits(
        logits.double(), targets.double(), pos_weight=None if pw is None else pw.double())
    assert_close(got, expected.to(logits.dtype), **_tol(logits, float(logits.abs().max())),
                 what=what)


@given(inputs=bce_inputs(dtype=torch.float64))
def test_bce_with_logits_gradient_matches_torch(inputs):
    """Is the gradient with respect to the logits torch's (float64, away from logits == 0)?"""
    logits, targets, pw = inputs
    logits = torch.where(logits.abs() < 1e-3, torch.full_like(logits, 0.5), logits)
    x = logits.clone().requires_grad_(True)
    got = _call_bce(x, targets, pw)
    if not isinstance(got, torch.Tensor) or got.grad_fn is None:
        fail("bce_with_logits returns a value that autograd cannot differentiate: keep the "
             "computation in torch tensors.")
    (g,) = torch.autograd.grad(got, x)
    y = logits.clone().requires_grad_(True)
    (e,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(y, targets, pos_weight=pw), y)
    if not bool(torch.isfinite(g).all()):
        fail("the gradient of bce_with_logits has inf or NaN for large |logits|: a formula that "
             "is finite can still have an overflowing gradient (exp of a large number).")
    assert_close(g, e, rtol=1e-7, atol=1e-9,
                 what="the gradient of bce_with_logits with respect to the logits")


def test_bce_with_logits_is_stable_for_huge_logits():
    """Are loss and gradient finite and right for logits of +-1e4 (float32 and float64)?"""
    for dtype in (torch.float32, torch.float64):
        logits = torch.tensor([[1e4, -1e4, 50.0], [-1e4, 1e4, -50.0]], dtype=dtype)
        targets = torch.tensor([[0.0, 1.0, 0.5], [0.0, 1.0, 1.0]], dtype=dtype)
        pw = torch.tensor([2.0, 0.5, 3.0], dtype=dtype)
        x = logits.clone().requires_grad_(True)
        got = _call_bce(x, targets, pw)
        expected = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pw)
        if not bool(torch.isfinite(got).all()):
            fail(f"bce_with_logits gives {got.item()} ({dtype}) for logits of +-1e4: use "
                 f"F.logsigmoid (or max(x, 0) - x * t + log1p(exp(-|x|))).")
        assert_close(got, expected, **_tol(logits, 1e4), what=f"bce_with_logits at +-1e4 ({dtype})")
        (g,) = torch.autograd.grad(got, x)
        if not bool(torch.isfinite(g).all()):
            fail(f"the gradient of bce_with_logits is not finite for logits of +-1e4 ({dtype}).")
