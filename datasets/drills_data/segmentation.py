"""Shapes on noise: a small semantic-segmentation set generated deterministically.

Each RGB image of 32x32 pixels shows one to three filled shapes (discs, squares, triangles) of
random colours, sizes and positions over coloured noise; later shapes may hide earlier ones.
The mask gives every pixel's class: 0 background, 1 disc, 2 square, 3 triangle. Since colours
are random, a pixel's class follows from the shape around it, not from its colour.

Nothing is stored: the images are drawn from ``numpy.random.default_rng(SEED + split offset)``
each time (a few milliseconds), so the data set is identical on every machine.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SEED = 31337
SIZE = 32
NUM_CLASSES = 4
CLASS_NAMES = ("background", "disc", "square", "triangle")
SPLITS = {"train": (0, 96), "test": (1, 32)}


def _draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    image = rng.uniform(0.0, 0.6, size=(3, SIZE, SIZE)).astype(np.float32)
    mask = np.zeros((SIZE, SIZE), dtype=np.int64)
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(1, NUM_CLASSES))
        r = float(rng.uniform(4.0, 8.0))
        cy, cx = rng.uniform(r, SIZE - r, size=2)
        if cls == 1:
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        elif cls == 2:
            inside = (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
        else:  # upright isosceles triangle with its apex on top
            top, bottom = cy - r, cy + r
            half = (yy - top) / (bottom - top) * r
            inside = (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)
        colour = rng.uniform(0.3, 1.0, size=3).astype(np.float32)
        image[:, inside] = colour[:, None]
        mask[inside] = cls
    return image, mask


@lru_cache(maxsize=2)
def _split(split: str) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    offset, n = SPLITS[split]
    rng = np.random.default_rng(SEED + offset)
    pairs = [_draw(rng) for _ in range(n)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def load_shapes_segmentation(split: str = "train"):
    """Return ``(images, masks)`` as torch tensors for a split ("train": 96 images, "test": 32).

    images are float32 (N, 3, 32, 32) in [0, 1]; masks are int64 (N, 32, 32) with values in
    ``0 .. NUM_CLASSES - 1``. Fresh tensors each call (safe to modify).

    Example:
        >>> images, masks = load_shapes_segmentation("test")
        >>> tuple(images.shape), tuple(masks.shape), masks.dtype
        ((32, 3, 32, 32), (32, 32, 32), torch.int64)
    """
    import torch

    images, masks = _split(split)
    return torch.from_numpy(images.copy()), torch.from_numpy(masks.copy())
