"""Forbidden-call detection: what the code under test really calls, seen at run time.

Where an exercise teaches a mechanism (a transpose built from strides, a backward pass by hand,
conv via im2col), calling the library function that does the whole job must fail, and say so.
Two observers run while the student's code runs:

- a ``TorchFunctionMode`` that sees every torch function, Tensor method and property
  (``torch.transpose``, ``Tensor.transpose``, ``Tensor.T``, ``F.conv2d``, ...);
- a profile hook that sees every Python function and builtin called (``torch.func.jacrev``,
  ``sklearn.metrics.confusion_matrix``, ``nn.Dropout.forward``, ...), however it was imported.

Comments and docstrings never matter: only calls that happen do. ``count_torch_calls`` counts
torch operations, which the graders use to tell a vectorised function from a Python loop.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType, ModuleType
from typing import Any

from torch.overrides import TorchFunctionMode, resolve_name

__all__ = ["AUTOGRAD", "by_hand", "forbidden_calls", "count_torch_calls", "source_uses"]


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


class _Spec:
    """The forbidden names, resolved once into things the observers can match quickly."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.torch_names: dict[str, str] = {}
        self.objects: list[tuple[Any, str]] = []
        self.codes: dict[CodeType, str] = {}
        self.dirs: list[tuple[str, str]] = []
        for name in names:
            try:
                obj = _resolve(name)
            except (ImportError, AttributeError):
                continue  # e.g. sklearn not installed: nothing to forbid
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

    def match_torch(self, func: Any) -> str | None:
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
        return None

    def match_code(self, code: CodeType) -> str | None:
        hit = self.codes.get(code)
        if hit:
            return hit
        for base, name in self.dirs:
            filename = code.co_filename
            if filename == base or (base.endswith(os.sep) and filename.startswith(base)):
                return name
        return None


class _TorchObserver(TorchFunctionMode):
    def __init__(self, spec: _Spec, seen: list[str]) -> None:
        super().__init__()
        self.spec, self.seen = spec, seen

    def __torch_function__(self, func, types, args=(), kwargs=None):
        hit = self.spec.match_torch(func)
        if hit and hit not in self.seen:
            self.seen.append(hit)
        return func(*args, **(kwargs or {}))


@contextmanager
def forbidden_calls(*names: str, what: str, why: str = "") -> Iterator[None]:
    """Fail the check if the code run inside the block calls any of ``names``.

    Args:
        names: dotted names of functions, Tensor methods or properties, classes (their methods
            count) or whole modules: ``"torch.Tensor.transpose"``, ``"torch.nn.functional.unfold"``,
            ``"torch.Tensor.T"``, ``"torch.func"``, ``"sklearn"``, ``"torch.nn.Dropout"``.
        what: the exercise's function, as the student knows it (``"transpose_view"``).
        why: one sentence on what the exercise wants the student to build instead.

    Example:
        >>> with forbidden_calls("torch.Tensor.transpose", what="transpose_view"):
        ...     out = mod.transpose_view(t, 0, 1)
    """
    __tracebackhide__ = True
    spec = _Spec(names)
    seen: list[str] = []

    def profiler(frame, event, arg):
        if event == "call":
            hit = spec.match_code(frame.f_code)
        elif event == "c_call":
            hit = spec.match_object(arg)
        else:
            return
        if hit and hit not in seen:
            seen.append(hit)

    previous = sys.getprofile()
    observer = _TorchObserver(spec, seen)
    with observer:
        sys.setprofile(profiler)
        try:
            yield
        finally:
            sys.setprofile(previous)
    if seen:
        from graders.checks import fail

        calls = ", ".join(f"`{s.replace('torch.nn.functional.', 'F.')}`" for s in seen)
        fail(
            f"{what} calls {calls}, which is not allowed in this exercise"
            + (f": {why}" if why else ".")
        )


#: Every way to let autograd compute a gradient: forbidden where the backward pass is the exercise.
AUTOGRAD = (
    "torch.Tensor.backward",
    "torch.autograd.backward",
    "torch.autograd.grad",
    "torch.autograd.functional",
    "torch.func",
    "torch.enable_grad",
)


@contextmanager
def by_hand(what: str, *extra: str, why: str = "") -> Iterator[None]:
    """Run the block with grad mode off and fail if it uses autograd (or any of ``extra``).

    For exercises whose point is a backward pass written by hand (``linear_backward``,
    ``conv2d_backward``, ``rnn_backward`` ...).
    """
    __tracebackhide__ = True
    import torch

    why = why or ("this exercise is the backward pass by hand: derive each gradient with the "
                  "chain rule and compute it with tensor operations.")
    with forbidden_calls(*AUTOGRAD, *extra, what=what, why=why):
        with torch.no_grad():
            yield


class _Counter(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_torch_calls(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """Call ``fn`` and count the torch functions and Tensor methods it calls directly."""
    counter = _Counter()
    with counter:
        result = fn(*args, **kwargs)
    return result, counter.count


def source_uses(fn: Any, names: tuple[str, ...]) -> list[str]:
    """The ``names`` (Python syntax such as ``for``/``while`` loops) used in ``fn``'s source.

    Only code is inspected, never comments or docstrings. Supported names: ``"for"``,
    ``"while"``, ``"comprehension"``. Returns the names found ([] when the source is unknown).
    """
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return []
    kinds = {
        "for": (ast.For, ast.AsyncFor),
        "while": (ast.While,),
        "comprehension": (ast.comprehension,),
    }
    found = []
    for name in names:
        if any(isinstance(node, kinds[name]) for node in ast.walk(tree)):
            found.append(name)
    return found
