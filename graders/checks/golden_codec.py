"""Exact, deterministic encodings of call arguments and results, for golden outputs.

Two encodings of the same Python data (None, bool, int, float, str, tuples, lists, dicts,
``torch.Size``, dtypes, devices and tensors):

- :func:`key`: a SHA-256 of the arguments of a call. Tensors enter by dtype, shape, strides,
  storage offset, device, ``requires_grad`` and the exact bytes of their values, so the same
  derandomised input always gives the same key, and any other input a different one.
- :func:`encode` / :func:`decode`: a JSON-ready form of a result that decodes to equal values
  (tensors come back contiguous, on the CPU, bit for bit).

Anything else (a module, a generator, a function) raises :class:`Unrecordable`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import torch

__all__ = ["Unrecordable", "decode", "encode", "key", "tensor_leaves"]


class Unrecordable(TypeError):
    """A value that has no exact, code-free encoding (an object of a class, a function...)."""


def _raw(t: torch.Tensor) -> bytes:
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    if flat.numel() == 0:
        return b""
    return flat.view(torch.uint8).numpy().tobytes()


def _check_plain(t: torch.Tensor) -> None:
    if t.layout != torch.strided or t.is_quantized or t.device.type == "meta":
        raise Unrecordable(f"a tensor with layout {t.layout} on {t.device}")


def _walk(obj: Any, tensor: Any) -> Any:
    """The tagged form of ``obj``; ``tensor(t)`` gives the form of each tensor."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, bool):
        return {"b": obj}
    if isinstance(obj, int):
        return {"i": str(obj)}
    if isinstance(obj, float):
        return {"f": obj.hex()}
    if isinstance(obj, torch.Tensor):
        _check_plain(obj)
        return {"t": tensor(obj)}
    if isinstance(obj, torch.Size):
        return {"S": [int(v) for v in obj]}
    if isinstance(obj, torch.dtype):
        return {"dt": str(obj)}
    if isinstance(obj, torch.device):
        return {"dev": str(obj)}
    if isinstance(obj, tuple):
        return {"T": [_walk(v, tensor) for v in obj]}
    if isinstance(obj, list):
        return {"L": [_walk(v, tensor) for v in obj]}
    if isinstance(obj, dict):
        return {"D": [[_walk(k, tensor), _walk(v, tensor)] for k, v in obj.items()]}
    raise Unrecordable(f"a value of type {type(obj).__name__}")


def key(args: tuple, kwargs: dict) -> str:
    """The SHA-256 of a call's arguments (see the module docstring)."""

    def tensor(t: torch.Tensor) -> list:
        return [str(t.dtype), list(t.shape), list(t.stride()), t.storage_offset(), str(t.device),
                t.requires_grad, hashlib.sha256(_raw(t)).hexdigest()]

    form = _walk((tuple(args), dict(sorted(kwargs.items()))), tensor)
    return hashlib.sha256(json.dumps(form, sort_keys=True).encode()).hexdigest()


def encode(obj: Any) -> Any:
    """The JSON-ready form of a result (raises :class:`Unrecordable`)."""

    def tensor(t: torch.Tensor) -> list:
        return [str(t.dtype), list(t.shape), t.requires_grad,
                base64.b64encode(_raw(t)).decode("ascii")]

    return _walk(obj, tensor)


_DTYPES = {str(d): d for d in vars(torch).values() if isinstance(d, torch.dtype)}


def _tensor(form: list) -> torch.Tensor:
    dtype, shape, requires_grad, data = _DTYPES[form[0]], form[1], form[2], form[3]
    raw = base64.b64decode(data)
    if not raw:
        out = torch.empty(shape, dtype=dtype)
    else:
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
        out = flat.view(torch.uint8 if dtype == torch.bool else dtype)
        out = (out.to(torch.bool) if dtype == torch.bool else out).reshape(shape).clone()
    return out.requires_grad_(True) if requires_grad else out


def decode(form: Any) -> Any:
    """The value that :func:`encode` encoded (tensors on the CPU, contiguous)."""
    if form is None or isinstance(form, str):
        return form
    (tag, value), = form.items()
    if tag == "b":
        return bool(value)
    if tag == "i":
        return int(value)
    if tag == "f":
        return float.fromhex(value)
    if tag == "t":
        return _tensor(value)
    if tag == "S":
        return torch.Size(value)
    if tag == "dt":
        return _DTYPES[value]
    if tag == "dev":
        return torch.device(value)
    if tag == "T":
        return tuple(decode(v) for v in value)
    if tag == "L":
        return [decode(v) for v in value]
    if tag == "D":
        return {decode(k): decode(v) for k, v in value}
    raise ValueError(f"unknown golden tag {tag!r}")


def tensor_leaves(obj: Any) -> list[torch.Tensor]:
    """The tensors inside ``obj`` (tuples, lists and dict values), in a fixed order."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for v in obj for t in tensor_leaves(v)]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in tensor_leaves(v)]
    return []
