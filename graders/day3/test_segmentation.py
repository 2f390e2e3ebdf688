"""Graders for day3/segmentation.py: confusion matrix, mean IoU and a tiny U-Net that must
overfit a few bundled images."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from graders import reference, student
from graders import strategies as ds
from graders.checks import assert_equal, fail
from graders.forbid import forbidden_calls
from graders.gpu import gpu_parity
from graders.speed import speed_check

mod = student("day3.segmentation")
ref = reference("day3.segmentation")


@st.composite
def label_pairs(draw, min_side: int = 0):
    c = draw(st.integers(1, 5))
    shape = draw(st.one_of(ds.shapes(min_dims=1, max_dims=3, min_side=min_side, max_side=5)))
    preds = draw(ds.tensors(shape, torch.int64, min_value=0, max_value=c - 1))
    targets = draw(ds.tensors(shape, torch.int64, min_value=0, max_value=c - 1))
    return preds, targets, c


def _cm_oracle(preds, targets, c):
    cm = np.zeros((c, c), dtype=np.int64)
    np.add.at(cm, (targets.reshape(-1).numpy(), preds.reshape(-1).numpy()), 1)
    return torch.from_numpy(cm)


def _cm(preds, targets, c):
    with forbidden_calls("sklearn", "torchmetrics", what="confusion_matrix",
                         why="count the pairs with tensor operations (torch.bincount)."):
        return mod.confusion_matrix(preds, targets, c)


@given(data=label_pairs())
def test_confusion_matrix_counts_every_pair(data):
    """Is cm[t, p] the number of positions with target t and prediction p (int64, any shape)?"""
    preds, targets, c = data
    got = _cm(preds, targets, c)
    assert_equal(got, _cm_oracle(preds, targets, c),
                 what=f"confusion_matrix(preds {tuple(preds.shape)}, targets, num_classes={c}) "
                 f"(rows are targets, columns predictions)")


def test_confusion_matrix_rows_are_targets():
    """Are rows indexed by the target and columns by the prediction (not the other way)?"""
    preds = torch.tensor([1, 1, 1, 0])
    targets = torch.tensor([0, 0, 1, 0])
    assert_equal(_cm(preds, targets, 2), torch.tensor([[1, 2], [0, 1]]),
                 what="confusion_matrix(preds=[1, 1, 1, 0], targets=[0, 0, 1, 0], 2): cm[t, p]")


def test_confusion_matrix_rejects_bad_input():
    """Does confusion_matrix raise ValueError for ids outside 0..C-1 or mismatched shapes?"""
    cases = [((torch.tensor([0, 3]), torch.tensor([0, 1]), 3), "a prediction of 3 with 3 classes"),
             ((torch.tensor([0, 1]), torch.tensor([-1, 1]), 3), "a target of -1"),
             ((torch.tensor([0, 1, 2]), torch.tensor([0, 1]), 3), "shapes (3,) and (2,)")]
    for args, text in cases:
        try:
            mod.confusion_matrix(*args)
        except ValueError:
            continue
        fail(f"confusion_matrix with {text} did not raise ValueError.")


def test_confusion_matrix_is_fast():
    """Is confusion_matrix vectorised (within 10x of the reference on 200,000 pixels)?"""
    gen = torch.Generator().manual_seed(0)
    preds = torch.randint(0, 12, (8, 160, 160), generator=gen)
    targets = torch.randint(0, 12, (8, 160, 160), generator=gen)
    assert_equal(_cm(preds, targets, 12), _cm_oracle(preds, targets, 12),
                 what="confusion_matrix on (8, 160, 160) with 12 classes")
    speed_check(mod.confusion_matrix, ref.confusion_matrix, (preds, targets, 12),
                what="confusion_matrix", native=lambda p, t, c: torch.bincount(
                    t.flatten() * c + p.flatten(), minlength=c * c).reshape(c, c),
                advice="loops over classes or pixels are the usual cause: number each (target, "
                "prediction) cell target * C + prediction and count them all with one bincount.")


def test_confusion_matrix_on_gpu():
    """Does confusion_matrix give the same counts on CUDA and keep the result on the device?"""
    gen = torch.Generator().manual_seed(1)
    preds = torch.randint(0, 5, (3, 17, 9), generator=gen)
    targets = torch.randint(0, 5, (3, 17, 9), generator=gen)
    gpu_parity(mod.confusion_matrix, lambda dev: ((preds.to(dev), targets.to(dev), 5), {}),
               what="confusion_matrix", rtol=0, atol=0)


# --- mean_iou ------------------------------------------------------------------------------------

def _iou_oracle(preds, targets, c, ignore_index):
    p, t = preds.reshape(-1).tolist(), targets.reshape(-1).tolist()
    pairs = [(a, b) for a, b in zip(p, t) if ignore_index is None or b != ignore_index]
    ious = []
    for k in range(c):
        inter = sum(1 for a, b in pairs if a == k and b == k)
        union = sum(1 for a, b in pairs if a == k or b == k)
        if union:
            ious.append(inter / union)
    return sum(ious) / len(ious) if ious else math.nan


@st.composite
def iou_inputs(draw):
    preds, targets, c = draw(label_pairs(min_side=1))
    ignore = draw(st.sampled_from([None, None, 255, -1]))
    if ignore is not None and targets.numel():
        mask = draw(ds.tensors(tuple(targets.shape), torch.bool))
        targets = torch.where(mask, torch.full_like(targets, ignore), targets)
    return preds, targets, c, ignore


@given(data=iou_inputs())
def test_mean_iou_matches_definition(data):
    """Is mean_iou the mean of |P and T| / |P or T| over classes present, ignored pixels left out?"""
    preds, targets, c, ignore = data
    got = mod.mean_iou(preds, targets, c, ignore_index=ignore)
    expected = _iou_oracle(preds, targets, c, ignore)
    call = f"mean_iou(preds {tuple(preds.shape)}, targets, {c}, ignore_index={ignore})"
    if not isinstance(got, float):
        fail(f"{call} returned {type(got).__name__}; expected a Python float (use float(...)).")
    if math.isnan(expected):
        if not math.isnan(got):
            fail(f"{call} returned {got} but no pixel remains: expected nan.")
        return
    if not abs(got - expected) <= 1e-9:
        fail(f"{call} returned {got:.6f}; expected {expected:.6f}. Average only over classes "
             f"that occur in the (non-ignored) predictions or targets, and leave out every pixel "
             f"whose target is ignore_index, its prediction included.")


def test_mean_iou_skips_absent_classes():
    """Are classes absent from both predictions and targets left out of the mean (not 0 or 1)?"""
    preds = torch.tensor([0, 0, 1, 1])
    targets = torch.tensor([0, 1, 1, 1])
    got = mod.mean_iou(preds, targets, 5)
    if not abs(got - (0.5 + 2 / 3) / 2) <= 1e-9:
        fail(f"mean_iou(preds=[0, 0, 1, 1], targets=[0, 1, 1, 1], num_classes=5) returned {got}; "
             f"expected {(0.5 + 2 / 3) / 2:.6f}: classes 2, 3 and 4 never occur and must not count.")


# --- TinySegNet ----------------------------------------------------------------------------------

def test_TinySegNet_keeps_the_resolution():
    """Does TinySegNet map (N, C_in, H, W) to logits (N, num_classes, H, W), H and W divisible by 4?"""
    torch.manual_seed(0)
    for c_in, k, shape in ((3, 4, (2, 16, 12)), (1, 2, (1, 8, 8)), (3, 5, (3, 32, 20))):
        model = mod.TinySegNet(c_in, k).eval()
        count = sum(p.numel() for p in model.parameters())
        if count > 500_000:
            fail(f"TinySegNet({c_in}, {k}) has {count} parameters; at most 500,000 are allowed.")
        x = torch.rand(shape[0], c_in, shape[1], shape[2])
        with torch.no_grad():
            out = model(x)
        expected = (shape[0], k, shape[1], shape[2])
        if tuple(out.shape) != expected:
            fail(f"TinySegNet({c_in}, {k}) returned shape {tuple(out.shape)} for input "
                 f"{tuple(x.shape)}; expected {expected}.")


@pytest.mark.timeout(600)
def test_TinySegNet_overfits_a_few_images():
    """Can TinySegNet overfit 8 bundled images (pixel accuracy 0.90 after 60 Adam steps)?"""
    from drills_data.segmentation import NUM_CLASSES, load_shapes_segmentation

    images, masks = load_shapes_segmentation("train")
    images, masks = images[:8], masks[:8]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        start = time.process_time()
        model = mod.TinySegNet(3, NUM_CLASSES)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        model.train()
        for _ in range(60):
            opt.zero_grad()
            loss = F.cross_entropy(model(images), masks)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(images).argmax(1)
        cpu = time.process_time() - start
    finally:
        torch.set_num_threads(threads)
    acc = (pred == masks).double().mean().item()
    background = (masks == 0).double().mean().item()
    if acc < 0.90:
        fail(f"after 60 Adam steps (lr 1e-2) on 8 images, TinySegNet reaches pixel accuracy "
             f"{acc:.3f} in eval mode (needed: 0.90; predicting background everywhere gives "
             f"{background:.3f}); last training loss {loss.item():.3f}. Check the skip connections "
             f"(concatenate encoder maps with the upsampled decoder maps) and batch norm.")
    if cpu > 60:
        fail(f"training TinySegNet for 60 steps took {cpu:.1f} s of CPU (allowed: 60 s): make it "
             f"smaller.")
