"""The 8x8 handwritten digits that ship inside scikit-learn, with the kit's fixed split.

Provenance: UCI ML hand-written digits (Alpaydin & Kaynak, 1998), as bundled in
``sklearn.datasets.load_digits`` (BSD-3-Clause package; the data set is CC BY 4.0 on UCI).
1797 images of 8x8 pixels with values 0..16, ten classes.

The split is owned here and never changes: a stratified 80/20 split drawn with
``numpy.random.default_rng(20241)``, giving 1438 training and 359 test images.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

SPLIT_SEED = 20241
TEST_FRACTION = 0.2


class DigitsSplit(NamedTuple):
    """Images as float32 arrays (N, 1, 8, 8) scaled to [0, 1] and int64 labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _bundled_file() -> Path | None:
    """scikit-learn's own copy of the data (``datasets/data/digits.csv.gz``), found without
    importing scikit-learn (about a second of imports that reading the data does not need)."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder, "datasets", "data", "digits.csv.gz")
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    path = _bundled_file()
    if path is not None:  # read as ``sklearn.datasets.load_digits`` reads it: the same arrays
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",")
        pixels, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels, target = bunch.images, bunch.target
    images = (pixels.astype(np.float32) / 16.0)[:, None, :, :]
    return images, target.astype(np.int64)


@lru_cache(maxsize=1)
def _split_indices() -> tuple[np.ndarray, np.ndarray]:
    _, labels = _raw()
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(len(idx) * TEST_FRACTION))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_digits_split(classes: tuple[int, ...] | None = None) -> DigitsSplit:
    """Return the fixed train/test split, optionally restricted to some classes.

    Args:
        classes: keep only these labels (labels are not renumbered), or all ten when None.

    Returns:
        A DigitsSplit of fresh numpy arrays (safe to modify).

    Example:
        >>> s = load_digits_split()
        >>> s.x_train.shape, s.x_test.shape
        ((1438, 1, 8, 8), (359, 1, 8, 8))
    """
    images, labels = _raw()
    tr, te = _split_indices()
    if classes is not None:
        keep = np.isin(labels, np.asarray(classes))
        tr, te = tr[keep[tr]], te[keep[te]]
    return DigitsSplit(images[tr].copy(), labels[tr].copy(), images[te].copy(), labels[te].copy())


def load_digits_tensors(classes: tuple[int, ...] | None = None):
    """The same split as torch tensors: (x_train, y_train, x_test, y_test), float32 and int64."""
    import torch

    s = load_digits_split(classes)
    return tuple(torch.from_numpy(a) for a in s)
