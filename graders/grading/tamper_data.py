"""The graders' data (not only their code), taken before each check and put back after it: a
submission must not change what a later check compares with.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from operator import is_
from types import FunctionType, ModuleType
from typing import Any

from graders.grading.tamper import (
    _MISSING,
    _SKIP_KEYS,
    _cell,
    _put,
    _unchanged,
    _watched,
)
from graders.grading.tamper_fast import _NAMESPACES, _Fast

#: Packages whose modules' data (not only code) is put back after each check, and what the
#: grader test changes by design (its own bookkeeping).
DATA = ("graders", "drills_data")
#: Entries the graders set during a check (the running check's id, the last scoreboard, the
#: checks that could not be assessed here: the sandbox keeps its own account of those).
_BOOKKEEPING = ("graders.core.runtime._state['current']", "graders.core.runtime._state['last_board']",
                "graders.core.runtime._state['not_assessed']")
_MAX_DEPTH = 10
_MAX_NODES = 200_000


class Data:
    """The data the graders decide with, taken before a check: every value reachable from the
    modules of :data:`DATA` (module globals, and inside them dicts, lists, sets, tuples,
    instances of their classes and of hypothesis's, tensors and arrays), the attributes of their
    functions (``__defaults__``, ``__kwdefaults__``, ``__dict__`` such as a hypothesis test's
    ``.hypothesis.inner_test``, the cells of their closures) and hypothesis's settings profiles.

    :meth:`restore` puts back whatever was replaced, removed or changed in place and names it
    (``graders.forbid.AUTOGRAD``, ``graders.speed.speed_check.__kwdefaults__['factor']``). A
    module global that was ``None`` and is now set is a lazily made value, not a change; new
    keys of a module's namespace are new imports, and a dict's new keys are kept and its
    removed keys stay removed (the graders cache their own work in dicts: a run of a training
    check, a recorded answer); what a key holds is watched.
    """

    def __init__(self, modules: dict | None = None) -> None:
        self.records: list[tuple[tuple, str, object, object]] = []
        seen: set[int] = set()
        self._source = modules
        todo: list[tuple[tuple, Any, int]] = _roots(modules)  # (path, a value of any kind, depth)
        self._roots = [obj for _, obj, _ in todo]
        self._dirty = False  # a restore found something not as it was taken
        torch = sys.modules.get("torch")
        numpy = sys.modules.get("numpy")
        tensor = torch.Tensor if torch is not None else None
        ndarray = numpy.ndarray if numpy is not None else None
        while todo and len(seen) < _MAX_NODES:
            path, obj, depth = todo.pop()
            if id(obj) in seen or depth > _MAX_DEPTH:
                continue
            kind = type(obj)
            if kind in (str, int, float, bool, bytes, type(None), complex):
                continue
            if isinstance(obj, ModuleType) and depth > 0:
                continue  # another module: watched through its own root, if at all
            seen.add(id(obj))
            nxt = depth + 1
            if isinstance(obj, ModuleType):
                saved = dict(vars(obj))
                self.records.append((path, "module", obj, saved))
                todo.extend(((*path, f".{k}"), v, nxt)
                            for k, v in saved.items() if not k.startswith("__") or k == "__path__")
            elif kind is dict:
                if "".join(path) in _BOOKKEEPING:
                    continue
                saved = dict(obj)  # type: ignore[call-overload]
                self.records.append((path, "dict", obj, saved))
                todo.extend(((*path, f"[{k!r}]"), v, nxt) for k, v in saved.items())
            elif kind is list:
                saved_list = list(obj)  # type: ignore[call-overload]
                self.records.append((path, "list", obj, saved_list))
                todo.extend(((*path, f"[{i}]"), v, nxt) for i, v in enumerate(saved_list))
            elif kind is set:
                self.records.append((path, "set", obj, list(obj)))  # type: ignore[call-overload]
            elif kind in (tuple, frozenset):
                todo.extend(((*path, f"[{i}]"), v, nxt) for i, v in enumerate(obj))  # type: ignore[call-overload]
            elif kind is FunctionType:
                if not _ours(obj):
                    continue
                f: FunctionType = obj  # type: ignore[assignment]
                cells = tuple(_cell(c) for c in (f.__closure__ or ()))
                self.records.append((path, "function", f, (f.__code__, f.__defaults__, f.__kwdefaults__, cells)))
                todo.append(((*path, ".__defaults__"), f.__defaults__, nxt))
                todo.append(((*path, ".__kwdefaults__"), f.__kwdefaults__, nxt))
                self.records.append((path, "attributes", f, dict(vars(f))))
                todo.extend(((*path, f".{k}"), v, nxt) for k, v in vars(f).items())
                todo.extend(((*path, f".<cell {i}>"), c, nxt) for i, c in enumerate(cells) if c is not _MISSING)
            elif isinstance(obj, type):
                if not _ours(obj):
                    continue
                saved = {k: v for k, v in vars(obj).items() if k not in _SKIP_KEYS}
                self.records.append((path, "class", obj, saved))
                todo.extend(((*path, f".{k}"), v, nxt) for k, v in saved.items() if not _watched(v) or
                            type(v) is FunctionType)
            elif tensor is not None and isinstance(obj, tensor):
                self.records.append((path, "tensor", obj, _tensor_bytes(obj)))
            elif ndarray is not None and isinstance(obj, ndarray):
                self.records.append((path, "array", obj, _array_bytes(obj)))
            elif _ours(kind) and hasattr(obj, "__dict__") and type(getattr(obj, "__dict__", None)) is dict:
                self.records.append((path, "attributes", obj, dict(vars(obj))))
                todo.extend(((*path, f".{k}"), v, nxt) for k, v in vars(obj).items())

        self._fast = _Fast(self.records, frozenset(_BOOKKEEPING))
        self._rest = [r for r in self.records if r[1] not in _NAMESPACES and r[1] != "function"]

    def stale(self) -> bool:
        """Whether taking the data again could watch anything else: some restore found a value
        not as it was taken (a lazily made value, a change put back) or a namespace with new
        keys, or one is so now (changed between checks), or the roots differ (a module of
        :data:`DATA` imported or replaced). Otherwise every namespace holds the very entries it
        was taken with, and a new take would be this one again."""
        if self._dirty or self._fast.same() != (True, True):
            return True  # found changed, or changed since the last check (an import between checks)
        roots = [obj for _, obj, _ in _roots(self._source)]
        return len(roots) != len(self._roots) or not all(map(is_, roots, self._roots))

    def restore(self) -> list[str]:
        """Undo every change since the snapshot; return what changed."""
        changed: list[str] = []
        same, sized = self._fast.same()  # nearly always same: then only lists, sets, tensors...
        self._dirty = self._dirty or not (same and sized)
        for path, kind, obj, saved in self._rest if same else self.records:
            if kind in _NAMESPACES and _unchanged(obj if kind == "dict" else vars(obj), saved):
                continue  # nearly every one: compared at C speed, nothing to put back
            if kind == "function" and _same_function(obj, saved):
                continue
            try:
                changed += _restore_one("".join(path), kind, obj, saved)
            except Exception:  # noqa: BLE001 - what cannot be put back is still reported
                changed.append("".join(path))
        return changed


def settle_hypothesis_tests(functions: Iterable[object]) -> None:
    """Set on each hypothesis test function what hypothesis sets on it whenever it runs it
    (``_hypothesis_internal_use_generated_seed``: None for a derandomised run, as under every
    profile of the kit), so that a test's first run adds no key to a namespace :class:`Data`
    took: a new key makes the next take a whole new walk (20 ms)."""
    for f in functions:
        settings = getattr(f, "_hypothesis_internal_use_settings", None)
        if settings is None or getattr(f, "_hypothesis_internal_use_seed", None) is not None:
            continue
        if getattr(settings, "derandomize", False) is True and type(getattr(f, "__dict__", None)) is dict:
            vars(f).setdefault("_hypothesis_internal_use_generated_seed", None)


def _roots(modules: dict | None) -> list[tuple[tuple, Any, int]]:
    """Where the walk of the graders' data starts, as (path, value, depth): the modules of
    :data:`DATA` in ``modules`` (``sys.modules`` when None) and hypothesis's settings."""
    out: list[tuple[tuple, Any, int]] = []
    for name, module in sorted((modules if modules is not None else sys.modules).items()):
        if isinstance(module, ModuleType) and name.split(".")[0] in DATA:
            out.append(((name,), module, 0))
    settings = sys.modules.get("hypothesis._settings")
    if settings is not None:
        for attr in ("settings", "default_variable"):
            if hasattr(settings, attr):
                out.append((("hypothesis._settings", attr), getattr(settings, attr), 1))
    return out


def _same_function(f: Any, saved: Any) -> bool:
    """True when ``f`` has the very code, defaults and closure contents it was saved with."""
    code, defaults, kwdefaults, cells = saved
    return (f.__code__ is code and f.__defaults__ is defaults and f.__kwdefaults__ is kwdefaults
            and all(map(is_, map(_cell, f.__closure__ or ()), cells)))


#: hypothesis's classes whose instances the graders hold and decide with: a test's handle
#: (``test.hypothesis.inner_test``) and settings. Its strategies keep caches of their own.
_HYPOTHESIS_CLASSES = frozenset({"HypothesisHandle", "settings"})


def _ours(obj: object) -> bool:
    """True for functions and classes of the watched packages (and hypothesis's few above)."""
    module = vars(obj).get("__module__") if isinstance(obj, type) else getattr(obj, "__module__", None)
    if type(module) is not str:
        return False
    top = module.split(".")[0]
    if top == "hypothesis":
        return not isinstance(obj, type) or obj.__name__ in _HYPOTHESIS_CLASSES
    return top in DATA


def _tensor_bytes(t: object) -> object:
    try:
        if t.numel() > 10_000_000 or t.is_meta or t.layout != sys.modules["torch"].strided:  # type: ignore[attr-defined]
            return None
        return t.detach().cpu().contiguous().reshape(-1).view(sys.modules["torch"].uint8).clone()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a tensor that cannot be read as bytes is not watched
        return None


def _array_bytes(a: object) -> object:
    try:
        return a.tobytes() if a.nbytes <= 80_000_000 and a.dtype.kind != "O" else None  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return None


def _restore_one(label: str, kind: str, obj: Any, saved: Any) -> list[str]:
    out: list[str] = []
    if kind in ("module", "dict", "class", "attributes"):
        now = vars(obj) if kind != "dict" else obj
        for key, value in saved.items():  # type: ignore[attr-defined]
            current = now.get(key, _MISSING)  # type: ignore[union-attr]
            if current is value:
                continue
            if current is _MISSING and kind == "dict":  # an entry the graders evicted: kept out
                continue
            if kind == "module" and (value is None or (key.startswith("__") and key != "__path__")):
                continue  # a lazily made value, or the module's own bookkeeping
            if kind == "class" and (key in _SKIP_KEYS or _watched(value)):
                continue  # code: :class:`Snapshot` restores it
            name = f"{label}[{key!r}]" if kind == "dict" else f"{label}.{key}"
            if name in _BOOKKEEPING:
                continue
            out.append(name)
            if kind == "dict":
                now[key] = value  # type: ignore[index]
            else:
                _put(obj, key, value)
    elif kind == "list":
        if len(obj) != len(saved) or any(a is not b for a, b in zip(obj, saved)):  # type: ignore[arg-type]
            out.append(label)
            obj[:] = saved  # type: ignore[index]
    elif kind == "set":
        if len(obj) != len(saved) or {id(x) for x in obj} != {id(x) for x in saved}:  # type: ignore[attr-defined, arg-type]
            out.append(label)
            obj.clear()  # type: ignore[attr-defined]
            obj.update(saved)  # type: ignore[attr-defined]
    elif kind == "function":
        code, defaults, kwdefaults, cells = saved  # type: ignore[misc]
        f: FunctionType = obj  # type: ignore[assignment]
        if f.__code__ is not code:
            out.append(f"{label}.__code__")
            f.__code__ = code
        if f.__defaults__ is not defaults:
            out.append(f"{label}.__defaults__")
            f.__defaults__ = defaults
        if f.__kwdefaults__ is not kwdefaults:
            out.append(f"{label}.__kwdefaults__")
            f.__kwdefaults__ = kwdefaults
        for i, (cell, value) in enumerate(zip(f.__closure__ or (), cells)):
            if _cell(cell) is not value and value is not _MISSING:
                out.append(f"{label}.<cell {i}>")
                cell.cell_contents = value
    elif kind == "tensor" and saved is not None:
        now_bytes = _tensor_bytes(obj)
        torch = sys.modules["torch"]
        if now_bytes is None or now_bytes.shape != saved.shape or not torch.equal(now_bytes, saved):  # type: ignore[attr-defined]
            out.append(label)
            with torch.no_grad():
                obj.detach().view(-1).view(torch.uint8).copy_(saved)  # type: ignore[attr-defined]
    elif kind == "array" and saved is not None:  # noqa: SIM102  (the branches after are for other kinds)
        if _array_bytes(obj) != saved:
            out.append(label)
            import numpy

            obj.reshape(-1).view(numpy.uint8)[:] = numpy.frombuffer(saved, numpy.uint8)  # type: ignore[attr-defined, union-attr]
    return out
