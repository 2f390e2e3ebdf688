"""Transfer learning: reuse a pretrained network for a new task with few labels.

Freeze the pretrained backbone, replace the classification head, and train only the head. Batch
norm needs care: in train mode it keeps updating its running statistics (and normalises with the
new task's batch statistics) even when its parameters are frozen, so a "frozen" backbone drifts
unless its BN layers are frozen too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torchvision.ops import FrozenBatchNorm2d


def _freeze_batchnorm(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            with torch.no_grad():
                if child.affine:
                    frozen.weight.copy_(child.weight)
                    frozen.bias.copy_(child.bias)
                frozen.running_mean.copy_(child.running_mean)
                frozen.running_var.copy_(child.running_var)
            setattr(module, name, frozen.to(child.running_mean.device))
        else:
            _freeze_batchnorm(child)


def prepare_for_finetuning(
    model: nn.Module,
    num_classes: int,
    head: str = "fc",
    freeze_bn: bool = True,
) -> list[nn.Parameter]:
    """Make ``model`` ready to train a new classification head on top of a frozen backbone.

    In place:

    1. Replace ``getattr(model, head)`` (an ``nn.Linear``) with a new
       ``nn.Linear(in_features, num_classes)`` (with bias), on the old head's device and dtype.
    2. Set ``requires_grad = False`` on every other parameter of the model.
    3. With ``freeze_bn``, make every ``nn.BatchNorm2d`` of the backbone behave as in eval mode
       for good: its running statistics and affine values must stay exactly as they are and the
       layer must normalise with the running statistics even after ``model.train()`` (for
       example by swapping each for ``torchvision.ops.FrozenBatchNorm2d`` with the same values,
       or by overriding ``train``). Without ``freeze_bn`` the BN layers are left as they are:
       their statistics update as usual in train mode (their affine parameters are frozen like
       every other backbone parameter).

    Before and after, in eval mode, the backbone computes exactly the same features.

    Args:
        model: e.g. ``torchvision.models.resnet18(weights=None)`` or
            ``drills_data.pretrained.load_pretrained_cnn()``.
        num_classes: outputs of the new head.
        head: name of the attribute of ``model`` holding the head.
        freeze_bn: freeze the BatchNorm2d layers as described above.

    Returns:
        The list of the new head's parameters (``[weight, bias]``, the very objects now in the
        model, with ``requires_grad`` True): pass it to the optimizer.

    Example:
        >>> import torchvision
        >>> model = torchvision.models.resnet18(weights=None)
        >>> params = prepare_for_finetuning(model, 3)
        >>> model.fc, len(params), sum(p.requires_grad for p in model.parameters())
        (Linear(in_features=512, out_features=3, bias=True), 2, 2)
    """
    old = getattr(model, head)
    if not isinstance(old, nn.Linear):
        raise ValueError(f"model.{head} is not an nn.Linear")
    for p in model.parameters():
        p.requires_grad_(False)
    if freeze_bn:
        _freeze_batchnorm(model)
    new = nn.Linear(old.in_features, num_classes).to(device=old.weight.device, dtype=old.weight.dtype)
    setattr(model, head, new)
    return list(new.parameters())


def finetune(model: nn.Module, loader, epochs: int, lr: float) -> nn.Module:
    """Train the trainable parameters of ``model`` (the new head) and return the model.

    ``model`` has been through ``prepare_for_finetuning``: only some parameters have
    ``requires_grad`` True. Train exactly those, with ``torch.optim.Adam(lr=lr)`` on
    ``F.cross_entropy`` (mean), one step per batch, for ``epochs`` passes over ``loader`` (it
    yields ``(images, labels)`` on the model's device). Everything frozen must stay **bitwise**
    unchanged: parameters whose ``requires_grad`` is False, and the running statistics of every
    batch-norm layer whose own parameters are all frozen (or that has none): keep such BN layers
    in eval mode while training (a plain ``model.train()`` would let their statistics drift),
    whether or not ``prepare_for_finetuning`` froze them already.

    Args:
        model: the prepared model.
        loader: an iterable of ``(images, labels)`` batches, iterated ``epochs`` times.
        epochs: passes over the loader.
        lr: Adam's learning rate.

    Returns:
        The same model object, trained, in eval mode.
        The check (``train``): the bundled CNN pretrained on the digits 0-4
        (``drills_data.pretrained.load_pretrained_cnn()``) prepared for 5 classes and finetuned
        with your function on 15 training images per digit 5-9 (labels 0-4), epochs 30 and lr
        1e-2, must reach 90% accuracy on the test digits 5-9, within 60 s of CPU time.

    Example:
        >>> model = finetune(model, loader, epochs=30, lr=1e-2)  # doctest: +SKIP
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    model.train()
    for module in model.modules():
        if isinstance(module, _BatchNorm) and not any(
            p.requires_grad for p in module.parameters(recurse=False)
        ):
            module.eval()
    for _ in range(epochs):
        for images, labels in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
    return model.eval()
