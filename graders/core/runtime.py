"""Where the code under test comes from: the target tree, the reference tree and overrides.

Grader tests never import student code directly. They ask for a module by its short name
(``student("day1.tensors")``) and get a lazy proxy; the first attribute access imports
``<target>/day1/tensors.py`` under a private package name, so that the student's tree, the
reference tree and the kit's own packages never shadow one another. ``check()`` (notebooks)
and the kit's own tests replace single exercises with ``overrides``.

Nothing here imports torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from graders.core import paths
from graders.core.paths import EXERCISES_DIR, KIT_ROOT, REFERENCE_DIR  # noqa: F401  (runtime.KIT_ROOT)

_STUDENT_PKG = "_drills_student"
_REFERENCE_PKG = "_drills_reference"

_lock = threading.RLock()
_state: dict[str, Any] = {"target": EXERCISES_DIR, "overrides": {}}


class StudentImportError(Exception):
    """The student's module could not be imported (syntax error, failing import, ...)."""


class MissingNameError(AttributeError):
    """The student's module does not define a name the graders need."""


def resolve_target(value: str | Path | None) -> Path:
    """Turn the ``--drills-target`` value into a directory (``reference`` means the reference)."""
    if value is None or str(value) == "":
        return EXERCISES_DIR
    if str(value) == "reference":
        return REFERENCE_DIR
    return Path(value).expanduser().resolve()


def target_dir() -> Path:
    return _state["target"]


def set_target(path: Path) -> None:
    """Point ``student(...)`` at another tree and forget modules imported from the old one."""
    with _lock:
        if path != _state["target"]:
            _forget(_STUDENT_PKG)
        _state["target"] = path


@contextmanager
def overriding(overrides: dict[str, Any]) -> Iterator[None]:
    """Serve ``overrides`` ({"day1.tensors.describe": obj}) instead of the target's names."""
    with _lock:
        saved = _state["overrides"]
        _state["overrides"] = {**saved, **overrides}
    try:
        yield
    finally:
        with _lock:
            _state["overrides"] = saved


def _forget(pkg: str) -> None:
    for name in [n for n in sys.modules if n == pkg or n.startswith(pkg + ".")]:
        del sys.modules[name]


def _ensure_package(pkg: str, root: Path) -> None:
    """Create (or re-point) the synthetic package whose ``__path__`` is ``root``."""
    existing = sys.modules.get(pkg)
    if existing is not None and list(getattr(existing, "__path__", [])) == [str(root)]:
        return
    _forget(pkg)
    module = ModuleType(pkg, f"Exercise tree at {root}")
    module.__path__ = [str(root)]  # type: ignore[attr-defined]
    module.__package__ = pkg
    sys.modules[pkg] = module


def import_from_tree(root: Path, pkg: str, short: str) -> ModuleType:
    """Import ``short`` ("day1.tensors") from the tree at ``root`` as ``pkg.day1.tensors``."""
    with _lock:
        _ensure_package(pkg, root)
        day = short.split(".")[0]
        if not (root / day).is_dir():
            raise StudentImportError(f"there is no folder {day}/ in {root}")
        if not (root / day / "__init__.py").exists():
            # A submission without __init__.py still works: make the day a namespace-like package.
            sub = f"{pkg}.{day}"
            if sub not in sys.modules:
                m = ModuleType(sub)
                m.__path__ = [str(root / day)]  # type: ignore[attr-defined]
                m.__package__ = sub
                sys.modules[sub] = m
        path = paths.module_file(root, short)
        if not path.exists():
            shown = path.relative_to(root.parent) if root.parent in path.parents else path
            raise StudentImportError(f"the file {shown} does not exist")
        try:
            return importlib.import_module(f"{pkg}.{short}")
        except StudentImportError:
            raise
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything at import
            if isinstance(exc, KeyboardInterrupt):
                raise
            _forget(f"{pkg}.{short}")
            raise StudentImportError(
                f"{path.name} could not be imported: {type(exc).__name__}: {exc}"
            ) from exc


class ModuleProxy:
    """A lazy stand-in for an exercise module of the target or reference tree."""

    def __init__(self, short: str, *, reference: bool) -> None:
        self._short = short
        self._reference = reference

    def __repr__(self) -> str:
        kind = "reference" if self._reference else "student"
        return f"<{kind} module {self._short}>"

    @property
    def module(self) -> ModuleType:
        if self._reference:
            return import_from_tree(REFERENCE_DIR, _REFERENCE_PKG, self._short)
        return import_from_tree(target_dir(), _STUDENT_PKG, self._short)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._reference and (not REFERENCE_DIR.is_dir() or os.environ.get("DRILLS_RECORD_GOLDEN")):
            return _state["replay"](self, name)  # student releases: recorded answers instead of code
        if not self._reference:
            key = f"{self._short}.{name}"
            overrides = _state["overrides"]
            if key in overrides:
                return overrides[key]
        module = self.module
        try:
            return getattr(module, name)
        except AttributeError:
            raise MissingNameError(
                f"{Path(module.__file__ or '').name} defines no `{name}`: keep the name and "
                f"signature of the stub"
            ) from None


def _no_replay(proxy: ModuleProxy, name: str) -> Any:
    raise StudentImportError(f"no reference solution here to answer {proxy!r}.{name}")


_state["replay"] = _no_replay


def set_replay(answer: Callable[[ModuleProxy, str], Any]) -> None:
    """Serve reference names through ``answer(proxy, name)`` where the reference tree is absent
    (a student release) or recorded (``DRILLS_RECORD_GOLDEN``): :mod:`graders` installs the
    recorded answers of :mod:`graders.checks.golden`."""
    _state["replay"] = answer


def student(short: str) -> ModuleProxy:
    """The student's module ``short`` ("day1.tensors") from the tree being graded."""
    return ModuleProxy(short, reference=False)


def reference(short: str) -> ModuleProxy:
    """The reference module ``short``: the kit's hidden solution."""
    return ModuleProxy(short, reference=True)


# --- per-test state shared with the checks ----------------------------------------------------

_state["current"] = None
_state["not_assessed"] = {}
_state["last_board"] = None


def set_current(nodeid: str | None) -> None:
    _state["current"] = nodeid


def current() -> str | None:
    """The node id of the grader test running now (None outside grader tests)."""
    return _state["current"]


def mark_not_assessed(reason: str) -> None:
    """Record that the running grader test could not be assessed here (no points lost)."""
    if _state["current"] is not None:
        _state["not_assessed"][_state["current"]] = reason


def not_assessed_reason(nodeid: str) -> str | None:
    return _state["not_assessed"].get(nodeid)


def set_last_board(board: Any) -> None:
    _state["last_board"] = board


def last_board() -> Any:
    return _state["last_board"]
