"""Graders for day3/models.py: a small CNN, the ResNet basic block (against torchvision's), and
training a CNN on the bundled digits."""

from __future__ import annotations

import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.models.resnet import BasicBlock as TVBasicBlock

from graders import student
from graders.budget import spent
from graders.checks import assert_close, fail
from graders.profiles import examples

mod = student("day3.models")


# --- SmallCNN ------------------------------------------------------------------------------------

@given(n=st.integers(1, 5), in_channels=st.sampled_from([1, 3]), num_classes=st.sampled_from([10, 4]))
@settings(max_examples=examples(6))
def test_SmallCNN_gives_logits_of_the_right_shape(n, in_channels, num_classes):
    """Does SmallCNN map (N, in_channels, 8, 8) to (N, num_classes) with at most 100,000 parameters?"""
    torch.manual_seed(0)
    model = mod.SmallCNN(in_channels=in_channels, num_classes=num_classes).eval()
    count = sum(p.numel() for p in model.parameters())
    if count > 100_000:
        fail(f"SmallCNN has {count} parameters; at most 100,000 are allowed.")
    x = torch.rand(n, in_channels, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(x)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (n, num_classes):
        fail(f"SmallCNN({in_channels}, {num_classes}) returned shape "
             f"{tuple(getattr(out, 'shape', ()))} for input {tuple(x.shape)}; expected "
             f"({n}, {num_classes}).")


def test_SmallCNN_is_deterministic_per_sample_in_eval():
    """In eval mode, is the output repeatable and each sample's output independent of the batch?"""
    torch.manual_seed(0)
    model = mod.SmallCNN()
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    model.train()
    with torch.no_grad():
        for _ in range(3):  # give batch norm some running statistics
            model(x)
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
        alone = model(x[:1])
    assert_close(b, a, rtol=0, atol=0,
                 what="a second eval-mode call of SmallCNN on the same batch (no dropout noise in "
                 "eval; use nn.Dropout modules, not F.dropout(training=True))")
    assert_close(alone, a[:1], rtol=1e-5, atol=1e-5,
                 what="SmallCNN's eval output for sample 0 alone vs inside a batch of 6 (in eval, "
                 "batch norm must use running statistics)")


# --- BasicBlock ----------------------------------------------------------------------------------

def _torchvision_block(in_planes: int, planes: int, stride: int) -> torch.nn.Module:
    downsample = None
    if stride != 1 or in_planes != planes:
        downsample = torch.nn.Sequential(
            torch.nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
            torch.nn.BatchNorm2d(planes))
    block = TVBasicBlock(in_planes, planes, stride, downsample)
    gen = torch.Generator().manual_seed(in_planes * 100 + planes * 10 + stride)
    with torch.no_grad():
        for name, t in block.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=gen) * 0.5)
    return block


def _key_advice(yours: list[str], theirs: list[str]) -> str:
    """What the key mismatch proves: a submodule under another name, a missing or extra shortcut."""
    renamed = sorted({(a.split(".", 1)[0], b.split(".", 1)[0]) for a in yours for b in theirs
                      if "." in a and "." in b and a.split(".", 1)[1] == b.split(".", 1)[1]
                      and a.split(".", 1)[0] != b.split(".", 1)[0]})
    if renamed and {a for a, _ in renamed} >= {k.split(".", 1)[0] for k in yours}:
        names = ", ".join(f"`{a}` where torchvision has `{b}`" for a, b in renamed)
        return f" The parameters match under other names: {names}. Rename those attributes."
    if any(k.startswith("downsample.") for k in theirs) and not yours:
        return (" Your block has no downsample branch, but the shortcut must change shape here: "
                "use a 1x1 conv + BatchNorm2d whenever stride != 1 OR the channel count changes.")
    if any(k.startswith("downsample.") for k in yours) and not theirs:
        return (" Your block has a downsample branch although the shape does not change: keep "
                "downsample = None (identity shortcut) when stride == 1 and in_planes == planes.")
    return ""


def _load_into_student(in_planes, planes, stride):
    __tracebackhide__ = True
    theirs = _torchvision_block(in_planes, planes, stride)
    mine = mod.BasicBlock(in_planes, planes, stride=stride)
    result = mine.load_state_dict(theirs.state_dict(), strict=False)
    call = f"BasicBlock({in_planes}, {planes}, stride={stride})"
    if result.missing_keys or result.unexpected_keys:
        fail(f"torchvision's BasicBlock state_dict does not load into your {call}: keys of yours "
             f"that it lacks {result.missing_keys}, its keys that yours lacks "
             f"{result.unexpected_keys}.{_key_advice(result.missing_keys, result.unexpected_keys)}")
    return theirs, mine, call


CONFIGS = [(4, 4, 1), (4, 8, 1), (8, 4, 1), (4, 4, 2), (4, 8, 2), (3, 5, 2)]


@pytest.mark.parametrize(("in_planes", "planes", "stride"), CONFIGS)
def test_BasicBlock_matches_torchvision(in_planes, planes, stride):
    """Does torchvision's BasicBlock state_dict load into yours (strict) and give its output?"""
    theirs, mine, call = _load_into_student(in_planes, planes, stride)
    x = torch.randn(2, in_planes, 7, 6, generator=torch.Generator().manual_seed(3))
    for mode in ("eval", "train"):
        theirs.train(mode == "train")
        mine.train(mode == "train")
        with torch.no_grad():
            expected = theirs(x.clone())
            got = mine(x.clone())
        assert_close(got, expected, rtol=1e-5, atol=1e-5,
                     what=f"{call} in {mode} mode on x {tuple(x.shape)} (with torchvision's weights)")


def test_BasicBlock_channel_change_alone_needs_downsample():
    """With stride 1 but a new channel count, does the block have a downsample branch?"""
    block = mod.BasicBlock(4, 8, stride=1)
    keys = list(block.state_dict())
    if not any(k.startswith("downsample.0.") for k in keys):
        fail("BasicBlock(4, 8, stride=1) has no downsample.0 (1x1 conv) parameters: the shortcut "
             "must project 4 channels to 8 even when the stride is 1.")
    same = mod.BasicBlock(4, 4, stride=1)
    if any(k.startswith("downsample") for k in same.state_dict()):
        fail("BasicBlock(4, 4, stride=1) has a downsample branch: the identity shortcut needs none.")


# --- train_digits_cnn ----------------------------------------------------------------------------

@pytest.mark.timeout(900)
def test_train_digits_cnn_reaches_97_percent():
    """Does train_digits_cnn reach 97% test accuracy on the digits within 120 s of CPU?"""
    from drills_data.digits import load_digits_tensors

    start = time.process_time()  # one torch thread, as in every grader test
    model = mod.train_digits_cnn(seed=0)
    cpu = time.process_time() - start
    spent("train_digits_cnn(seed=0)", cpu, 120)
    if not isinstance(model, torch.nn.Module):
        fail(f"train_digits_cnn returned {type(model).__name__}; expected the trained nn.Module.")
    if model.training:
        fail("train_digits_cnn returned the model in train mode: call model.eval() before "
             "returning it (batch norm and dropout behave differently in evaluation).")
    _, _, x_test, y_test = load_digits_tensors()
    with torch.no_grad():
        acc = (model(x_test).argmax(1) == y_test).double().mean().item()
    if acc < 0.97:
        fail(f"train_digits_cnn(seed=0) reached {acc:.2%} test accuracy (needed: 97%) in "
             f"{cpu:.1f} s of CPU.")
    if cpu > 120:
        fail(f"train_digits_cnn(seed=0) took {cpu:.1f} s of CPU (allowed: 120 s), reaching "
             f"{acc:.2%}.")
