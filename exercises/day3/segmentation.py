"""Semantic segmentation: a class for every pixel, and how to score it.

A confusion matrix counts (true class, predicted class) pairs; accuracy, per-class recall and
intersection-over-union all follow from it. The model is a tiny U-Net: an encoder that
downsamples, a decoder that upsamples, and skip connections that bring the fine detail of the
encoder back to the decoder.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def confusion_matrix(preds: Tensor, targets: Tensor, num_classes: int) -> Tensor:
    """Count how often each true class was predicted as each class.

    ``cm[t, p]`` is the number of positions where ``targets == t`` and ``preds == p``: rows are
    targets, columns predictions, and ``cm.sum() == preds.numel()``.

    Args:
        preds: integer tensor of any shape (e.g. (N, H, W) of class ids), any device.
        targets: integer tensor of the same shape and device.
        num_classes: C >= 1; every entry must lie in ``0 .. C - 1``.

    Returns:
        (C, C) int64 tensor on the inputs' device (exact counts). Empty inputs give zeros.

    Raises:
        ValueError: when the shapes differ or an entry lies outside ``0 .. C - 1``.

    Forbidden:
        sklearn, torchmetrics, and Python loops over entries or classes (the ``speed`` check
        times your function against the reference on a few million entries; above 10x it fails
        and prints the ratio). One ``torch.bincount`` (or ``index_put_`` with accumulate) does it.

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
        tensor([[1, 0, 0],
                [0, 1, 0],
                [0, 1, 1]])
    """
    raise NotImplementedError("day3.segmentation.confusion_matrix")


def mean_iou(
    preds: Tensor,
    targets: Tensor,
    num_classes: int,
    ignore_index: int | None = None,
) -> float:
    """Mean intersection-over-union over the classes that occur.

    Pixels whose target equals ``ignore_index`` are left out entirely (their predictions too).
    For each class c, ``IoU_c = |P_c and T_c| / |P_c or T_c|`` where P_c (T_c) is the set of
    remaining pixels predicted (labelled) c. The result averages IoU_c over the classes that
    occur in the remaining predictions or targets; classes that occur in neither are skipped
    (they would be 0 / 0).

    Args:
        preds: integer tensor of class ids in ``0 .. C - 1``, any shape and device.
        targets: integer tensor of the same shape; ids in ``0 .. C - 1`` or ``ignore_index``.
        num_classes: C.
        ignore_index: a target value to leave out, or None.

    Returns:
        A Python float in [0, 1], within 1e-9 of the exact value; ``float("nan")`` when no pixel
        remains.

    Example:
        >>> mean_iou(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]), 2)
        0.5833333333333333
    """
    raise NotImplementedError("day3.segmentation.mean_iou")


class TinySegNet(nn.Module):
    """A tiny U-Net: two downsamplings, two upsamplings, and skip connections.

    Design your own, as long as it is an encoder-decoder with at least one skip connection (an
    encoder feature map concatenated with, or added to, the upsampled decoder map of the same
    resolution). ``forward`` maps images (N, in_channels, H, W), H and W divisible by 4, to
    per-pixel logits (N, num_classes, H, W). Keep it small (at most 500,000 parameters).

    The check (``train``): the kit trains your model with ``torch.optim.Adam(lr=1e-2)`` for 60
    full-batch steps of ``F.cross_entropy`` on 8 images of the bundled shapes data
    (``drills_data.segmentation.load_shapes_segmentation``), in train mode; then, in eval mode,
    the pixel accuracy on those same images must reach 0.90 (overfitting a handful of images is
    the classic first sanity check of a segmentation model). It must run within 60 s of CPU.

    Args:
        in_channels: channels of the input images.
        num_classes: classes per pixel.

    Example:
        >>> TinySegNet(3, 4)(torch.zeros(2, 3, 16, 12)).shape
        torch.Size([2, 4, 16, 12])
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        raise NotImplementedError("day3.segmentation.TinySegNet")

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, H, W) -> logits (N, num_classes, H, W)."""
        raise NotImplementedError("day3.segmentation.TinySegNet")
