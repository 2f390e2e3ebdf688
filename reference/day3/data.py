"""Feeding images to a model: datasets, splits, normalisation statistics, loaders, augmentation.

Most silent bugs of a vision pipeline live here: a validation set that overlaps the training
set, a split that changes between runs, statistics averaged over batches of unequal size, an
augmentation that cannot be reproduced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset


class ArrayDataset(Dataset):
    """A map-style dataset over in-memory images and labels, with an optional transform.

    ``len(dataset)`` is the number of images; ``dataset[i]`` returns the pair
    ``(transform(images[i]), labels[i])``, or ``(images[i], labels[i])`` when ``transform`` is
    None. Items are returned as indexing gives them: no copy, no dtype or device conversion.
    Negative indices behave as for a list.

    Args:
        images: a tensor (N, C, H, W) (or anything indexable with ``len``, e.g. a numpy array).
        labels: a tensor (N,) (or anything indexable with ``len``).
        transform: a callable applied to one image at a time, or None.

    Raises:
        ValueError: when ``len(images) != len(labels)``.

    Example:
        >>> ds = ArrayDataset(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 2]), transform=lambda im: im + 1)
        >>> len(ds), ds[1][0].sum().item(), ds[1][1].item()
        (3, 4.0, 1)
    """

    def __init__(self, images, labels, transform: Callable | None = None) -> None:
        super().__init__()
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]


def train_val_split(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split ``range(n)`` at random into training and validation indices.

    Exactly ``round(n * val_fraction)`` indices (Python's ``round``) go to validation, the rest
    to training; the two lists are disjoint and together cover ``range(n)``. The split depends
    only on ``(n, val_fraction, seed)``: the same arguments always give the same split (use a
    local ``torch.Generator().manual_seed(seed)`` or ``numpy.random.default_rng(seed)``, never
    the global random state, which you must leave untouched), and different seeds give different
    splits. The order inside each list is not checked.

    Args:
        n: number of items (>= 0).
        val_fraction: fraction in [0, 1] for validation.
        seed: the split's seed.

    Returns:
        ``(train_indices, val_indices)``, two lists of Python ints.

    Raises:
        ValueError: when ``n < 0`` or ``val_fraction`` is outside [0, 1].

    Example:
        >>> train, val = train_val_split(10, 0.2, seed=0)
        >>> len(train), len(val), sorted(train + val) == list(range(10))
        (8, 2, True)
    """
    if n < 0 or not 0.0 <= val_fraction <= 1.0:
        raise ValueError("need n >= 0 and val_fraction in [0, 1]")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = round(n * val_fraction)
    return perm[n_val:], perm[:n_val]


def channel_mean_std(loader: Iterable[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """Per-channel mean and population standard deviation of every image a loader yields.

    Streams over the batches once (do not assume all batches have the same size: the last one is
    often smaller) and accumulates in float64, so the result equals the statistics of the whole
    data set concatenated, not an average of per-batch statistics::

        mean_c = sum of x[:, c] / count,   std_c = sqrt(sum of (x[:, c] - mean_c)^2 / count)

    where count = number of images * H * W.

    Args:
        loader: an iterable of ``(images, labels)`` with images (B, C, H, W) of any float dtype
            (B may vary between batches, H and W may not); iterated exactly once.

    Returns:
        ``(mean, std)``: two float64 CPU tensors of shape (C,), within rtol 1e-9, atol 1e-9 of
        the whole-data values (mind cancellation: values may sit far from zero, e.g. around
        1000 with a spread of 1).

    Example:
        >>> batches = [(torch.tensor([[[[0.0]]], [[[2.0]]]]), None), (torch.tensor([[[[4.0]]]]), None)]
        >>> channel_mean_std(batches)
        (tensor([2.], dtype=torch.float64), tensor([1.6330], dtype=torch.float64))
    """
    count = 0
    total = ssq = None
    shift = None
    for images, _ in loader:
        x = images.detach().to("cpu", torch.float64).transpose(0, 1).reshape(images.shape[1], -1)
        if shift is None:
            shift = x[:, :1].clone()  # shifting by a sample value avoids cancellation
            total = torch.zeros(x.shape[0], dtype=torch.float64)
            ssq = torch.zeros(x.shape[0], dtype=torch.float64)
        xs = x - shift
        total += xs.sum(dim=1)
        ssq += (xs * xs).sum(dim=1)
        count += x.shape[1]
    if count == 0:
        raise ValueError("the loader yielded no images")
    mean_shifted = total / count
    var = (ssq / count - mean_shifted**2).clamp_min(0.0)
    return mean_shifted + shift[:, 0], var.sqrt()


def make_loaders(
    dataset: Dataset,
    batch_size: int,
    val_fraction: float,
    seed: int,
) -> tuple[DataLoader, DataLoader]:
    """Build a shuffling training loader and an ordered validation loader from one dataset.

    The indices come from ``train_val_split(len(dataset), val_fraction, seed)`` (this module's).
    The training loader draws a new order of the training subset at every epoch (every ``iter``)
    from a ``torch.Generator`` seeded with ``seed``, so two loaders built with the same arguments
    give the same sequence of epochs, and successive epochs differ. The validation loader yields
    the validation items in the order of the validation list, without shuffling. Both use
    ``batch_size`` and keep the last, smaller batch; items are collated by PyTorch's default
    collate function.

    Args:
        dataset: a map-style dataset with ``len``.
        batch_size: items per batch (>= 1).
        val_fraction: as in ``train_val_split``.
        seed: seeds both the split and the training order.

    Returns:
        ``(train_loader, val_loader)``, two ``torch.utils.data.DataLoader``.

    Example:
        >>> ds = ArrayDataset(torch.arange(10.), torch.arange(10))
        >>> train, val = make_loaders(ds, 4, 0.2, seed=0)
        >>> sum(len(x) for x, _ in train), sum(len(x) for x, _ in val)
        (8, 2)
    """
    train_idx, val_idx = train_val_split(len(dataset), val_fraction, seed)
    train_loader = DataLoader(
        Subset(dataset, train_idx),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    val_loader = DataLoader(Subset(dataset, val_idx), batch_size=batch_size, shuffle=False)
    return train_loader, val_loader


def random_flip_crop(image: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """The classic CIFAR augmentation: a random horizontal flip, then a random padded crop.

    First, with probability 1/2, flip the image left-right (reverse the last dimension). Then pad
    it with ``padding`` zeros on every side and cut an (H, W) crop at offsets ``(top, left)``
    drawn independently and uniformly from ``0 .. 2 * padding`` (inclusive). All randomness comes
    from ``generator``: the same seed gives the same output.

    Args:
        image: (C, H, W) float tensor on the CPU.
        padding: non-negative int; 0 means no crop (only the flip).
        generator: a CPU ``torch.Generator``.

    Returns:
        A new (C, H, W) tensor of the image's dtype. Checked by distribution (each flip about
        half the time, each offset about equally often) and reproducibility, not against a
        particular sequence of draws.

    Example:
        >>> img = torch.arange(4.).reshape(1, 2, 2)
        >>> random_flip_crop(img, 0, torch.Generator().manual_seed(0)).shape
        torch.Size([1, 2, 2])
    """
    if torch.rand((), generator=generator) < 0.5:
        image = image.flip(-1)
    _, h, w = image.shape
    top, left = torch.randint(0, 2 * padding + 1, (2,), generator=generator).tolist()
    padded = torch.nn.functional.pad(image, (padding, padding, padding, padding))
    return padded[:, top : top + h, left : left + w].clone()
