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

import os
import sys
from collections.abc import Callable
from itertools import repeat
from operator import is_
from types import CellType, FunctionType, MappingProxyType, ModuleType
from typing import Any

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


#: Hooks pytest itself re-binds for every test, by namespace.
_PER_TEST = {"_pytest.assertion.util": frozenset({"_reprcompare", "_assertion_pass", "_config"})}


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
        self._seen = dict(sys.modules)
        self._entries: list[tuple[str, Any, bool, dict, frozenset]] = []
        flat: dict[type, tuple[list, list, list]] = {dict: ([], [], []), MappingProxyType: ([], [], [])}
        self._strict: list[tuple[Any, frozenset]] = []
        self._plain = True  # every namespace a module's or a class's dict (else: always looked at)
        for label, owner, strict in _targets():
            now = vars(owner)
            skip = _SKIP_KEYS | _PER_TEST.get(label, _NONE)
            before = {k: v for k, v in now.items() if _watched(v) and k not in skip}
            keys = frozenset(now) if strict else _NONE
            self._entries.append((label, owner, strict, before, keys))
            row = flat.get(type(now))
            if row is None:
                self._plain = False
            else:
                row[0].extend(repeat(now, len(before)))
                row[1].extend(before)
                row[2].extend(before.values())
            if strict:
                self._strict.append((now, keys))
        self._owners = [owner for _, owner, _, _, _ in self._entries]
        self._sizes = list(map(len, map(vars, self._owners)))
        #: Every entry of every namespace in one row per kind of namespace (module dicts, class
        #: dicts), held as the live namespaces: compared at C speed in one pass.
        self._flat = [(_GETTERS[kind], tuple(spaces), tuple(names), tuple(values))
                      for kind, (spaces, names, values) in flat.items()]

    def stale(self) -> bool:
        """Whether the snapshot must be taken again now that modules were imported (or put in
        ``sys.modules``) since: when one of them holds namespaces it would watch (those of
        :data:`DEEP` and :data:`SHALLOW`), or when a watched namespace is not as it was taken
        (an import between checks, such as an exercise's preload, that adds a method to
        ``nn.Module``) or has new keys that it would watch (code; not data such as the
        ``__warningregistry__`` a warning leaves in a module). Otherwise a new snapshot would be
        this one again; what ``sys.modules`` holds is noted either way."""
        seen, now = self._seen, dict(sys.modules)
        self._seen, self.modules = now, len(now)
        if any(type(name) is not str or name.split(".")[0] in DEEP or name in SHALLOW
               for name, module in now.items() if seen.get(name) is not module):
            return True
        if not self.unchanged():
            return True
        sizes = list(map(len, map(vars, self._owners)))
        return sizes != self._sizes and any(
            _watched(value) for (_, owner, _, before, _), size, then in zip(self._entries, sizes, self._sizes)
            if size != then for key, value in list(vars(owner).items())
            if key not in before and key not in _SKIP_KEYS)

    def unchanged(self) -> bool:
        """True when every namespace still holds every entry it had, each the very same object,
        and no strict namespace has a new entry: nothing to put back."""
        return self._plain and all(all(map(is_, map(get, spaces, names, repeat(_MISSING)), values))
                                   for get, spaces, names, values in self._flat) and \
            all(keys.issuperset(now) for now, keys in self._strict)

    def restore(self, mine: Callable[[object], bool] | None = None) -> list[str]:
        """Undo every change since the snapshot; return what changed (``torch.allclose``...).

        ``mine(code)`` tells the submission's code objects: a wrapper made by them never passes
        for a library's own wrapper of what it replaced."""
        changed: list[str] = []
        if self.unchanged():
            return changed
        for label, owner, strict, before, keys in self._entries:
            now = vars(owner)
            if _unchanged(now, before) and (not strict or keys.issuperset(now)):
                continue  # nearly every namespace: compared at C speed, nothing to put back
            for key, value in before.items():
                current = now.get(key, _MISSING)
                if current is not value and not _library_wrapper(current, value, label, mine):
                    changed.append(f"{label}.{key}")
                    _put(owner, key, value)
            if strict:
                for key in [k for k in now if k not in keys and k not in _SKIP_KEYS]:
                    if _library_marker(label, key, now[key]):
                        continue  # torch._dynamo's mark that it wrapped nn.Module (kept)
                    if not _cache_entry(owner, key, now[key]):
                        changed.append(f"{label}.{key}")
                    _drop(owner, key)
        return changed


_MISSING = object()
_NONE: frozenset[str] = frozenset()
_GETTERS: dict[type, Callable[..., Any]] = {dict: dict.get, MappingProxyType: MappingProxyType.get}
_CODE_TYPES = (staticmethod, classmethod, property, ModuleType, type)


def _unchanged(now: Any, before: Any) -> bool:
    """True when ``now`` holds every entry of ``before``, each the very same object."""
    return all(map(is_, map(now.get, before.keys(), repeat(_MISSING)), before.values()))


def _watched(value: object) -> bool:
    """Code, not data: functions, classes, modules and descriptors (module state may change)."""
    return callable(value) or isinstance(value, _CODE_TYPES)


def _library_wrapper(new: object, old: object, label: str,
                     mine: Callable[[object], bool] | None = None) -> bool:
    """True for a library's own wrapper of the old value (``torch._dynamo`` wraps
    ``torch.manual_seed`` when it is first imported, and ``nn.Module.__init__`` when it first
    compiles): a plain function whose code lies in the library's own folder and whose
    ``__wrapped__`` is the old value, or whose closure holds it. A function's ``__module__``
    and ``__wrapped__`` can be set by anyone without an audit event, so they alone prove
    nothing; code the submission wrote or compiled (``mine``) never passes."""
    if type(new) is not FunctionType:
        return False
    code = new.__code__
    if mine is not None and mine(code):
        return False
    if _dict_get(vars(new), "__wrapped__") is not old and not any(
            _cell(c) is old for c in new.__closure__ or ()):
        return False  # neither functools.wraps'd nor closing over what it replaced
    package = sys.modules.get(label.split(".")[0])
    where = getattr(package, "__file__", None)
    if type(where) is not str:
        return False
    folder = os.path.dirname(os.path.realpath(where)) + os.sep
    filename = code.co_filename
    return type(filename) is str and os.path.realpath(filename).startswith(folder)


def _library_marker(label: str, key: str, value: object) -> bool:
    """True for the flags torch keeps on its own classes (``___needs_generation_tag_patch``,
    which ``torch._dynamo`` sets on ``nn.Module`` beside the wrappers it installs): a private
    name of three underscores and a bool, which no behaviour of the class reads."""
    return label.split(".")[0] == "torch" and key.startswith("___") and type(value) is bool


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


def _cell(cell: CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


_dict_get = dict.get
_LIVE_SYS = sys  # the interpreter's own module, read for its current state (not sealed)
