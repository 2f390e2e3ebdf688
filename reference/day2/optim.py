"""Optimizers and a learning-rate schedule, written as real ``torch.optim.Optimizer`` classes.

Subclassing ``torch.optim.Optimizer`` gives you param groups, ``zero_grad``, ``state_dict`` and
``load_state_dict`` for free; you write ``__init__`` (validate, then pass the hyper-parameters
as ``defaults``) and ``step`` (the update rule, read from each param group at every step, with
per-parameter state kept in ``self.state[p]``). The results must equal torch.optim's to the
last few bits, so the exact conventions (where weight decay enters, the first momentum step,
Nesterov's look-ahead, Adam's bias correction and eps placement) matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class SGD(torch.optim.Optimizer):
    """Stochastic gradient descent with momentum, weight decay and Nesterov, as torch.optim.SGD.

    For each parameter p with a gradient (parameters whose ``.grad`` is None are skipped), with
    the hyper-parameters of p's param group read at every step:

    ``g = p.grad + weight_decay * p``; with momentum mu > 0: ``buf = g`` on p's first step,
    else ``buf = mu * buf + g``, and then ``g = g + mu * buf`` if nesterov else ``g = buf``;
    finally ``p = p - lr * g``. (torch's ``dampening`` is 0 here.)

    Args:
        params: an iterable of tensors, or of dicts (param groups) with a "params" list and any
            of the hyper-parameters below to override the defaults for that group.
        lr: learning rate (>= 0).
        momentum: mu (>= 0).
        weight_decay: L2 penalty added to the gradient (>= 0).
        nesterov: use Nesterov momentum (needs momentum > 0).

    Raises:
        ValueError: for a negative lr, momentum or weight_decay, or nesterov with momentum 0.

    ``step(closure=None)`` updates in place without recording autograd history, calls the
    closure (if given) with grad enabled first and returns its result (None without closure).
    Keep the momentum buffer in ``self.state[p]`` so that ``state_dict``/``load_state_dict``
    carry it. Changes made to ``optimizer.param_groups[i]["lr"]`` (or other hyper-parameters)
    between steps must take effect at the next step. Each param group's dict keeps the keys
    "lr", "momentum", "weight_decay" and "nesterov". ``zero_grad`` is inherited: do not
    override it.

    Forbidden: torch.optim's update code (``torch.optim.SGD``, ``torch.optim.sgd.sgd`` and the
    like). Checked against ``torch.optim.SGD`` after several steps in float64 (rtol 1e-10,
    atol 1e-12), with several param groups, lr changed between steps, weight decay, nesterov.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = torch.tensor([1.0]); opt.step(); opt.step()
        >>> w  # 1 - 0.1 * 1 - 0.1 * (0.9 * 1 + 1)
        Parameter containing:
        tensor([0.7100], requires_grad=True)
    """

    def __init__(
        self,
        params: Params,
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError("lr, momentum and weight_decay must be >= 0")
        if nesterov and momentum <= 0:
            raise ValueError("nesterov momentum needs momentum > 0")
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return the closure's loss or None."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.add(p, alpha=wd) if wd != 0 else p.grad
                if mu != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = g.clone()
                    else:
                        state["momentum_buffer"].mul_(mu).add_(g)
                    buf = state["momentum_buffer"]
                    g = g.add(buf, alpha=mu) if group["nesterov"] else buf
                p.add_(g, alpha=-lr)
        return loss


class Adam(torch.optim.Optimizer):
    """Adam with bias correction and L2 weight decay, as torch.optim.Adam (amsgrad off).

    For each parameter p with a gradient (others are skipped), with its group's hyper-parameters
    read at every step and t counting p's own steps from 1:

    ``g = p.grad + weight_decay * p``; ``m = b1 * m + (1 - b1) * g``;
    ``v = b2 * v + (1 - b2) * g * g`` (m and v start at 0);
    ``p = p - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)``
    (eps is added after the square root, to the bias-corrected value).

    Args:
        params: an iterable of tensors or of param-group dicts (see ``SGD``).
        lr: learning rate (>= 0).
        betas: (b1, b2), each in [0, 1).
        eps: added to the denominator (>= 0).
        weight_decay: L2 penalty added to the gradient (not AdamW's decoupled decay), >= 0.

    Raises:
        ValueError: for a negative lr, eps or weight_decay, or a beta outside [0, 1).

    ``step(closure=None)`` behaves as in ``SGD``. Keep t, m and v in ``self.state[p]`` so that
    ``state_dict``/``load_state_dict`` carry them; lr, betas, eps and weight_decay changed in
    ``param_groups`` between steps take effect at the next step. Each param group's dict keeps
    the keys "lr", "betas", "eps" and "weight_decay". ``zero_grad`` is inherited.

    Forbidden: torch.optim's update code (``torch.optim.Adam``, ``torch.optim.adam.adam`` and
    the like). Checked against ``torch.optim.Adam`` after several steps in float64 (rtol 1e-10,
    atol 1e-12), with several param groups, lr changed between steps and weight decay.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = Adam([w], lr=0.1)
        >>> w.grad = torch.tensor([5.0]); opt.step()
        >>> w  # the first step moves by about lr, whatever the gradient's scale
        Parameter containing:
        tensor([0.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError("lr, eps and weight_decay must be >= 0")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return the closure's loss or None."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.add(p, alpha=wd) if wd != 0 else p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v / (1 - b2**t)).sqrt_().add_(eps)
                p.addcdiv_(m, denom, value=-lr / (1 - b1**t))
        return loss


def cosine_with_warmup(
    step: int, *, total_steps: int, warmup_steps: int, base_lr: float, min_lr: float = 0.0
) -> float:
    """Learning rate at ``step``: linear warm-up from 0, then cosine decay to ``min_lr``.

    - ``step < warmup_steps``: ``base_lr * step / warmup_steps`` (0 at step 0);
    - ``warmup_steps <= step <= total_steps``:
      ``min_lr + (base_lr - min_lr) * (1 + cos(pi * (step - warmup_steps)
      / (total_steps - warmup_steps))) / 2`` (base_lr at the end of warm-up, min_lr at
      total_steps);
    - ``step > total_steps``: ``min_lr`` (the cosine does not come back up).

    Args:
        step: the current step, an int >= 0 (steps past total_steps are allowed).
        total_steps: the step at which the schedule reaches min_lr.
        warmup_steps: the number of warm-up steps; 0 means no warm-up (start at base_lr).
        base_lr: the peak learning rate.
        min_lr: the final learning rate.

    Returns:
        The learning rate as a Python float.

    Raises:
        ValueError: when step < 0, warmup_steps < 0 or total_steps <= warmup_steps.

    Checked against the formula above with a relative tolerance of 1e-12 (absolute 1e-15).

    Example:
        >>> [round(cosine_with_warmup(s, total_steps=10, warmup_steps=2, base_lr=1.0), 3)
        ...  for s in (0, 1, 2, 6, 10, 12)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    if step < 0 or warmup_steps < 0 or total_steps <= warmup_steps:
        raise ValueError("need step >= 0 and total_steps > warmup_steps >= 0")
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    if step > total_steps:
        return float(min_lr)
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0
