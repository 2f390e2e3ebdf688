"""Graders for day1/autograd.py: gradients, finite differences, Jacobians, custom Functions."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from graders import student
from graders import strategies as ds
from graders.checks import assert_close, assert_equal, close_values, equal_values, fail
from graders.forbid import forbidden_calls

mod = student("day1.autograd")

# Smooth scalar functions with a readable name (shown in the failing example).
SCALAR_FUNCTIONS = {
    "sum(sin(x) * x**2)": lambda x: (torch.sin(x) * x**2).sum(),
    "sum(x**3) - prod(tanh(x))": lambda x: (x**3).sum() - torch.tanh(x).prod(),
    "log(sum(exp(x / 4)))": lambda x: torch.log(torch.exp(x / 4).sum()),
    "sum(x[..., :1] * x)": lambda x: (x[..., :1] * x).sum(),
}
VECTOR_FUNCTIONS = {
    "x * x": lambda x: x * x,
    "cumsum(x.flatten()) ** 2": lambda x: x.flatten().cumsum(0) ** 2,
    "sum(x ** 2) (0-d)": lambda x: (x**2).sum(),
    "stack([x.sum(), x.max() ** 2, 3.0])": lambda x: torch.stack(
        [x.sum(), x.max() ** 2, torch.tensor(3.0, dtype=x.dtype)]),
    "outer(sin(x), flat cos(x))": lambda x: torch.outer(torch.sin(x.flatten()), torch.cos(x.flatten())),
}


def _autograd_grad(f, x):
    xx = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xx), xx)
    return g


@st.composite
def grad_inputs(draw, functions=SCALAR_FUNCTIONS):
    name = draw(st.sampled_from(sorted(functions)))
    x = draw(ds.tensors(shape=ds.shapes(max_dims=3, max_side=4), min_value=-3, max_value=3))
    state = draw(st.sampled_from(["plain", "requires_grad", "has_grad"]))
    return name, x, state


def _prepare(x, state):
    if state == "plain":
        return x
    x = x.clone().requires_grad_(True)
    if state == "has_grad":
        x.grad = torch.full_like(x, 7.0)
    return x


def _check_untouched(x, state, what):
    want_rg = state != "plain"
    if x.requires_grad != want_rg:
        fail(f"{what} changed x.requires_grad from {want_rg} to {x.requires_grad}: leave the "
             f"caller's tensor as it was (work on x.detach()).")
    if state == "has_grad":
        if x.grad is None or not equal_values(x.grad, torch.full_like(x, 7.0)):
            fail(f"{what} changed x.grad (it held 7.0 everywhere before the call): use "
                 f"torch.autograd.grad on a detached copy instead of .backward() on x.")
    elif x.grad is not None:
        fail(f"{what} left a .grad on x: use torch.autograd.grad instead of .backward().")


@given(case=grad_inputs())
def test_gradient_matches_autograd(case):
    """Does gradient(f, x) equal autograd's gradient and leave x's requires_grad and .grad alone?"""
    name, x, state = case
    f = SCALAR_FUNCTIONS[name]
    x = _prepare(x, state)
    got = mod.gradient(f, x)
    what = f"gradient(f, x) for f = {name}"
    assert_close(got, _autograd_grad(f, x), rtol=1e-10, atol=1e-10, what=what)
    if got.grad_fn is not None or got.requires_grad:
        fail(f"{what} returned a tensor still attached to a graph: return it detached.")
    _check_untouched(x, state, what)


def test_gradient_works_under_no_grad():
    """Does gradient work when called inside torch.no_grad()?"""
    x = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    f = SCALAR_FUNCTIONS["sum(x**3) - prod(tanh(x))"]
    with torch.no_grad():
        got = mod.gradient(f, x)
    assert_close(got, _autograd_grad(f, x), rtol=1e-10, atol=1e-10,
                 what="gradient(f, x) called inside torch.no_grad()")


@given(case=grad_inputs())
def test_numerical_gradient_matches_autograd(case):
    """Is numerical_gradient (central differences, float64) close to autograd's gradient?"""
    name, x, state = case
    f = SCALAR_FUNCTIONS[name]
    x = _prepare(x, state)
    before = x.detach().clone()
    got = mod.numerical_gradient(f, x)
    what = f"numerical_gradient(f, x) for f = {name}"
    assert_close(got, _autograd_grad(f, x), rtol=1e-5, atol=1e-6, what=what)
    if not equal_values(x.detach(), before):
        fail(f"{what} changed the values of x: perturb a copy, never x itself.")
    _check_untouched(x, state, what)


def test_numerical_gradient_uses_central_differences():
    """Is the difference central, (f(x+h) - f(x-h)) / 2h, with the h given?"""
    x = torch.tensor([0.3, -1.2], dtype=torch.float64)
    f = lambda v: (v**3).sum()  # noqa: E731
    h = 1e-2
    got = mod.numerical_gradient(f, x, h=h)
    expected = ((x + h) ** 3 - (x - h) ** 3) / (2 * h)
    assert_close(got, expected, rtol=1e-9, atol=1e-12,
                 what="numerical_gradient(sum(x**3), x, h=1e-2)")


JACOBIAN_FORBIDDEN = ("torch.autograd.functional", "torch.func", "torch.vmap")


@given(case=grad_inputs(VECTOR_FUNCTIONS))
def test_jacobian_matches_autograd_functional(case):
    """Is the Jacobian of shape f(x).shape + x.shape and equal to torch's?"""
    name, x, state = case
    f = VECTOR_FUNCTIONS[name]
    x = _prepare(x, state)
    with forbidden_calls(*JACOBIAN_FORBIDDEN, what="jacobian",
                         why="build it from torch.autograd.grad calls."):
        got = mod.jacobian(f, x)
    expected = torch.autograd.functional.jacobian(f, x.detach())
    what = f"jacobian(f, x) for f = {name}"
    assert_close(got, expected, rtol=1e-10, atol=1e-10, what=what)
    _check_untouched(x, state, what)


def test_jacobian_of_constant_output_is_zero():
    """Does an output that does not depend on x give zeros (not an error)?"""
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    f = lambda v: torch.stack([v.sum(), torch.tensor(5.0, dtype=v.dtype)])  # noqa: E731
    got = mod.jacobian(f, x)
    assert_close(got, torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=torch.float64), rtol=0, atol=1e-12,
                 what="jacobian(lambda v: stack([v.sum(), 5.0]), x)")
    got = mod.jacobian(lambda v: torch.full((3,), 2.0, dtype=v.dtype), x)
    assert_close(got, torch.zeros(3, 2, dtype=torch.float64), rtol=0, atol=0,
                 what="jacobian(lambda v: torch.full((3,), 2.0), x) (f ignores x entirely)")


LSE_FORBIDDEN = ("torch.logsumexp", "torch.Tensor.logsumexp", "torch.special.logsumexp",
                 "torch.softmax", "torch.Tensor.softmax", "torch.nn.functional.softmax",
                 "torch.log_softmax", "torch.Tensor.log_softmax", "torch.nn.functional.log_softmax",
                 "torch.special.softmax", "torch.special.log_softmax")


@st.composite
def lse_inputs(draw):
    scale = draw(st.sampled_from([1.0, 1.0, 1e2, 1e4]))
    x = draw(ds.tensors(shape=ds.shapes(min_dims=1, max_dims=3, max_side=4), dtype=ds.dtypes(),
                        min_value=-1.0, max_value=1.0)) * scale
    dim = draw(st.integers(-x.dim(), x.dim() - 1))
    return x, dim


@given(case=lse_inputs())
def test_LogSumExp_forward_matches_torch(case):
    """Does LogSumExp.apply(x, dim) equal torch.logsumexp, also for |x| up to 1e4?"""
    x, dim = case
    with forbidden_calls(*LSE_FORBIDDEN, what="LogSumExp",
                         why="write the max trick and the softmax yourself."):
        got = mod.LogSumExp.apply(x, dim)
    tol = 1e-5 if x.dtype == torch.float32 else 1e-10
    assert_close(got, torch.logsumexp(x, dim), rtol=tol, atol=tol,
                 what=f"LogSumExp.apply(x, dim={dim}) with max |x| = {x.abs().max().item():.3g}")


@given(case=lse_inputs())
def test_LogSumExp_backward_is_softmax(case):
    """Is the gradient softmax(x, dim) times the incoming gradient (float64, any scale)?"""
    x, dim = case
    x = x.double().requires_grad_(True)
    up = torch.linspace(-1.0, 2.0, torch.logsumexp(x.detach(), dim).numel(), dtype=torch.float64)
    up = up.reshape(torch.logsumexp(x.detach(), dim).shape)
    with forbidden_calls(*LSE_FORBIDDEN, what="LogSumExp",
                         why="write the max trick and the softmax yourself."):
        out = mod.LogSumExp.apply(x, dim)
        (out * up).sum().backward()
    expected = torch.softmax(x.detach(), dim) * up.unsqueeze(dim)
    assert_close(x.grad, expected, rtol=1e-9, atol=1e-12,
                 what=f"the gradient of LogSumExp.apply(x, dim={dim})")


def test_LogSumExp_passes_gradcheck():
    """Does torch.autograd.gradcheck accept LogSumExp in float64?"""
    g = torch.Generator().manual_seed(5)
    for shape, dim in [((3, 4), 1), ((2, 3, 2), 0), ((5,), -1)]:
        x = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
        try:
            ok = torch.autograd.gradcheck(lambda v: mod.LogSumExp.apply(v, dim), (x,),
                                          raise_exception=False)
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001
            fail(f"gradcheck of LogSumExp (shape {shape}, dim {dim}) raised {type(exc).__name__}: {exc}")
        if not ok:
            fail(f"gradcheck of LogSumExp.apply(x, {dim}) for x of shape {shape} failed: the "
                 f"backward does not match finite differences.")


@given(x=ds.tensors(shape=ds.shapes(max_dims=3), dtype=ds.dtypes(),
                    elements=st.sampled_from([-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 0.49, -1.7, 3.2])))
def test_StraightThroughRound_forward_rounds_half_to_even(x):
    """Does the forward pass equal torch.round (halves to the even neighbour)?"""
    got = mod.StraightThroughRound.apply(x)
    assert_equal(got, torch.round(x), what="StraightThroughRound.apply(x)")


@given(x=ds.tensors(shape=ds.shapes(max_dims=3), min_value=-5, max_value=5))
def test_StraightThroughRound_backward_passes_gradient(x):
    """Does the backward pass hand the incoming gradient through unchanged?"""
    x = x.clone().requires_grad_(True)
    up = torch.arange(x.numel(), dtype=x.dtype).reshape(x.shape) - 1.5
    (mod.StraightThroughRound.apply(x) * up).sum().backward()
    if x.grad is None:
        fail("after backward, x.grad is None: StraightThroughRound must pass gradients to x.")
    assert_close(x.grad, up, rtol=0, atol=0, what="the gradient through StraightThroughRound")


def _descent_oracle(f, x0, lr, steps):
    x = x0.detach().clone().requires_grad_(True)
    for _ in range(steps):
        (g,) = torch.autograd.grad(f(x), x)
        with torch.no_grad():
            x -= lr * g
    return x.detach()


DESCENT_FUNCTIONS = {
    "sum((x - 3)**2)": lambda x: ((x - 3) ** 2).sum(),
    "sum(x**4 / 4 - x)": lambda x: (x**4 / 4 - x).sum(),
    "sum(cos(x)) + sum(x**2) / 10": lambda x: torch.cos(x).sum() + (x**2).sum() / 10,
}


@given(name=st.sampled_from(sorted(DESCENT_FUNCTIONS)),
       x0=ds.tensors(shape=ds.shapes(max_dims=2, max_side=4), min_value=-2, max_value=2),
       lr=st.sampled_from([0.01, 0.1, 0.3]), steps=st.integers(0, 6),
       state=st.sampled_from(["plain", "requires_grad"]))
def test_gradient_descent_matches_plain_descent(name, x0, lr, steps, state):
    """Does gradient_descent take `steps` plain steps x -= lr * grad, with fresh gradients each step?"""
    f = DESCENT_FUNCTIONS[name]
    x0 = _prepare(x0, state)
    before = x0.detach().clone()
    got = mod.gradient_descent(f, x0, lr, steps)
    what = f"gradient_descent(f, x0, lr={lr}, steps={steps}) for f = {name}"
    if isinstance(got, torch.Tensor) and (got.requires_grad or got.grad_fn is not None):
        fail(f"{what} returned a tensor that requires grad or has a grad_fn: return x.detach(), "
             f"and update x under torch.no_grad().")
    assert_close(got, _descent_oracle(f, x0, lr, steps), rtol=1e-9, atol=1e-9,
                 what=what + " (if later steps are off, are the gradients zeroed after each step?)")
    if not equal_values(x0.detach(), before) or x0.requires_grad != (state != "plain") or x0.grad is not None:
        fail(f"{what} changed x0 (its values, requires_grad or .grad): start from a copy, "
             f"x0.detach().clone().requires_grad_(True).")


@pytest.mark.parametrize("steps", [3])
def test_gradient_descent_zeroes_gradients(steps):
    """Do gradients not pile up across steps (zeroed after each update)?"""
    x0 = torch.tensor([0.0, 1.0], dtype=torch.float64)
    f = DESCENT_FUNCTIONS["sum((x - 3)**2)"]
    got = mod.gradient_descent(f, x0, 0.1, steps)
    expected = _descent_oracle(f, x0, 0.1, steps)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        wrong = x0.detach().clone()
        acc = torch.zeros_like(wrong)
        for _ in range(steps):
            acc += 2 * (wrong - 3)
            wrong = wrong - 0.1 * acc
        if close_values(got.detach(), wrong):
            fail("gradient_descent lets gradients accumulate: each step uses the sum of all "
                 "gradients so far. Zero x.grad after every update.")
    assert_close(got, expected, rtol=1e-9, atol=1e-9, what=f"gradient_descent(f, x0, 0.1, {steps})")
