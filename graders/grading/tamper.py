"""Notice (and undo) changes a check's code made to the graders, pytest, hypothesis or torch.

Before each grader test the sandbox takes a :class:`Snapshot` of the namespaces a submission
could patch to pass a check: ``builtins``; the comparison functions of torch and numpy
(``torch.allclose``, ``torch.testing.assert_close``, ``numpy.testing``, ``Tensor.__eq__``...);
and every module and class of the graders, pytest, pluggy and hypothesis: their code
(functions, classes, descriptors), not their data. After the test,
:meth:`Snapshot.restore` puts back every entry that was replaced or removed (and removes new
entries of ``builtins`` and of torch's tensor classes) and says what changed.

Attribute writes on modules and classes raise no audit event, so comparing before and after is
how they are seen. New entries of modules are not reported (modules import submodules lazily).
Nor are the caches the standard library writes on a class as a side effect of using it: pickling
or copying a tensor makes :func:`copyreg._slotnames` store ``__slotnames__`` on its class
(:data:`_CACHES`). Such an entry is removed after the check like any other new one, and it is
reported only when it holds something else than what the standard library would have stored.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType

#: Modules whose every class is watched too (by module-name prefix).
DEEP = ("graders", "_pytest", "pytest", "pluggy", "hypothesis", "_hypothesis")
#: Further modules whose own namespace is watched.
SHALLOW = (
    "builtins", "math", "operator", "functools", "json",
    "torch", "torch.functional", "torch.nn.functional", "torch.testing",
    "torch.testing._comparison", "torch.linalg", "torch.autograd", "torch.autograd.function",
    "torch.autograd.grad_mode", "torch._tensor", "torch.overrides", "torch.random",
    "numpy", "numpy.testing", "numpy.testing._private.utils", "numpy.linalg",
)
#: Classes watched wherever they live: the tensor types and their C bindings.
_STRICT_CLASSES = ("torch.Tensor", "torch._C.TensorBase", "torch._C._VariableFunctionsClass",
                   "torch.nn.Module", "torch.autograd.Function", "numpy.ndarray")
_SKIP_KEYS = frozenset({"__dict__", "__weakref__", "__doc__", "__annotations__"})


def _slot_names(cls: type) -> list[str]:
    """What :func:`copyreg._slotnames` computes (and caches as ``cls.__slotnames__``)."""
    names: list[str] = []
    if not hasattr(cls, "__slots__"):
        return names
    for c in cls.__mro__:
        slots = c.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                stripped = c.__name__.lstrip("_")
                name = f"_{stripped}{name}" if stripped else name
            names.append(name)
    return names


#: Entries the standard library adds to a class as a cache when the class is used (pickling or
#: copying an instance: ``copyreg._slotnames``), with the value it stores. numpy's ndarray
#: takes no new attributes, and ``nn.Module`` pickles through its own ``__getstate__``; the
#: other caches of the standard library (``abc``'s, ``functools``') live elsewhere.
_CACHES: dict[str, Callable[[type], object]] = {"__slotnames__": _slot_names}


def _cache_entry(owner: object, key: str, value: object) -> bool:
    """True when ``key`` of class ``owner`` is a standard cache holding its own value."""
    compute = _CACHES.get(key)
    if compute is None or not isinstance(owner, type):
        return False
    try:
        return value == compute(owner)
    except Exception:  # a class whose slots cannot be read: not a cache
        return False


#: Hooks pytest itself re-binds for every test.
_PER_TEST = frozenset({"_pytest.assertion.util._reprcompare", "_pytest.assertion.util._assertion_pass",
                       "_pytest.assertion.util._config"})


def _resolve(dotted: str) -> object | None:
    mod_name, _, attr = dotted.rpartition(".")
    obj = sys.modules.get(dotted)
    if obj is not None:
        return obj
    owner = sys.modules.get(mod_name)
    if owner is None and "._C" in dotted:
        owner = sys.modules.get("torch._C")
        attr = dotted.split(".")[-1]
    return getattr(owner, attr, None) if owner is not None else None


def _targets() -> list[tuple[str, object, bool]]:
    """(label, owner, strict) for every namespace watched now; strict: new keys count too."""
    out: list[tuple[str, object, bool]] = []
    seen: set[int] = set()

    def add(label: str, owner: object, strict: bool) -> None:
        if owner is not None and id(owner) not in seen:
            seen.add(id(owner))
            out.append((label, owner, strict))

    for name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType):
            continue
        if name.split(".")[0] in DEEP or name in SHALLOW:
            add(name, module, name == "builtins")
        if name.split(".")[0] in DEEP:
            for attr, value in list(vars(module).items()):
                if isinstance(value, type) and getattr(value, "__module__", "") == name:
                    add(f"{name}.{attr}", value, False)
    for dotted in _STRICT_CLASSES:
        add(dotted, _resolve(dotted), True)
    return out


class Snapshot:
    """The entries of every watched namespace at one moment."""

    def __init__(self) -> None:
        self.modules = len(sys.modules)
        self._entries = [
            (label, owner, strict, {k: v for k, v in vars(owner).items() if _watched(v)},
             frozenset(vars(owner)) if strict else frozenset())
            for label, owner, strict in _targets()
        ]

    def restore(self) -> list[str]:
        """Undo every change since the snapshot; return what changed (``torch.allclose``...)."""
        changed: list[str] = []
        for label, owner, strict, before, keys in self._entries:
            now = vars(owner)
            for key, value in before.items():
                if key in _SKIP_KEYS or f"{label}.{key}" in _PER_TEST:
                    continue
                current = now.get(key, _MISSING)
                if current is not value and not (not strict and _library_wrapper(current, value, label)):
                    changed.append(f"{label}.{key}")
                    _put(owner, key, value)
            if strict:
                for key in [k for k in now if k not in keys and k not in _SKIP_KEYS]:
                    if not _cache_entry(owner, key, now[key]):
                        changed.append(f"{label}.{key}")
                    _drop(owner, key)
        return changed


_MISSING = object()
_CODE_TYPES = (staticmethod, classmethod, property, ModuleType, type)


def _watched(value: object) -> bool:
    """Code, not data: functions, classes, modules and descriptors (module state may change)."""
    return callable(value) or isinstance(value, _CODE_TYPES)


def _library_wrapper(new: object, old: object, label: str) -> bool:
    """True for a library's own wrapper of the old value (``torch._dynamo`` wraps
    ``torch.manual_seed`` when it is first imported). Code under test cannot pass for one: the
    sandbox refuses it setting ``__module__`` to a library's name."""
    module = getattr(new, "__module__", None) or ""
    return getattr(new, "__wrapped__", None) is old and module.split(".")[0] == label.split(".")[0]


def _put(owner: object, key: str, value: object) -> None:
    try:
        setattr(owner, key, value)
    except (AttributeError, TypeError):
        try:
            vars(owner)[key] = value  # type: ignore[index]
        except TypeError:
            pass


def _drop(owner: object, key: str) -> None:
    try:
        delattr(owner, key)
    except (AttributeError, TypeError):
        pass
