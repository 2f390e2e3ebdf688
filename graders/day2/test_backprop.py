"""Graders for day2/backprop.py: layer gradients by hand, checked against autograd in float64."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from graders import strategies as ds
from graders import student
from graders.checks import assert_close, assert_equal, close_values, equal_values, fail
from graders.day2._helpers import autograd_grads, randn, sizes
from graders.forbid import by_hand

mod = student("day2.backprop")

TOL64 = dict(rtol=1e-7, atol=1e-9)


def _tol(dtype: torch.dtype) -> dict:
    return TOL64 if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)


@st.composite
def linear_inputs(draw, min_batch: int = 1):
    dtype = draw(ds.dtypes())
    n = draw(st.one_of(st.just(min_batch), sizes(6))) if min_batch == 0 else draw(sizes(6))
    i, o = draw(sizes()), draw(sizes())
    scale = draw(st.sampled_from([1.0, 10.0]))
    x = draw(randn((n, i), dtype, scale=scale))
    W = draw(randn((o, i), dtype))
    b = draw(randn((o,), dtype))
    dout = draw(randn((n, o), dtype))
    return x, W, b, dout


# --- linear_forward -------------------------------------------------------------------------

@given(inputs=linear_inputs(min_batch=0))
def test_linear_forward_matches_F_linear(inputs):
    """Does linear_forward(x, W, b) equal F.linear (W laid out (out, in)), empty batch included?"""
    x, W, b, _ = inputs
    with by_hand("linear_forward"):
        got = mod.linear_forward(x, W, b)
    expected = F.linear(x.double(), W.double(), b.double()).to(x.dtype)
    assert_close(got, expected, **_tol(x.dtype), what="linear_forward(x, W, b)")


def test_linear_forward_uses_the_nn_linear_layout():
    """Is W read as (out_features, in_features), as nn.Linear stores it?"""
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    b = torch.tensor([0.5, 0.0, -1.0], dtype=torch.float64)
    with by_hand("linear_forward"):
        got = mod.linear_forward(x, W, b)
    assert_close(got, torch.tensor([[1.5, 2.0, 2.0]], dtype=torch.float64), **TOL64,
                 what="linear_forward(x (1, 2), W (3, 2), b (3,))")


# --- linear_backward ------------------------------------------------------------------------

def _check_linear_backward(x, W, b, dout):
    with by_hand("linear_backward"):
        got = mod.linear_backward(dout, x, W)
    ex, eW, eb = autograd_grads(lambda x_, W_, b_: (F.linear(x_, W_, b_) * dout.double()).sum(),
                                x, W, b)
    if not isinstance(got, tuple) or len(got) != 3:
        fail(f"linear_backward returned {type(got).__name__}, expected a tuple (dx, dW, db).")
    tol = _tol(x.dtype)
    for name, g, e in zip(("dx", "dW", "db"), got, (ex, eW, eb)):
        if isinstance(g, torch.Tensor) and tuple(g.shape) != tuple(e.shape):
            fail(f"linear_backward: {name} has shape {tuple(g.shape)}, expected {tuple(e.shape)} "
                 f"(the shape of {name[1:]}). Check which factor is transposed.")
        if name == "db" and isinstance(g, torch.Tensor) and x.shape[0] > 1 and close_values(
                g.double(), e / x.shape[0], rtol=1e-6, atol=1e-9) and not close_values(
                g.double(), e, rtol=1e-6, atol=1e-9):
            fail("linear_backward: db is the mean of dout over the batch; the bias is added to "
                 "every row, so its gradient is the sum over the batch.")
        assert_close(g, e.to(x.dtype), **tol,
                     what=f"{name} of linear_backward(dout, x, W) with x {tuple(x.shape)}, "
                     f"W {tuple(W.shape)}")


@given(inputs=linear_inputs())
def test_linear_backward_matches_autograd(inputs):
    """Are dx, dW and db equal to autograd's (batch of 1 and width 1 included)?"""
    _check_linear_backward(*inputs)


@given(n=sizes(4), i=sizes(4), o=sizes(4), seed=ds.seeds())
def test_linear_backward_in_float64_on_non_square_shapes(n, i, o, seed):
    """Does linear_backward match autograd in float64 when N, in and out all differ?"""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n + 1, i + 3, generator=g, dtype=torch.float64)
    W = torch.randn(o + 6, i + 3, generator=g, dtype=torch.float64)
    b = torch.randn(o + 6, generator=g, dtype=torch.float64)
    dout = torch.randn(n + 1, o + 6, generator=g, dtype=torch.float64)
    _check_linear_backward(x, W, b, dout)


# --- relu_backward --------------------------------------------------------------------------

@st.composite
def relu_inputs(draw):
    dtype = draw(ds.dtypes())
    shape = draw(ds.shapes(max_dims=3))
    x = draw(ds.tensors(shape, dtype, elements=st.sampled_from([0.0, -0.0, 1.5, -2.0])
                        | ds.floats()))
    dout = draw(ds.tensors(shape, dtype))
    return x, dout


@given(inputs=relu_inputs())
def test_relu_backward_matches_autograd(inputs):
    """Is relu_backward dout where x > 0 and exactly 0 where x <= 0 (0 at x == 0, as torch)?"""
    x, dout = inputs
    with by_hand("relu_backward"):
        got = mod.relu_backward(dout, x)
    (expected,) = autograd_grads(lambda x_: (torch.relu(x_) * dout.double()).sum(), x)
    expected = expected.to(dout.dtype)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        at_zero = (x == 0) & (got != 0)
        if bool(at_zero.any()):
            fail("relu_backward passes the gradient through where x == 0; torch (and this "
                 "exercise) uses a derivative of 0 there: select x > 0, not x >= 0.")
    assert_equal(got, expected, what="relu_backward(dout, x)")


# --- softmax_cross_entropy ------------------------------------------------------------------

@st.composite
def classification_inputs(draw, dtype=None):
    dtype = draw(ds.dtypes()) if dtype is None else dtype
    n, c = draw(sizes(6)), draw(sizes(6))
    scale = draw(st.sampled_from([1.0, 1.0, 30.0, 1e3, 1e4]))
    logits = draw(randn((n, c), dtype, scale=scale))
    targets = draw(ds.tensors((n,), torch.int64, min_value=0, max_value=c - 1))
    return logits, targets


def _ce_oracle(logits, targets):
    (d,) = autograd_grads(lambda z: F.cross_entropy(z, targets), logits)
    loss = F.cross_entropy(logits.double(), targets)
    return loss.to(logits.dtype), d.to(logits.dtype)


def _ce_tol(logits):
    if logits.dtype == torch.float64:
        return TOL64
    return dict(rtol=1e-4, atol=1e-5 * max(1.0, float(logits.abs().max())))


@given(inputs=classification_inputs())
def test_softmax_cross_entropy_matches_torch(inputs):
    """Are the mean loss and dlogits equal to F.cross_entropy's and autograd's, for logits up to 1e4?"""
    logits, targets = inputs
    with by_hand("softmax_cross_entropy"):
        got = mod.softmax_cross_entropy(logits, targets)
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"softmax_cross_entropy returned {type(got).__name__}, expected (loss, dlogits).")
    loss, dlogits = got
    e_loss, e_d = _ce_oracle(logits, targets)
    what = f"softmax_cross_entropy(logits {tuple(logits.shape)}, targets)"
    for name, value in (("loss", loss), ("dlogits", dlogits)):
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(
                torch.isfinite(value).all()):
            fail(f"{what}: the {name} contains inf or NaN for logits as large as "
                 f"{float(logits.abs().max()):.3g}. exp() of a large logit overflows: subtract "
                 f"each row's maximum first (or use a log-sum-exp).")
    if isinstance(dlogits, torch.Tensor) and dlogits.shape == e_d.shape and logits.shape[0] > 1:
        d64, e64 = dlogits.double(), e_d.double()
        if close_values(d64, e64 * logits.shape[0], rtol=1e-4, atol=1e-6) and not close_values(
                d64, e64, rtol=1e-4, atol=1e-6):
            fail(f"{what}: dlogits is N times too large. The loss is a mean over the batch, so "
                 f"its gradient is (softmax - onehot) / N.")
    assert_close(loss, e_loss, **_ce_tol(logits), what=f"the loss of {what}")
    assert_close(dlogits, e_d, **_ce_tol(logits), what=f"dlogits of {what}")


@given(dtype=ds.dtypes(), big=st.sampled_from([1e3, 1e4]))
def test_softmax_cross_entropy_is_stable_for_huge_logits(dtype, big):
    """Are the loss and gradient finite and right for logits of +-1e4 in one row?"""
    logits = torch.tensor([[big, -big, 0.0], [0.0, 0.0, -big], [-big, -big, -big]], dtype=dtype)
    targets = torch.tensor([1, 2, 0])
    with by_hand("softmax_cross_entropy"):
        loss, dlogits = mod.softmax_cross_entropy(logits, targets)
    e_loss, e_d = _ce_oracle(logits, targets)
    for name, value in (("loss", loss), ("dlogits", dlogits)):
        if not bool(torch.isfinite(torch.as_tensor(value)).all()):
            fail(f"softmax_cross_entropy gives a {name} with inf or NaN for logits of +-{big:g}: "
                 f"exp() overflows. Subtract each row's maximum before exponentiating.")
    assert_close(loss, e_loss, **_ce_tol(logits), what=f"the loss for logits of +-{big:g}")
    assert_close(dlogits, e_d, **_ce_tol(logits), what=f"dlogits for logits of +-{big:g}")


# --- mlp_loss_and_grads ---------------------------------------------------------------------

@st.composite
def mlp_inputs(draw):
    n, d, h, c = draw(sizes(6)), draw(sizes(4)), draw(sizes(5)), draw(sizes(4))
    scale = draw(st.sampled_from([1.0, 1.0, 10.0, 300.0]))
    params = {"W1": draw(randn((h, d))), "b1": draw(randn((h,))),
              "W2": draw(randn((c, h), scale=scale)), "b2": draw(randn((c,)))}
    x = draw(randn((n, d), scale=3.0))
    y = draw(ds.tensors((n,), torch.int64, min_value=0, max_value=c - 1))
    return params, x, y


def _mlp_loss(x, y):
    def f(W1, b1, W2, b2):
        return F.cross_entropy(F.linear(torch.relu(F.linear(x, W1, b1)), W2, b2), y)
    return f


@given(inputs=mlp_inputs())
def test_mlp_loss_and_grads_matches_autograd(inputs):
    """Are the loss and the four gradients equal to autograd's (batch 1, width 1, large logits)?"""
    params, x, y = inputs
    names = ("W1", "b1", "W2", "b2")
    before = {k: v.clone() for k, v in params.items()}
    with by_hand("mlp_loss_and_grads"):
        got = mod.mlp_loss_and_grads(dict(params), x, y)
    if not isinstance(got, tuple) or len(got) != 2 or not isinstance(got[1], dict):
        fail(f"mlp_loss_and_grads returned {type(got).__name__}, expected (loss, grads dict).")
    loss, grads = got
    if set(grads) != set(names):
        fail(f"the grads dict has keys {sorted(grads)}, expected exactly {sorted(names)}.")
    expected = autograd_grads(_mlp_loss(x, y), *(params[k] for k in names))
    e_loss = _mlp_loss(x, y)(*(params[k] for k in names))
    dims = f"N={x.shape[0]}, D={x.shape[1]}, H={params['W1'].shape[0]}, C={params['W2'].shape[0]}"
    assert_close(loss, e_loss, **TOL64, what=f"the loss of mlp_loss_and_grads ({dims})")
    for k, e in zip(names, expected):
        assert_close(grads[k], e, **TOL64, what=f"grads['{k}'] of mlp_loss_and_grads ({dims})")
    for k in names:
        if not equal_values(params[k], before[k]):
            fail(f"mlp_loss_and_grads modified params['{k}'] in place: leave the inputs alone.")


def test_mlp_loss_and_grads_with_dead_hidden_units():
    """Do hidden units that ReLU switches off for every sample get exactly zero gradient?"""
    g = torch.Generator().manual_seed(5)
    params = {"W1": torch.randn(4, 3, generator=g, dtype=torch.float64),
              "b1": torch.tensor([0.1, -50.0, 0.2, -50.0], dtype=torch.float64),
              "W2": torch.randn(2, 4, generator=g, dtype=torch.float64),
              "b2": torch.zeros(2, dtype=torch.float64)}
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1])
    with by_hand("mlp_loss_and_grads"):
        _, grads = mod.mlp_loss_and_grads(dict(params), x, y)
    expected = autograd_grads(_mlp_loss(x, y), *(params[k] for k in ("W1", "b1", "W2", "b2")))
    dead = grads["W1"][[1, 3]]
    if isinstance(dead, torch.Tensor) and bool((dead != 0).any()):
        fail("grads['W1'] is not zero for hidden units whose pre-activation is negative for "
             "every sample: the gradient must go through relu_backward (ReLU blocks it there).")
    for k, e in zip(("W1", "b1", "W2", "b2"), expected):
        assert_close(grads[k], e, **TOL64, what=f"grads['{k}'] with two dead hidden units")


@given(shape=ds.shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
def test_relu_backward_keeps_shape_dtype_and_empty_inputs(shape):
    """Does relu_backward keep float32 and work for 0-d and empty tensors?"""
    x = torch.linspace(-1, 1, max(1, int(torch.tensor(shape).prod()) if shape else 1))
    x = x[: int(torch.tensor(shape).prod()) if shape else 1].reshape(shape)
    dout = torch.full(shape, 3.0)
    with by_hand("relu_backward"):
        got = mod.relu_backward(dout, x)
    assert_equal(got, torch.where(x > 0, dout, torch.zeros_like(dout)),
                 what=f"relu_backward(dout, x) for x of shape {tuple(shape)}")
