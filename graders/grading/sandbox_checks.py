"""What the grading sandbox does around each check, and what it reports of it.

Before a check: its rules, a snapshot of everything it could change, pytest's configuration out
of reach. After it: everything put back, what changed flagged, one JSON line on the channel, and
the process ended when code of the submission still runs in another thread. The sandbox
(:class:`graders.grading.sandbox.Sandbox`) runs this from a sealed copy, like the rest of its code.
"""

from __future__ import annotations

import os
import re
import sys
from types import FrameType
from typing import Any

import pytest

from graders.core import runtime
from graders.grading.guard import Guard
from graders.grading.sandbox_doors import (
    _forget,
    _json_line,
    _preload,
    _quiet_excepthook,
    _reprcompare_door,
    _stop_reason,
)
from graders.grading.tamper import Snapshot
from graders.grading.tamper_data import Data, settle_hypothesis_tests
from graders.grading.tamper_modules import Modules
from graders.grading.tamper_state import State

_write = os.write
#: The name of one of the submission's day packages (``_drills_student.day3``).
_DAY_PACKAGE = re.compile(re.escape(runtime._STUDENT_PKG) + r"\.[^.]*\Z").match
_LIVE_SYS = sys  # read as it is now (not sealed)


class CheckCycle:
    """The sandbox's part that runs before and after each check (a base of ``Sandbox``)."""

    config: pytest.Config
    fd: int
    nonce: str
    skip: set[str]
    tree: str
    guard: Guard
    kit: tuple[str, ...]
    collected: list[bool]
    allowances: dict[str, frozenset]
    preloads: dict[str, tuple]
    stopped: dict[str, str]
    legit_not_assessed: set[str]
    snapshot: Any
    data: Any
    state: Any
    modules: Any
    hidden_config: Any
    real_reprcompare: Any
    owners_of: Any
    results_of: Any

    # --- the channel -----------------------------------------------------------------------
    def emit(self, record: dict) -> None:
        record["nonce"] = self.nonce
        data = (_json_line(record) + "\n").encode()
        while data:
            data = data[_write(self.fd, data):]

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

    def _check_own_packages(self) -> None:
        """The submission's day packages still import from its own folders (not the reference's)."""
        root = os.path.realpath(self.tree)
        modules = sys.modules
        found = [(n, modules.get(n)) for n in filter(_DAY_PACKAGE, list(modules))]  # at C speed
        for name, module in found:
            day = name.split(".")[1]
            if list(getattr(module, "__path__", None) or []) != [os.path.join(root, day)]:
                self.guard.violations.append(f"changed where its package {day} is imported from")
                _forget(name)

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
        settle_hypothesis_tests(getattr(i, "obj", None) for i in session.items)
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
            if self.snapshot is None or self.snapshot.stale():
                self.snapshot = Snapshot()  # new modules were imported: watch them too
            if self.data is None or self.data.stale():
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
        util: Any = sys.modules.get("_pytest.assertion.util")
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

    def _reprcompare(self, op: str, left: object, right: object) -> str | None:
        real = self.real_reprcompare
        return real(op, left, right) if real is not None else None

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
        for ident, top in sys._current_frames().items():
            if ident == me:
                continue
            frame: FrameType | None = top
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


