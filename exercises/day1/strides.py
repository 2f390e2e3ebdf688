"""Strides: how a shape, strides and an offset map indices to storage, and views built on them.

Every index ``(i0, i1, ..., ik)`` of a tensor lives at storage position
``offset + i0*s0 + i1*s1 + ... + ik*sk``. Change the strides and you get a different view of
the same storage, without copying a byte: that is what transpose, expand and unfold do.
Everything is in elements (not bytes) and follows torch's semantics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Row-major (C order) strides of a contiguous tensor of ``shape``, as torch computes them.

    The last dimension has stride 1; each earlier stride is the product of the later sizes,
    where a size of 0 counts as 1 (torch's rule, so ``(2, 0, 3)`` gives ``(3, 3, 1)``).

    Args:
        shape: sizes, each >= 0; may be empty (a 0-d tensor has strides ``()``).

    Returns:
        A tuple of ints, equal to ``torch.empty(shape).stride()``.

    Example:
        >>> contiguous_strides((2, 3, 4))
        (12, 4, 1)
    """
    raise NotImplementedError("day1.strides.contiguous_strides")


def storage_index(index: Sequence[int], strides: Sequence[int], offset: int = 0) -> int:
    """The storage position of element ``index``: ``offset + sum(i * s)``.

    Args:
        index: one non-negative index per dimension.
        strides: one stride per dimension (same length as ``index``).
        offset: the storage offset.

    Returns:
        An int. ``ValueError`` when ``index`` and ``strides`` have different lengths.

    Example:
        >>> storage_index((1, 2), (1, 3), offset=5)
        12
    """
    raise NotImplementedError("day1.strides.storage_index")


def unravel_index(position: int, shape: Sequence[int]) -> tuple[int, ...]:
    """The index of the ``position``-th element of a tensor of ``shape`` in row-major order.

    Args:
        position: 0 <= position < numel (numel of ``()`` is 1).
        shape: sizes, each >= 0.

    Returns:
        A tuple with one index per dimension (``()`` for a 0-d shape).

    Raises:
        ValueError: unless 0 <= position < numel (so always for a shape with a 0).

    Example:
        >>> unravel_index(5, (2, 3))
        (1, 2)
    """
    raise NotImplementedError("day1.strides.unravel_index")


def is_contiguous(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """Whether ``(shape, strides)`` is row-major contiguous, by torch's rule.

    Strides of dimensions of size 1 are ignored (they never move). A tensor with no elements
    (some size 0) is contiguous whatever its strides.

    Example:
        >>> is_contiguous((2, 3), (3, 1)), is_contiguous((2, 3), (1, 2)), is_contiguous((2, 1), (1, 7))
        (True, False, True)
    """
    raise NotImplementedError("day1.strides.is_contiguous")


def broadcast_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """The shape that ``a`` and ``b`` broadcast to (NumPy/torch rules).

    Align the shapes on the right; missing leading dimensions count as 1; two sizes are
    compatible when equal or when one of them is 1 (the result takes the other; 1 and 0 give 0).

    Raises:
        ValueError: when the shapes are incompatible.

    Example:
        >>> broadcast_shape((3, 1, 5), (4, 1))
        (3, 4, 5)
    """
    raise NotImplementedError("day1.strides.broadcast_shape")


def broadcast_strides(shape: Sequence[int], strides: Sequence[int], target: Sequence[int]) -> tuple[int, ...]:
    """Strides of the view of ``(shape, strides)`` broadcast to ``target`` (as ``Tensor.expand``).

    New leading dimensions get stride 0; a size-1 dimension whose target size is not 1 gets
    stride 0; every other dimension keeps its stride.

    Args:
        shape, strides: the tensor's layout.
        target: the shape to broadcast to (explicit sizes, never -1), at least as many dims.

    Raises:
        ValueError: when ``shape`` cannot broadcast to ``target`` (also when target has fewer
            dimensions).

    Example:
        >>> broadcast_strides((3, 1), (1, 1), (2, 3, 4))
        (0, 1, 0)
    """
    raise NotImplementedError("day1.strides.broadcast_strides")


def transpose_view(t: Tensor, dim0: int, dim1: int) -> Tensor:
    """``t`` with dimensions ``dim0`` and ``dim1`` swapped, as a view built with ``as_strided``.

    Swap the sizes and the strides of the two dimensions and keep the storage offset. The
    result shares ``t``'s storage (writing to it changes ``t``). Negative dims count from the
    end; ``dim0 == dim1`` gives a view equal to ``t``.

    Not allowed (the point is to build it yourself): ``transpose``, ``permute``, ``.T``,
    ``.mT``, ``swapaxes``/``swapdims``, ``movedim``.

    Example:
        >>> transpose_view(torch.arange(6.).reshape(2, 3), 0, 1).stride()
        (1, 3)
    """
    raise NotImplementedError("day1.strides.transpose_view")


def expand_view(t: Tensor, shape: Sequence[int]) -> Tensor:
    """``t`` broadcast to ``shape`` as a view (the strides of ``broadcast_strides``), no copy.

    Built with ``as_strided``, keeping the storage offset; the result shares ``t``'s storage.

    Raises:
        ValueError: when ``t`` cannot broadcast to ``shape``.

    Not allowed: ``expand``, ``expand_as``, ``broadcast_to``, ``broadcast_tensors``.

    Example:
        >>> expand_view(torch.tensor([1., 2.]), (3, 2)).stride()
        (0, 1)
    """
    raise NotImplementedError("day1.strides.expand_view")


def sliding_windows(x: Tensor, size: int, step: int) -> Tensor:
    """All windows of ``size`` elements, ``step`` apart, over the last dimension, as a view.

    For ``x`` of shape ``(..., L)`` the result has shape ``(..., W, size)`` with
    ``W = (L - size) // step + 1`` windows; ``out[..., w, j] = x[..., w * step + j]``. It
    shares ``x``'s storage (build it with ``as_strided``). Same result as
    ``x.unfold(-1, size, step)``, which is not allowed here.

    Args:
        x: tensor with at least one dimension (may be non-contiguous).
        size: window length, 1 <= size <= L.
        step: distance between window starts, >= 1.

    Raises:
        ValueError: when size < 1, step < 1, size > L, or x is 0-d.

    Example:
        >>> sliding_windows(torch.arange(5.), 2, 2)
        tensor([[0., 1.],
                [2., 3.]])
    """
    raise NotImplementedError("day1.strides.sliding_windows")
