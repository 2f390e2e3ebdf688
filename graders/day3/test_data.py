"""Graders for day3/data.py: datasets, reproducible splits, streaming statistics, loaders and
random augmentation (checked by distribution and reproducibility, never by particular draws)."""

from __future__ import annotations

import random

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from graders import reference, student
from graders import strategies as ds
from graders.checks import (
    assert_close,
    assert_equal,
    chi_square_pvalue,
    close_values,
    equal_values,
    fail,
    plain,
)
from graders.profiles import examples

mod = student("day3.data")
ref = reference("day3.data")


# --- ArrayDataset --------------------------------------------------------------------------------

@given(n=st.integers(1, 6), dtype=st.sampled_from([torch.uint8, torch.float32, torch.float64]))
def test_ArrayDataset_returns_items_as_given(n, dtype):
    """Does ArrayDataset give len(images) and (images[i], labels[i]) unchanged, negatives included?"""
    images = torch.arange(n * 12).reshape(n, 3, 2, 2).to(dtype)
    labels = torch.arange(n) * 7
    data = mod.ArrayDataset(images, labels)
    if len(data) != n:
        fail(f"len(ArrayDataset(images of {n}, labels)) is {len(data)}, expected {n}.")
    for i in list(range(n)) + [-1]:
        item = data[i]
        if not isinstance(item, tuple) or len(item) != 2:
            fail(f"dataset[{i}] returned {type(item).__name__}; expected a pair (image, label).")
        assert_equal(item[0], images[i], what=f"dataset[{i}][0] (the image, as given: no dtype change)")
        assert_equal(item[1], labels[i], what=f"dataset[{i}][1] (the label)")


def test_ArrayDataset_applies_the_transform_to_images_only():
    """Is the transform applied to each image (and not to the label)?"""
    images = torch.rand(4, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([3, 1, 4, 1])
    data = mod.ArrayDataset(images, labels, transform=lambda im: im * 2 + 1)
    for i in range(4):
        image, label = data[i]
        assert_equal(image, images[i] * 2 + 1, what=f"dataset[{i}][0] with transform x -> 2x + 1")
        assert_equal(label, labels[i], what=f"dataset[{i}][1] with a transform (labels untouched)")
    batch = next(iter(DataLoader(data, batch_size=4)))
    assert_equal(batch[1], labels, what="labels of a DataLoader batch over the dataset")


def test_ArrayDataset_transforms_one_image_when_read():
    """Is the transform called with images[i] alone, each time item i is read (never up front)?"""
    images = torch.rand(5, 1, 3, 3, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(5)
    calls = []

    def transform(image):  # a random augmentation must be drawn anew at every read
        calls.append(image.clone())
        return image.flip(-1)

    data = mod.ArrayDataset(images, labels, transform=transform)
    if calls:
        fail(f"ArrayDataset(images, labels, transform) called the transform {len(calls)} time(s) in "
             f"__init__: call it in __getitem__, on one image, each time an item is read (a random "
             f"augmentation applied up front would be the same in every epoch).")
    for i in (3, 3, -1):
        before = len(calls)
        image, _ = data[i]
        if len(calls) != before + 1:
            fail(f"reading dataset[{i}] called the transform {len(calls) - before} time(s); expected "
                 f"once, on images[{i}].")
        assert_equal(calls[-1], images[i], what=f"the image passed to the transform for dataset[{i}]")
        assert_equal(image, images[i].flip(-1), what=f"dataset[{i}][0] (the transform's result)")


def test_ArrayDataset_serves_numpy_arrays_as_they_are():
    """Do numpy images and a list of labels come back as indexing gives them (no conversion)?"""
    images = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 1, 2, 2)
    labels = [2, 0, 1, 3]
    data = mod.ArrayDataset(images, labels)
    if len(data) != 4:
        fail(f"len(ArrayDataset(a numpy array of 4 images, a list of 4 labels)) is {len(data)}.")
    for i in (0, 2, -1):
        image, label = data[i]
        if type(image) is not np.ndarray or image.dtype != np.uint8:
            fail(f"dataset[{i}][0] is {type(image).__name__} ({getattr(image, 'dtype', '')}) for numpy "
                 f"uint8 images; return images[i] as indexing gives it (no conversion to a tensor).")
        assert_equal(image, images[i], what=f"dataset[{i}][0] for numpy images")
        if type(label) is not int or label != labels[i]:
            fail(f"dataset[{i}][1] is {label!r} for labels {labels}; expected labels[{i}] = {labels[i]}.")


def test_ArrayDataset_rejects_different_lengths():
    """Does ArrayDataset raise ValueError when images and labels differ in length?"""
    try:
        mod.ArrayDataset(torch.zeros(5, 1, 2, 2), torch.zeros(4))
    except ValueError:
        return
    fail("ArrayDataset(5 images, 4 labels) did not raise ValueError.")


# --- train_val_split -----------------------------------------------------------------------------

def _split(n, frac, seed):
    got = mod.train_val_split(n, frac, seed)
    if not isinstance(got, tuple) or len(got) != 2 or not all(isinstance(v, list) for v in got):
        fail(f"train_val_split({n}, {frac}, seed={seed}) returned {type(got).__name__}; expected a "
             f"tuple of two lists (train, val).")
    for part in got:
        if not all(type(i) is int for i in part):
            fail(f"train_val_split({n}, {frac}, seed={seed}) returned indices that are not Python "
                 f"ints (e.g. tensors or numpy ints): use .tolist().")
    return got


@given(n=st.integers(0, 60), frac=st.one_of(st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0]),
                                            st.floats(0, 1)), seed=st.integers(0, 10**6))
def test_train_val_split_is_a_partition(n, frac, seed):
    """Are train and val disjoint, covering range(n), with round(n * val_fraction) in val?"""
    train, val = _split(n, frac, seed)
    call = f"train_val_split({n}, {frac}, seed={seed})"
    both = set(train) & set(val)
    if both:
        fail(f"{call}: indices {sorted(both)[:5]} are in both train and val: the split overlaps.")
    if len(set(train)) != len(train) or len(set(val)) != len(val):
        fail(f"{call}: an index appears twice in the same list.")
    if sorted(train + val) != list(range(n)):
        fail(f"{call}: train + val do not cover range({n}) exactly.")
    if len(val) != round(n * frac):
        fail(f"{call} has {len(val)} validation indices; expected round({n} * {frac}) = "
             f"{round(n * frac)}.")


def test_train_val_split_is_reproducible_and_seeded():
    """Does the same seed give the same split, different seeds different ones, global RNG untouched?"""
    torch.manual_seed(0)
    state = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    a = _split(50, 0.3, 7)
    torch.manual_seed(12345)
    np.random.seed(3)
    random.seed(4)
    b = _split(50, 0.3, 7)
    if sorted(a[1]) != sorted(b[1]):
        fail("train_val_split(50, 0.3, seed=7) gave two different splits: the split must depend "
             "only on its arguments (seed a local generator; do not use the global random state).")
    others = [sorted(_split(50, 0.3, s)[1]) for s in (8, 9, 10)]
    if all(o == sorted(a[1]) for o in others):
        fail("train_val_split gives the same validation set for seeds 7, 8, 9 and 10: shuffle the "
             "indices with a generator seeded with seed.")
    if sorted(a[1]) == list(range(15)) or sorted(a[1]) == list(range(35, 50)):
        fail("train_val_split(50, 0.3, seed=7) takes the first or last indices as validation: "
             "the split must be random.")
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    state0 = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    _split(50, 0.3, 7)
    state1 = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    if not (equal_values(state0[0], state1[0]) and (state0[1] == state1[1]).all() and state0[2] == state1[2]):
        fail("train_val_split changed the global random state (torch, numpy or random): use a local "
             "generator (torch.Generator().manual_seed(seed) or np.random.default_rng(seed)).")
    del state


def test_train_val_split_rejects_bad_arguments():
    """Does train_val_split raise ValueError for val_fraction outside [0, 1] or n < 0?"""
    for args in ((10, -0.1, 0), (10, 1.5, 0), (-1, 0.5, 0)):
        try:
            mod.train_val_split(*args)
        except ValueError:
            continue
        fail(f"train_val_split{args} did not raise ValueError.")


# --- channel_mean_std ----------------------------------------------------------------------------

@st.composite
def batch_lists(draw):
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    dtype = draw(ds.dtypes())
    offset = draw(st.sampled_from([0.0, 1000.0]))
    batches = [draw(ds.tensors((b, c, h, w), dtype)) + offset for b in sizes]
    return batches


def _whole(batches):
    x = torch.cat([b.double() for b in batches])
    return x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False).sqrt()


@settings(max_examples=examples(30))
@given(batches=batch_lists())
def test_channel_mean_std_equals_whole_data_statistics(batches):
    """Do the streamed mean and population std equal those of all images at once (float64)?"""
    labels = [torch.zeros(len(b), dtype=torch.int64) for b in batches]
    got = mod.channel_mean_std(iter(list(zip(batches, labels))))  # an iterator: one pass only
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"channel_mean_std returned {type(got).__name__}; expected (mean, std).")
    mean, std = _whole(batches)
    sizes = [len(b) for b in batches]
    assert_close(list(got), [mean, std], rtol=1e-9, atol=1e-9,
                 what=f"[mean, std] from channel_mean_std over batches of sizes {sizes} "
                 f"(float64, population std over every image and pixel)")


def test_channel_mean_std_is_not_an_average_of_batch_statistics():
    """With batches of unequal size, is the result the whole-data one, not a mean of batch stats?"""
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(7, 2, 4, 4, generator=gen), torch.randn(1, 2, 4, 4, generator=gen) * 3 + 5]
    loader = DataLoader(TensorDataset(torch.cat(batches), torch.zeros(8)), batch_size=7)
    mean, std = mod.channel_mean_std(loader)
    exp_mean, exp_std = _whole(batches)
    per_batch_mean = torch.stack([b.double().mean(dim=(0, 2, 3)) for b in batches]).mean(0)
    if close_values(mean.double(), per_batch_mean, atol=1e-6):
        fail("channel_mean_std averaged the per-batch means: with batches of 7 and 1 images that "
             "gives the last image far too much weight. Accumulate sums and counts instead.")
    assert_close([mean, std], [exp_mean, exp_std], rtol=1e-9, atol=1e-9,
                 what="[mean, std] from channel_mean_std over a DataLoader with batches of 7 and 1 "
                 "(accumulate sums and sums of squares; do not average per-batch statistics)")


# --- make_loaders --------------------------------------------------------------------------------

def _indexed_dataset(n: int) -> TensorDataset:
    images = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1).expand(n, 1, 2, 2).clone()
    return TensorDataset(images, torch.arange(n))


def _split_used(n, frac, seed):
    """The split make_loaders must use: this module's train_val_split (the reference stands in
    while yours is not written yet)."""
    try:
        return mod.train_val_split(n, frac, seed)
    except NotImplementedError:
        return ref.train_val_split(n, frac, seed)


def _epoch(loader) -> list[list[int]]:
    return [batch[1].tolist() for batch in loader]


@given(n=st.integers(20, 40), batch_size=st.integers(1, 7), frac=st.sampled_from([0.2, 0.25, 0.5]),
       seed=st.integers(0, 1000))
@settings(max_examples=examples(10))
def test_make_loaders_split_and_order(n, batch_size, frac, seed):
    """Does the val loader follow the validation list in order, and each train epoch cover train?"""
    train_loader, val_loader = mod.make_loaders(_indexed_dataset(n), batch_size, frac, seed)
    for name, loader in (("train", train_loader), ("val", val_loader)):
        if not isinstance(loader, DataLoader):
            fail(f"make_loaders returned a {type(loader).__name__} as the {name} loader; expected "
                 f"a torch.utils.data.DataLoader.")
    train_idx, val_idx = _split_used(n, frac, seed)
    val_batches = _epoch(val_loader)
    got_val = [i for b in val_batches for i in b]
    if got_val != list(val_idx):
        fail(f"the validation loader yields items {got_val[:8]}..., expected the validation list "
             f"of train_val_split({n}, {frac}, {seed}) in its order {list(val_idx)[:8]}... "
             f"(no shuffling for validation).")
    for epoch in range(2):
        batches = _epoch(train_loader)
        flat = [i for b in batches for i in b]
        if sorted(flat) != sorted(train_idx):
            fail(f"epoch {epoch} of the train loader yields {len(flat)} items that are not the "
                 f"{len(train_idx)} training indices exactly once each.")
        sizes = [len(b) for b in batches]
        if any(s != batch_size for s in sizes[:-1]) or not 0 < sizes[-1] <= batch_size:
            fail(f"train batches have sizes {sizes}; expected batches of {batch_size} and a "
                 f"smaller last one (keep it).")


def test_make_loaders_reshuffles_reproducibly():
    """Do two loaders with the same seed give the same epochs, and do successive epochs differ?"""
    data = _indexed_dataset(40)
    torch.manual_seed(1)
    a, _ = mod.make_loaders(data, 8, 0.25, 5)
    epochs_a = [_epoch(a) for _ in range(3)]
    torch.manual_seed(2)  # the global RNG must not matter
    b, _ = mod.make_loaders(data, 8, 0.25, 5)
    epochs_b = [_epoch(b) for _ in range(3)]
    if epochs_a != epochs_b:
        fail("two train loaders built with the same seed gave different epochs: give the "
             "DataLoader a generator seeded with seed (torch.Generator().manual_seed(seed)).")
    if epochs_a[0] == epochs_a[1] == epochs_a[2]:
        fail("the train loader yields the same order at every epoch: it must reshuffle each epoch "
             "(shuffle=True with a seeded generator, not a fixed permutation).")
    sorted_order = sorted(i for b in epochs_a[0] for i in b)
    if [i for b in epochs_a[0] for i in b] == sorted_order:
        fail("the train loader is not shuffled.")
    c, _ = mod.make_loaders(data, 8, 0.25, 6)
    if [_epoch(c) for _ in range(3)] == epochs_a:
        fail("train loaders with seeds 5 and 6 give the same epochs: use the seed.")


# --- random_flip_crop ----------------------------------------------------------------------------

def _candidates(image: torch.Tensor, p: int) -> dict[tuple[int, int, int], torch.Tensor]:
    _, h, w = image.shape
    out = {}
    for flip in (0, 1):
        im = image.flip(-1) if flip else image
        padded = torch.nn.functional.pad(im, (p, p, p, p))
        for top in range(2 * p + 1):
            for left in range(2 * p + 1):
                out[(flip, top, left)] = padded[:, top:top + h, left:left + w]
    return out


def _values_key(t: torch.Tensor) -> tuple[tuple[int, ...], bytes]:
    """Shape and float64 values (-0.0 read as 0.0): equal keys exactly when ``equal_values``
    holds, for tensors without NaN (no candidate has one)."""
    values = t.detach().cpu().to(torch.float64) + 0.0
    return tuple(values.shape), values.numpy().tobytes()


def _lookup(cands) -> dict[tuple[tuple[int, ...], bytes], tuple[int, int, int]]:
    """The candidates by value, so that an output is classified by one look-up."""
    table: dict = {}
    for key, cand in cands.items():
        table.setdefault(_values_key(cand), key)
    return table


def _classify(out: torch.Tensor, table) -> tuple[int, int, int] | None:
    got = plain(out, what="random_flip_crop")  # one safe copy of what the student returned
    if not isinstance(got, torch.Tensor) or got.is_complex():
        return None
    return table.get(_values_key(got))


def _image(c=2, h=5, w=6):
    return torch.arange(1, c * h * w + 1, dtype=torch.float32).reshape(c, h, w)


@given(p=st.integers(0, 3), seed=st.integers(0, 10**6), hw=st.tuples(st.integers(2, 6), st.integers(2, 6)))
def test_random_flip_crop_is_a_flip_and_a_padded_crop(p, seed, hw):
    """Is every output an (optionally flipped) (H, W) crop of the zero-padded image, same dtype?"""
    image = _image(2, *hw)
    gen = torch.Generator().manual_seed(seed)
    table = _lookup(_candidates(image, p))
    for _ in range(5):
        out = mod.random_flip_crop(image.clone(), p, gen)
        if not isinstance(out, torch.Tensor) or out.shape != image.shape or out.dtype != image.dtype:
            fail(f"random_flip_crop returned {getattr(out, 'shape', out)} "
                 f"{getattr(out, 'dtype', '')}; expected shape {tuple(image.shape)} float32.")
        if _classify(out, table) is None:
            fail(f"random_flip_crop(image {tuple(image.shape)}, padding={p}) returned an image that "
                 f"is no left-right flip (or not) of the image followed by an (H, W) crop of it "
                 f"padded with {p} zeros on each side, at offsets 0 .. {2 * p}.")


def test_random_flip_crop_is_reproducible():
    """Does the same generator seed give the same outputs (and different seeds different ones)?"""
    image = _image()
    a = [mod.random_flip_crop(image, 2, g) for g in [torch.Generator().manual_seed(3)] * 6]
    torch.manual_seed(77)
    b = [mod.random_flip_crop(image, 2, g) for g in [torch.Generator().manual_seed(3)] * 6]
    if not all(equal_values(x, y) for x, y in zip(a, b)):
        fail("random_flip_crop gave different outputs for generators seeded alike: draw every "
             "random number from `generator`.")
    c = [mod.random_flip_crop(image, 2, g) for g in [torch.Generator().manual_seed(4)] * 6]
    if all(equal_values(x, y) for x, y in zip(a, c)):
        fail("random_flip_crop gave the same outputs for generators seeded 3 and 4.")


def test_random_flip_crop_draws_uniformly():
    """Is the flip taken about half the time, each offset 0 .. 2p about equally likely, and are
    the flip and the two offsets drawn independently?"""
    image, p, n = _image(1, 4, 5), 2, 1500
    cands = _candidates(image, p)
    table = _lookup(cands)
    gen = torch.Generator().manual_seed(2024)
    flips, tops, lefts = [0, 0], [0] * (2 * p + 1), [0] * (2 * p + 1)
    joint = dict.fromkeys(cands, 0)
    for _ in range(n):
        key = _classify(mod.random_flip_crop(image, p, gen), table)
        if key is None:
            fail("random_flip_crop returned an image that is not a flip/crop of the padded input.")
        flips[key[0]] += 1
        tops[key[1]] += 1
        lefts[key[2]] += 1
        joint[key] += 1
    for name, counts in (("flip (no, yes)", flips), ("top offset 0..4", tops),
                         ("left offset 0..4", lefts)):
        if min(counts) == 0:
            fail(f"over {n} calls with padding={p}, the {name} counts are {counts}: some values "
                 f"never occur (offsets run from 0 to 2 * padding inclusive; randint's high is "
                 f"exclusive).")
        pvalue = chi_square_pvalue(counts)
        if pvalue < 1e-4:
            fail(f"over {n} calls with padding={p}, the {name} counts are {counts}, far from "
                 f"uniform (chi-square p = {pvalue:.2g}).")
    pvalue = chi_square_pvalue(list(joint.values()))
    if pvalue < 1e-4:
        common = sorted(joint.items(), key=lambda kv: -kv[1])[:3]
        fail(f"over {n} calls with padding={p}, each draw alone looks uniform but the combinations "
             f"of (flip, top, left) do not (chi-square p = {pvalue:.2g}; most frequent: "
             + ", ".join(f"{k} {v} times" for k, v in common)
             + f"; {sum(1 for v in joint.values() if not v)} of {len(joint)} never occur): draw the "
             f"flip, the top and the left offsets independently (one draw each).")
