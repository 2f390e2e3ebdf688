"""Graders for day1/strides.py: strides, storage positions and views built with as_strided."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from graders import student
from graders import strategies as ds
from graders.checks import assert_equal, fail
from graders.forbid import forbidden_calls

mod = student("day1.strides")


def _expect_value_error(fn, *args, what: str) -> None:
    try:
        out = fn(*args)
    except ValueError:
        return
    except Exception as exc:  # noqa: BLE001
        fail(f"{what} raised {type(exc).__name__}: {exc}; expected ValueError.")
    fail(f"{what} returned {out!r}; expected it to raise ValueError.")


@st.composite
def layouts(draw, min_side=1):
    """(shape, strides, offset) of a real tensor view (contiguous, permuted, sliced, offset)."""
    shape = draw(ds.shapes(min_dims=0, max_dims=4, min_side=min_side))
    t = draw(ds.tensors(shape))
    return tuple(t.shape), tuple(t.stride()), t.storage_offset()


# --- contiguous_strides -------------------------------------------------------------------------

@given(shape=ds.shapes(min_dims=0, max_dims=5, min_side=0, max_side=5))
def test_contiguous_strides_match_torch(shape):
    """Are the strides those of torch.empty(shape).stride(), size-0 dimensions included?"""
    assert_equal(mod.contiguous_strides(shape), tuple(torch.empty(shape).stride()),
                 what=f"contiguous_strides({shape})")


# --- storage_index ------------------------------------------------------------------------------

@given(data=st.data(), layout=layouts())
def test_storage_index_matches_as_strided(data, layout):
    """Is the storage position offset + sum(index * stride), as as_strided reads it?"""
    shape, strides, offset = layout
    index = tuple(data.draw(st.integers(0, s - 1), label=f"index[{i}]") for i, s in enumerate(shape))
    size = offset + sum((s - 1) * st_ for s, st_ in zip(shape, strides)) + 1
    storage = torch.arange(size)
    expected = int(storage.as_strided(shape, strides, offset)[index]) if shape else offset
    assert_equal(mod.storage_index(index, strides, offset),
                 expected, what=f"storage_index({index}, {strides}, {offset})")


def test_storage_index_offset_defaults_to_zero():
    """Does offset default to 0, and do mismatched lengths raise ValueError?"""
    assert_equal(mod.storage_index((1, 2), (4, 1)), 6, what="storage_index((1, 2), (4, 1))")
    _expect_value_error(mod.storage_index, (1, 2), (4,), what="storage_index((1, 2), (4,))")


# --- unravel_index ------------------------------------------------------------------------------

@given(data=st.data(), shape=ds.shapes(min_dims=0, max_dims=4, min_side=1))
def test_unravel_index_is_row_major(data, shape):
    """Is the index of the position-th element in row-major order (as numpy.unravel_index)?"""
    numel = math.prod(shape)
    position = data.draw(st.integers(0, numel - 1), label="position")
    expected = tuple(int(i) for i in np.unravel_index(position, shape)) if shape else ()
    assert_equal(mod.unravel_index(position, shape), expected,
                 what=f"unravel_index({position}, {shape})")


@given(shape=ds.shapes(min_dims=0, max_dims=3, min_side=0), delta=st.integers(0, 3),
       below=st.booleans())
def test_unravel_index_rejects_positions_outside(shape, delta, below):
    """Does unravel_index raise ValueError for positions < 0 or >= numel (and for empty shapes)?"""
    numel = math.prod(shape)
    position = -1 - delta if below else numel + delta
    _expect_value_error(mod.unravel_index, position, shape,
                        what=f"unravel_index({position}, {shape})")


# --- is_contiguous ------------------------------------------------------------------------------

@st.composite
def shape_and_strides(draw):
    shape = draw(ds.shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    kind = draw(st.sampled_from(["contiguous", "size1", "gappy", "random"]))
    if kind == "random":
        strides = tuple(draw(st.integers(0, 12)) for _ in shape)
    elif kind == "gappy" and shape:  # row-major order with a gap: a view sliced with a step
        strides = list(torch.empty(shape).stride())
        dim = draw(st.integers(0, len(shape) - 1))
        step = draw(st.integers(2, 3))
        strides = tuple(v * step if i <= dim else v for i, v in enumerate(strides))
    else:
        strides = list(torch.empty(shape).stride())
        if kind == "size1":  # size-1 dimensions may carry any stride
            strides = [draw(st.integers(0, 9)) if s == 1 else v for s, v in zip(shape, strides)]
        strides = tuple(strides)
    return shape, strides


@given(layout=shape_and_strides())
@example(layout=((3, 4), (8, 1)))  # torch.empty(6, 4)[::2]: ordered, but with a gap
@example(layout=((2, 3), (3, 2)))  # torch.empty(2, 6)[:, ::2]
@example(layout=((2, 1, 3), (3, 5, 1)))  # a size-1 dimension with any stride
@example(layout=((0, 3), (7, 9)))  # no elements
def test_is_contiguous_matches_torch(layout):
    """Does is_contiguous follow torch (size-1 strides ignored, empty tensors contiguous)?"""
    shape, strides = layout
    size = sum((s - 1) * st_ for s, st_ in zip(shape, strides)) + 1 if all(shape) else 0
    expected = torch.empty(max(size, 1)).as_strided(shape, strides).is_contiguous()
    got = mod.is_contiguous(shape, strides)
    if not isinstance(got, bool):
        fail(f"is_contiguous({shape}, {strides}) returned {got!r}; expected a bool.")
    assert_equal(got, expected, what=f"is_contiguous({shape}, {strides})")


# --- broadcast_shape ----------------------------------------------------------------------------

@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0,
                                                max_side=4))
def test_broadcast_shape_matches_torch(shapes):
    """Is the broadcast shape torch.broadcast_shapes(a, b), in both argument orders?"""
    a, b = shapes.input_shapes
    expected = tuple(torch.broadcast_shapes(a, b))
    assert_equal(mod.broadcast_shape(a, b), expected, what=f"broadcast_shape({a}, {b})")
    assert_equal(mod.broadcast_shape(b, a), expected, what=f"broadcast_shape({b}, {a})")


@given(a=ds.shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
       b=ds.shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
def test_broadcast_shape_rejects_incompatible(a, b):
    """Does broadcast_shape raise ValueError exactly when torch refuses the shapes?"""
    try:
        expected = tuple(torch.broadcast_shapes(a, b))
    except RuntimeError:
        _expect_value_error(mod.broadcast_shape, a, b, what=f"broadcast_shape({a}, {b})")
        return
    assert_equal(mod.broadcast_shape(a, b), expected, what=f"broadcast_shape({a}, {b})")


# --- broadcast_strides --------------------------------------------------------------------------

@st.composite
def broadcast_cases(draw):
    shape, strides, _ = draw(layouts(min_side=1))
    if draw(st.booleans()):  # a size-1 dimension with an odd stride
        shape = tuple(1 if draw(st.booleans()) else s for s in shape)
    lead = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    target = lead + tuple(draw(st.integers(0, 3)) if s == 1 else s for s in shape)
    return shape, strides, target


def _torch_strides(shape, strides, target):
    """Tensor.expand's strides, with every new leading dimension at stride 0 (the exercise's rule;
    torch gives a new leading dimension of size 1 another stride, which never matters)."""
    size = sum((s - 1) * st_ for s, st_ in zip(shape, strides)) + 1
    out = list(torch.empty(size).as_strided(shape, strides).expand(target).stride())
    lead = len(target) - len(shape)
    return tuple([0] * lead + out[lead:])


@given(case=broadcast_cases())
@example(case=((3, 1), (1, 1), (3, 0)))  # 1 broadcasts to 0 as well
@example(case=((1,), (4,), (0, 2, 1)))  # new leading dimensions (one of size 0), a kept size 1
@example(case=((3, 1), (1, 1), (2, 3, 4)))  # the docstring's example
def test_broadcast_strides_match_expand(case):
    """Are the strides those of Tensor.expand (0 for new and stretched size-1 dimensions)?"""
    shape, strides, target = case
    assert_equal(mod.broadcast_strides(shape, strides, target), _torch_strides(shape, strides, target),
                 what=f"broadcast_strides({shape}, {strides}, {target})")


@given(shape=ds.shapes(min_dims=1, max_dims=3, min_side=2, max_side=4), data=st.data())
def test_broadcast_strides_rejects_incompatible(shape, data):
    """Does broadcast_strides raise ValueError for a size that is neither 1 nor the target's?"""
    strides = tuple(torch.empty(shape).stride())
    i = data.draw(st.integers(0, len(shape) - 1), label="dimension")
    target = list(shape)
    target[i] = shape[i] + data.draw(st.integers(1, 3), label="extra")
    _expect_value_error(mod.broadcast_strides, shape, strides, tuple(target),
                        what=f"broadcast_strides({shape}, {strides}, {tuple(target)})")
    if len(shape) >= 2:
        _expect_value_error(mod.broadcast_strides, shape, strides, shape[1:],
                            what=f"broadcast_strides({shape}, {strides}, {shape[1:]})")


# --- views --------------------------------------------------------------------------------------

def _check_view(got, t, expected, what):
    if not isinstance(got, torch.Tensor):
        fail(f"{what} returned {type(got).__name__}; expected a tensor.")
    assert_equal(got, expected, what=what)
    if got.numel() and got.untyped_storage().data_ptr() != t.untyped_storage().data_ptr():
        fail(f"{what} returned a copy: it must be a view that shares the input's storage "
             f"(build it with as_strided on the input; no clone, contiguous or reshape copy).")
    if got.numel():  # strides of size-1 dimensions never matter
        moving = [i for i, size in enumerate(expected.shape) if size != 1]
        assert_equal(tuple(got.stride(i) for i in moving), tuple(expected.stride(i) for i in moving),
                     what=f"the strides (of dimensions longer than 1) of {what}")
        assert_equal(got.storage_offset(), expected.storage_offset(),
                     what=f"the storage offset of {what}")


TRANSPOSE_FORBIDDEN = ("torch.Tensor.transpose", "torch.transpose", "torch.Tensor.permute",
                       "torch.permute", "torch.Tensor.T", "torch.Tensor.mT", "torch.Tensor.mH",
                       "torch.Tensor.H", "torch.Tensor.t", "torch.t", "torch.Tensor.swapaxes",
                       "torch.swapaxes", "torch.Tensor.swapdims", "torch.swapdims",
                       "torch.Tensor.movedim", "torch.movedim", "torch.Tensor.moveaxis",
                       "torch.moveaxis", "torch.Tensor.transpose_", "torch.Tensor.t_")


@given(data=st.data(), t=ds.tensors(shape=ds.shapes(min_dims=1, max_dims=4)))
def test_transpose_view_matches_transpose(data, t):
    """Does transpose_view equal t.transpose(dim0, dim1) as a view sharing t's storage?"""
    n = t.dim()
    dim0 = data.draw(st.integers(-n, n - 1), label="dim0")
    dim1 = data.draw(st.integers(-n, n - 1), label="dim1")
    with forbidden_calls(*TRANSPOSE_FORBIDDEN, what="transpose_view",
                         why="swap the sizes and strides yourself and call as_strided."):
        got = mod.transpose_view(t, dim0, dim1)
    _check_view(got, t, t.transpose(dim0, dim1), f"transpose_view(t, {dim0}, {dim1})")


EXPAND_FORBIDDEN = ("torch.Tensor.expand", "torch.Tensor.expand_as", "torch.broadcast_to",
                    "torch.Tensor.broadcast_to", "torch.broadcast_tensors")


@given(case=broadcast_cases())
def test_expand_view_matches_expand(case):
    """Does expand_view equal t.expand(shape) as a view sharing t's storage?"""
    shape, strides, target = case
    size = sum((s - 1) * st_ for s, st_ in zip(shape, strides)) + 1
    offset = 2
    t = torch.arange(float(size + offset)).as_strided(shape, strides, offset)
    with forbidden_calls(*EXPAND_FORBIDDEN, what="expand_view",
                         why="compute the strides with broadcast_strides and call as_strided."):
        got = mod.expand_view(t, target)
    expected = t.as_strided(target, _torch_strides(shape, strides, target), offset)
    _check_view(got, t, expected, f"expand_view(t, {target}) for t of shape {shape}")


def test_expand_view_rejects_incompatible():
    """Does expand_view raise ValueError when t cannot broadcast to the shape?"""
    _expect_value_error(mod.expand_view, torch.zeros(2, 3), (2, 4),
                        what="expand_view(torch.zeros(2, 3), (2, 4))")


@st.composite
def window_cases(draw):
    t = draw(ds.tensors(shape=ds.shapes(min_dims=1, max_dims=3, max_side=7)))
    length = t.shape[-1]
    size = draw(st.integers(1, length))
    step = draw(st.integers(1, length + 1))
    return t, size, step


@given(case=window_cases())
def test_sliding_windows_match_unfold(case):
    """Does sliding_windows equal x.unfold(-1, size, step) as a view sharing x's storage?"""
    x, size, step = case
    with forbidden_calls("torch.Tensor.unfold", "torch.nn.functional.unfold", what="sliding_windows",
                         why="compute the window strides and call as_strided."):
        got = mod.sliding_windows(x, size, step)
    _check_view(got, x, x.unfold(-1, size, step), f"sliding_windows(x, {size}, {step})")


@pytest.mark.parametrize(("size", "step"), [(0, 1), (6, 1), (2, 0)])
def test_sliding_windows_rejects_bad_sizes(size, step):
    """Does sliding_windows raise ValueError for size < 1, size > L or step < 1?"""
    _expect_value_error(mod.sliding_windows, torch.arange(5.0), size, step,
                        what=f"sliding_windows(torch.arange(5.), {size}, {step})")
