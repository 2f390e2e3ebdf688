"""The grading sandbox: a pytest plugin that ``drills grade`` loads in each grading process.

``drills grade`` runs ``pytest -p graders.sandbox ...`` on one submission. This plugin does
nothing unless ``drills grade`` configured it (through ``DRILLS_SANDBOX_*`` variables, removed
from the environment at start-up, before any submission code is imported). It then:

- lowers the process's resource limits (address space, CPU seconds, file size, core dumps);
- installs the audit hook of :mod:`graders.grading.guard` (no reading the reference or the
  graders, no writing outside the submission's folder, no processes, network or ctypes);
- hides ``PYTEST_CURRENT_TEST`` from the code under test and flags code that looks for it;
- refuses the kit's ``reference()`` modules and ``not_assessed`` to the submission's code, and
  keeps pytest's collection from importing the submission (its code first runs inside a check);
- snapshots the graders, pytest, hypothesis, torch and numpy before each check and restores
  them after it (:mod:`graders.grading.tamper`), flagging what was changed;
- writes one JSON line per check to a file descriptor opened by ``drills grade``, each line
  carrying a secret the submission's code is never given; ``drills grade`` trusts nothing else.
  What a line says names the folders of the run in the kit's terms (``reference/day1/...``,
  ``exercises/day1/...``), never their temporary paths, so that grades are reproducible.

Students never load this plugin: ``pytest exercises/dayN`` behaves as before.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from typing import Any

import pytest

from graders import _runtime

_dumps = json.dumps
_write = os.write
_PREFIX = "DRILLS_SANDBOX_"
_WATCHED_ENV = ("PYTEST_", "DRILLS_", "NBGRADER", "HYPOTHESIS")


def pytest_configure(config: pytest.Config) -> None:
    settings = {k[len(_PREFIX):]: os.environ.pop(k) for k in list(os.environ) if k.startswith(_PREFIX)}
    if "FD" not in settings:
        return
    sandbox = Sandbox(config, settings)
    config.pluginmanager.register(sandbox, "drills-sandbox")
    sandbox.start()


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


class Sandbox:
    """The per-process state of the sandbox (registered as a pytest plugin)."""

    def __init__(self, config: pytest.Config, settings: dict[str, str]) -> None:
        from graders.grading.guard import Guard, Places, load_roles

        self.config = config
        self.fd = int(settings["FD"])
        self.nonce = settings.get("NONCE", "")
        self.skip = set(filter(None, settings.get("SKIP", "").split("\n")))
        self.tree = settings["TREE"]
        self.limits = settings
        protected = [p for p in settings.get("PROTECT", "").split(os.pathsep) if p]
        allowed = [p for p in settings.get("ALLOW", "").split(os.pathsep) if p]
        writable = [p for p in settings.get("WRITABLE", "").split(os.pathsep) if p]
        # the kit's copy this process imported its graders from, named by its own paths
        places = Places(self.tree, protected, writable, reference=settings.get("REFERENCE"),
                        kits=[str(_runtime.KIT_ROOT)], roles=load_roles(self.tree))
        self.guard = Guard(self.tree, protected, allowed, writable, places=places)
        self.legit_not_assessed: set[str] = set()
        self.stopped: dict[str, str] = {}
        self.snapshot: Any = None
        self.collected = False  # no submission code runs before the first check

    # --- set-up ----------------------------------------------------------------------------
    def start(self) -> None:
        for var in ("PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_WORKER"):
            os.environ.pop(var, None)
        import _pytest.runner

        _pytest.runner._update_current_test_var = lambda item, when: None  # type: ignore[assignment]
        self._watch_environment()
        self._guard_runtime()
        self._refuse_special_files()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        _limit(resource.RLIMIT_AS, self.limits.get("AS"))
        _limit(resource.RLIMIT_CPU, self.limits.get("CPU"))
        _limit(resource.RLIMIT_FSIZE, self.limits.get("FSIZE"))
        _limit(resource.RLIMIT_CORE, "0")
        self.guard.install()

    def _watch_environment(self) -> None:
        guard = self.guard
        base = type(os.environ)

        class WatchedEnviron(base):  # type: ignore[misc, valid-type]
            def __getitem__(self, key: str) -> str:
                if isinstance(key, str) and key.startswith(_WATCHED_ENV) and guard.student_on_stack(2):
                    guard.violations.append(f"looked up {key} (code that behaves differently under grading)")
                return base.__getitem__(self, key)

        os.environ.__class__ = WatchedEnviron

    def _refuse_special_files(self) -> None:
        """``os.mknod`` and ``os.mkfifo`` raise no audit event: refuse them to the submission's
        code (in ``os`` and in ``posix``, where ``os`` takes them from)."""
        import posix

        from graders.grading.guard import guarded

        for name in ("mknod", "mkfifo"):
            fn = getattr(posix, name, None)
            if fn is not None:
                wrapper = guarded(self.guard, fn, f"called os.{name}")
                setattr(posix, name, wrapper)
                setattr(os, name, wrapper)

    def _guard_runtime(self) -> None:
        from graders.grading.guard import SandboxViolation

        guard, legit = self.guard, self.legit_not_assessed
        real_import, real_mark = _runtime.import_from_tree, _runtime.mark_not_assessed
        ref_pkg = _runtime._REFERENCE_PKG

        def import_from_tree(root: Any, pkg: str, short: str) -> Any:
            if pkg == ref_pkg and guard.student_on_stack(2):
                guard.violations.append("used the kit's reference solution")
                raise SandboxViolation("not allowed while grading: the reference solution")
            return real_import(root, pkg, short)

        def mark_not_assessed(reason: str) -> None:
            if guard.student_on_stack(2):
                guard.violations.append("marked a check as not assessed")
                raise SandboxViolation("not allowed while grading: marking a check not assessed")
            if _runtime.current() is not None:
                legit.add(_runtime.current())
            real_mark(reason)

        _runtime.import_from_tree = import_from_tree
        _runtime.mark_not_assessed = mark_not_assessed
        proxy_getattr, sandbox = _runtime.ModuleProxy.__getattr__, self

        def __getattr__(proxy: Any, name: str) -> Any:
            if not sandbox.collected:  # pytest probing module attributes while collecting
                raise AttributeError(name)
            return proxy_getattr(proxy, name)

        _runtime.ModuleProxy.__getattr__ = __getattr__  # type: ignore[method-assign]
        if self.limits.get("REFERENCE"):
            _runtime.REFERENCE_DIR = __import__("pathlib").Path(self.limits["REFERENCE"])

    # --- the channel -----------------------------------------------------------------------
    def emit(self, record: dict) -> None:
        record["nonce"] = self.nonce
        data = (_dumps(record, default=str) + "\n").encode()
        while data:
            data = data[_write(self.fd, data):]

    # --- hooks -----------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list) -> None:
        if self.skip:
            drop = [i for i in items if i.nodeid in self.skip]
            items[:] = [i for i in items if i.nodeid not in self.skip]
            config.hook.pytest_deselected(items=drop)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from graders import feedback, plugin

        owners = session.config.stash[plugin._EXERCISES]
        self.collected = True
        checks = [
            {"id": i.nodeid, "exercise": owners[i.nodeid], "hidden": i.get_closest_marker("hidden") is not None,
             "question": feedback.question_of(i)}
            for i in session.items if i.nodeid in owners
        ]
        self.emit({"type": "collected", "checks": checks})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if call.excinfo is not None:
            why = _stop_reason(call.excinfo.value)
            if why:
                self.stopped[item.nodeid] = why
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        from graders.grading.tamper import Snapshot

        from graders import plugin, registry

        self.emit({"type": "start", "id": item.nodeid})
        self.guard.take()
        ex = registry.by_id().get(self.config.stash[plugin._EXERCISES].get(item.nodeid, ""))
        self.guard.allow = frozenset(ex.extra.get("sandbox", ())) if ex is not None else frozenset()
        _preload(ex.extra.get("preload", ()) if ex is not None else ())
        if self.snapshot is None or self.snapshot.modules != len(sys.modules):
            self.snapshot = Snapshot()  # new modules were imported: watch them too
        snapshot = self.snapshot
        interrupted = None
        try:
            return (yield)
        except BaseException as exc:  # pytest.exit or KeyboardInterrupt from the code under test
            interrupted = f"stopped the grading session ({type(exc).__name__})"
            raise
        finally:
            changed = snapshot.restore()
            self._report(item, changed, interrupted)

    def _report(self, item: pytest.Item, changed: list[str], interrupted: str | None) -> None:
        from graders import plugin

        res = self.config.stash[plugin._RESULTS].get(item.nodeid)
        violations = self.guard.take()
        if changed:
            violations.append("changed " + ", ".join(sorted(set(changed))[:8]))
        for why in (self.stopped.pop(item.nodeid, None), interrupted):
            if why:
                violations.append(why)
        record: dict[str, Any] = {"type": "result", "id": item.nodeid, "violations": violations}
        if res is not None:
            scrub = self.guard.places.scrub  # no folder of this run in the report
            record.update(outcome=res.outcome, kind=res.kind, feedback=scrub(res.feedback),
                          reason=scrub(res.reason),
                          duration=round(res.duration, 4), hidden=res.hidden, question=res.question)
            if res.kind == "skipped":
                violations.append("skipped a check from exercise code")
            if res.outcome == "not assessed" and item.nodeid not in self.legit_not_assessed:
                violations.append("marked a check as not assessed")
        else:
            record.update(outcome="failed", kind="failure", feedback="", reason="", duration=0.0)
        record["violations"] = [self.guard.places.scrub(v) for v in violations]
        self.emit(record)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.emit({"type": "done", "exitstatus": int(exitstatus)})


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
