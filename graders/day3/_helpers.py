"""Shared pieces of the day-3 graders: forbidden conv functions, tolerances, small builders."""

from __future__ import annotations

import torch
from hypothesis import strategies as st


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
