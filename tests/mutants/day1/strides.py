"""Wrong solutions for day1/strides.py, each a mistake students really make."""

import math

import torch

from graders.testing import mutant


@mutant("day1.strides.contiguous_strides", expect=r"contiguous_strides")
def column_major(shape):
    out, step = [], 1
    for size in shape:
        out.append(step)
        step *= size
    return tuple(out)


@mutant("day1.strides.contiguous_strides", expect=r"0")
def zero_sizes_multiply(shape):
    out, step = [], 1
    for size in reversed(shape):
        out.append(step)
        step *= size
    return tuple(reversed(out))


@mutant("day1.strides.storage_index", expect=r"storage_index")
def ignores_offset(index, strides, offset=0):
    return sum(i * s for i, s in zip(index, strides))


@mutant("day1.strides.storage_index", expect=r"ValueError")
def zip_truncates(index, strides, offset=0):
    return offset + sum(i * s for i, s in zip(index, strides))


@mutant("day1.strides.unravel_index", expect=r"unravel_index\(")
def column_major_unravel(position, shape):
    numel = math.prod(shape)
    if not 0 <= position < numel:
        raise ValueError(position)
    out = []
    for size in shape:
        out.append(position % size)
        position //= size
    return tuple(out)


@mutant("day1.strides.unravel_index", expect=r"ValueError")
def off_by_one_bound(position, shape):
    numel = math.prod(shape)
    if not 0 <= position <= numel:
        raise ValueError(position)
    out = []
    for size in reversed(shape):
        out.append(position % size if size else 0)
        position //= size if size else 1
    return tuple(reversed(out))


@mutant("day1.strides.is_contiguous", expect=r"is_contiguous\(")
def size_one_strides_count(shape, strides):
    if any(s == 0 for s in shape):
        return True
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if stride != expected:
            return False
        expected *= size
    return True


@mutant("day1.strides.is_contiguous", expect=r"is_contiguous\(")
def empty_not_contiguous(shape, strides):
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


@mutant("day1.strides.is_contiguous", expect=r"is_contiguous\(\(3, 4\), \(8, 1\)\)|is_contiguous\(")
def ordered_is_enough(shape, strides):
    """Row-major order (strides decreasing) taken for contiguity: a sliced view has gaps."""
    if any(s == 0 for s in shape):
        return True
    moving = [st for size, st in zip(shape, strides) if size != 1]
    return all(a > b for a, b in zip(moving, moving[1:])) and (not moving or moving[-1] == 1)


@mutant("day1.strides.broadcast_shape", expect=r"broadcast_shape\(|raised ValueError")
def left_aligned(a, b):
    n = max(len(a), len(b))
    pa = tuple(a) + (1,) * (n - len(a))
    pb = tuple(b) + (1,) * (n - len(b))
    out = []
    for x, y in zip(pa, pb):
        if x != y and 1 not in (x, y):
            raise ValueError("incompatible")
        out.append(max(x, y))
    return tuple(out)


@mutant("day1.strides.broadcast_shape", expect=r"broadcast_shape\(")
def max_of_sizes(a, b):
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + tuple(a)
    pb = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(pa, pb):
        if x != y and 1 not in (x, y):
            raise ValueError("incompatible")
        out.append(max(x, y))  # 1 and 0 give 1: wrong
    return tuple(out)


@mutant("day1.strides.broadcast_strides", expect=r"broadcast_strides\(")
def keeps_size_one_stride(shape, strides, target):
    lead = len(target) - len(shape)
    if lead < 0:
        raise ValueError("fewer dims")
    out = [0] * lead
    for size, stride, want in zip(shape, strides, target[lead:]):
        if size not in (want, 1):
            raise ValueError("incompatible")
        out.append(stride)
    return tuple(out)


@mutant("day1.strides.broadcast_strides", expect=r"ValueError")
def never_raises(shape, strides, target):
    lead = len(target) - len(shape)
    out = [0] * max(lead, 0)
    for size, stride, want in zip(shape, strides, target[max(lead, 0):]):
        out.append(stride if size == want else 0)
    return tuple(out)


@mutant("day1.strides.transpose_view", expect=r"not allowed")
def uses_transpose(t, dim0, dim1):
    return t.transpose(dim0, dim1)


@mutant("day1.strides.transpose_view", expect=r"copy|share")
def contiguous_copy(t, dim0, dim1):
    n = t.dim()
    d0, d1 = dim0 % n, dim1 % n
    c = t.contiguous()
    size, stride = list(c.shape), list(c.stride())
    size[d0], size[d1] = size[d1], size[d0]
    stride[d0], stride[d1] = stride[d1], stride[d0]
    return c.as_strided(size, stride)


@mutant("day1.strides.transpose_view", expect=r"differ|not close|strides")
def swaps_sizes_only(t, dim0, dim1):
    n = t.dim()
    d0, d1 = dim0 % n, dim1 % n
    size = list(t.shape)
    size[d0], size[d1] = size[d1], size[d0]
    return t.as_strided(size, t.stride(), t.storage_offset())


@mutant("day1.strides.transpose_view", expect=r"offset|differ|not close")
def offset_zero(t, dim0, dim1):
    n = t.dim()
    d0, d1 = dim0 % n, dim1 % n
    size, stride = list(t.shape), list(t.stride())
    size[d0], size[d1] = size[d1], size[d0]
    stride[d0], stride[d1] = stride[d1], stride[d0]
    return t.as_strided(size, stride, 0)


@mutant("day1.strides.expand_view", expect=r"not allowed")
def uses_expand(t, shape):
    return t.expand(*shape)


@mutant("day1.strides.expand_view", expect=r"copy|share")
def repeats(t, shape):
    lead = len(shape) - t.dim()
    view = t.reshape((1,) * lead + tuple(t.shape))
    return view.repeat(*[want if have == 1 else 1 for have, want in zip(view.shape, shape)])


@mutant("day1.strides.sliding_windows", expect=r"not allowed")
def uses_unfold(x, size, step):
    return x.unfold(-1, size, step)


@mutant("day1.strides.sliding_windows", expect=r"shape|differ|not close|strides")
def window_stride_ignores_step(x, size, step):
    length = x.shape[-1]
    if size < 1 or step < 1 or size > length:
        raise ValueError("bad window")
    windows = (length - size) // step + 1
    return x.as_strided(tuple(x.shape[:-1]) + (windows, size),
                        tuple(x.stride()[:-1]) + (x.stride(-1), x.stride(-1)), x.storage_offset())


@mutant("day1.strides.sliding_windows", expect=r"shape|differ|not close|strides")
def assumes_contiguous(x, size, step):
    length = x.shape[-1]
    if size < 1 or step < 1 or size > length:
        raise ValueError("bad window")
    windows = (length - size) // step + 1
    strides = list(torch.empty(x.shape).stride())
    return x.as_strided(tuple(x.shape[:-1]) + (windows, size),
                        tuple(strides[:-1]) + (step, 1), x.storage_offset())


@mutant("day1.strides.broadcast_strides", expect=r"broadcast_strides\(")
def stretches_only_to_larger(shape, strides, target):
    """A size-1 dimension gets stride 0 only when it grows: broadcasting 1 to 0 keeps the stride."""
    lead = len(target) - len(shape)
    if lead < 0:
        raise ValueError("target has fewer dimensions")
    out = [0] * lead
    for size, stride, want in zip(shape, strides, target[lead:]):
        if size not in (want, 1):
            raise ValueError("incompatible")
        out.append(0 if size == 1 and want > 1 else stride)
    return tuple(out)
