"""What the checks read values through, bound when the checks were imported (before any code
under test ran): the C descriptors of torch's tensor type (an immutable type), the
torch-function switch, numpy's functions and the built-in types' own methods; and type tests by
identity, so that no metaclass or ``__class__`` of the student's has a say.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_TensorBase = torch._C.TensorBase
_DATA = _TensorBase.data  # the detached alias of a tensor: a plain torch.Tensor, no kernel run
_NUMPY = _TensorBase.numpy  # a numpy view of a CPU tensor's memory, no kernel run
_REQUIRES_GRAD = _TensorBase.requires_grad
_TENSOR = torch.Tensor
_DisableTorchFunction = torch._C.DisableTorchFunction
_dispatch_keys = torch._C._dispatch_keys
_PYTHON_KEYS = tuple(
    getattr(torch._C.DispatchKey, name) for name in ("Python", "PythonTLSSnapshot", "Functionalize")
    if hasattr(torch._C.DispatchKey, name)
)
_from_numpy = torch.from_numpy

_np_isnan = np.isnan
_np_isinf = np.isinf
_np_abs = np.abs
_np_any = np.any
_np_where = np.where
_np_nonzero = np.flatnonzero
_np_argmax = np.argmax
_np_broadcast_to = np.broadcast_to
_np_nan_to_num = np.nan_to_num
_np_array_equal = np.array_equal
_np_errstate = np.errstate
_np_float64 = np.float64
_np_complex128 = np.complex128
_np_generic = np.generic
_np_ndarray = np.ndarray
_np_bool = np.bool_
_np_integer = np.integer
_np_floating = np.floating
_np_complexfloating = np.complexfloating
_np_item = np.generic.item
_np_broadcast_arrays = np.broadcast_arrays
_np_all = np.all
_np_isclose = np.isclose
_nd_copy = np.ndarray.copy
_nd_view = np.ndarray.view

_NUMPY_DTYPES = frozenset({
    torch.float16, torch.float32, torch.float64, torch.complex64, torch.complex128, torch.bool,
    torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
})
_EXACT = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis), range,
          torch.dtype, torch.device, torch.layout, torch.memory_format)
#: By identity: ``type(v) in _EXACT`` would let a metaclass's ``__eq__`` answer.
_EXACT_IDS = frozenset(id(t) for t in _EXACT)


def _exact(v: Any) -> bool:
    return id(type(v)) in _EXACT_IDS


def _one_of(t: type, *types: type) -> bool:
    """``t in types`` by identity (a metaclass's ``__eq__`` has no say)."""
    return any(t is x for x in types)


def _sub(v: Any, cls: type) -> bool:
    """``isinstance`` by the real type (an object cannot claim a class with ``__class__``)."""
    return issubclass(type(v), cls)
