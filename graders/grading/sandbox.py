"""The grading sandbox: a pytest plugin that ``drills grade`` loads in each grading process.

``drills grade`` runs ``pytest -p graders.grading.sandbox ...`` on one submission. This plugin does
nothing unless ``drills grade`` configured it (through ``DRILLS_SANDBOX_*`` variables, removed
from the environment at start-up, before any submission code is imported). It then:

- lowers the process's resource limits (address space, CPU seconds, file size, core dumps);
- installs the audit hook of :mod:`graders.grading.guard` (no reading the reference or the
  graders, no writing outside the submission's folder, no processes, network or ctypes, no
  interpreter frames), which counts as the submission's whatever its code started (threads,
  signal handlers, ``atexit`` and ``weakref.finalize`` callbacks) and whatever it compiled;
- hides ``PYTEST_CURRENT_TEST`` from the code under test and flags code that looks for it;
- refuses the kit's ``reference()`` modules and ``not_assessed`` to the submission's code, keeps
  pytest's collection from importing the submission (its code first runs inside a check),
  imports the submission's modules as its own code (what the import reads is read by it) and
  serves the reference only from the reference's own files;
- snapshots, before each check, and restores after it (:mod:`graders.grading.tamper`): the
  code of the graders, pytest, hypothesis, torch and numpy; the graders' data and the
  attributes of their functions; ``sys.modules``; and the interpreter's and torch's settings
  (default dtype, modes left entered, hooks...). What the check's code changed is flagged;
- writes one JSON line per check to a file descriptor opened by ``drills grade``, each line
  carrying a secret the submission's code is never given; ``drills grade`` trusts nothing else.
  What a line says names the folders of the run in the kit's terms (``reference/day1/...``,
  ``exercises/day1/...``), never their temporary paths, so that grades are reproducible.

Nothing of this is within the submission's reach. The sandbox runs from sealed copies of this
module, the guard and the tamper module (:func:`graders.grading.tamper.seal`), so replacing
their functions changes nothing; its state (the secret, the channel, the guard, the
snapshots) is held by the guard's vault, a suspended generator whose frame only the audit hook
could read; what pytest registers as the plugin is a set of functions that ask the vault for
the sandbox. pytest's configuration, which leads to every plugin, is taken out of the places
code under test could find it during a check (the assertion helpers, the import hook of
assertion rewriting, the debugger).

Students never load this plugin: ``pytest exercises/dayN`` behaves as before.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import types
from json.encoder import encode_basestring_ascii as _encode_basestring_ascii  # C
from pathlib import Path
from typing import Any

import pytest

from graders.core import runtime
from graders.grading import tamper as _tamper
from graders.grading.guard import (
    Guard,
    Places,
    SandboxViolation,
    _as_submission,
    attribute_callbacks,
    guarded,
    load_roles,
)
from graders.grading.tamper import Data, Modules, Snapshot, State, genuine as _genuine

_write = os.write
_LIVE_SYS, _LIVE_OS, _LIVE_RUNTIME = sys, os, runtime  # set and read as they are now (not sealed)
_PREFIX = "DRILLS_SANDBOX_"
_WATCHED_ENV = ("PYTEST_", "DRILLS_", "NBGRADER", "HYPOTHESIS")
#: The modules the sandbox runs from sealed copies of (and the standard library they use for
#: paths), so that nothing the code under test replaces reaches them.
_SEALED = ("graders.grading.sandbox", "graders.grading.guard", "graders.grading.tamper", "posixpath", "genericpath")


def pytest_configure(config: pytest.Config) -> None:
    settings = {k[len(_PREFIX):]: os.environ.pop(k) for k in list(os.environ) if k.startswith(_PREFIX)}
    if "FD" not in settings:
        return
    sealed = _tamper.seal(_SEALED)
    sandbox = sealed["graders.grading.sandbox"].Sandbox(config, settings)  # type: ignore[attr-defined]
    sandbox.start()
    config.pluginmanager.register(sandbox.plugin(), "drills-sandbox")


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
    """The per-process state of the sandbox (held by the guard's vault, never by pytest)."""

    def __init__(self, config: pytest.Config, settings: dict[str, str]) -> None:
        self.config = config
        self.fd = int(settings["FD"])
        self.nonce = settings.get("NONCE", "")
        self.skip = set(filter(None, settings.get("SKIP", "").split("\n")))
        self.tree = settings["TREE"]
        self.limits = settings
        protected = [p for p in settings.get("PROTECT", "").split(os.pathsep) if p]
        allowed = [p for p in settings.get("ALLOW", "").split(os.pathsep) if p]
        writable = [p for p in settings.get("WRITABLE", "").split(os.pathsep) if p]
        self.reference = Path(settings.get("REFERENCE") or runtime.REFERENCE_DIR)
        # the kit's copy this process imported its graders from, named by its own paths
        places = Places(self.tree, protected, writable, reference=settings.get("REFERENCE"),
                        kits=[str(runtime.KIT_ROOT)], roles=load_roles(self.tree))
        self.guard = Guard(self.tree, protected, allowed, writable, places=places)
        real = os.path.realpath
        self.kit = tuple(sorted({real(str(runtime.KIT_ROOT)) + os.sep, real(str(self.reference)) + os.sep,
                                 *(real(p) + os.sep for p in allowed)}))
        self.legit_not_assessed: set[str] = set()
        self.stopped: dict[str, str] = {}
        self.collected = [False]  # no submission code runs before the first check
        self.allowances: dict[str, frozenset] = {}
        self.preloads: dict[str, tuple] = {}
        self.references: dict[str, types.ModuleType] = {}
        self.snapshot: Any = None
        self.data: Any = None
        self.state: Any = None
        self.modules: Any = None
        self.hidden_config: Any = None
        self.token = 0
        self.real_import = runtime.import_from_tree
        from graders.plugin import state  # bound now, before any submission code runs

        self.owners_of, self.results_of = state.owners, state.results
        self.real_mark = runtime.mark_not_assessed
        self.real_getattr = runtime.ModuleProxy.__getattr__
        self.real_reprcompare = None

    # --- set-up ----------------------------------------------------------------------------
    def start(self) -> None:
        for var in ("PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_WORKER"):
            os.environ.pop(var, None)
        import _pytest.runner

        _pytest.runner._update_current_test_var = lambda item, when: None  # type: ignore[assignment]
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        _limit(resource.RLIMIT_AS, self.limits.get("AS"))
        _limit(resource.RLIMIT_CPU, self.limits.get("CPU"))
        _limit(resource.RLIMIT_FSIZE, self.limits.get("FSIZE"))
        _limit(resource.RLIMIT_CORE, "0")
        self.guard.install()
        attribute_callbacks(self.guard)
        self.token = self.guard.hide(self, words=("sandbox",))
        self._watch_environment()
        self._guard_runtime()
        self._refuse_special_files()
        self._close_config_routes()
        self._quiet_refusals_in_threads()

    def plugin(self) -> types.ModuleType:
        """What pytest registers: hook functions that ask the vault for the sandbox."""
        plugin = types.ModuleType("drills-sandbox")
        vars(plugin).update(_hooks(self.guard.ask, self.token))
        self.guard.trust(*vars(plugin).values())
        return plugin

    def _watch_environment(self) -> None:
        ask = self.guard.ask
        base = type(os.environ)

        class WatchedEnviron(base):  # type: ignore[misc, valid-type]
            def __getitem__(self, key: str) -> str:
                if type(key) is str and key.startswith(_WATCHED_ENV):
                    ask("note", f"looked up {key} (code that behaves differently under grading)")
                return base.__getitem__(self, key)

        os.environ.__class__ = WatchedEnviron

    def _refuse_special_files(self) -> None:
        """``os.mknod`` and ``os.mkfifo`` raise no audit event: refuse them to the submission's
        code (in ``os`` and in ``posix``, where ``os`` takes them from)."""
        import posix

        for name in ("mknod", "mkfifo"):
            fn = getattr(posix, name, None)
            if fn is not None:
                wrapper = guarded(self.guard, fn, f"called os.{name}")
                setattr(posix, name, wrapper)
                setattr(_LIVE_OS, name, wrapper)

    def _guard_runtime(self) -> None:
        guard = self.guard
        ask, ref_pkg = guard.ask, runtime._REFERENCE_PKG
        importing = guard.hide(self._import_from_tree, student_ok=True, words=("import_from_tree",))
        marking = guard.hide(self._mark_not_assessed, words=("mark_not_assessed",))
        getting = guard.hide(self.real_getattr, student_ok=True, words=("getattr",))
        wrappers = _runtime_wrappers(ask, ref_pkg, importing, marking, getting, self.collected)
        guard.trust(*wrappers.values())
        live = _LIVE_RUNTIME
        live.import_from_tree = wrappers["import_from_tree"]
        live.mark_not_assessed = wrappers["mark_not_assessed"]
        live.ModuleProxy.__getattr__ = wrappers["__getattr__"]  # type: ignore[method-assign]
        if self.limits.get("REFERENCE"):
            live.REFERENCE_DIR = Path(self.limits["REFERENCE"])

    def _quiet_refusals_in_threads(self) -> None:
        """A refusal in a thread of the submission is recorded already: no traceback for it
        (printing one reads the graders' sources on the submission's behalf)."""
        import threading

        threading.excepthook = _quiet_excepthook(threading.excepthook)

    def _close_config_routes(self) -> None:
        """pytest's debugger keeps the configuration in a class attribute: not while grading."""
        debugging = sys.modules.get("_pytest.debugging")
        pdb = getattr(debugging, "pytestPDB", None)
        for name in ("_config", "_pluginmanager"):
            if pdb is not None and hasattr(pdb, name):
                setattr(pdb, name, None)

    # --- what the runtime wrappers ask for -------------------------------------------------
    def _import_from_tree(self, root: Any, pkg: str, short: str) -> Any:
        if pkg == runtime._REFERENCE_PKG:
            return self._reference_module(short)
        if pkg != runtime._STUDENT_PKG:
            return self.real_import(root, pkg, short)
        tree = Path(self.tree)
        if os.path.realpath(str(root)) != os.path.realpath(str(tree)):
            self.guard.violations.append("pointed the graders at another folder than its own")
            root = Path(os.path.realpath(str(tree)))
        day = short.split(".")[0]
        package = sys.modules.get(f"{pkg}.{day}")
        if package is not None and list(getattr(package, "__path__", None) or []) != [str(Path(root) / day)]:
            self.guard.violations.append(f"changed where its package {day} is imported from")
            _forget(f"{pkg}.{day}")
        # the submission's module is imported as its own code: what the import reads, it reads
        module = _as_submission(self.real_import, root, pkg, short)
        where = getattr(module, "__file__", None)
        if type(where) is not str or not os.path.realpath(where).startswith(os.path.realpath(str(root)) + os.sep):
            self.guard.violations.append(f"made another file pass for its module {short}")
            _forget(f"{pkg}.{short}")
            raise SandboxViolation(f"not allowed while grading: the code made another file pass for {short}")
        return module

    def _reference_module(self, short: str) -> types.ModuleType:
        """The reference module ``short``, imported from the reference's own files only."""
        cached = self.references.get(short)
        if cached is not None:
            return cached
        pkg, root = runtime._REFERENCE_PKG, self.reference
        day = short.split(".")[0]
        folder = (os.path.realpath(str(root)) + os.sep,)
        for name in (pkg, f"{pkg}.{day}", f"{pkg}.{short}"):
            module = sys.modules.get(name)
            if module is None or (_genuine(module, folder) and (
                    name != f"{pkg}.{day}" or list(getattr(module, "__path__", None) or []) == [str(root / day)])):
                continue
            self.guard.violations.append(f"planted a module for the reference ({name.replace(pkg, 'reference')})")
            _forget(name)
        module = self.real_import(root, pkg, short)
        if not _genuine(module, folder):
            self.guard.violations.append("made other code pass for the reference")
            _forget(f"{pkg}.{day}")
            raise SandboxViolation("not allowed while grading: other code passed for the reference")
        self.references[short] = module
        return module

    def _check_own_packages(self) -> None:
        """The submission's day packages still import from its own folders (not the reference's)."""
        root = os.path.realpath(self.tree)
        pkg = runtime._STUDENT_PKG
        for name, module in list(sys.modules.items()):
            if not name.startswith(pkg + ".") or name.count(".") != 1:
                continue
            day = name.split(".")[1]
            if list(getattr(module, "__path__", None) or []) != [os.path.join(root, day)]:
                self.guard.violations.append(f"changed where its package {day} is imported from")
                _forget(name)

    def _mark_not_assessed(self, reason: str) -> None:
        current = runtime.current()
        if current is not None:
            self.legit_not_assessed.add(current)
        self.real_mark(reason)

    def _reprcompare(self, op: str, left: object, right: object) -> str | None:
        real = self.real_reprcompare
        return real(op, left, right) if real is not None else None

    # --- the channel -----------------------------------------------------------------------
    def emit(self, record: dict) -> None:
        record["nonce"] = self.nonce
        data = (_json_line(record) + "\n").encode()
        while data:
            data = data[_write(self.fd, data):]

    # --- hooks (called through the plugin's functions) ---------------------------------------
    def collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list) -> None:
        if self.skip:
            drop = [i for i in items if i.nodeid in self.skip]
            items[:] = [i for i in items if i.nodeid not in self.skip]
            config.hook.pytest_deselected(items=drop)

    def collection_finish(self, session: pytest.Session) -> None:
        from graders.core import registry
        from graders.plugin import feedback
        owners = dict(self.owners_of(session.config))
        exercises = registry.by_id()
        for nodeid, owner in owners.items():
            ex = exercises.get(owner)
            extra = getattr(ex, "extra", None) or {}
            self.allowances[nodeid] = frozenset(extra.get("sandbox", ()))
            self.preloads[nodeid] = tuple(extra.get("preload", ()))
        self.collected[0] = True
        checks = [
            {"id": i.nodeid, "exercise": owners[i.nodeid], "hidden": i.get_closest_marker("hidden") is not None,
             "question": feedback.question_of(i)}
            for i in session.items if i.nodeid in owners
        ]
        self.emit({"type": "collected", "checks": checks})

    def after_report(self, item: pytest.Item, call: pytest.CallInfo) -> None:
        if call.excinfo is not None:
            why = _stop_reason(call.excinfo.value)
            if why:
                self.stopped[item.nodeid] = why

    def before(self, item: pytest.Item) -> None:
        """Before a check: take its rules and a snapshot of everything it could change."""
        self.emit({"type": "start", "id": item.nodeid})
        guard = self.guard
        guard.take()
        guard.allow = self.allowances.get(item.nodeid, frozenset())
        self._close_config_routes()  # pytest's debugger sets its class attributes at configure
        _preload(self.preloads.get(item.nodeid, ()))
        self._hide_config()
        if self.snapshot is None or self.snapshot.modules != len(sys.modules):
            self.snapshot = Snapshot()  # new modules were imported: watch them too
            self.data = Data()
        self.state = State(guard.is_mine, lambda h: id(h) in guard._handlers)
        self.modules = Modules()
        self._quiet_refusals_in_threads()  # over pytest's own hook for this test (put back after)
        guard.checking = True

    def after(self, item: pytest.Item, interrupted: str | None) -> None:
        """After a check: put everything back, report, and end the process if code of the
        submission still runs in another thread."""
        guard = self.guard
        guard.checking = False
        import gc

        if guard.gc_watch not in gc.callbacks:  # put back below, with the rest of gc's state
            guard.violations.append("removed the sandbox's watch on gc")
        running = self._submission_threads()
        flagged: list[str] = []
        changed: list[str] = []
        broken = False
        for step in (lambda: flagged.extend(self.state.restore()),
                     lambda: changed.extend(self.snapshot.restore(guard.is_mine)),
                     lambda: changed.extend(self.data.restore()),
                     lambda: changed.extend(self.modules.restore(self.kit, guard._own)),
                     self._check_own_packages, self._show_config, self._forget_exits):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - what cannot be put back ends this process
                broken = True
                flagged.append(f"left the grading process in a state the sandbox could not put back "
                               f"({type(exc).__name__})")
        self._report(item, changed, flagged, interrupted)
        if running or broken:  # nothing it does later may reach another check: a fresh process goes on
            os._exit(0)

    def sessionfinish(self, exitstatus: int) -> None:
        self.emit({"type": "done", "exitstatus": int(exitstatus)})

    # --- during a check, pytest's configuration is nowhere the code under test can look ---
    def _hide_config(self) -> None:
        util = sys.modules.get("_pytest.assertion.util")
        meta_path = _LIVE_SYS.meta_path
        rewriters = [(i, f) for i, f in enumerate(meta_path) if type(f).__name__ == "AssertionRewritingHook"]
        for _, finder in reversed(rewriters):
            meta_path.remove(finder)
        saved = None
        if util is not None:
            saved = (util._config, util._reprcompare)
            self.real_reprcompare = util._reprcompare
            util._config = None
            util._reprcompare = self._reprcompare_wrapper if util._reprcompare is not None else None
        self.hidden_config = (util, saved, rewriters)

    def _show_config(self) -> None:
        util, saved, rewriters = self.hidden_config
        meta_path = _LIVE_SYS.meta_path
        for index, finder in rewriters:
            if finder not in meta_path:
                meta_path.insert(index, finder)
        if util is not None and saved is not None:
            util._config, util._reprcompare = saved
        self.real_reprcompare = None

    @property
    def _reprcompare_wrapper(self) -> Any:
        wrapper = getattr(self, "_reprcompare_public", None)
        if wrapper is None:
            wrapper = self._reprcompare_public = _reprcompare_door(
                self.guard.ask, self.guard.hide(self._reprcompare, student_ok=True, words=("reprcompare",)))
            self.guard.trust(wrapper)
        return wrapper

    def _submission_threads(self) -> bool:
        """True when another thread runs code of the submission now."""
        import threading

        me = threading.get_ident()
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            while frame is not None:
                if self.guard._mine(frame):
                    return True
                frame = frame.f_back
        return False

    def _forget_exits(self) -> None:
        """``atexit`` callbacks registered on the submission's behalf run at no later time."""
        import atexit

        for run in self.guard._exits:
            try:
                atexit.unregister(run)
            except Exception:  # noqa: BLE001 - not an atexit callback (a signal handler)
                pass

    def _report(self, item: pytest.Item, changed: list[str], flagged: list[str], interrupted: str | None) -> None:
        res = self.results_of(self.config).get(item.nodeid)
        violations = self.guard.take()
        if changed:
            violations.append("changed " + ", ".join(sorted(set(changed))[:8]))
        violations += flagged
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
        record["violations"] = [self.guard.places.scrub(v) for v in dict.fromkeys(violations)]
        self.emit(record)


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
        return "{" + ", ".join(f"{_encode_string(str.__str__(k) if isinstance(k, str) else repr(type(k)))}: "
                               f"{_json_line(v)}" for k, v in dict.items(value)) + "}"  # type: ignore[arg-type]
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
