"""Mixed-precision training: autocast, gradient scaling, clipping and skipped steps.

Low-precision arithmetic (bfloat16 on CPU, float16 on GPU) makes training faster and lighter,
but float16 gradients underflow unless the loss is scaled up first, which in turn means the
gradients must be scaled back down before anything looks at their size, and a step whose
gradients overflowed must be thrown away. You write the one training step that gets all of
that right.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def _gradients_are_finite(optimizer: torch.optim.Optimizer) -> bool:
    """Whether every gradient of the optimizer's parameters is finite."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    return all(bool(torch.isfinite(p.grad).all()) for p in params if p.grad is not None)


def amp_train_step(
    model: nn.Module,
    batch: tuple[Tensor, Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device_type: str = "cpu",
    dtype: torch.dtype = torch.bfloat16,
    max_grad_norm: float | None = None,
) -> float:
    """One mixed-precision training step with a ``torch.amp.GradScaler``.

    In order:

    1. put the model in train mode and clear the gradients left by earlier steps
       (``optimizer.zero_grad()``);
    2. run the forward pass **and** the loss ``loss_fn(model(inputs), targets)`` under
       ``torch.autocast(device_type, dtype=dtype)`` (and only those: the backward pass and the
       optimizer step run outside autocast);
    3. backpropagate the *scaled* loss: ``scaler.scale(loss).backward()``;
    4. when ``max_grad_norm`` is not None, unscale the gradients
       (``scaler.unscale_(optimizer)``) **before** clipping their global L2 norm to
       ``max_grad_norm`` (``nn.utils.clip_grad_norm_``); clipping still-scaled gradients clips
       at the wrong size;
    5. step through the scaler (``scaler.step(optimizer)``), which skips the step when a
       gradient is inf or NaN, then ``scaler.update()`` (so the scale shrinks after a skipped
       step and grows after enough good ones).

    A step with a non-finite gradient must leave the parameters and the optimizer's state
    unchanged **also when the scaler is disabled** (``GradScaler(enabled=False)``): a disabled
    scaler's ``step`` calls ``optimizer.step()`` without looking at the gradients, so check
    them yourself in that case.

    Args:
        model: the network, on ``device_type``.
        batch: ``(inputs, targets)``, already on the model's device.
        loss_fn: maps ``(outputs, targets)`` to a scalar loss tensor.
        optimizer: an optimizer over the model's parameters.
        scaler: a ``torch.amp.GradScaler``, enabled or disabled.
        device_type: ``"cpu"`` or ``"cuda"``, passed to ``torch.autocast``.
        dtype: the autocast dtype: ``torch.bfloat16`` (CPU and GPU) or ``torch.float16`` (GPU).
        max_grad_norm: clip the unscaled gradients to this global L2 norm; None: no clipping.

    Returns:
        The loss of this step as a Python ``float``: the *unscaled* value computed under
        autocast (``loss.item()``, not the scaled loss), inf or NaN included when it is so.

    Checked on CPU with bfloat16, SGD (momentum) and Adam, and an enabled or disabled scaler
    (and, where CUDA is present, with float16 on the GPU against the CPU step): that the forward
    pass and the loss run under autocast in train mode; the parameters (within 1e-3 of the
    largest update), the optimizer state (rtol 1e-3) and the scaler's scale after two steps,
    against a correct step run on identical copies; clipping of the unscaled gradients;
    skipped steps on inf/NaN gradients; the returned loss (rtol 1e-3).

    Example:
        >>> model = nn.Linear(4, 2)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> scaler = torch.amp.GradScaler("cpu")
        >>> batch = (torch.randn(8, 4), torch.randn(8, 2))
        >>> loss = amp_train_step(model, batch, nn.functional.mse_loss, opt, scaler,
        ...                       max_grad_norm=1.0)
        >>> isinstance(loss, float)
        True
    """
    inputs, targets = batch
    model.train()
    optimizer.zero_grad()
    with torch.autocast(device_type, dtype=dtype):
        loss = loss_fn(model(inputs), targets)
    scaler.scale(loss).backward()
    if max_grad_norm is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler.is_enabled() or _gradients_are_finite(optimizer):
        scaler.step(optimizer)  # an enabled scaler skips the step itself on inf/NaN gradients
    scaler.update()
    return loss.item()
