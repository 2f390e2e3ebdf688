"""Check helpers shared by every grader, with messages written for students.

- :func:`assert_close` / :func:`assert_equal`: compare what came back with what was expected
  (type, shape, dtype, device, then values: the largest difference and where it is).
- :func:`equal_values` / :func:`close_values`: the same comparisons as a yes/no answer, for
  graders that decide something themselves (in place of ``torch.equal`` / ``torch.allclose``).
- :func:`plain`: what the code under test returned, as plain data.
- :func:`forbidden_calls`: fail when the code under test calls a library function that does
  the whole job (seen at run time, and in the function's syntax tree; never in comments).
- :func:`speed_check` (in :mod:`graders.speed`) and :func:`gpu_parity` (in :mod:`graders.gpu`).
- :func:`not_assessed`: a check that cannot run here (no GPU) and so costs no points.

Every comparison works on plain data. What the code under test returns is first turned into
exact built-in values (``int``, ``float``, ``str``, ``tuple``, ``list``, ``dict``...) and into
copies of the numbers of its tensors, read straight from their memory: with torch-function
handling off, no torch-function or dispatch mode active and no kernel of torch run, so a tensor
subclass, an object whose ``__eq__`` always agrees, a mode left entered or a kernel replaced
through ``torch.library`` has no say in the verdict. The values are then compared with numpy
and plain Python, on functions taken when this module was imported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from graders.checks.failures import DrillsFailure, fail, not_assessed
from graders.core.paths import is_student_path
from graders.forbid import forbidden_calls  # noqa: F401  (re-exported)

__all__ = [
    "DrillsFailure",
    "assert_close",
    "assert_equal",
    "close_values",
    "describe_tensor",
    "equal_values",
    "fail",
    "forbidden_calls",
    "not_assessed",
    "plain",
]


# --- plain data -----------------------------------------------------------------------------
#
# Everything below reads values through what was bound when this module was imported (before
# any code under test ran): the C descriptors of torch's tensor type (an immutable type), the
# torch-function switch, numpy's functions and the built-in types' own methods.

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
_default_tolerances = None  # bound on first use (torch.testing is imported lazily)

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


from torch.utils._python_dispatch import _disable_current_modes  # noqa: E402


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
        data = _DATA.__get__(t)
        if type(data) is not _TENSOR:
            raise _Lie(f"a {_type_name(t)} whose data is not a plain tensor")
        requires_grad = bool(_REQUIRES_GRAD.__get__(t))
        shape = tuple(int(s) for s in data.shape)
        dtype, device = data.dtype, data.device
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


# --- messages -------------------------------------------------------------------------------

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


def _subject(what: str) -> tuple[str, str]:
    """How to name the value in a message, and a sentence of context to print before it.

    ``what`` is a noun phrase ("conv2d(x, w)"); a full sentence is kept whole as context, and
    the message names "the value" instead, so no sentence is continued by a fragment.
    """
    text = what.strip()
    if not text:
        return "the value your code returned", ""
    if text[-1] in ".!?:":
        return "the value", text
    return text, ""


def _compose_failure(exc: DrillsFailure, *, lead: str, advice: str, hint: str) -> None:
    """Give a comparison's failure its context, advice and hint (the same exception, raised on
    from where it was raised: hypothesis tells failures apart by where they come from)."""
    message = str(exc)
    if lead:
        message = message[:1].upper() + message[1:]
    exc.args = (" ".join(part.strip() for part in (lead, message, advice) if part.strip()),)
    exc.hint, exc.diagnosed = hint, bool(advice)


def _where(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for size in reversed(shape):
        out.append(flat_index % size if size else 0)
        flat_index = flat_index // size if size else 0
    return tuple(reversed(out))


def _item(a: np.ndarray, i: int) -> Any:
    return a.reshape(-1)[i].item()


def _check_tensor_meta(got: Any, expected: PlainTensor, what: str, *, check_dtype: bool,
                       check_device: bool) -> None:
    __tracebackhide__ = True
    if type(got) is not PlainTensor or got.array != expected.array:
        fail(f"{what} returned {_kind(got)} ({_describe(got)}), expected a "
             f"{'numpy array' if expected.array else 'torch.Tensor'} of {expected.describe()}.")
    if got.shape != expected.shape:
        fail(f"{what} returned shape {got.shape}, expected shape {expected.shape}.")
    if check_dtype and got.dtype != expected.dtype:
        fail(f"{what} returned dtype {got.dtype}, expected {expected.dtype} "
             f"(keep the input's dtype; do not convert).")
    if check_device and got.device != expected.device:
        fail(f"{what} returned a tensor on {got.device}, expected it on {expected.device} "
             f"(create new tensors on the input's device).")


# --- comparisons ----------------------------------------------------------------------------

def assert_close(
    got: Any,
    expected: Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    what: str = "your function",
    check_dtype: bool = True,
    check_device: bool = True,
    equal_nan: bool = False,
    advice: str = "",
    hint: str = "",
) -> None:
    """Fail with a student-worded message unless ``got`` is close to ``expected``.

    Tensors: same type, shape, dtype and device, then ``|got - expected| <= atol + rtol *
    |expected|`` elementwise. Without tolerances the defaults of ``torch.testing.assert_close``
    for the dtype apply. Tuples and lists are compared item by item, dicts key by key; Python
    numbers as numbers. Both sides are turned into plain data first (:func:`plain`).

    Args:
        what: how to name the value in the message, e.g. ``"pairwise_sq_dists(x, y)"`` (a
            noun phrase; a full sentence is printed whole before the message).
        advice: the likely mistake, a sentence printed after the numbers.
        hint: a hint for this failure, printed in place of the exercise's first hint.
    """
    __tracebackhide__ = True
    name, lead = _subject(what)
    try:
        g = _plain(got, name)
        e = _plain(expected, "the expected value")
        a = _plain(atol, "atol") if isinstance(atol, torch.Tensor) else atol
        _assert_close(g, e, rtol=rtol, atol=a, what=name, check_dtype=check_dtype,
                      check_device=check_device, equal_nan=equal_nan)
    except DrillsFailure as exc:
        _compose_failure(exc, lead=lead, advice=advice, hint=hint)
        raise


def _assert_close(got: Any, expected: Any, *, rtol, atol, what: str, check_dtype: bool,
                  check_device: bool, equal_nan: bool) -> None:
    __tracebackhide__ = True
    te = type(expected)
    if te is tuple or te is list:
        if not _one_of(type(got), tuple, list) or len(got) != len(expected):
            fail(f"{what} returned {_describe(got)}, expected a sequence of "
                 f"{len(expected)} items.")
        for i, (g, e) in enumerate(zip(got, expected)):
            _assert_close(g, e, rtol=rtol, atol=atol, what=f"{what}[{i}]",
                          check_dtype=check_dtype, check_device=check_device, equal_nan=equal_nan)
        return
    if te is dict:
        if type(got) is not dict:
            fail(f"{what} returned {_describe(got)}, expected a dict with keys "
                 f"{_repr(list(expected))}.")
        if set(got) != set(expected):
            missing = [k for k in expected if k not in got]
            extra = [k for k in got if k not in expected]
            fail(f"{what} has the wrong keys: missing {_repr(missing)}, unexpected {_repr(extra)}.")
        for k, e in expected.items():
            _assert_close(got[k], e, rtol=rtol, atol=atol, what=f"{what}[{_repr(k)}]",
                          check_dtype=check_dtype, check_device=check_device, equal_nan=equal_nan)
        return
    if te is int or te is float:
        if type(got) is PlainTensor and got.numel == 1 and got.values is not None:
            got = _item(got.values, 0)
        if not _one_of(type(got), int, float):
            fail(f"{what} returned {_describe(got)}, expected a number close to {expected!r}.")
        tol = (atol if atol is not None else 1e-8) + (rtol if rtol is not None else 1e-6) * abs(expected)
        if not (abs(got - expected) <= tol or (equal_nan and math.isnan(got) and math.isnan(expected))):
            fail(f"{what} returned {got!r}, expected {expected!r} (allowed difference {tol:.3g}).")
        return
    if te is not PlainTensor:
        if _exact(expected):
            if type(got) is not te or got != expected:
                fail(f"{what} returned {_describe(got)}, expected {_describe(expected)}.")
            return
        fail(f"{what} returned {_describe(got)}, expected {_describe(expected)}.")
    _check_tensor_meta(got, expected, what, check_dtype=check_dtype, check_device=check_device)
    if got.numel == 0 or got.values is None or expected.values is None:
        return
    if rtol is None or atol is None:
        d_rtol, d_atol = _tolerances(expected.dtype)
        rtol = d_rtol if rtol is None else rtol
        atol = d_atol if atol is None else atol
    _compare_values(got, expected, rtol=rtol, atol=atol, what=what, equal_nan=equal_nan)


def _tolerances(dtype: torch.dtype) -> tuple[float, float]:
    global _default_tolerances
    if _default_tolerances is None:
        from torch.testing._comparison import default_tolerances

        _default_tolerances = default_tolerances
    return _default_tolerances(dtype)


def _as_numbers(got: PlainTensor, expected: PlainTensor) -> tuple[np.ndarray, np.ndarray, bool]:
    """Both value arrays in one numpy type: float64 (complex128) when either is floating."""
    complex_ = got.is_complex or expected.is_complex
    floating = complex_ or got.is_floating or expected.is_floating
    if complex_:
        return got.values.astype(_np_complex128), expected.values.astype(_np_complex128), True
    if floating:
        return got.values.astype(_np_float64), expected.values.astype(_np_float64), True
    return got.values, expected.values, False


def _compare_values(got: PlainTensor, expected: PlainTensor, *, rtol: float, atol: Any,
                    what: str, equal_nan: bool) -> None:
    __tracebackhide__ = True
    g, e, floating = _as_numbers(got, expected)
    g, e = g.reshape(-1), e.reshape(-1)
    shape = got.shape
    if not floating:
        bad = g != e
        if not bool(_np_any(bad)):
            return
        idx = int(_np_nonzero(bad)[0])
        fail(f"{what} differs from the expected values at {int(bad.sum())} of {g.size} "
             f"positions; first at index {_where(idx, shape)}: got {g[idx].item()!r}, expected "
             f"{e[idx].item()!r}.")
    nan_g, nan_e = _np_isnan(g), _np_isnan(e)
    if bool(_np_any(nan_g != nan_e)) or (bool(_np_any(nan_g)) and not equal_nan):
        idx = int(_np_nonzero((nan_g != nan_e) | (nan_g & (not equal_nan)))[0])
        fail(f"{what} has NaN where it should not, first at index {_where(idx, shape)}: got "
             f"{_fmt_value(g[idx].item())}, expected {_fmt_value(e[idx].item())} "
             f"({int(nan_g.sum())} NaN values in all). Look for 0/0, inf - inf or log of 0.")
    ok_nan = nan_g & nan_e
    with _np_errstate(invalid="ignore", over="ignore"):
        same_inf = _np_isinf(g) & (g == e)
        diff = _np_abs(g - e)
        diff = _np_where(ok_nan | same_inf, 0.0, diff)
        if type(atol) is PlainTensor:
            atol_v = _np_broadcast_to(atol.values.astype(_np_float64), expected.shape).reshape(-1)
            atol_text = "a per-element atol"
        else:
            atol_v, atol_text = float(atol), f"atol={float(atol):.2g}"
        allowed = atol_v + rtol * _np_nan_to_num(_np_abs(e), nan=0.0, posinf=0.0, neginf=0.0)
        over = (diff > allowed) | (_np_isnan(diff) & ~(ok_nan | same_inf))
        if not bool(_np_any(over)):
            return
        excess = _np_where(over, _np_nan_to_num(diff - allowed, nan=math.inf), 0.0)
    idx = int(_np_argmax(excess))
    allowed_here = float(_np_broadcast_to(allowed, diff.shape)[idx])
    shown_got, shown_expected = _fmt_pair(g[idx].item(), e[idx].item())
    fail(f"{what} is not close enough to the expected values: {int(over.sum())} of {g.size} "
         f"elements differ. The largest difference is {diff[idx].item():.3g} at index "
         f"{_where(idx, shape)}: got {shown_got}, expected {shown_expected} (allowed: "
         f"{atol_text} + rtol={rtol:.2g} * |expected|, here {allowed_here:.3g}).")


def _tensors_equal(g: PlainTensor, e: PlainTensor, *, nan_equal: bool) -> bool:
    if g.shape != e.shape:
        return False
    if g.values is None or e.values is None:
        return g.values is None and e.values is None
    a, b, floating = _as_numbers(g, e)
    return bool(_np_array_equal(a, b, equal_nan=nan_equal and floating))


def _equal(got: Any, expected: Any) -> bool:
    """Deep equality of plain data (what ``==`` means for built-ins; tensors by value)."""
    te, tg = type(expected), type(got)
    if (te is PlainTensor) != (tg is PlainTensor):  # a one-element tensor equals its number
        t, n = (got, expected) if tg is PlainTensor else (expected, got)
        return (_one_of(type(n), bool, int, float) and t.numel == 1 and t.values is not None
                and bool(_item(t.values, 0) == n))
    if te is PlainTensor or tg is PlainTensor:
        return (te is tg and got.dtype == expected.dtype and got.device == expected.device
                and _tensors_equal(got, expected, nan_equal=True))
    if te is Opaque or tg is Opaque:
        return te is tg and got.obj is expected.obj
    if _one_of(te, tuple, list) or _one_of(tg, tuple, list):
        return te is tg and len(got) == len(expected) and all(
            _equal(g, e) for g, e in zip(got, expected))
    if te is dict or tg is dict:
        return te is tg and set(got) == set(expected) and all(
            _equal(got[k], expected[k]) for k in expected)
    if _one_of(te, set, frozenset) or _one_of(tg, set, frozenset):
        return _one_of(tg, set, frozenset) and _one_of(te, set, frozenset) and got == expected
    return bool(got == expected)  # two exact built-in values (or torch.dtype, torch.device...)


def assert_equal(got: Any, expected: Any, *, what: str = "your function", advice: str = "",
                 hint: str = "") -> None:
    """Fail unless ``got == expected`` exactly (tensors: same shape, dtype, device and values;
    NaN equals NaN). Both sides are turned into plain data first (:func:`plain`). ``what``,
    ``advice`` and ``hint`` as for :func:`assert_close`."""
    __tracebackhide__ = True
    name, lead = _subject(what)
    try:
        _assert_equal(got, expected, what=name)
    except DrillsFailure as exc:
        _compose_failure(exc, lead=lead, advice=advice, hint=hint)
        raise


def _assert_equal(got: Any, expected: Any, *, what: str) -> None:
    __tracebackhide__ = True
    g = _plain(got, what)
    e = _plain(expected, "the expected value")
    if type(e) is PlainTensor:
        _check_tensor_meta(g, e, what, check_dtype=True, check_device=True)
        if not _tensors_equal(g, e, nan_equal=True):
            _compare_values(g, e, rtol=0.0, atol=0.0, what=what, equal_nan=True)
        return
    if _one_of(type(e), tuple, list) and _one_of(type(g), tuple, list) and type(g) is not type(e):
        fail(f"{what} returned a {type(g).__name__} {_repr(g)}, expected a "
             f"{type(e).__name__} {_repr(e)}.")
    if not _equal(g, e):
        fail(f"{what} returned {_describe(g)}, expected {_describe(e)}.")


def equal_values(a: Any, b: Any) -> bool:
    """``torch.equal`` on plain data: True when ``a`` and ``b`` have the same structure, shapes
    and values (NaN differs from NaN, as for ``torch.equal``; dtypes may differ)."""
    __tracebackhide__ = True
    ra, rb = _plain(a, "the value compared"), _plain(b, "the value compared")
    if type(ra) is PlainTensor and type(rb) is PlainTensor:
        return _tensors_equal(ra, rb, nan_equal=False)
    return _equal(ra, rb)


def close_values(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:
    """``torch.allclose`` on plain data: ``|a - b| <= atol + rtol * |b|`` elementwise, shapes
    broadcast; infinities equal when of the same sign."""
    __tracebackhide__ = True
    ra, rb = _plain(a, "the value compared"), _plain(b, "the value compared")
    if type(ra) is not PlainTensor or type(rb) is not PlainTensor:
        if _one_of(type(ra), int, float) and _one_of(type(rb), int, float):
            return bool(abs(ra - rb) <= atol + rtol * abs(rb)
                        or (equal_nan and math.isnan(ra) and math.isnan(rb))
                        or (ra == rb))
        return _equal(ra, rb)
    if ra.values is None or rb.values is None:
        return False
    x, y, _ = _as_numbers(ra, rb)
    try:
        x, y = _np_broadcast_arrays(x, y)
    except ValueError:
        return False
    with _np_errstate(invalid="ignore", over="ignore"):
        return bool(_np_all(_np_isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan)))


# --- hypothesis' control flow ---------------------------------------------------------------

def _hypothesis_control(exc: BaseException) -> str | None:
    """The name of the hypothesis class ``exc`` is an instance of (``UnsatisfiedAssumption``,
    ``StopTest``...), or None."""
    for cls in type.__dict__["__mro__"].__get__(type(exc)):
        module = type.__dict__["__module__"].__get__(cls) if cls is not object else ""
        if isinstance(module, str) and module.split(".")[0] in ("hypothesis", "_hypothesis"):
            return type.__dict__["__name__"].__get__(cls)
    return None


def _through_student(exc: BaseException) -> bool:
    """True when a frame of the code under test is in ``exc``'s traceback."""
    tb = exc.__traceback__
    while tb is not None:
        if is_student_path(tb.tb_frame.f_code.co_filename):
            return True
        tb = tb.tb_next
    return False


def _hypothesis_state() -> tuple:
    from hypothesis import _settings as hs

    return (hs.settings._current_profile, id(hs.default_variable.value),
            tuple((k, id(v)) for k, v in hs.settings._profiles.items()))


def _restore_hypothesis_state(name: Any, default: Any, profiles: dict) -> None:
    from hypothesis import _settings as hs

    hs.settings._current_profile = name
    hs.default_variable.value = default
    hs.settings._profiles.clear()
    hs.settings._profiles.update(profiles)


#: Problems :func:`guard_hypothesis` found in the running grader test. Hypothesis cannot report
#: a failure once the code under test has concluded the test case itself (its internals), so
#: the plugin also fails the test after it ran (:func:`take_hypothesis_problems`).
_HYPOTHESIS_PROBLEMS: list[str] = []


def take_hypothesis_problems() -> list[str]:
    """The problems found since the last call (and forget them)."""
    out = list(_HYPOTHESIS_PROBLEMS)
    _HYPOTHESIS_PROBLEMS.clear()
    return out


def guard_hypothesis(test: Any) -> Any:
    """Wrap the body of a ``@given`` grader test (its ``hypothesis.inner_test``) so that the
    code under test cannot steer hypothesis: an exception of hypothesis' own (``assume(False)``,
    ``reject()``, ``UnsatisfiedAssumption``, ``StopTest``...) that passed through the code under
    test, or a change to hypothesis' settings profiles, fails the check (a rejected input
    counts as a failure, never as an input skipped)."""
    import functools

    if getattr(test, "_drills_guarded", False):
        return test

    @functools.wraps(test)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        from hypothesis import _settings as hs

        state, profiles = _hypothesis_state(), dict(hs.settings._profiles)
        name, default = hs.settings._current_profile, hs.default_variable.value
        problem = None
        try:
            return test(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - inspected, then re-raised
            control = _hypothesis_control(exc)
            if control is None or not _through_student(exc):
                raise
            problem = (f"the code under test raised hypothesis' `{control}` (from `assume`, "
                       f"`reject` or hypothesis' internals)")
        finally:
            if _hypothesis_state() != state:
                _restore_hypothesis_state(name, default, profiles)
                problem = problem or "the code under test changed hypothesis' settings profiles"
            if problem:
                message = (f"{problem}. Code under test must not call hypothesis or raise its "
                           f"exceptions: an input it rejects counts as an input it gets wrong.")
                _HYPOTHESIS_PROBLEMS.append(message)
                raise DrillsFailure(message) from None

    guarded._drills_guarded = True  # type: ignore[attr-defined]
    return guarded
