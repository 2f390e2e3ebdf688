"""How plain data is shown in a student's message: tensors by their metadata, values by a
repr that runs none of the student's code, numbers with the digits that tell them apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graders.checks.bound import _exact, _one_of
from graders.checks.plain_data import Opaque, PlainTensor, _Lie, _record, _type_name


def describe_tensor(t: Any) -> str:
    """``shape (2, 3) float32 on cpu, strides (1, 2), offset 0`` or the repr of a non-tensor."""
    try:
        r = t if _one_of(type(t), PlainTensor, Opaque) else _record(t)
    except (_Lie, RecursionError):
        return f"a {_type_name(t)}"
    return _describe(r)


def _describe(r: Any) -> str:
    if type(r) is PlainTensor:
        return r.describe()
    text = _repr(r)
    return text if len(text) < 200 else text[:200] + "..."


def _repr(r: Any) -> str:
    """The repr of plain data (no code of the student's runs: opaque objects by type name)."""
    t = type(r)
    if t is Opaque:
        return f"a {r.type_name} object"
    if t is PlainTensor:
        return f"a tensor of {r.describe()}"
    if t is tuple:
        inner = ", ".join(_repr(x) for x in r)
        return f"({inner},)" if len(r) == 1 else f"({inner})"
    if t is list:
        return "[" + ", ".join(_repr(x) for x in r) + "]"
    if t is dict:
        return "{" + ", ".join(f"{_repr(k)}: {_repr(v)}" for k, v in r.items()) + "}"
    if _one_of(t, set, frozenset):
        return repr(r) if all(_exact(x) for x in r) else f"a {t.__name__}"
    return repr(r)


def _kind(r: Any) -> str:
    """The type of what came back, as the student wrote it."""
    if type(r) is PlainTensor:
        return r.type_name
    if type(r) is Opaque:
        return r.type_name
    return type(r).__name__


def _fmt_value(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def _fmt_pair(got: Any, expected: Any) -> tuple[str, str]:
    """``got`` and ``expected`` with enough significant digits to tell them apart."""
    if isinstance(got, float) and isinstance(expected, float) and got != expected:
        for digits in (6, 9, 12):
            a, b = f"{got:.{digits}g}", f"{expected:.{digits}g}"
            if a != b:
                return a, b
        return repr(got), repr(expected)
    return _fmt_value(got), _fmt_value(expected)


def _where(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for size in reversed(shape):
        out.append(flat_index % size if size else 0)
        flat_index = flat_index // size if size else 0
    return tuple(reversed(out))


def _item(a: np.ndarray, i: int) -> Any:
    return a.reshape(-1)[i].item()

