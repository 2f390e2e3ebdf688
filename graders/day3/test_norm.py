"""Graders for day3/norm.py: batch norm (forward, running statistics, backward) and dropout."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from graders import strategies as ds
from graders import student
from graders.checks import assert_close, assert_equal, close_values, equal_values, fail
from graders.day3._helpers import grads64
from graders.forbid import by_hand
from graders.forbid import forbidden_calls
from graders.gpu import gpu_parity
from graders.profiles import examples

mod = student("day3.norm")

BN_FUNCS = ("torch.nn.functional.batch_norm", "torch.batch_norm", "torch.nn.BatchNorm1d",
            "torch.nn.BatchNorm2d", "torch.nn.functional.instance_norm",
            "torch.nn.functional.layer_norm", "torch.nn.functional.group_norm",
            "torch.native_batch_norm")
DROPOUTS = ("torch.nn.functional.dropout", "torch.nn.functional.dropout1d",
            "torch.nn.functional.dropout2d", "torch.nn.functional.alpha_dropout",
            "torch.nn.functional.feature_alpha_dropout", "torch.dropout", "torch.nn.Dropout",
            "torch.nn.Dropout1d", "torch.nn.Dropout2d", "torch.native_dropout")


def _well_conditioned(x: torch.Tensor) -> bool:
    """Every channel varies (a constant channel makes gradients of size 1/sqrt(eps) that amplify
    rounding differences between equally valid formulas)."""
    dims = [0] if x.dim() == 2 else [0, 2, 3]
    return bool((x.double().var(dims, unbiased=False) >= 1e-3).all())


def _tol(dtype: torch.dtype) -> dict:
    return dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-7, atol=1e-7)


@st.composite
def bn_inputs(draw, *, dtype=None, four_d=None):
    dtype = draw(ds.dtypes()) if dtype is None else dtype
    four_d = draw(st.booleans()) if four_d is None else four_d
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    shape = (n, c, draw(st.integers(1, 3)), draw(st.integers(1, 3))) if four_d else (n, c)
    assume(math.prod(shape) // c >= 2)
    centre = draw(st.sampled_from([0.0, 0.0, 5.0]))
    x = draw(ds.tensors(shape, dtype)) + centre
    rm = draw(ds.tensors((c,), dtype, min_value=-2, max_value=2))
    rv = draw(ds.tensors((c,), dtype, min_value=0.1, max_value=3))
    weight = draw(st.one_of(st.none(), ds.tensors((c,), dtype)))
    bias = draw(st.one_of(st.none(), ds.tensors((c,), dtype)))
    momentum = draw(st.sampled_from([0.1, 0.0, 1.0, 0.3]))
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.5]))
    return x, rm, rv, weight, bias, momentum, eps


def _diagnose_running(x, rm0, rv0, got_rm, got_rv, momentum) -> str:
    """Name the likely mistake in updated running statistics."""
    dims = [0] if x.dim() == 2 else [0, 2, 3]
    x64 = x.double()
    mean, biased = x64.mean(dims), x64.var(dims, unbiased=False)
    m = x.numel() // x.shape[1]
    rm0, rv0 = rm0.double(), rv0.double()
    tol = dict(rtol=1e-4, atol=1e-5)
    if close_values(got_rv.double(), (1 - momentum) * rv0 + momentum * biased, **tol) and m > 1:
        return ("your running_var uses the biased batch variance: torch stores the unbiased one "
                "(divide by m - 1) in running_var, and normalises with the biased one.")
    if momentum not in (0.5,) and close_values(got_rm.double(), momentum * rm0 + (1 - momentum) * mean, **tol):
        return ("your running statistics use the momentum the wrong way round: new = "
                "(1 - momentum) * old + momentum * batch.")
    return "new = (1 - momentum) * old + momentum * batch statistic (unbiased variance)."


@settings(max_examples=examples(30))
@given(inputs=bn_inputs())
def test_batch_norm_training_matches_torch(inputs):
    """In training, do the output and the in-place running statistics match F.batch_norm?"""
    x, rm, rv, weight, bias, momentum, eps = inputs
    rm_s, rv_s = rm.clone(), rv.clone()
    rm_t, rv_t = rm.double(), rv.double()
    with forbidden_calls(*BN_FUNCS, what="batch_norm", why="compute the statistics yourself."):
        got = mod.batch_norm(x, rm_s, rv_s, weight, bias, True, momentum=momentum, eps=eps)
    w64 = None if weight is None else weight.double()
    b64 = None if bias is None else bias.double()
    # torch is the oracle on a contiguous copy: its CPU kernels mishandle some strided layouts
    expected = F.batch_norm(x.double().contiguous(), rm_t, rv_t, w64, b64, True, momentum, eps)
    out_atol, stat_atol = _float32_slack(x, w64, b64, eps)
    what = (f"batch_norm(x {tuple(x.shape)} {x.dtype}, training=True, momentum={momentum}, "
            f"eps={eps}, weight={'None' if weight is None else 'given'}, "
            f"bias={'None' if bias is None else 'given'})")
    assert_close(got, expected.to(x.dtype), rtol=_tol(x.dtype)["rtol"], atol=out_atol, what=what)
    close = dict(rtol=_tol(x.dtype)["rtol"], atol=stat_atol)
    if not (close_values(rm_s.double(), rm_t, **close) and close_values(rv_s.double(), rv_t, **close)):
        advice = _diagnose_running(x, rm, rv, rm_s, rv_s, momentum)
        if equal_values(rm_s, rm) and equal_values(rv_s, rv) and momentum != 0:
            advice = ("your running statistics were not updated in place (update the given "
                      "tensors with mul_/add_ or copy_, do not rebind the names).")
        for name, got_stat, expected_stat in (("running_mean", rm_s, rm_t), ("running_var", rv_s, rv_t)):
            assert_close(got_stat, expected_stat.to(x.dtype), **close, what=f"{name} after {what}",
                         advice=f"Likely: {advice}")


def _float32_slack(x, w64, b64, eps):
    """Per-element atol of the output and atol of the statistics for x's dtype."""
    if x.dtype == torch.float64:
        return 1e-7, 1e-7
    dims = [0] if x.dim() == 2 else [0, 2, 3]
    view = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
    x64 = x.double()
    inv = (x64.var(dims, unbiased=False) + eps).rsqrt().view(view)
    w = torch.ones(1, dtype=torch.float64) if w64 is None else w64.abs().view(view)
    b = torch.zeros(1, dtype=torch.float64) if b64 is None else b64.abs().view(view)
    big = x64.abs().amax().item()
    return 4e-6 * (big + x64.abs()) * inv * w + 1e-5 * (1 + w + b), 1e-5 * (1 + big * big)


@given(inputs=bn_inputs())
def test_batch_norm_eval_uses_running_stats_without_updating(inputs):
    """In evaluation, does batch_norm normalise with the running statistics and leave them alone?"""
    x, rm, rv, weight, bias, momentum, eps = inputs
    rm_s, rv_s = rm.clone(), rv.clone()
    got = mod.batch_norm(x, rm_s, rv_s, weight, bias, False, momentum=momentum, eps=eps)
    if not (equal_values(rm_s, rm) and equal_values(rv_s, rv)):
        fail("batch_norm(..., training=False) changed running_mean or running_var: in evaluation "
             "the statistics are only read, never updated.")
    expected = F.batch_norm(x.contiguous(), rm, rv, weight, bias, False, momentum, eps)
    assert_close(got, expected, **_tol(x.dtype),
                 what=f"batch_norm(x {tuple(x.shape)}, training=False, eps={eps}) (use the running "
                 f"statistics, not the batch's)")


def test_batch_norm_without_running_stats():
    """Does training work with running stats None, and does evaluation without them raise ValueError?"""
    x = torch.randn(6, 3, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    got = mod.batch_norm(x, None, None, None, None, True)
    assert_close(got, F.batch_norm(x, None, None, None, None, True), **_tol(torch.float64),
                 what="batch_norm(x, None, None, None, None, training=True)")
    try:
        mod.batch_norm(x, None, None, None, None, False)
    except ValueError:
        pass
    else:
        fail("batch_norm(x, None, None, ..., training=False) did not raise ValueError: evaluation "
             "needs running statistics.")
    try:
        mod.batch_norm(torch.ones(1, 3), torch.zeros(3), torch.ones(3), None, None, True)
    except ValueError:
        pass
    else:
        fail("batch_norm on x of shape (1, 3) in training did not raise ValueError: one value per "
             "channel has no variance (torch refuses it too).")


@settings(max_examples=examples(15))
@given(inputs=bn_inputs(dtype=torch.float64))
def test_batch_norm_gradients_match_torch(inputs):
    """Do gradients through batch_norm (training) equal those through F.batch_norm (float64)?"""
    x, rm, rv, weight, bias, momentum, eps = inputs
    assume(_well_conditioned(x))
    w = weight if weight is not None else torch.ones(x.shape[1], dtype=torch.float64)
    b = bias if bias is not None else torch.zeros(x.shape[1], dtype=torch.float64)
    got = grads64(lambda a, ww, bb: mod.batch_norm(a, rm.clone(), rv.clone(), ww, bb, True,
                                                   momentum=momentum, eps=eps), x, w, b)
    exp = grads64(lambda a, ww, bb: F.batch_norm(a.contiguous(), rm.clone(), rv.clone(), ww, bb, True, momentum,
                                                 eps), x, w, b)
    for name, g, e in zip(("x", "weight", "bias"), got, exp):
        assert_close(g, e, rtol=1e-6, atol=1e-6,
                     what=f"the gradient of batch_norm with respect to {name} (x {tuple(x.shape)})")


def test_batch_norm_on_gpu():
    """Does batch_norm agree on CUDA, update the running stats there, and keep outputs on device?"""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 3, 5, 5, generator=gen, dtype=torch.float64) * 2 + 1
    rm, rv = torch.randn(3, generator=gen, dtype=torch.float64), torch.rand(3, generator=gen, dtype=torch.float64) + 0.5
    w, b = torch.randn(3, generator=gen, dtype=torch.float64), torch.randn(3, generator=gen, dtype=torch.float64)

    def run(x, rm, rv, w, b):
        y = mod.batch_norm(x, rm, rv, w, b, True, momentum=0.2, eps=1e-5)
        return y, rm, rv

    gpu_parity(run, lambda dev: ((x.float().to(dev), rm.float().to(dev), rv.float().to(dev),
                                  w.float().to(dev), b.float().to(dev)), {}),
               what="batch_norm", rtol=1e-4, atol=1e-5)


# --- batch_norm_backward -------------------------------------------------------------------------

@settings(max_examples=examples(30))
@given(inputs=bn_inputs(dtype=torch.float64), data=st.data())
def test_batch_norm_backward_matches_autograd(inputs, data):
    """Do dx, dweight and dbias equal autograd through F.batch_norm(training=True) (float64)?"""
    x, rm, rv, weight, bias, _, eps = inputs
    assume(_well_conditioned(x))
    w = weight if weight is not None else torch.ones(x.shape[1], dtype=torch.float64)
    dout = data.draw(ds.tensors(tuple(x.shape), torch.float64), label="dout")
    with by_hand("batch_norm_backward", *BN_FUNCS):
        got = mod.batch_norm_backward(dout, x, w, eps=eps)
    if not isinstance(got, tuple) or len(got) != 3:
        fail(f"batch_norm_backward returned {type(got).__name__}; expected (dx, dweight, dbias).")
    # torch is the oracle on a contiguous copy: its CPU batch-norm backward is wrong for some
    # strided layouts (N = 1 with channels-last-like strides)
    leaves = [t.contiguous().clone().requires_grad_(True) for t in (x, w, torch.zeros_like(w))]
    with torch.enable_grad():
        out = F.batch_norm(leaves[0], None, None, leaves[1], leaves[2], True, 0.1, eps)
        exp = torch.autograd.grad((out * dout).sum(), leaves)
    scale = 1 + float(dout.abs().max()) * (1 + float(w.abs().max())) / math.sqrt(eps)
    for name, g, e in zip(("dx", "dweight", "dbias"), got, exp):
        assert_close(g, e, rtol=1e-7, atol=1e-9 * scale,
                     what=f"{name} of batch_norm_backward(dout, x {tuple(x.shape)}, weight, eps={eps})")


def test_batch_norm_backward_dx_sums_to_zero_per_channel():
    """Does dx sum to 0 per channel (the mean is subtracted, so shifts of x change nothing)?"""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(5, 2, 3, 3, generator=gen, dtype=torch.float64)
    dout = torch.randn(5, 2, 3, 3, generator=gen, dtype=torch.float64)
    with by_hand("batch_norm_backward", *BN_FUNCS):
        dx, _, _ = mod.batch_norm_backward(dout, x, torch.tensor([1.5, -0.5], dtype=torch.float64))
    sums = dx.sum(dim=(0, 2, 3))
    if not close_values(sums, torch.zeros_like(sums), atol=1e-9):
        fail(f"dx summed per channel is {sums.tolist()}, expected 0: the batch mean depends on every "
             f"x of the channel, so dx must include -mean(dout) and the variance term.")


# --- dropout -------------------------------------------------------------------------------------

def _dropout(x, p, training, generator):
    with forbidden_calls(*DROPOUTS, what="dropout", why="draw the mask yourself."):
        return mod.dropout(x, p, training, generator)


@given(p=st.sampled_from([0.0, 0.3, 0.5, 1.0]), x=ds.tensors(ds.shapes(max_dims=3), ds.dtypes()))
def test_dropout_is_identity_in_eval(p, x):
    """With training=False, does dropout return x unchanged (any p)?"""
    got = _dropout(x, p, False, torch.Generator().manual_seed(0))
    assert_equal(got, x, what=f"dropout(x, p={p}, training=False)")


@given(p=st.sampled_from([0.1, 0.25, 0.5, 0.8]), seed=st.integers(0, 1000),
       dtype=ds.dtypes())
def test_dropout_drops_a_fraction_p_and_rescales(p, seed, dtype):
    """Does dropout zero about a fraction p of the entries and scale the others by 1 / (1 - p)?"""
    n = 40_000
    x = torch.full((200, n // 200), 2.0, dtype=dtype)
    y = _dropout(x, p, True, torch.Generator().manual_seed(seed))
    if y.shape != x.shape or y.dtype != x.dtype:
        fail(f"dropout returned shape {tuple(y.shape)} {y.dtype}, expected {tuple(x.shape)} {x.dtype}.")
    dropped = (y == 0).double().mean().item()
    sigma = math.sqrt(p * (1 - p) / n)
    if abs(dropped - p) > 6 * sigma:
        fail(f"dropout(x, p={p}) zeroed {dropped:.4f} of the entries; expected about {p} "
             f"(each entry is dropped with probability p, kept with 1 - p).")
    kept = y[y != 0]
    expected = torch.full_like(kept, 2.0 / (1 - p))
    assert_close(kept, expected, rtol=1e-6, atol=0,
                 what=f"kept entries of dropout(x = 2, p={p}) (scale kept values by 1 / (1 - p) so "
                 f"the expectation is unchanged)")


def test_dropout_mask_has_no_structure():
    """Is each entry dropped independently (no whole rows/columns, no pattern across positions)?"""
    x = torch.ones(300, 300)
    y = _dropout(x, 0.5, True, torch.Generator().manual_seed(11))
    kept = (y != 0).double()
    rows, cols = kept.mean(1), kept.mean(0)
    if rows.std() > 0.1 or cols.std() > 0.1:
        fail("dropout's mask varies far too much between rows or columns: draw one independent "
             "number per entry (torch.rand(x.shape, ...)), not one per row or column.")
    corr = torch.corrcoef(torch.stack([kept[:, :-1].flatten(), kept[:, 1:].flatten()]))[0, 1]
    if abs(float(corr)) > 0.05:
        fail(f"neighbouring entries of dropout's mask are correlated ({float(corr):.2f}): each "
             f"entry must be dropped independently.")


def test_dropout_is_reproducible_with_a_seeded_generator():
    """Does the same generator seed give the same mask, and different seeds different masks?"""
    x = torch.randn(64, 33, generator=torch.Generator().manual_seed(1))
    a = _dropout(x, 0.4, True, torch.Generator().manual_seed(123))
    torch.manual_seed(999)  # the global state must not matter
    b = _dropout(x, 0.4, True, torch.Generator().manual_seed(123))
    if not equal_values(a, b):
        fail("two calls of dropout with generators seeded alike gave different masks: draw the "
             "mask from `generator` (torch.rand(..., generator=generator)), not the global RNG.")
    c = _dropout(x, 0.4, True, torch.Generator().manual_seed(124))
    if equal_values(a, c):
        fail("dropout gave the same mask for two different generator seeds: use the generator.")


def test_dropout_edge_probabilities():
    """Do p = 0 (identity), p = 1 (all zeros, no NaN) and p outside [0, 1] (ValueError) work?"""
    x = torch.randn(50, 7, generator=torch.Generator().manual_seed(2))
    assert_equal(_dropout(x, 0.0, True, torch.Generator().manual_seed(0)), x,
                 what="dropout(x, p=0.0, training=True)")
    assert_equal(_dropout(x, 1.0, True, torch.Generator().manual_seed(0)), torch.zeros_like(x),
                 what="dropout(x, p=1.0, training=True) (everything dropped; no 0/0 = NaN)")
    for p in (-0.1, 1.5):
        try:
            mod.dropout(x, p, True, torch.Generator().manual_seed(0))
        except ValueError:
            continue
        fail(f"dropout(x, p={p}, training=True) did not raise ValueError (p must be in [0, 1]).")


def test_dropout_gradient_flows_to_kept_entries_only():
    """Is the gradient of dropout 1 / (1 - p) at kept entries and 0 at dropped ones?"""
    x = torch.randn(40, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    leaf = x.clone().requires_grad_(True)
    y = mod.dropout(leaf, 0.3, True, torch.Generator().manual_seed(9))
    y.sum().backward()
    kept = y.detach() != 0
    expected = kept.double() / 0.7
    assert_close(leaf.grad, expected, rtol=1e-9, atol=1e-12,
                 what="the gradient of dropout(x, p=0.3).sum() with respect to x")
