"""Shared pieces of the day-3 graders: the no-autograd guard, tolerances, small builders."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from hypothesis import strategies as st

from graders.forbid import forbidden_calls

AUTOGRAD = (
    "torch.Tensor.backward",
    "torch.autograd.backward",
    "torch.autograd.grad",
    "torch.autograd.functional",
    # torch.func by name: the module's directory prefix would also match torch/functional.py
    "torch.func.grad",
    "torch.func.grad_and_value",
    "torch.func.vjp",
    "torch.func.jacrev",
    "torch.func.jacfwd",
    "torch.func.functional_call",
    "torch.enable_grad",
)

LIBRARY_CONV = (
    "torch.nn.functional.conv1d",
    "torch.nn.functional.conv2d",
    "torch.nn.functional.conv3d",
    "torch.nn.functional.conv_transpose1d",
    "torch.nn.functional.conv_transpose2d",
    "torch.nn.functional.conv_transpose3d",
    "torch.conv2d",
    "torch.convolution",
    "torch.nn.Conv2d",
    "torch.nn.ConvTranspose2d",
    "torch.nn.grad",
)


@contextmanager
def by_hand(what: str, *extra: str) -> Iterator[None]:
    """Run the block with grad mode off and fail if it uses autograd (or ``extra`` names)."""
    __tracebackhide__ = True
    with forbidden_calls(*AUTOGRAD, *extra, what=what,
                         why="this exercise is the backward pass by hand: derive each gradient "
                         "with the chain rule and compute it with tensor operations."):
        with torch.no_grad():
            yield


def pairs(lo: int, hi: int) -> st.SearchStrategy[tuple[int, int]]:
    return st.tuples(st.integers(lo, hi), st.integers(lo, hi))


def float_tol(dtype: torch.dtype) -> float:
    return 1e-5 if dtype == torch.float32 else 1e-11


def grads64(f, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Gradients of f(*leaves).sum() weighted by a fixed random upstream, in float64."""
    leaves = [t.detach().double().clone().requires_grad_(True) for t in tensors]
    with torch.enable_grad():
        out = f(*leaves)
        up = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
        grads = torch.autograd.grad((out * up).sum(), leaves, allow_unused=True)
    return tuple(torch.zeros_like(l) if g is None else g for l, g in zip(leaves, grads))
