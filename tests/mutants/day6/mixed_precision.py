"""Wrong solutions for day6/mixed_precision.py, each a mistake students really make."""

import torch
from torch import nn

from graders.testing import mutant


def _finite(optimizer):
    return all(bool(torch.isfinite(p.grad).all()) for g in optimizer.param_groups
               for p in g["params"] if p.grad is not None)


@mutant("day6.mixed_precision.amp_train_step", expect=r"clipped while still scaled")
def clip_before_unscale(model, batch, loss_fn, optimizer, scaler, device_type="cpu",
                        dtype=torch.bfloat16, max_grad_norm=None):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    with torch.autocast(device_type, dtype=dtype):
        loss = loss_fn(model(x), y)
    scaler.scale(loss).backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler.is_enabled() or _finite(optimizer):
        scaler.step(optimizer)
    scaler.update()
    return loss.item()


@mutant("day6.mixed_precision.amp_train_step", expect=r"disabled GradScaler")
def trusts_disabled_scaler(model, batch, loss_fn, optimizer, scaler, device_type="cpu",
                           dtype=torch.bfloat16, max_grad_norm=None):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    with torch.autocast(device_type, dtype=dtype):
        loss = loss_fn(model(x), y)
    scaler.scale(loss).backward()
    if max_grad_norm is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    return loss.item()


@mutant("day6.mixed_precision.amp_train_step", expect=r"loss was computed outside autocast")
def loss_outside_autocast(model, batch, loss_fn, optimizer, scaler, device_type="cpu",
                          dtype=torch.bfloat16, max_grad_norm=None):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    with torch.autocast(device_type, dtype=dtype):
        out = model(x)
    loss = loss_fn(out, y)
    scaler.scale(loss).backward()
    if max_grad_norm is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler.is_enabled() or _finite(optimizer):
        scaler.step(optimizer)
    scaler.update()
    return loss.item()


@mutant("day6.mixed_precision.amp_train_step", expect=r"scaled loss")
def returns_scaled_loss(model, batch, loss_fn, optimizer, scaler, device_type="cpu",
                        dtype=torch.bfloat16, max_grad_norm=None):
    x, y = batch
    model.train()
    optimizer.zero_grad()
    with torch.autocast(device_type, dtype=dtype):
        loss = loss_fn(model(x), y)
    scaled = scaler.scale(loss)
    scaled.backward()
    if max_grad_norm is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler.is_enabled() or _finite(optimizer):
        scaler.step(optimizer)
    scaler.update()
    return scaled.item()


@mutant("day6.mixed_precision.amp_train_step", expect=r"not cleared")
def forgets_zero_grad(model, batch, loss_fn, optimizer, scaler, device_type="cpu",
                      dtype=torch.bfloat16, max_grad_norm=None):
    x, y = batch
    model.train()
    with torch.autocast(device_type, dtype=dtype):
        loss = loss_fn(model(x), y)
    scaler.scale(loss).backward()
    if max_grad_norm is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler.is_enabled() or _finite(optimizer):
        scaler.step(optimizer)
    scaler.update()
    return loss.item()
