"""Sealed copies of modules: code that must keep working as it was written whatever the code under
test changes afterwards (the sandbox, the guard and this package run from them).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from types import CellType, FunctionType, ModuleType
from typing import Any

from graders.grading.tamper import (
    _MISSING,
)


def seal(names: Iterable[str]) -> dict[str, ModuleType]:
    """Private copies of the modules ``names``, for code that must keep working as it was
    written whatever the code under test changes afterwards.

    Each copy is a module object that is in no ``sys.modules``: its functions are copies of the
    module's functions whose globals are the copy (and whose closures are new cells), its
    classes are copies of the module's classes (exceptions are kept: ``except`` clauses
    elsewhere must still catch them), its dicts, lists and sets are copies, and its
    ``__builtins__`` is a copy of ``builtins`` as it is now. Any other module it refers to
    (``os``, ``sys``) is replaced by a copy of that module's namespace as it is now; a module
    that is itself sealed is replaced by its sealed copy (``os.path`` by sealed ``posixpath``).
    A global whose name starts with ``_LIVE_`` is kept as it is: the live module, for code that
    reads or sets the interpreter's current state (``sys.meta_path``) rather than calls it.
    Replacing a function of a module, of ``builtins`` or a method of a class afterwards does
    not reach the copies; built-in (C) functions cannot be changed at all.
    """
    import builtins

    names = list(names)
    spaces = {n: ModuleType(n, getattr(sys.modules[n], "__doc__", None)) for n in names}
    private_builtins = dict(vars(builtins))
    memo: dict[int, object] = {}
    keep: list[object] = []  # originals whose ids are memo keys

    def module_copy(module: ModuleType) -> ModuleType:
        name = getattr(module, "__name__", None)
        if name in spaces:
            return spaces[name]
        done = memo.get(id(module))
        if done is None:
            done = memo[id(module)] = ModuleType(str(name))
            keep.append(module)
            copy = vars(done)
            for key, value in list(vars(module).items()):
                if isinstance(value, ModuleType) and getattr(value, "__name__", None) in spaces:
                    value = spaces[value.__name__]
                copy[key] = value
        return done  # type: ignore[return-value]

    def sealed_home(obj: object) -> Any:  # the sealed module's namespace, or None
        module = getattr(obj, "__module__", None)
        return vars(spaces[module]) if module in spaces else None

    def convert(value: Any) -> Any:
        done = memo.get(id(value), _MISSING)
        if done is not _MISSING:
            return done
        kind = type(value)
        if isinstance(value, ModuleType):
            return module_copy(value)
        if kind is FunctionType and sealed_home(value) is not None \
                and value.__globals__ is vars(sys.modules[value.__module__]):  # type: ignore[attr-defined]
            f: FunctionType = value  # type: ignore[assignment]
            cells = None
            if f.__closure__:
                cells = tuple(CellType() for _ in f.__closure__)
            copy = FunctionType(f.__code__, sealed_home(f), f.__name__, None, cells)
            memo[id(value)] = copy
            keep.append(value)
            for cell, old in zip(cells or (), f.__closure__ or ()):
                try:
                    cell.cell_contents = convert(old.cell_contents)
                except ValueError:  # an empty cell
                    pass
            copy.__defaults__ = convert(f.__defaults__)  # type: ignore[assignment]
            copy.__kwdefaults__ = convert(f.__kwdefaults__)  # type: ignore[assignment]
            copy.__qualname__, copy.__doc__ = f.__qualname__, f.__doc__
            copy.__dict__.update({k: convert(v) for k, v in vars(f).items()})
            return copy
        if isinstance(value, type) and sealed_home(value) is not None and not issubclass(value, BaseException):
            cls: type = value
            members = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
            copy_cls = type(cls)(cls.__name__, tuple(convert(b) for b in cls.__bases__), {})
            memo[id(value)] = copy_cls
            keep.append(value)
            for key, member in members.items():
                if key in ("__module__", "__qualname__", "__doc__"):
                    continue
                type.__setattr__(copy_cls, key, convert(member))
            copy_cls.__qualname__, copy_cls.__doc__ = cls.__qualname__, cls.__doc__
            copy_cls.__module__ = cls.__module__
            return copy_cls
        if kind is staticmethod:
            return staticmethod(convert(value.__func__))  # type: ignore[attr-defined]
        if kind is classmethod:
            return classmethod(convert(value.__func__))  # type: ignore[attr-defined]
        if kind is property:
            p: property = value  # type: ignore[assignment]
            return property(convert(p.fget), convert(p.fset), convert(p.fdel), p.__doc__)
        if kind is dict:
            out: dict = {}
            memo[id(value)] = out
            keep.append(value)
            out.update({k: convert(v) for k, v in value.items()})  # type: ignore[attr-defined]
            return out
        if kind is list:
            out_list: list = []
            memo[id(value)] = out_list
            keep.append(value)
            out_list.extend(convert(v) for v in value)  # type: ignore[attr-defined]
            return out_list
        if kind is set:
            return {convert(v) for v in value}  # type: ignore[attr-defined]
        if kind is tuple:
            return tuple(convert(v) for v in value)  # type: ignore[attr-defined]
        if kind is frozenset:
            return frozenset(convert(v) for v in value)  # type: ignore[attr-defined]
        return value

    for name in names:
        space = vars(spaces[name])
        for key, value in list(vars(sys.modules[name]).items()):
            space[key] = value if key.startswith("_LIVE_") else convert(value)  # live on purpose
        space["__builtins__"] = private_builtins
    spaces[names[0]].__dict__["_SEALED_KEEP"] = keep
    return spaces
