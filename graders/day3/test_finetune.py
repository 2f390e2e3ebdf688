"""Graders for day3/finetune.py: preparing a pretrained network (torchvision's ResNet-18 and the
bundled digits CNN) for a new head, and finetuning it with few labels without disturbing the
frozen backbone or its batch-norm statistics."""

from __future__ import annotations

import time

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from graders import student
from graders.budget import spent
from graders.checks import close_values, equal_values, fail

mod = student("day3.finetune")

NEW_CLASSES = (5, 6, 7, 8, 9)
PER_CLASS = 15


def _models():
    from drills_data.pretrained import load_pretrained_cnn

    torch.manual_seed(0)
    return [("resnet18(weights=None)", torchvision.models.resnet18(weights=None), (2, 3, 32, 32), 3),
            ("load_pretrained_cnn()", load_pretrained_cnn(), (4, 1, 8, 8), 5)]


def _backbone_state(model: nn.Module, head: str = "fc") -> dict[str, torch.Tensor]:
    """Every parameter and buffer outside the head (BN statistics included), keyed by name."""
    state = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if name.startswith(head + ".") or name.endswith("num_batches_tracked"):
            continue
        state[name] = t.detach().clone()
    return state


def _compare_states(before, after, context: str, advice: str) -> None:
    __tracebackhide__ = True
    for name, value in before.items():
        if name not in after:
            continue  # e.g. a BN swapped for FrozenBatchNorm2d keeps its names; others may vanish
        if not equal_values(after[name], value):
            diff = (after[name].double() - value.double()).abs().max().item()
            fail(f"{context}: the frozen `{name}` changed (by up to {diff:.3g}). {advice}")


def test_prepare_for_finetuning_replaces_head_and_freezes_the_rest():
    """Is the head a new nn.Linear(in_features, k), the only trainable part, and returned?"""
    for label, model, _, k in _models():
        in_features = model.fc.in_features
        params = mod.prepare_for_finetuning(model, k)
        head = model.fc
        if not isinstance(head, nn.Linear) or head.in_features != in_features or head.out_features != k:
            fail(f"after prepare_for_finetuning({label}, {k}), model.fc is {head!r}; expected "
                 f"Linear(in_features={in_features}, out_features={k}, bias=True).")
        if not isinstance(params, list) or {id(p) for p in params} != {id(p) for p in head.parameters()}:
            fail(f"prepare_for_finetuning({label}, {k}) must return a list of exactly the new "
                 f"head's parameters (the very objects in model.fc), got "
                 f"{type(params).__name__} of {len(params) if hasattr(params, '__len__') else '?'}.")
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        if sorted(trainable) != ["fc.bias", "fc.weight"]:
            extra = [n for n in trainable if not n.startswith("fc.")][:4]
            fail(f"after prepare_for_finetuning({label}, {k}) the parameters that require grad are "
                 f"{trainable[:6]}{'...' if len(trainable) > 6 else ''}; only fc.weight and fc.bias "
                 f"may" + (f" (the backbone is not frozen: {extra})." if extra else "."))


class _NamedHeadNet(nn.Module):
    """A model whose head is not called fc (and a decoy called fc inside the backbone)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, 4)
        self.classifier = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.relu(self.fc(self.body(x))))


def test_prepare_for_finetuning_replaces_the_named_head():
    """Is the head named by `head` replaced (on the old head's dtype), and all else frozen?"""
    torch.manual_seed(0)
    model = _NamedHeadNet().double()
    decoy = model.fc
    call = "prepare_for_finetuning(model, 7, head='classifier')"
    params = mod.prepare_for_finetuning(model, 7, head="classifier")
    new = model.classifier
    if not isinstance(new, nn.Linear) or (new.in_features, new.out_features) != (4, 7) or new.bias is None:
        fail(f"after {call}, model.classifier is {new!r}; expected Linear(in_features=4, "
             f"out_features=7, bias=True): replace getattr(model, head), whatever its name.")
    if new.weight.dtype != torch.float64:
        fail(f"after {call} on a float64 model, the new head's weight is {new.weight.dtype}: create "
             f"it with the old head's device and dtype.")
    if model.fc is not decoy:
        fail(f"{call} replaced model.fc, which is not the head here: use the `head` argument.")
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    if trainable != ["classifier.bias", "classifier.weight"]:
        fail(f"after {call} the parameters that require grad are {trainable}; only "
             f"classifier.weight and classifier.bias may.")
    if not isinstance(params, list) or {id(p) for p in params} != {id(p) for p in new.parameters()}:
        fail(f"{call} must return a list of exactly the new head's parameters.")


def test_prepare_for_finetuning_freezes_batch_norm():
    """With freeze_bn, do BN statistics stay fixed and BN act as in eval even after model.train()?"""
    for label, model, shape, k in _models():
        model.eval()
        x = torch.randn(shape, generator=torch.Generator().manual_seed(1)) * 2 + 0.5
        mod.prepare_for_finetuning(model, k, freeze_bn=True)
        before = _backbone_state(model)
        model.eval()
        with torch.no_grad():
            eval_out = model(x)
        model.train()
        with torch.no_grad():
            train_out = model(x)
        _compare_states(before, _backbone_state(model), f"{label} after freeze_bn and a forward "
                        f"pass in train mode", "Frozen batch norm must keep its statistics: swap "
                        "each BatchNorm2d for torchvision.ops.FrozenBatchNorm2d (values copied).")
        if not close_values(train_out, eval_out, rtol=1e-5, atol=1e-5):
            fail(f"{label} prepared with freeze_bn=True gives different outputs in train and eval "
                 f"mode: frozen BN must always normalise with the running statistics.")


def test_prepare_for_finetuning_keeps_the_backbone_function():
    """Before and after preparing (eval mode), does the backbone compute the same features?"""
    from drills_data.pretrained import load_pretrained_cnn

    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    for freeze_bn in (True, False):
        model = load_pretrained_cnn()
        with torch.no_grad():
            features = model.features(x)
        mod.prepare_for_finetuning(model, 5, freeze_bn=freeze_bn)
        model.eval()
        with torch.no_grad():
            after = model.features(x)
        if not close_values(after, features, rtol=1e-5, atol=1e-5):
            fail(f"prepare_for_finetuning(model, 5, freeze_bn={freeze_bn}) changed what the "
                 f"backbone computes in eval mode: copy weight, bias, running_mean and "
                 f"running_var (and eps) into the frozen BN layers.")


def test_prepare_for_finetuning_without_freeze_bn_updates_statistics():
    """Without freeze_bn, do BN layers stay ordinary (statistics update in train mode)?"""
    from drills_data.pretrained import load_pretrained_cnn

    model = load_pretrained_cnn()
    mod.prepare_for_finetuning(model, 5, freeze_bn=False)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        fail("prepare_for_finetuning(model, 5, freeze_bn=False) removed the BatchNorm2d layers: "
             "without freeze_bn leave them as they are.")
    before = bns[0].running_mean.clone()
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(3)) * 3)
    if equal_values(bns[0].running_mean, before):
        fail("with freeze_bn=False, the BN running statistics did not update in train mode.")


# --- finetune ------------------------------------------------------------------------------------

def _few_shot_loader(seed: int = 0) -> tuple[DataLoader, torch.Tensor, torch.Tensor]:
    from drills_data.digits import load_digits_tensors

    x_train, y_train, x_test, y_test = load_digits_tensors(NEW_CLASSES)
    y_train, y_test = y_train - 5, y_test - 5
    gen = torch.Generator().manual_seed(seed)
    idx = torch.cat([torch.nonzero(y_train == c).flatten()[
        torch.randperm(int((y_train == c).sum()), generator=gen)[:PER_CLASS]] for c in range(5)])
    loader = DataLoader(TensorDataset(x_train[idx], y_train[idx]), batch_size=16, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    return loader, x_test, y_test


def _prepared(model: nn.Module, *, freeze_bn: bool) -> nn.Module:
    """The model as prepare_for_finetuning's docstring leaves it, so that the finetune checks start
    from the same place whatever your prepare_for_finetuning does."""
    from torchvision.ops import FrozenBatchNorm2d

    for p in model.parameters():
        p.requires_grad_(False)

    def freeze(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, nn.BatchNorm2d):
                frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
                for key in ("weight", "bias", "running_mean", "running_var"):
                    getattr(frozen, key).copy_(getattr(child, key).detach())
                setattr(module, name, frozen)
            else:
                freeze(child)

    if freeze_bn:
        freeze(model)
    model.fc = nn.Linear(model.fc.in_features, 5).to(model.fc.weight)
    return model


@pytest.mark.timeout(600)
def test_finetune_reaches_90_percent_on_new_digits():
    """From the 0-4 checkpoint, does finetune reach 90% on digits 5-9 with 15 labels per class?"""
    from drills_data.pretrained import load_pretrained_cnn

    loader, x_test, y_test = _few_shot_loader()
    torch.manual_seed(0)
    model = load_pretrained_cnn()
    _prepared(model, freeze_bn=True)
    before = _backbone_state(model)
    start = time.process_time()  # one torch thread, as in every grader test
    out = mod.finetune(model, loader, 30, 1e-2)
    cpu = time.process_time() - start
    spent("finetune", cpu, 60)
    if out is not model:
        fail("finetune must return the same model object it trained.")
    if model.training:
        fail("finetune returned the model in train mode: call model.eval() before returning.")
    _compare_states(before, _backbone_state(model), "finetune", "Train only the parameters that "
                    "require grad: give the optimizer [p for p in model.parameters() if "
                    "p.requires_grad] and never re-enable requires_grad.")
    with torch.no_grad():
        acc = (model(x_test).argmax(1) == y_test).double().mean().item()
    if acc < 0.90:
        fail(f"after finetune (epochs 30, lr 1e-2) the model reaches {acc:.2%} on the test digits "
             f"5-9 (needed: 90%): train the head with Adam and cross-entropy, one step per batch.")
    if cpu > 60:
        fail(f"finetune took {cpu:.1f} s of CPU (allowed: 60 s).")


def test_finetune_keeps_frozen_batch_norm_statistics():
    """With plain BatchNorm2d layers whose parameters are frozen, do their statistics stay fixed?"""
    from drills_data.pretrained import load_pretrained_cnn

    loader, _, _ = _few_shot_loader(1)
    torch.manual_seed(1)
    model = load_pretrained_cnn()
    _prepared(model, freeze_bn=False)  # BN left as nn.BatchNorm2d, its parameters frozen
    before = _backbone_state(model)
    mod.finetune(model, loader, 2, 1e-2)
    _compare_states(before, _backbone_state(model), "finetune on a backbone frozen with "
                    "requires_grad=False but plain BatchNorm2d layers",
                    "model.train() lets batch norm update its running statistics even when its "
                    "parameters are frozen: after model.train(), put every BN layer whose "
                    "parameters are all frozen back in eval mode.")
