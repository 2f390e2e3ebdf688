"""What the code under test returned, as plain data: exact built-in values and copies of the
numbers of its tensors, read straight from their memory (:class:`PlainTensor`), or an
:class:`Opaque` object compared by identity only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.utils._python_dispatch import _disable_current_modes

from graders.checks.bound import (
    _DATA,
    _NUMPY,
    _NUMPY_DTYPES,
    _PYTHON_KEYS,
    _REQUIRES_GRAD,
    _TENSOR,
    _DisableTorchFunction,
    _dispatch_keys,
    _exact,
    _from_numpy,
    _nd_copy,
    _nd_view,
    _np_bool,
    _np_complexfloating,
    _np_floating,
    _np_generic,
    _np_integer,
    _np_item,
    _np_ndarray,
    _sub,
)
from graders.checks.failures import fail

_MAX_DEPTH = 64


class _Lie(Exception):
    """A returned value that cannot be turned into plain data (said in words for students)."""


class PlainTensor:
    """What a tensor holds, copied out of it: its metadata and its numbers as a numpy array.

    ``values`` is C-ordered; ``None`` for a tensor without data (the ``meta`` device).
    """

    __slots__ = ("shape", "dtype", "device", "stride", "offset", "requires_grad", "values",
                 "type_name", "array")

    def __init__(self, shape, dtype, device, stride, offset, requires_grad, values, type_name,
                 array=False):
        self.shape, self.dtype, self.device = shape, dtype, device
        self.stride, self.offset, self.requires_grad = stride, offset, requires_grad
        self.values, self.type_name = values, type_name
        self.array = array  # a numpy array, not a tensor

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def is_floating(self) -> bool:
        return self.dtype.is_floating_point

    @property
    def is_complex(self) -> bool:
        return self.dtype.is_complex

    def describe(self) -> str:
        return (f"shape {self.shape} {str(self.dtype).replace('torch.', '')} on {self.device}, "
                f"strides {self.stride}, offset {self.offset}")

    def tensor(self) -> torch.Tensor:
        """A plain ``torch.Tensor`` with these values, on this device (a fresh copy)."""
        if self.values is None:
            return torch.empty(self.shape, dtype=self.dtype, device=self.device)
        if self.dtype in _NUMPY_DTYPES:
            out = _from_numpy(_nd_copy(self.values))
        else:
            with _untouched():
                out = _from_numpy(_nd_copy(self.values)).to(self.dtype)
        if self.device.type != "cpu":
            with _untouched():
                out = out.to(self.device)
        return out


class Opaque:
    """A returned object that is not plain data: it is compared by identity only."""

    __slots__ = ("obj", "type_name")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.type_name = _type_name(obj)


def _type_name(obj: Any) -> str:
    name = type.__dict__["__name__"].__get__(type(obj))
    return name if isinstance(name, str) and type(name) is str else "object"


@contextmanager
def _untouched() -> Iterator[None]:
    """No torch-function handling (subclasses, modes) and no dispatch mode active."""
    with _DisableTorchFunction(), _disable_current_modes():
        yield


def _tensor_record(t: torch.Tensor) -> PlainTensor:
    with _DisableTorchFunction():
        keys = _dispatch_keys(t)
        if any(keys.has(k) for k in _PYTHON_KEYS):
            raise _Lie(
                f"a {_type_name(t)}, a tensor that runs its own code for torch's operations "
                f"(__torch_dispatch__); return a plain torch.Tensor"
            )
        data = _DATA.__get__(t)  # type: ignore[attr-defined]
        if type(data) is not _TENSOR:
            raise _Lie(f"a {_type_name(t)} whose data is not a plain tensor")
        requires_grad = bool(_REQUIRES_GRAD.__get__(t))  # type: ignore[attr-defined]
        shape = tuple(int(s) for s in data.shape)
        dtype, device = data.dtype, data.device
        stride: tuple[int, ...]
        if data.layout != torch.strided:
            stride, offset = (), 0
        else:
            stride, offset = tuple(int(s) for s in data.stride()), int(data.storage_offset())
    values = None if device.type == "meta" else _values(data, dtype, device)
    return PlainTensor(shape, dtype, device, stride, offset, requires_grad, values, _type_name(t))


def _values(data: torch.Tensor, dtype: torch.dtype, device: torch.device) -> np.ndarray:
    """The numbers of ``data`` as a C-ordered numpy copy; read from memory for CPU tensors of
    the dtypes numpy knows, else copied to the CPU (bfloat16 and float8 as float32)."""
    with _DisableTorchFunction():
        simple = (device.type == "cpu" and dtype in _NUMPY_DTYPES and data.layout == torch.strided
                  and not data.is_conj() and not data.is_neg())
        if simple:
            return _nd_copy(_NUMPY(data), order="C")
    with _untouched():
        cpu = data.to("cpu")
        if cpu.layout != torch.strided:
            cpu = cpu.to_dense()
        cpu = cpu.resolve_conj().resolve_neg()
        if cpu.dtype not in _NUMPY_DTYPES:
            if cpu.dtype.is_floating_point:
                cpu = cpu.to(torch.float32)
            elif cpu.dtype.is_complex:
                cpu = cpu.to(torch.complex64)
            else:
                cpu = cpu.to(torch.int64)
        return _nd_copy(_NUMPY(cpu), order="C")


def _scalar(v: Any) -> Any:
    """An exact built-in value for a numpy scalar or a subclass of a built-in scalar type."""
    if _sub(v, _np_generic):
        if any(_sub(v, c) for c in (_np_bool, _np_integer, _np_floating, _np_complexfloating)):
            return _np_item(v)
        if _sub(v, str):
            return str.__str__(v)
        if _sub(v, bytes):
            return bytes.__bytes__(v)
        raise _Lie(f"a numpy {_type_name(v)}")
    if _sub(v, int):  # bool cannot be subclassed
        return int.__int__(v)
    if _sub(v, float):
        return float.__float__(v)
    if _sub(v, complex):
        return complex.__complex__(v)
    if _sub(v, str):
        return str.__str__(v)
    if _sub(v, bytes):
        return bytes.__bytes__(v)
    return _NOT_SCALAR


_NOT_SCALAR = object()


def _record(v: Any, depth: int = 0, active: frozenset = frozenset()) -> Any:
    """``v`` as plain data for the comparisons: exact built-ins, :class:`PlainTensor` for
    tensors (and numpy arrays), :class:`Opaque` for anything else."""
    if _exact(v):
        return v
    if depth > _MAX_DEPTH or id(v) in active:
        raise _Lie("a structure that contains itself or is nested too deep")
    if _sub(v, _TENSOR):
        return _tensor_record(v)
    if _sub(v, _np_ndarray):
        arr = _nd_view(v, _np_ndarray)
        if arr.dtype.hasobject:
            raise _Lie(f"a numpy array of Python objects ({_type_name(v)})")
        try:
            with _DisableTorchFunction():
                tensor = _from_numpy(_nd_copy(arr, order="C"))
        except (TypeError, ValueError):
            return Opaque(v)
        record = _tensor_record(tensor)
        record.type_name, record.array = _type_name(v), True
        return record
    scalar = _scalar(v)
    if scalar is not _NOT_SCALAR:
        return scalar
    inner = active | {id(v)}
    if _sub(v, tuple):  # torch.Size, namedtuples: their items, as a tuple
        return tuple(_record(x, depth + 1, inner) for x in tuple.__iter__(v))
    if _sub(v, list):
        return [_record(x, depth + 1, inner) for x in list.__iter__(v)]
    if _sub(v, dict):  # OrderedDict, defaultdict: their items, in order, as a dict
        out = {}
        for key, value in dict.items(v):
            k = _record(key, depth + 1, inner)
            if not _hashable(k):
                raise _Lie(f"a dict with a key of type {_type_name(key)}")
            out[k] = _record(value, depth + 1, inner)
        return out
    if _sub(v, set) or _sub(v, frozenset):
        is_set = _sub(v, set)
        items = [_record(x, depth + 1, inner)
                 for x in (set.__iter__(v) if is_set else frozenset.__iter__(v))]
        if not all(_hashable(x) for x in items):
            raise _Lie(f"a {_type_name(v)} of values that are not plain data")
        return set(items) if is_set else frozenset(items)
    return Opaque(v)


def _hashable(x: Any) -> bool:
    if _exact(x):
        return True
    if type(x) is tuple:
        return all(_hashable(i) for i in x)
    return type(x) is frozenset


def _plain(v: Any, what: str) -> Any:
    __tracebackhide__ = True
    try:
        return _record(v)
    except _Lie as exc:
        fail(f"{what} returned {exc}.")
    except RecursionError:
        fail(f"{what} returned a structure nested too deep to compare.")


def plain(value: Any, *, what: str = "your function") -> Any:
    """``value`` (what the code under test returned) as plain data.

    Tensors (subclasses and ``nn.Parameter`` included) become fresh plain ``torch.Tensor``
    copies (detached, C-contiguous, same dtype and device), numpy scalars and subclasses of
    ``int``/``float``/``str``/``bytes``/``complex`` their exact built-in values, tuples
    (``torch.Size``, namedtuples), lists, dicts (``OrderedDict``...) and sets exact containers of
    plain values. Anything else comes back unchanged: compare it only through the checks.
    Fails the check for a tensor that runs its own code for torch operations
    (``__torch_dispatch__``) and for a structure that contains itself.

    Read layout (strides, storage, views) from the original: the copy is contiguous.
    """
    __tracebackhide__ = True
    return _to_objects(_plain(value, what))


def _to_objects(r: Any) -> Any:
    if type(r) is PlainTensor:
        return r.tensor()
    if type(r) is Opaque:
        return r.obj
    if type(r) is tuple:
        return tuple(_to_objects(x) for x in r)
    if type(r) is list:
        return [_to_objects(x) for x in r]
    if type(r) is dict:
        return {k: _to_objects(v) for k, v in r.items()}
    return r

