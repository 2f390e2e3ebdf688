"""The forbidden names, resolved once (:class:`Spec`) into what the observers match quickly:
objects, code objects, folders of modules, Tensor methods and aten operators."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from types import BuiltinFunctionType, CodeType, ModuleType
from typing import Any

import torch
from torch._ops import OpOverload, OpOverloadPacket
from torch.overrides import resolve_name

from graders.forbid.tables import ATEN_FAMILIES, AUTOGRAD, ENGINE_ENTRIES, NO_ATEN


def _aten_names(name: str, obj: Any) -> frozenset[str]:
    """The aten operators (by their name, ``transpose``) that the forbidden ``name`` stands for."""
    if isinstance(obj, (OpOverload, OpOverloadPacket)):
        return frozenset({obj.__name__.split(".")[0]})
    last = name.rsplit(".", 1)[-1]
    family = ATEN_FAMILIES.get(name)
    if family is None and (isinstance(obj, ModuleType) or last in NO_ATEN or name in AUTOGRAD):
        return frozenset()
    out = set(family or ATEN_FAMILIES.get(last, ()))
    if last not in NO_ATEN:
        out.add(last)
    return frozenset(n for n in out if _is_aten(n))


def _is_aten(name: str) -> bool:
    try:
        getattr(torch.ops.aten, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if isinstance(obj, type) and attr in vars(obj) and not callable(vars(obj)[attr]):
                obj = vars(obj)[attr]  # a property or getset descriptor: keep the descriptor
            else:
                obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _unimported_package(name: str) -> str | None:
    """The file or folder of ``name``, a top-level module not imported yet (none: installed or
    imported). Forbidding it then needs no import: code run inside the block can only reach it by
    importing it, and every line it runs is in that file or folder."""
    if "." in name or name in sys.modules:
        return None
    found = importlib.util.find_spec(name)
    if found is None or not found.origin and not found.submodule_search_locations:
        return None
    if found.submodule_search_locations:
        return os.path.join(list(found.submodule_search_locations)[0], "")
    return found.origin


def _codes_of(obj: Any) -> set[CodeType]:
    out: set[CodeType] = set()
    if isinstance(obj, type):
        for value in vars(obj).values():
            out |= _codes_of(value) if inspect.isfunction(value) else set()
        return out
    fn = inspect.unwrap(obj) if callable(obj) else obj
    code = getattr(fn, "__code__", None)
    if isinstance(code, CodeType):
        out.add(code)
    return out


class Spec:
    """The forbidden names, resolved once into things the observers can match quickly."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.torch_names: dict[str, str] = {}
        self.objects: list[tuple[Any, str]] = []
        self.codes: dict[CodeType, str] = {}
        self.dirs: list[tuple[str, str]] = []
        self.aten: dict[str, str] = {}  # aten operator name -> the forbidden name it stands for
        self.methods: dict[str, str] = {}  # Tensor method name -> forbidden name
        #: forbidding a way into autograd's engine forbids every operator the engine runs
        self.autograd = next((n for n in names if n in ENGINE_ENTRIES), None)
        for name in names:
            where = _unimported_package(name)
            if where is not None:
                self.dirs.append((where, name))
                continue
            try:
                obj = _resolve(name)
            except (ImportError, AttributeError):
                continue  # e.g. sklearn not installed: nothing to forbid
            for op in _aten_names(name, obj):
                self.aten.setdefault(op, name)
            if name.startswith("torch.Tensor."):
                self.methods[name.rsplit(".", 1)[-1]] = name
            if isinstance(obj, ModuleType):
                for attr, value in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if callable(value):
                        self.objects.append((value, name))
                        for code in _codes_of(value):
                            self.codes[code] = name
                path = getattr(obj, "__file__", None)
                if path:  # a package: every file under its folder; a module: that file
                    base = os.path.dirname(path) + os.sep if path.endswith("__init__.py") else path
                    self.dirs.append((base, name))
                continue
            if hasattr(obj, "__get__") and not callable(obj):
                self.torch_names[f"{name}.__get__"] = name
            self.objects.append((obj, name))
            rname = None
            try:
                rname = resolve_name(obj)
            except Exception:  # noqa: BLE001
                pass
            if rname:
                self.torch_names[rname] = name
            self.torch_names.setdefault(name, name)
            for code in _codes_of(obj):
                self.codes[code] = name

    def match_op(self, op: Any) -> str | None:
        """An operator of ``torch.ops`` (an overload or a packet), by its aten name."""
        try:
            if op.namespace != "aten":
                return None
            return self.aten.get(op.__name__.split(".")[0])
        except Exception:  # noqa: BLE001
            return None

    def match_torch(self, func: Any) -> str | None:
        if isinstance(func, (OpOverload, OpOverloadPacket)):
            hit = self.match_op(func)
            if hit:
                return hit
        try:
            rname = resolve_name(func)
        except Exception:  # noqa: BLE001
            rname = None
        if rname and rname in self.torch_names:
            return self.torch_names[rname]
        return self.match_object(func)

    def match_object(self, func: Any) -> str | None:
        for obj, name in self.objects:
            try:
                if func is obj or func == obj:
                    return name
            except Exception:  # noqa: BLE001
                continue
        if type(func) is BuiltinFunctionType:
            return self.match_builtin(func)
        return None

    def match_builtin(self, func: Any) -> str | None:
        """A builtin of torch called directly: a bound Tensor method (``x.transpose`` with
        torch-function handling off) or a function of ``torch._C`` (``torch._C._nn.im2col``)."""
        owner = getattr(func, "__self__", None)
        fname = getattr(func, "__name__", "")
        if isinstance(owner, torch._C.TensorBase):
            hit = self.methods.get(fname)
            if hit:
                return hit
        elif not str(getattr(func, "__module__", None) or "").startswith("torch"):
            return None
        return self.aten.get(fname)

    def match_code(self, code: CodeType) -> str | None:
        hit = self.codes.get(code)
        if hit:
            return hit
        for base, name in self.dirs:
            filename = code.co_filename
            if filename == base or (base.endswith(os.sep) and filename.startswith(base)):
                return name
        return None
