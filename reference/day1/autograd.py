"""Autograd: gradients from torch.autograd, by finite differences, and by hand.

You will compute gradients with ``torch.autograd.grad`` without disturbing the caller's tensors,
check them numerically, build a Jacobian from vector-Jacobian products, write two
``torch.autograd.Function`` classes with hand-made backward passes, and run gradient descent.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def gradient(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """The gradient of the scalar ``f(x)`` with respect to ``x``.

    Args:
        f: maps a tensor shaped like ``x`` to a 0-d tensor, using differentiable torch ops.
        x: floating tensor, any shape; it may or may not require grad, and may already hold a
            ``.grad``.

    Returns:
        A tensor shaped like ``x`` (same dtype and device), not attached to any graph.

    ``x`` is left as it was: same ``requires_grad`` flag, same ``.grad`` (still None, or the
    same values); work on a detached copy, or use ``torch.autograd.grad`` instead of
    ``.backward()``. It works even when called inside ``torch.no_grad()``.

    Example:
        >>> gradient(lambda v: (v ** 2).sum(), torch.tensor([1., 2.]))
        tensor([2., 4.])
    """
    xx = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(f(xx), xx)
    return g.detach()


def numerical_gradient(f: Callable[[Tensor], Tensor], x: Tensor, h: float = 1e-6) -> Tensor:
    """The gradient of the scalar ``f(x)`` by central differences.

    ``g[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)`` for every element ``i`` of ``x``, computed
    in x's dtype (the check uses float64, where h = 1e-6 is accurate to about 1e-8 for smooth f).

    Args:
        f: maps a tensor shaped like ``x`` to a 0-d tensor (or a Python number).
        x: floating tensor of any shape (may be non-contiguous).
        h: the step.

    Returns:
        A tensor shaped like ``x`` with x's dtype and device, with no gradient history.

    ``x`` is left exactly as it was when you return (values, ``requires_grad``): perturb a
    copy, or restore each element after evaluating f. f is only ever called with tensors of
    x's shape, dtype and device.

    Example:
        >>> numerical_gradient(lambda v: (v ** 3).sum(), torch.tensor([1., 2.], dtype=torch.float64))
        tensor([ 3., 12.], dtype=torch.float64)
    """
    base = x.detach().clone(memory_format=torch.contiguous_format)
    grad = torch.zeros_like(base)
    flat_grad = grad.view(-1)
    with torch.no_grad():
        for i in range(base.numel()):
            plus = base.clone()
            plus.view(-1)[i] += h
            minus = base.clone()
            minus.view(-1)[i] -= h
            flat_grad[i] = (torch.as_tensor(f(plus), dtype=base.dtype) -
                            torch.as_tensor(f(minus), dtype=base.dtype)) / (2 * h)
    return grad


def jacobian(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """The Jacobian of ``f`` at ``x``, of shape ``f(x).shape + x.shape``.

    ``J[i..., j...] = d f(x)[i...] / d x[j...]``, built row by row from vector-Jacobian products
    with ``torch.autograd.grad`` (one call per output element, or a batched call). Outputs that do
    not depend on ``x`` give zero rows. ``x`` keeps its ``requires_grad`` and ``.grad``.

    Not allowed: ``torch.autograd.functional`` and ``torch.func`` (they do the whole job).

    Example:
        >>> jacobian(lambda v: v * v, torch.tensor([1., 2.]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    xx = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = f(xx)
    rows = []
    flat = y.reshape(-1)
    if not flat.requires_grad:  # f ignores x entirely: the Jacobian is all zeros
        return torch.zeros(tuple(y.shape) + tuple(x.shape), dtype=x.dtype, device=x.device)
    for i in range(flat.numel()):
        (g,) = torch.autograd.grad(flat[i], xx, retain_graph=True, allow_unused=True)
        rows.append(torch.zeros_like(x) if g is None else g)
    if not rows:
        return torch.zeros(tuple(y.shape) + tuple(x.shape), dtype=x.dtype, device=x.device)
    return torch.stack(rows).reshape(tuple(y.shape) + tuple(x.shape)).detach()


class LogSumExp(torch.autograd.Function):
    """``log(sum(exp(x), dim))`` with the dimension removed, stable, with a hand-made backward.

    Use as ``LogSumExp.apply(x, dim)``. Forward: subtract the maximum along ``dim`` before
    exponentiating (``m + log(sum(exp(x - m)))``), so that |x| up to 1e4 gives finite results;
    where every value along dim is -inf, return -inf. Backward: the gradient of logsumexp is
    ``softmax(x, dim)`` times the incoming gradient (broadcast back over ``dim``); ``dim`` gets
    no gradient (return None for it). Save what backward needs with ``ctx.save_for_backward``.

    Not allowed: ``torch.logsumexp``, ``softmax``/``log_softmax`` in any form (write them).

    Checked with ``torch.autograd.gradcheck`` in float64 and against ``torch.logsumexp``.

    Example:
        >>> LogSumExp.apply(torch.tensor([[1e4, 1e4]]), 1)
        tensor([10000.6934])
    """

    @staticmethod
    def forward(ctx, x: Tensor, dim: int) -> Tensor:
        m = x.amax(dim=dim, keepdim=True)
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        s = torch.exp(x - m).sum(dim=dim, keepdim=True)
        out = (m + torch.log(s)).squeeze(dim)
        ctx.save_for_backward(x, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, out = ctx.saved_tensors
        probs = torch.exp(x - out.unsqueeze(ctx.dim))
        return grad_out.unsqueeze(ctx.dim) * probs, None


class StraightThroughRound(torch.autograd.Function):
    """Round in the forward pass, pretend it was the identity in the backward pass.

    Use as ``StraightThroughRound.apply(x)``. Forward: ``torch.round(x)`` (halves round to the
    nearest even integer, as torch does). Backward: the incoming gradient passes through
    unchanged (the "straight-through estimator" used to train quantised networks).

    Example:
        >>> x = torch.tensor([0.5, 1.5, 2.7], requires_grad=True)
        >>> y = StraightThroughRound.apply(x); y
        tensor([0., 2., 3.], grad_fn=<StraightThroughRoundBackward>)
        >>> (3 * y).sum().backward(); x.grad
        tensor([3., 3., 3.])
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> Tensor:
        return grad_out


def gradient_descent(f: Callable[[Tensor], Tensor], x0: Tensor, lr: float, steps: int) -> Tensor:
    """Minimise the scalar ``f`` by plain gradient descent from ``x0``, with autograd.

    Repeat ``steps`` times: compute ``f(x)``, backpropagate, then ``x -= lr * x.grad`` under
    ``torch.no_grad()`` (the update must not be recorded in the graph), and zero the gradient
    before the next step (gradients accumulate otherwise).

    Args:
        f: maps a tensor shaped like ``x0`` to a 0-d tensor.
        x0: the floating starting point; it is left unchanged (values, requires_grad, grad).
        lr: the learning rate.
        steps: the number of updates (0 returns a copy of x0).

    Returns:
        The final point: a new tensor with ``requires_grad`` False and no graph history.

    Example:
        >>> gradient_descent(lambda v: ((v - 3) ** 2).sum(), torch.zeros(1), lr=0.25, steps=2)
        tensor([2.2500])
    """
    x = x0.detach().clone().requires_grad_(True)
    for _ in range(steps):
        with torch.enable_grad():
            loss = f(x)
        loss.backward()
        with torch.no_grad():
            x -= lr * x.grad
        x.grad.zero_()
    return x.detach()
