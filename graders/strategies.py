"""Hypothesis strategies for shapes and tensors, non-contiguous layouts included.

Small named pieces composed with ``@st.composite``. Every tensor strategy can hand out the same
logical values in several memory layouts, so a grader sees permuted strides, sliced storage
(strides > 1) and storage offsets, not just fresh contiguous tensors:

>>> from graders import strategies as ds
>>> @given(ds.tensors(shape=ds.shapes(max_dims=3)))
... def test_something(t): ...

Values are drawn as float64 on the CPU, then cast: the same example gives the same values on
every machine and device.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "LAYOUTS",
    "dtypes",
    "floats",
    "layout",
    "seeds",
    "shapes",
    "tensors",
    "unique_tensors",
]

LAYOUTS = ("contiguous", "permuted", "sliced", "offset")


def floats(min_value: float = -10.0, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """Finite, non-subnormal floats in [min_value, max_value]."""
    if not min_value <= max_value:
        raise ValueError(f"floats: min_value {min_value} is above max_value {max_value}")
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                     allow_subnormal=False)


def shapes(min_dims: int = 1, max_dims: int = 4, min_side: int = 1, max_side: int = 5
           ) -> st.SearchStrategy[tuple[int, ...]]:
    """Tuples of sizes, e.g. ``(3, 1, 4)``; ``min_side=0`` allows tensors with no elements."""
    if not 0 <= min_dims <= max_dims:
        raise ValueError(f"shapes: need 0 <= min_dims <= max_dims, got {min_dims}, {max_dims}")
    if not 0 <= min_side <= max_side:
        raise ValueError(f"shapes: need 0 <= min_side <= max_side, got {min_side}, {max_side}")
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def dtypes() -> st.SearchStrategy[torch.dtype]:
    """float32 or float64."""
    return st.sampled_from([torch.float32, torch.float64])


def seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**31 - 1)


def _permuted(base: torch.Tensor, perm: list[int]) -> torch.Tensor:
    inverse = [perm.index(i) for i in range(len(perm))]
    return base.permute(perm).contiguous().permute(inverse)


def _sliced(base: torch.Tensor) -> torch.Tensor:
    shape = tuple(base.shape)
    big = torch.zeros(*shape[:-1], 2 * shape[-1] + 1, dtype=base.dtype)
    big[..., 1::2] = base
    return big[..., 1::2]


def _offset(base: torch.Tensor, k: int) -> torch.Tensor:
    flat = torch.zeros(base.numel() + k, dtype=base.dtype)
    flat[k:] = base.reshape(-1)
    return flat[k:].view(base.shape)


@st.composite
def layout(draw: Any, base: torch.Tensor, layouts: tuple[str, ...] = LAYOUTS) -> torch.Tensor:
    """The values of ``base`` in a drawn memory layout (a new tensor; ``base`` is untouched)."""
    if base.dim() == 0 or base.numel() == 0:
        return base.clone()
    kind = draw(st.sampled_from(layouts))
    if kind == "permuted" and base.dim() >= 2:
        perm = draw(st.permutations(list(range(base.dim()))))
        return _permuted(base, perm)
    if kind == "sliced":
        return _sliced(base)
    if kind == "offset":
        return _offset(base, draw(st.integers(1, 5)))
    return base.clone()


@st.composite
def tensors(
    draw: Any,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    dtype: torch.dtype | st.SearchStrategy[torch.dtype] = torch.float64,
    *,
    min_value: float = -10.0,
    max_value: float = 10.0,
    elements: st.SearchStrategy[float] | None = None,
    unique: bool = False,
    layouts: tuple[str, ...] = LAYOUTS,
) -> torch.Tensor:
    """A tensor of the given (or drawn) shape and dtype, in a drawn memory layout.

    Args:
        shape: a shape or a strategy of shapes (default: ``shapes()``).
        dtype: a floating dtype, an integer dtype, torch.bool, or a strategy of dtypes.
        min_value, max_value: the range of values (ignored with ``elements``).
        elements: a strategy for single values, drawn as Python floats or ints.
        unique: all values distinct (ties would make argmax or sorting ambiguous).
        layouts: the memory layouts to draw from (see ``LAYOUTS``).
    """
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else shape
    shape = draw(shapes()) if shape is None else tuple(shape)
    dtype = draw(dtype) if isinstance(dtype, st.SearchStrategy) else dtype
    np_dtype: type[np.generic]
    default: st.SearchStrategy[bool | int | float]
    if dtype == torch.bool:
        np_dtype, default = np.bool_, st.booleans()
    elif dtype.is_floating_point:
        np_dtype, default = np.float64, floats(min_value, max_value)
    else:
        np_dtype = np.int64
        default = st.integers(int(math.ceil(min_value)), int(math.floor(max_value)))
    values = draw(hnp.arrays(np_dtype, shape, elements=default if elements is None else elements, unique=unique))
    base = torch.from_numpy(np.ascontiguousarray(values)).to(dtype)
    return draw(layout(base, layouts))


def unique_tensors(shape: Any = None, dtype: Any = torch.float64, **kw: Any):
    """Tensors whose values are all distinct (no ties)."""
    return tensors(shape, dtype, unique=True, **kw)
