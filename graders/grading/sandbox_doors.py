"""The grading sandbox's small parts: the hook functions pytest registers, the stand-ins for the
runtime's functions, resource limits, preloads, and the channel's JSON written with built-ins.

Each hook and stand-in holds a token of the guard's vault, never the sandbox itself. The sandbox
runs these from sealed copies (:func:`graders.grading.tamper_seal.seal`), like the rest of its code.
"""

from __future__ import annotations

import resource
import sys
from json.encoder import encode_basestring_ascii as _encode_basestring_ascii  # C
from typing import Any

import pytest

from graders.grading.guard_rules import SandboxViolation


def _limit(kind: int, value: str | None) -> None:
    if value:
        n = int(value)
        resource.setrlimit(kind, (n, n))


_PRELOADED: set[str] = set()


def _preload(names: Any) -> None:
    """Run what a check needs that patches torch as a side effect, before the tamper snapshot.

    ``transformers`` adds ``nn.Module.smart_apply`` when it first builds a model; done by the
    grader during a check, that would be taken for the submission's doing. Each entry is a
    module to import or ``module:function`` to call, once per process; a module that is not
    installed is left out.
    """
    import importlib
    import importlib.util

    for entry in names:
        if entry in _PRELOADED:
            continue
        _PRELOADED.add(entry)
        name, _, func = entry.partition(":")
        if importlib.util.find_spec(name.split(".")[0]) is None:
            continue
        module = importlib.import_module(name)
        if func:
            getattr(module, func)()



def _hooks(ask: Any, token: int) -> dict[str, Any]:
    """The plugin's hook functions: each asks the guard's vault for the sandbox."""

    def sandbox() -> Any:
        return ask("fetch", token)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
        sandbox().collection_modifyitems(session, config, items)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(session: pytest.Session) -> None:
        sandbox().collection_finish(session)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
        report = yield
        sandbox().after_report(item, call)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
        sandbox().before(item)
        interrupted = None
        try:
            return (yield)
        except BaseException as exc:  # pytest.exit or KeyboardInterrupt from the code under test
            interrupted = f"stopped the grading session ({type(exc).__name__})"
            raise
        finally:
            sandbox().after(item, interrupted)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
        sandbox().sessionfinish(exitstatus)

    return {"sandbox": sandbox, **{k: v for k, v in locals().items() if k.startswith("pytest_")}}


def _runtime_wrappers(ask: Any, ref_pkg: str, importing: int, marking: int, getting: int,
                      collected: list) -> dict[str, Any]:
    """The sandbox's stand-ins for :mod:`graders.core.runtime`'s functions: they hold tokens of the
    vault, not the functions they stand for."""

    def import_from_tree(root: Any, pkg: str, short: str) -> Any:
        if pkg == ref_pkg:
            ask("refuse", "used the kit's reference solution")
        return ask("fetch", importing)(root, pkg, short)

    def mark_not_assessed(reason: str) -> None:
        ask("refuse", "marked a check as not assessed")
        ask("fetch", marking)(reason)

    def __getattr__(proxy: Any, name: str) -> Any:
        if not collected[0]:  # pytest probing module attributes while collecting
            raise AttributeError(name)
        return ask("fetch", getting, name)(proxy, name)  # asked for by whoever names `name`

    return {"import_from_tree": import_from_tree, "mark_not_assessed": mark_not_assessed,
            "__getattr__": __getattr__}


def _reprcompare_door(ask: Any, token: int) -> Any:
    def reprcompare(op: str, left: object, right: object) -> str | None:
        return ask("fetch", token)(op, left, right)

    return reprcompare


def _quiet_excepthook(default: Any) -> Any:
    def excepthook(args: Any) -> None:
        if type(args.exc_value) is SandboxViolation:
            sys.stderr.write(f"{args.exc_value}\n")
            return
        default(args)

    return excepthook


def _forget(name: str) -> None:
    for key in [n for n in sys.modules if n == name or n.startswith(name + ".")]:
        del sys.modules[key]


def _json_line(value: object) -> str:
    """``value`` (dicts, lists, strings, numbers, booleans, None) as one line of JSON, written
    with built-in functions only (``json``'s encoder is Python code anyone can replace)."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int or isinstance(value, int):
        return int.__repr__(value)  # type: ignore[arg-type]
    if kind is float or isinstance(value, float):
        return float.__repr__(value) if value == value and value not in (float("inf"), float("-inf")) else "null"  # type: ignore[operator]
    if isinstance(value, str):
        return _encode_string(str.__str__(value))
    if kind is dict:
        pairs: Any = dict.items(value)  # type: ignore[arg-type]
        return "{" + ", ".join(f"{_encode_string(str.__str__(k) if isinstance(k, str) else repr(type(k)))}: "
                               f"{_json_line(v)}" for k, v in pairs) + "}"
    if kind in (list, tuple):
        return "[" + ", ".join(_json_line(v) for v in value) + "]"  # type: ignore[attr-defined]
    return _encode_string(f"<{type(value).__name__}>")


def _encode_string(text: str) -> str:
    return _encode_basestring_ascii(text)


def _stop_reason(exc: BaseException) -> str | None:
    """Why an exception means the code under test tried to end the check or the process."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        name = type(exc).__name__
        if isinstance(exc, SystemExit):
            return "called sys.exit"
        if name in ("Exit", "KeyboardInterrupt"):
            return f"stopped the grading session ({name})"
        if name == "Skipped" and any(type(e).__name__ == "StudentImportError" for e in seen):
            return "skipped a check from exercise code"
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None
