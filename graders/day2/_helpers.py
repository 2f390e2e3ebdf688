"""Shared pieces of the day-2 graders: small data builders and autograd oracles."""

from __future__ import annotations

import torch
from hypothesis import strategies as st


def sizes(max_size: int = 5) -> st.SearchStrategy[int]:
    """Sizes from 1 to max_size, with 1 (a batch of one, a width of one) drawn often."""
    return st.one_of(st.just(1), st.integers(1, max_size))


def autograd_grads(f, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Gradients of the scalar f(*leaves) with respect to fresh float64 copies of ``tensors``."""
    leaves = [t.detach().double().clone().requires_grad_(True) for t in tensors]
    with torch.enable_grad():
        out = f(*leaves)
        grads = torch.autograd.grad(out, leaves, allow_unused=True)
    return tuple(torch.zeros_like(l) if g is None else g for l, g in zip(leaves, grads))


@st.composite
def randn(draw, shape: tuple[int, ...], dtype: torch.dtype = torch.float64, *,
          scale: float = 1.0) -> torch.Tensor:
    """Normal values of a drawn seed, times scale, in a drawn memory layout (cheap to shrink)."""
    from graders import strategies as ds

    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    base = (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)
    return draw(ds.layout(base))


@st.composite
def probabilities(draw, shape: tuple[int, ...], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Values in [0, 1], about a third of them exactly 0 or 1 (hard labels among soft ones)."""
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    u = torch.rand(shape, generator=g, dtype=torch.float64)
    kind = torch.rand(shape, generator=g, dtype=torch.float64)
    u = torch.where(kind < 0.15, 0.0, torch.where(kind > 0.85, 1.0, u))
    return u.to(dtype)
