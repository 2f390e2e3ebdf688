"""Wrong solutions for day3/segmentation.py, each a mistake students really make."""

import torch
from torch import nn

from graders.testing import mutant


def _check(preds, targets, c):
    if preds.shape != targets.shape:
        raise ValueError("shape")
    if preds.numel() and (min(preds.min(), targets.min()) < 0 or max(preds.max(), targets.max()) >= c):
        raise ValueError("range")


@mutant("day3.segmentation.confusion_matrix", expect=r"rows are targets|cm\[t, p\]")
def cm_transposed(preds, targets, num_classes):
    _check(preds, targets, num_classes)
    idx = preds.reshape(-1) * num_classes + targets.reshape(-1)
    return torch.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


@mutant("day3.segmentation.confusion_matrix", expect=r"slower than (the reference|a PyTorch-native equivalent)")
def cm_loops_over_classes(preds, targets, num_classes):
    _check(preds, targets, num_classes)
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=preds.device)
    for t in range(num_classes):
        for p in range(num_classes):
            cm[t, p] = ((targets == t) & (preds == p)).sum()
    return cm


@mutant("day3.segmentation.confusion_matrix", expect=r"not allowed")
def cm_with_sklearn(preds, targets, num_classes):
    from sklearn.metrics import confusion_matrix

    _check(preds, targets, num_classes)
    cm = confusion_matrix(targets.reshape(-1).cpu().numpy(), preds.reshape(-1).cpu().numpy(),
                          labels=list(range(num_classes)))
    return torch.as_tensor(cm, dtype=torch.int64, device=preds.device)


@mutant("day3.segmentation.confusion_matrix", expect=r"shape|minlength")
def cm_without_minlength(preds, targets, num_classes):
    _check(preds, targets, num_classes)
    counts = torch.bincount(targets.reshape(-1) * num_classes + preds.reshape(-1))
    counts = counts[: num_classes * num_classes]
    return counts.reshape(-1, num_classes) if counts.numel() % num_classes == 0 else counts


def _cm(p, t, c):
    return torch.bincount(t * c + p, minlength=c * c).reshape(c, c).double()


@mutant("day3.segmentation.mean_iou", expect=r"classes 2, 3 and 4 never occur|expected")
def iou_over_all_classes(preds, targets, num_classes, ignore_index=None):
    p, t = preds.reshape(-1), targets.reshape(-1)
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    cm = _cm(p, t, num_classes)
    inter = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - inter
    return float((inter / union.clamp_min(1)).mean())


@mutant("day3.segmentation.mean_iou", expect=r"ignore_index=(255|-1)")
def iou_ignores_only_targets_in_counts(preds, targets, num_classes, ignore_index=None):
    p, t = preds.reshape(-1), targets.reshape(-1)
    if ignore_index is not None:
        t = torch.where(t == ignore_index, p, t)  # "ignored pixels count as correct"
    cm = _cm(p, t, num_classes)
    inter = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - inter
    present = union > 0
    return float((inter[present] / union[present]).mean()) if present.any() else float("nan")


@mutant("day3.segmentation.mean_iou", expect=r"expected")
def iou_uses_recall(preds, targets, num_classes, ignore_index=None):
    p, t = preds.reshape(-1), targets.reshape(-1)
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    cm = _cm(p, t, num_classes)
    rows = cm.sum(1)
    present = (cm.sum(0) + rows) > 0
    return float((cm.diagonal()[present] / rows[present].clamp_min(1)).mean()) if present.any() else float("nan")


@mutant("day3.segmentation.mean_iou", expect=r"Python float")
def iou_returns_tensor(preds, targets, num_classes, ignore_index=None):
    p, t = preds.reshape(-1), targets.reshape(-1)
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    cm = _cm(p, t, num_classes)
    inter = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - inter
    present = union > 0
    return (inter[present] / union[present]).mean()


def _block(a, b):
    return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU())


@mutant("day3.segmentation.TinySegNet", expect=r"pixel accuracy")
class SegNetWithoutSkipsNorBN(nn.Module):
    """Downsamples by 4 with strided convs and upsamples by nearest interpolation: no skips."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(in_channels, 8, 4, stride=4), nn.ReLU())
        self.up = nn.Upsample(scale_factor=4)
        self.head = nn.Conv2d(8, num_classes, 1)

    def forward(self, x):
        return self.head(self.up(self.down(x)))


@mutant("day3.segmentation.TinySegNet", expect=r"returned shape")
class SegNetHalfResolution(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.enc = _block(in_channels, 16)
        self.pool = nn.MaxPool2d(2)
        self.dec = _block(16, 16)
        self.head = nn.Conv2d(16, num_classes, 1)

    def forward(self, x):
        return self.head(self.dec(self.pool(self.enc(x))))
