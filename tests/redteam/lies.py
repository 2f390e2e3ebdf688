"""Returned values that lie: objects built to compare equal to anything, tensors that answer
torch's comparisons themselves, and comparisons bent from the outside (a torch-function or
dispatch mode left entered, a kernel of torch replaced with ``torch.library``).

The checks turn what a submission returns into plain data (exact built-in values and copies of
its tensors' numbers, read with no torch function, mode or kernel of the submission's run) and
compare that with numpy and plain Python, so none of these earns anything.

``LIES`` are graded on ``describe`` in the one run of ``tests/test_grade_redteam.py``: each
returns a wrong description dressed up to look right. ``OTHER_EXERCISES`` go for the checks of
other exercises, whose values are tensors (``pairwise_sq_dists``, ``batched_gather``): each is
``(module, exercise, snippet, expect)``, the snippet appended to that reference module, and
``tests/test_grade_redteam_checks.py`` grades them in a second run; the exercise must not get
full marks and a failing check's feedback must match ``expect``. ``HONEST_ALTERNATIVES`` are
correct returns in other forms than the reference's, which the docstrings allow (an
``OrderedDict``, a ``torch.Size``, numpy scalars, a plain tensor subclass): they must get full
marks there.
"""

from __future__ import annotations

#: A wrong description: every value off (module level of a snippet).
_WRONG = '''
_KEYS = ("shape", "dtype", "device", "stride", "storage_offset", "is_contiguous", "numel",
         "requires_grad", "is_leaf")


def _wrong(t):
    return {"shape": (7,), "dtype": "torch.int8", "device": "meta", "stride": (3,),
            "storage_offset": 5, "is_contiguous": False, "numel": 7, "requires_grad": True,
            "is_leaf": False}
'''

#: Equal to anything, unequal to nothing.
_ALWAYS_EQUAL = '''
def __eq__(self, other):
    return True


def __ne__(self, other):
    return False
'''


def _methods(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in text.strip().splitlines())


LIES: dict[str, str] = {
    # A dict whose equality and items agree with anything.
    "dict_equal_to_anything": _WRONG + f'''
class _Same:
{_methods(_ALWAYS_EQUAL)}
    __hash__ = object.__hash__


class _Description(dict):
{_methods(_ALWAYS_EQUAL)}
    __hash__ = object.__hash__

    def __getitem__(self, key):
        return _Same()


def describe(t):
    return _Description(_wrong(t))
''',
    # Wrong values in subclasses of int, str and tuple that equal everything.
    "builtin_subclasses_equal_to_anything": _WRONG + f'''
class _Int(int):
{_methods(_ALWAYS_EQUAL)}
    __hash__ = int.__hash__


class _Str(str):
{_methods(_ALWAYS_EQUAL)}
    __hash__ = str.__hash__


class _Tuple(tuple):
{_methods(_ALWAYS_EQUAL)}
    __hash__ = tuple.__hash__


def describe(t):
    d = _wrong(t)
    out = {{}}
    for k, v in d.items():
        if type(v) is int:
            v = _Int(v)
        elif type(v) is str:
            v = _Str(v)
        elif type(v) is tuple:
            v = _Tuple(_Int(i) for i in v)
        out[k] = v
    out["is_contiguous"] = t.is_contiguous()
    out["requires_grad"] = t.requires_grad
    out["is_leaf"] = t.is_leaf
    return out
''',
    # A tuple subclass whose iteration and length tell a different story than its items.
    "tuple_that_iterates_what_is_expected": '''
class _Shape(tuple):
    """Holds a wrong shape; iterating it asks the tensor again (as the grader would)."""

    def __new__(cls, wrong, real):
        self = super().__new__(cls, wrong)
        self._real = real
        return self

    def __iter__(self):
        return iter(self._real)

    def __len__(self):
        return len(self._real)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = tuple.__hash__


_honest = describe


def describe(t):
    d = _honest(t)
    d["shape"] = _Shape((99,) * (t.dim() + 1), tuple(t.shape))
    d["stride"] = _Shape((0,) * (t.dim() + 1), tuple(t.stride()))
    return d
''',
    # Not a dict at all: an object that claims to be one through ``__class__``.
    "object_that_claims_to_be_a_dict": _WRONG + f'''
class _Claim:
    __class__ = property(lambda self: dict)
{_methods(_ALWAYS_EQUAL)}
    __hash__ = object.__hash__

    def __init__(self, d):
        self._d = d

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def keys(self):
        return self._d.keys()

    def __getitem__(self, key):
        return self._d[key]


def describe(t):
    return _Claim(_wrong(t))
''',
    # Values whose types compare equal to every type (a metaclass's ``__eq__``), so that
    # ``type(v) in (int, str, ...)`` or ``type(v) == int`` say yes.
    "metaclass_equal_to_every_type": _WRONG + f'''
class _AnyType(type):
{_methods(_ALWAYS_EQUAL)}
    __hash__ = type.__hash__


class _Anything(metaclass=_AnyType):
{_methods(_ALWAYS_EQUAL)}
    __hash__ = object.__hash__

    def __iter__(self):
        return iter(())

    def __index__(self):
        return 0


def describe(t):
    return {{k: _Anything() for k in _KEYS}}
''',
    # A numpy scalar subclass equal to everything, holding a wrong count.
    "numpy_scalar_equal_to_anything": '''
import numpy as _np


class _Count(_np.int64):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = _np.int64.__hash__


_honest = describe


def describe(t):
    d = _honest(t)
    d["numel"] = _Count(d["numel"] + 3)
    d["storage_offset"] = _Count(d["storage_offset"] + 1)
    return d
''',
    # Every torch comparison answered "equal" by a mode left entered; the description is wrong.
    "torch_function_mode_left_entered": _WRONG + '''
from torch.overrides import TorchFunctionMode as _Mode

_COMPARE = {"equal", "allclose", "eq", "ne", "__eq__", "__ne__", "isclose"}


class _Agree(_Mode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("equal", "allclose"):
            return True
        if name in _COMPARE:
            out = func(*args, **(kwargs or {}))
            return torch.ones_like(out) if name in ("eq", "__eq__", "isclose") else torch.zeros_like(out)
        return func(*args, **(kwargs or {}))


def describe(t):
    _Agree().__enter__()
    return _wrong(t)
''',
    # The same, one level down: a dispatch mode left entered rewrites aten's comparisons.
    "dispatch_mode_left_entered": _WRONG + '''
from torch.utils._python_dispatch import TorchDispatchMode as _DMode


class _Agree(_DMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._overloadpacket.__name__
        out = func(*args, **(kwargs or {}))
        if name in ("equal", "allclose"):
            return True
        if name in ("eq", "isclose"):
            return torch.ones_like(out)
        if name == "ne":
            return torch.zeros_like(out)
        return out


def describe(t):
    _Agree().__enter__()
    return _wrong(t)
''',
    # aten's comparison kernels for the CPU replaced with torch.library: everything is equal.
    "aten_kernels_replaced": _WRONG + '''
_lib = torch.library.Library("aten", "IMPL")
_lib.impl("equal", lambda a, b: True, "CPU")
_lib.impl("allclose", lambda a, b, rtol=1e-05, atol=1e-08, equal_nan=False: True, "CPU")
_lib.impl("ne.Tensor", lambda a, b: torch.zeros(torch.broadcast_shapes(a.shape, b.shape), dtype=torch.bool), "CPU")


def describe(t):
    return _wrong(t)
''',
    # A str subclass for the dtype whose ``__str__`` and ``__repr__`` show the right text.
    "str_that_prints_what_is_expected": '''
class _Text(str):
    def __new__(cls, wrong, shown):
        self = super().__new__(cls, wrong)
        self._shown = shown
        return self

    def __str__(self):
        return self._shown

    __repr__ = __str__

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = str.__hash__


_honest = describe


def describe(t):
    d = _honest(t)
    d["dtype"] = _Text("torch.int8", str(t.dtype))
    d["device"] = _Text("meta", str(t.device))
    return d
''',
}

#: Tensor-valued lies, graded on the exercise named in a second run (see the module docstring).
_ZEROS_LIKE_GATHER = '''
def _zeros_gather(x, idx):
    return torch.zeros(x.shape[0], idx.shape[1], x.shape[2], dtype=x.dtype, device=x.device)
'''

OTHER_EXERCISES: dict[str, tuple[str, str, str, str]] = {
    # A tensor subclass answering every comparison itself (torch.equal, ==, -, abs, allclose).
    "tensor_subclass_answers_comparisons": ("tensors", "day1.tensors.batched_gather", _ZEROS_LIKE_GATHER + '''
class _Agreeable(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("equal", "allclose"):
            return True
        with torch._C.DisableTorchFunctionSubclass():
            out = func(*args, **(kwargs or {}))
        if name in ("eq", "__eq__", "isclose"):
            return torch.ones_like(out)
        if name in ("ne", "__ne__", "sub", "__sub__", "__rsub__", "abs", "gt", "__gt__", "isnan"):
            return torch.zeros_like(out)
        return out


def batched_gather(x, idx):
    return _zeros_gather(x, idx).as_subclass(_Agreeable)
''', r"differs from the expected values|not close enough"),
    # A wrapper tensor with its own __torch_dispatch__: aten's comparisons say "equal".
    "dispatch_subclass_answers_comparisons": ("tensors", "day1.tensors.pairwise_sq_dists", '''
class _Wrapper(torch.Tensor):
    @staticmethod
    def __new__(cls, elem):
        return torch.Tensor._make_wrapper_subclass(cls, elem.shape, dtype=elem.dtype,
                                                   device=elem.device)

    def __init__(self, elem):
        self.elem = elem

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        name = func._overloadpacket.__name__
        unwrap = lambda a: a.elem if isinstance(a, _Wrapper) else a
        out = func(*[unwrap(a) for a in args], **{k: unwrap(v) for k, v in (kwargs or {}).items()})
        if name in ("equal", "allclose"):
            return True
        if name in ("ne", "gt", "lt", "isnan", "abs", "sub"):
            return torch.zeros_like(out) if isinstance(out, torch.Tensor) else out
        return out


def pairwise_sq_dists(x, y):
    return _Wrapper(torch.zeros(x.shape[0], y.shape[0], dtype=x.dtype, device=x.device))
''', r"tensor that runs its own code"),
    # Wrong values, and a torch-function mode left entered that answers every comparison.
    "mode_left_entered_for_the_comparison": ("tensors", "day1.tensors.batched_gather", _ZEROS_LIKE_GATHER + '''
from torch.overrides import TorchFunctionMode as _Mode


class _Agree(_Mode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("equal", "allclose"):
            return True
        out = func(*args, **(kwargs or {}))
        if name in ("eq", "__eq__"):
            return torch.ones_like(out)
        if name in ("ne", "__ne__"):
            return torch.zeros_like(out)
        return out


def batched_gather(x, idx):
    _Agree().__enter__()
    return _zeros_gather(x, idx)
''', r"differs from the expected values|not close enough"),
    # Wrong values, and a dispatch mode left entered that answers aten's comparisons.
    "dispatch_mode_left_entered_for_the_comparison": ("tensors", "day1.tensors.pairwise_sq_dists", '''
from torch.utils._python_dispatch import TorchDispatchMode as _DMode


class _Agree(_DMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._overloadpacket.__name__
        out = func(*args, **(kwargs or {}))
        if name in ("equal", "allclose"):
            return True
        if name in ("ne", "gt", "lt", "isnan", "abs", "sub"):
            return torch.zeros_like(out) if isinstance(out, torch.Tensor) else out
        return out


def pairwise_sq_dists(x, y):
    _Agree().__enter__()
    return torch.zeros(x.shape[0], y.shape[0], dtype=x.dtype, device=x.device)
''', r"not close enough|negative|differs"),
    # Wrong values, and aten's comparison kernels for the CPU replaced with torch.library.
    "aten_kernels_replaced_for_the_comparison": ("tensors", "day1.tensors.batched_gather", _ZEROS_LIKE_GATHER + '''
_lib = torch.library.Library("aten", "IMPL")
_lib.impl("equal", lambda a, b: True, "CPU")
_lib.impl("ne.Tensor", lambda a, b: torch.zeros(torch.broadcast_shapes(a.shape, b.shape), dtype=torch.bool), "CPU")
_lib.impl("eq.Tensor", lambda a, b: torch.ones(torch.broadcast_shapes(a.shape, b.shape), dtype=torch.bool), "CPU")


def batched_gather(x, idx):
    return _zeros_gather(x, idx)
''', r"differs from the expected values|not close enough"),
    # Not a tensor: an object that claims to be one and equals everything.
    "object_that_claims_to_be_a_tensor": ("tensors", "day1.tensors.pairwise_sq_dists", '''
class _Claim:
    __class__ = property(lambda self: torch.Tensor)

    def __init__(self, shape, dtype, device):
        self.shape, self.dtype, self.device = torch.Size(shape), dtype, device

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def detach(self):
        return self

    def cpu(self):
        return self

    def numel(self):
        return self.shape.numel()


def pairwise_sq_dists(x, y):
    return _Claim((x.shape[0], y.shape[0]), x.dtype, x.device)
''', r"expected a torch\.Tensor|returned"),
}

#: Correct returns in other forms than the reference's: they must get full marks everywhere.
HONEST_ALTERNATIVES: dict[str, tuple[str, str]] = {
    # describe: an OrderedDict, a torch.Size for the shape, numpy scalars for ints and bools
    # and a numpy str for the dtype ("int", "bool", "str" in the docstring).
    "describe_in_other_types": ("tensors", '''
import collections as _collections

import numpy as _np


def describe(t):
    return _collections.OrderedDict([
        ("shape", t.shape),
        ("dtype", _np.str_(str(t.dtype))),
        ("device", str(t.device)),
        ("stride", tuple(_np.int64(s) for s in t.stride())),
        ("storage_offset", _np.int64(t.storage_offset())),
        ("is_contiguous", _np.bool_(t.is_contiguous())),
        ("numel", _np.int32(t.numel())),
        ("requires_grad", t.requires_grad),
        ("is_leaf", _np.bool_(t.is_leaf)),
    ])
'''),
    # batched_gather: advanced indexing, returned as a plain subclass of torch.Tensor.
    "gather_as_a_plain_tensor_subclass": ("tensors", '''
class _MyTensor(torch.Tensor):
    pass


def batched_gather(x, idx):
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    return x[rows, idx].as_subclass(_MyTensor)
'''),
}
