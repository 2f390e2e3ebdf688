"""Wrong solutions for day3/data.py, each a mistake students really make."""

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from graders.testing import alternative, mutant


@mutant("day3.data.ArrayDataset", expect=r"dtype|as given")
class ArrayDatasetConvertsToFloat(Dataset):
    def __init__(self, images, labels, transform=None):
        if len(images) != len(labels):
            raise ValueError("lengths")
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = torch.as_tensor(self.images[i]).float()
        return (self.transform(image) if self.transform else image), self.labels[i]


@mutant("day3.data.ArrayDataset", expect=r"in __init__")
class ArrayDatasetTransformsUpFront(Dataset):
    """The transform applied once to the whole array: the same 'random' image in every epoch."""

    def __init__(self, images, labels, transform=None):
        if len(images) != len(labels):
            raise ValueError("lengths")
        self.images = transform(images) if transform else images
        self.labels = labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


@mutant("day3.data.ArrayDataset", expect=r"ValueError")
class ArrayDatasetNoLengthCheck(Dataset):
    def __init__(self, images, labels, transform=None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = self.images[i]
        return (self.transform(image) if self.transform else image), self.labels[i]


@mutant("day3.data.ArrayDataset", expect=r"labels untouched|with transform")
class ArrayDatasetTransformsPair(Dataset):
    def __init__(self, images, labels, transform=None):
        if len(images) != len(labels):
            raise ValueError("lengths")
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if self.transform:
            return self.transform(self.images[i]), self.transform(self.labels[i])
        return self.images[i], self.labels[i]


def _check(n, f):
    if n < 0 or not 0 <= f <= 1:
        raise ValueError("bad")


@mutant("day3.data.train_val_split", expect=r"overlaps")
def split_overlapping(n, val_fraction, seed):
    _check(n, val_fraction)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    k = round(n * val_fraction)
    return perm[max(k - 1, 0):], perm[:k]


@mutant("day3.data.train_val_split", expect=r"different splits|global random state")
def split_global_rng(n, val_fraction, seed):
    _check(n, val_fraction)
    perm = torch.randperm(n).tolist()
    k = round(n * val_fraction)
    return perm[k:], perm[:k]


@mutant("day3.data.train_val_split", expect=r"expected round")
def split_truncates(n, val_fraction, seed):
    _check(n, val_fraction)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    k = int(n * val_fraction)
    return perm[k:], perm[:k]


@mutant("day3.data.train_val_split", expect=r"random|same validation set")
def split_not_shuffled(n, val_fraction, seed):
    _check(n, val_fraction)
    k = round(n * val_fraction)
    return list(range(k, n)), list(range(k))


@mutant("day3.data.channel_mean_std", expect=r"averaged the per-batch means|not close")
def mean_std_per_batch_average(loader):
    means, stds = [], []
    for images, _ in loader:
        x = images.double()
        means.append(x.mean(dim=(0, 2, 3)))
        stds.append(x.std(dim=(0, 2, 3), unbiased=False))
    return torch.stack(means).mean(0), torch.stack(stds).mean(0)


@mutant("day3.data.channel_mean_std", expect=r"not close|std")
def mean_std_unbiased(loader):
    xs = [images.double() for images, _ in loader]
    x = torch.cat(xs)
    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3), unbiased=True)


@mutant("day3.data.channel_mean_std", expect=r"not close|dtype")
def mean_std_float32(loader):
    total, ssq, count = 0, 0, 0
    for images, _ in loader:
        x = images.float().transpose(0, 1).reshape(images.shape[1], -1)
        total = total + x.sum(1)
        ssq = ssq + (x * x).sum(1)
        count += x.shape[1]
    mean = total / count
    return mean, (ssq / count - mean**2).clamp_min(0).sqrt()


def _split(n, f, seed):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    k = round(n * f)
    return perm[k:], perm[:k]


@mutant("day3.data.make_loaders", expect=r"validation list|train_val_split")
def loaders_shuffle_validation(dataset, batch_size, val_fraction, seed):
    tr, va = _split(len(dataset), val_fraction, seed)
    g = torch.Generator().manual_seed(seed)
    return (DataLoader(Subset(dataset, tr), batch_size=batch_size, shuffle=True, generator=g),
            DataLoader(Subset(dataset, va), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed + 1)))


@mutant("day3.data.make_loaders", expect=r"same order at every epoch")
def loaders_fixed_permutation(dataset, batch_size, val_fraction, seed):
    tr, va = _split(len(dataset), val_fraction, seed)
    perm = torch.randperm(len(tr), generator=torch.Generator().manual_seed(seed)).tolist()
    return (DataLoader(Subset(dataset, [tr[i] for i in perm]), batch_size=batch_size),
            DataLoader(Subset(dataset, va), batch_size=batch_size))


@mutant("day3.data.make_loaders", expect=r"same seed gave different epochs")
def loaders_unseeded_shuffle(dataset, batch_size, val_fraction, seed):
    tr, va = _split(len(dataset), val_fraction, seed)
    return (DataLoader(Subset(dataset, tr), batch_size=batch_size, shuffle=True),
            DataLoader(Subset(dataset, va), batch_size=batch_size))


@mutant("day3.data.make_loaders", expect=r"smaller last one|exactly once")
def loaders_drop_last(dataset, batch_size, val_fraction, seed):
    tr, va = _split(len(dataset), val_fraction, seed)
    g = torch.Generator().manual_seed(seed)
    return (DataLoader(Subset(dataset, tr), batch_size=batch_size, shuffle=True, generator=g,
                       drop_last=True),
            DataLoader(Subset(dataset, va), batch_size=batch_size))


def _flip_crop(image, padding, generator, *, high_extra=1, vertical=False, gen=True):
    g = generator if gen else None
    if torch.rand((), generator=g) < 0.5:
        image = image.flip(-2 if vertical else -1)
    _, h, w = image.shape
    top, left = torch.randint(0, max(2 * padding + high_extra, 1), (2,), generator=g).tolist()
    padded = torch.nn.functional.pad(image, (padding, padding, padding, padding))
    return padded[:, top:top + h, left:left + w].clone()


@mutant("day3.data.random_flip_crop", expect=r"never occur")
def flip_crop_exclusive_high(image, padding, generator):
    return _flip_crop(image, padding, generator, high_extra=0)


@mutant("day3.data.random_flip_crop", expect=r"no left-right flip")
def flip_crop_vertical(image, padding, generator):
    return _flip_crop(image, padding, generator, vertical=True)


@mutant("day3.data.random_flip_crop", expect=r"seeded alike")
def flip_crop_global_rng(image, padding, generator):
    return _flip_crop(image, padding, generator, gen=False)


@mutant("day3.data.random_flip_crop", expect=r"far from uniform|never occur")
def flip_crop_always_flips(image, padding, generator):
    torch.rand((), generator=generator)
    image = image.flip(-1)
    _, h, w = image.shape
    top, left = torch.randint(0, 2 * padding + 1, (2,), generator=generator).tolist()
    padded = torch.nn.functional.pad(image, (padding, padding, padding, padding))
    return padded[:, top:top + h, left:left + w].clone()


@mutant("day3.data.random_flip_crop", expect=r"combinations of \(flip, top, left\)")
def flip_crop_one_offset_for_both(image, padding, generator):
    """One draw serves as both offsets: the crop only ever moves along the diagonal."""
    if torch.rand((), generator=generator) < 0.5:
        image = image.flip(-1)
    _, h, w = image.shape
    offset = int(torch.randint(0, 2 * padding + 1, (), generator=generator))
    padded = torch.nn.functional.pad(image, (padding, padding, padding, padding))
    return padded[:, offset:offset + h, offset:offset + w].clone()


@alternative("day3.data.ArrayDataset")
class ArrayDatasetOfPairs(Dataset):
    """Keeps a list of (image, label) pairs made by iterating (views, no copies of the data)."""

    def __init__(self, images, labels, transform=None):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.pairs = list(zip(images, labels))
        self.transform = transform

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, index):
        image, label = self.pairs[index]
        return (image if self.transform is None else self.transform(image)), label


@alternative("day3.data.random_flip_crop")
def flip_crop_with_one_randint_for_both_offsets(image, padding, generator):
    """Both offsets from one randint call of two values (independent), the flip from a coin."""
    if int(torch.randint(0, 2, (), generator=generator)):
        image = image.flip(-1)
    _, h, w = image.shape
    top, left = torch.randint(0, 2 * padding + 1, (2,), generator=generator).tolist()
    padded = torch.nn.functional.pad(image, (padding,) * 4)
    return padded[:, top:top + h, left:left + w].clone()
