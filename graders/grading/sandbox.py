"""The grading sandbox: a pytest plugin that ``drills grade`` loads in each grading process.

``drills grade`` runs ``pytest -p graders.grading.sandbox ...`` on one submission. This plugin does
nothing unless ``drills grade`` configured it (through ``DRILLS_SANDBOX_*`` variables, removed
from the environment at start-up, before any submission code is imported). It then:

- lowers the process's resource limits (address space, CPU seconds, file size, core dumps);
- installs the audit hook of :mod:`graders.grading.guard` (no reading the reference or the
  graders, no writing outside the submission's folder, no processes, network or ctypes, no
  interpreter frames), which counts as the submission's whatever its code started (threads,
  signal handlers, ``atexit`` and ``weakref.finalize`` callbacks) and whatever it compiled;
- hides pytest's variables (``PYTEST_CURRENT_TEST``, ``PYTEST_PLUGINS``...) from the code under test
  and flags code that looks for them;
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
module, the guard and the tamper module (:func:`graders.grading.tamper_seal.seal`), so replacing
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from graders.core import runtime
from graders.grading.guard import Guard
from graders.grading.guard_doors import _as_submission, attribute_callbacks, guarded
from graders.grading.guard_places import Places, load_roles
from graders.grading.guard_rules import SandboxViolation
from graders.grading.sandbox_checks import CheckCycle
from graders.grading.sandbox_doors import _forget, _hooks, _limit, _runtime_wrappers
from graders.grading.tamper_modules import genuine as _genuine
from graders.grading.tamper_seal import seal

_LIVE_OS, _LIVE_RUNTIME = os, runtime  # set and read as they are now (not sealed)
_PREFIX = "DRILLS_SANDBOX_"
_WATCHED_ENV = ("PYTEST_", "DRILLS_", "NBGRADER", "HYPOTHESIS")
#: The modules the sandbox runs from sealed copies of (and the standard library they use for
#: paths), so that nothing the code under test replaces reaches them.
_SEALED = ("graders.grading.sandbox", "graders.grading.sandbox_checks", "graders.grading.sandbox_doors",
           "graders.grading.guard", "graders.grading.guard_code", "graders.grading.guard_doors",
           "graders.grading.guard_judge", "graders.grading.guard_places", "graders.grading.guard_rules",
           "graders.grading.guard_vault", "graders.grading.tamper", "graders.grading.tamper_data",
           "graders.grading.tamper_fast", "graders.grading.tamper_modules", "graders.grading.tamper_seal",
           "graders.grading.tamper_state", "posixpath", "genericpath")


def pytest_configure(config: pytest.Config) -> None:
    settings = {k[len(_PREFIX):]: os.environ.pop(k) for k in list(os.environ) if k.startswith(_PREFIX)}
    if "FD" not in settings:
        return
    sealed = seal(_SEALED)
    sandbox = sealed["graders.grading.sandbox"].Sandbox(config, settings)  # type: ignore[attr-defined]
    sandbox.start()
    config.pluginmanager.register(sandbox.plugin(), "drills-sandbox")


class Sandbox(CheckCycle):
    """The per-process state of the sandbox (held by the guard's vault, never by pytest)."""

    def __init__(self, config: pytest.Config, settings: dict[str, str]) -> None:
        self.config = config
        self.fd = int(settings["FD"])
        self.nonce = settings.get("NONCE", "")
        self.skip = set(filter(None, settings.get("SKIP", "").split("\n")))
        self.tree = settings["TREE"]
        #: the tree's real path when grading began: what the submission's modules must lie in
        self.real_tree = os.path.realpath(self.tree)
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
        for var in ("PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_WORKER", "PYTEST_PLUGINS"):
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
        ask = cast(Callable[..., Any], self.guard.ask)  # installed: the vault's door
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


    # --- what the runtime wrappers ask for -------------------------------------------------
    def _import_from_tree(self, root: Any, pkg: str, short: str) -> Any:
        if pkg == runtime._REFERENCE_PKG:
            return self._reference_module(short)
        if pkg != runtime._STUDENT_PKG:
            return self.real_import(root, pkg, short)
        real = self.real_tree
        if str(root) != self.tree and os.path.realpath(str(root)) != real:
            self.guard.violations.append("pointed the graders at another folder than its own")
            root = Path(real)
        day = short.split(".")[0]
        package = sys.modules.get(f"{pkg}.{day}")
        if package is not None and list(getattr(package, "__path__", None) or []) != [str(Path(root) / day)]:
            self.guard.violations.append(f"changed where its package {day} is imported from")
            _forget(f"{pkg}.{day}")
        # the submission's module is imported as its own code: what the import reads, it reads
        module = _as_submission(self.real_import, root, pkg, short)
        where = getattr(module, "__file__", None)
        if type(where) is not str or not os.path.realpath(where).startswith(real + os.sep):
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

    def _mark_not_assessed(self, reason: str) -> None:
        current = runtime.current()
        if current is not None:
            self.legit_not_assessed.add(current)
        self.real_mark(reason)

