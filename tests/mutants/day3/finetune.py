"""Wrong solutions for day3/finetune.py, each a mistake students really make."""

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from graders.testing import alternative, mutant


def _swap_bn(module):
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            frozen.weight.copy_(child.weight.detach())
            frozen.bias.copy_(child.bias.detach())
            frozen.running_mean.copy_(child.running_mean)
            frozen.running_var.copy_(child.running_var)
            setattr(module, name, frozen)
        else:
            _swap_bn(child)


@mutant("day3.finetune.prepare_for_finetuning", expect=r"frozen `.*running_mean` changed")
def prepare_ignores_bn(model, num_classes, head="fc", freeze_bn=True):
    for p in model.parameters():
        p.requires_grad_(False)
    old = getattr(model, head)
    new = nn.Linear(old.in_features, num_classes)
    setattr(model, head, new)
    return list(new.parameters())


@mutant("day3.finetune.prepare_for_finetuning", expect=r"backbone is not frozen")
def prepare_forgets_to_freeze(model, num_classes, head="fc", freeze_bn=True):
    if freeze_bn:
        _swap_bn(model)
    old = getattr(model, head)
    new = nn.Linear(old.in_features, num_classes)
    setattr(model, head, new)
    return list(new.parameters())


@mutant("day3.finetune.prepare_for_finetuning", expect=r"changed what the backbone computes")
def prepare_frozen_bn_without_copy(model, num_classes, head="fc", freeze_bn=True):
    for p in model.parameters():
        p.requires_grad_(False)

    def swap(module):
        for name, child in module.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, name, FrozenBatchNorm2d(child.num_features))
            else:
                swap(child)

    if freeze_bn:
        swap(model)
    old = getattr(model, head)
    new = nn.Linear(old.in_features, num_classes)
    setattr(model, head, new)
    return list(new.parameters())


@mutant("day3.finetune.prepare_for_finetuning", expect=r"exactly the new head's parameters")
def prepare_returns_all_parameters(model, num_classes, head="fc", freeze_bn=True):
    for p in model.parameters():
        p.requires_grad_(False)
    if freeze_bn:
        _swap_bn(model)
    old = getattr(model, head)
    setattr(model, head, nn.Linear(old.in_features, num_classes))
    return list(model.parameters())


@mutant("day3.finetune.prepare_for_finetuning", expect=r"whatever its name|replaced model.fc")
def prepare_always_fc(model, num_classes, head="fc", freeze_bn=True):
    """The head's name hard-coded: model.fc is replaced whatever `head` says."""
    for p in model.parameters():
        p.requires_grad_(False)
    if freeze_bn:
        _swap_bn(model)
    model.fc = nn.Linear(model.fc.in_features, num_classes).to(model.fc.weight)
    return list(model.fc.parameters())


@mutant("day3.finetune.prepare_for_finetuning", expect=r"old head's device and dtype")
def prepare_default_dtype_head(model, num_classes, head="fc", freeze_bn=True):
    """The new head is made in the default dtype, not the old head's."""
    for p in model.parameters():
        p.requires_grad_(False)
    if freeze_bn:
        _swap_bn(model)
    new = nn.Linear(getattr(model, head).in_features, num_classes)
    setattr(model, head, new)
    return list(new.parameters())


def _train(model, loader, epochs, lr, params, *, bn_eval=True):
    opt = torch.optim.Adam(params, lr=lr)
    model.train()
    if bn_eval:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d) and not any(p.requires_grad for p in m.parameters()):
                m.eval()
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return model.eval()


@mutant("day3.finetune.finetune", expect=r"running statistics even when its parameters are frozen")
def finetune_plain_train_mode(model, loader, epochs, lr):
    params = [p for p in model.parameters() if p.requires_grad]
    return _train(model, loader, epochs, lr, params, bn_eval=False)


@mutant("day3.finetune.finetune", expect=r"frozen `.*` changed")
def finetune_unfreezes_everything(model, loader, epochs, lr):
    for p in model.parameters():
        p.requires_grad_(True)
    return _train(model, loader, epochs, lr, list(model.parameters()))


@mutant("day3.finetune.finetune", expect=r"train mode")
def finetune_returns_train_mode(model, loader, epochs, lr):
    params = [p for p in model.parameters() if p.requires_grad]
    _train(model, loader, epochs, lr, params)
    return model.train()


@mutant("day3.finetune.finetune", expect=r"needed: 90%")
def finetune_one_epoch_only(model, loader, epochs, lr):
    params = [p for p in model.parameters() if p.requires_grad]
    return _train(model, loader, 1, lr / 10, params)


class _AlwaysEval(nn.Module):
    """Wraps a batch norm layer so that it stays in eval mode (statistics used, never updated)."""

    def __init__(self, bn):
        super().__init__()
        self.bn = bn.eval()

    def train(self, mode=True):
        super().train(mode)
        self.bn.eval()
        return self

    def forward(self, x):
        return self.bn(x)


@alternative("day3.finetune.prepare_for_finetuning")
def prepare_by_keeping_bn_in_eval(model, num_classes, head="fc", freeze_bn=True):
    """Freezes batch norm by overriding train() instead of FrozenBatchNorm2d (the docstring
    allows both); the state_dict keys change (bn -> bn.bn), which the docstring does not pin."""
    for p in model.parameters():
        p.requires_grad_(False)
    if freeze_bn:
        def wrap(module):
            for name, child in module.named_children():
                if isinstance(child, nn.BatchNorm2d):
                    setattr(module, name, _AlwaysEval(child))
                else:
                    wrap(child)
        wrap(model)
    old = getattr(model, head)
    new = nn.Linear(old.in_features, num_classes, device=old.weight.device, dtype=old.weight.dtype)
    setattr(model, head, new)
    return [new.weight, new.bias]
