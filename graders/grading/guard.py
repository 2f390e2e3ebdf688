"""An audit hook that stops a submission's code from reaching what it must not touch.

Installed in the grading process (``-p graders.grading.sandbox``) before any submission code runs.
CPython audit hooks cannot be removed once added, and they see every file opened, every
process started, every socket, every ``ctypes`` call, every frame handed out and every piece
of code compiled or run.

A sensitive event raised while code of the submission is on the stack is refused with
:class:`~graders.grading.guard_rules.SandboxViolation` and recorded; the grading process
reports it and the exercise being checked scores 0. Code is the submission's by where it comes
from, not by what it says it is: its files and what it wrote to its own folders, code run with
its module globals, code it compiled or ran with ``exec``/``eval`` under any file name or
globals, and the threads and callbacks it started
(:func:`~graders.grading.guard_doors._as_submission`). Grader code, torch and the standard
library are not restricted, except that code which did not ask for it by name (a chain of
built-in callables the submission left for grader code to call, a finaliser gc runs) gets no
frame and, while a check runs, starts or signals no process and uses no network
(:data:`~graders.grading.guard_rules._LETHAL`). Each event is judged in
:mod:`~graders.grading.guard_judge`.

The guard's own state lives in the frame of a suspended generator
(:func:`~graders.grading.guard_vault._vault`), which the hook refuses to hand to the
submission; the sandbox's wrappers talk to it through :attr:`Guard.ask` and never hold the real
functions they stand for.

What was touched is said in the kit's own terms (:class:`~graders.grading.guard_places.Places`):
``read reference/day1/tensors.py``, ``imported graders.testing``, ``wrote to the reports
folder``, never the temporary folders of one run, so the same submission gets the same report on
every run.
"""

from __future__ import annotations

import _thread
import os
import sys
from collections.abc import Callable, Iterable
from types import CodeType, FrameType

from graders.grading import guard_code, guard_doors, guard_judge, guard_places, guard_rules, guard_vault
from graders.grading.guard_code import (
    _codes_of_module,
    _dict_get,
    _gc_disable,
    _gc_enable,
    _gc_isenabled,
    _local_busy,
    _startswith,
    _str_startswith,
)
from graders.grading.guard_doors import (
    _CALLS,
    Callbacks,
    _as_submission,
    _signal_as_submission,
    _started_by_submission,
)
from graders.grading.guard_judge import (
    _GUARD_CODES,
    Judge,
)
from graders.grading.guard_places import (
    Places,
    _unreal,
)
from graders.grading.guard_rules import (
    _STUDENT_PKG,
    SandboxViolation,
)
from graders.grading.guard_vault import _VAULTS, _door, _gc_watcher, _vault


class Guard(Judge, Callbacks):
    """The rules for one grading process; :meth:`install` adds the audit hook.

    Code counts as the submission's (:meth:`student_on_stack`) by where it comes from: its files
    and whatever it wrote to its own folders, code run with its module globals, code it
    compiled or ran with ``exec``/``eval`` (recorded as it happens, whatever file name or
    globals it was given), and code that runs in a thread or a callback it started (those run
    under a frame of :func:`~graders.grading.guard_doors._as_submission`, so they are the
    submission's for all their life).
    """

    def __init__(self, tree: str, protected: Iterable[str], allowed: Iterable[str] = (),
                 writable: Iterable[str] = (), places: Places | None = None) -> None:
        real = os.path.realpath
        self.tree = real(tree)
        self.writable = (self.tree, *(real(p) for p in writable))
        self.protected = tuple(real(p) for p in protected)
        self.allowed = tuple(real(p) for p in allowed)
        self.places = places or Places(self.tree, self.protected, self.writable[1:])
        self.violations: list[str] = []
        self.allow: frozenset[str] = frozenset()  # set per check from the registry
        self.checking = False  # a grader test is running (between snapshot and restore)
        #: file names (prefixes) of the submission's code: its tree and its writable folders
        self._own = tuple(sorted({alias + os.sep for p in self.writable for alias in (p, _unreal(p))}))
        self._codes: dict[int, CodeType] = {}  # id -> code object, kept alive
        for fn in (_as_submission, _started_by_submission, _signal_as_submission):
            self._codes[id(fn.__code__)] = fn.__code__
        self._local = _thread._local()  # per thread: inside the hook already
        self._gc = _thread._local()  # per thread: the frame gc interrupted, while it collects
        self._hidden: dict[int, object] = {}  # what the vault hands out to trusted callers only
        self._trusted: dict[int, CodeType] = {}  # code of the sandbox's own wrappers
        self._handlers: set[int] = set()  # ids of signal handlers the submission installed
        self._exits: list = []  # atexit callbacks the submission registered (wrapped)
        self._modules: dict[str, object] = {}  # modules whose functions the sandbox wrapped
        self._open: set[int] = set()  # hidden things a wrapper may use on the submission's behalf
        self._words: dict[int, tuple[str, ...]] = {}  # what the code calling a wrapper names
        self.ask: Callable[..., object] | None = None  # set by install(): the vault's door

    # --- who is calling ------------------------------------------------------------------
    def _mine(self, frame) -> bool:
        """True when ``frame`` runs code of the submission (see the class docstring)."""
        code = frame.f_code
        if id(code) in self._codes:
            return True
        filename = code.co_filename
        if type(filename) is str and _str_startswith(filename, self._own):
            return True
        name = _dict_get(frame.f_globals, "__name__")
        return type(name) is str and _str_startswith(name, _STUDENT_PKG)

    def student_on_stack(self, depth: int = 2) -> bool:
        """True when a frame of the submission's code is on the current stack."""
        local = self._local
        busy = _local_busy(local)
        collecting = not busy and _gc_isenabled()
        if collecting:
            _gc_disable()
        local.busy = True
        try:
            try:
                frame: FrameType | None = sys._getframe(depth)
            except ValueError:
                return False
            codes, own = self._codes, self._own
            while frame is not None:
                code = frame.f_code
                if id(code) in codes:
                    return True
                filename = code.co_filename
                if type(filename) is str and _str_startswith(filename, own):
                    return True
                name = _dict_get(frame.f_globals, "__name__")
                if type(name) is str and _str_startswith(name, _STUDENT_PKG):
                    return True
                frame = frame.f_back
            return False
        finally:
            local.busy = busy
            if collecting:
                _gc_enable()

    def student_not_importing(self, depth: int = 2) -> bool:
        """True when the nearest submission frame is reached before any import machinery.

        A library imported lazily from the submission's code (``torch._dynamo``) decorates its
        functions as it loads; that is the library's doing, not the submission's.
        """
        local = self._local
        busy = _local_busy(local)
        collecting = not busy and _gc_isenabled()
        if collecting:
            _gc_disable()
        local.busy = True
        try:
            try:
                frame: FrameType | None = sys._getframe(depth)
            except ValueError:
                return False
            while frame is not None:
                if self._mine(frame):
                    return True
                if _startswith(frame.f_code.co_filename, "<frozen importlib"):
                    return False
                frame = frame.f_back
            return False
        finally:
            local.busy = busy
            if collecting:
                _gc_enable()

    def remember(self, code: object) -> None:
        """Count ``code`` (and the code nested in it) as the submission's from now on."""
        todo = [code]
        while todo:
            c = todo.pop()
            if type(c) is CodeType and id(c) not in self._codes:
                self._codes[id(c)] = c
                todo.extend(k for k in c.co_consts if type(k) is CodeType)

    def is_mine(self, code: object) -> bool:
        """True when the code object ``code`` is the submission's."""
        return type(code) is CodeType and (id(code) in self._codes or _startswith(code.co_filename, self._own))

    # --- the vault: the guard's state, out of the submission's reach ------------------------
    def hide(self, obj: object, student_ok: bool = False, words: tuple[str, ...] = ()) -> int:
        """A token for ``obj``, which only the sandbox's own wrappers get back (``ask("fetch",
        token)``): only while no submission code is calling, unless ``student_ok`` (a wrapper
        that calls ``obj`` on the submission's behalf and never hands it out), and only to a
        wrapper called by code that names it (``words``, by default ``obj``'s name): not by
        built-in callables chained together and left for grader code to call."""
        token = len(self._hidden) + 1
        self._hidden[token] = obj
        if student_ok:
            self._open.add(token)
        self._words[token] = tuple(w.lower() for w in (words or (str(getattr(obj, "__name__", "")),)))
        return token

    def trust(self, *functions: Callable) -> None:
        """Let the code of ``functions`` (the sandbox's wrappers) fetch hidden things."""
        for fn in functions:
            code = getattr(fn, "__code__", None)
            if type(code) is CodeType:
                self._trusted[id(code)] = code

    def _serve(self, request: tuple, requester) -> object:
        """Answer one request made through :attr:`ask` by the code of frame ``requester``."""
        kind = request[0] if request else None
        if kind == "on_stack":
            return self.student_on_stack(1)
        if kind == "note":
            if self.student_on_stack(1):
                self.violations.append(request[1])
                return True
            return False
        trusted = requester is not None and id(requester.f_code) in self._trusted
        caller = requester.f_back if requester is not None else None
        if kind == "fetch":  # ("fetch", token[, name]): name, what the caller must name too
            token = request[1]
            words = self._words.get(token, ()) + tuple(str(w).lower() for w in request[2:])
            if trusted and (token in self._open or not self.student_on_stack(1)) \
                    and not self._unasked(caller, words, 16):
                return self._hidden[token]
            why = "reached into the grading sandbox"
            self.violations.append(why)
            raise SandboxViolation(f"not allowed while grading: the code {why}")
        if kind == "refuse":  # ("refuse", why): a guarded call from the submission's code
            if self.student_on_stack(1):
                self.violations.append(request[1])
                raise SandboxViolation(f"not allowed while grading: the code {request[1]}")
            return None
        if not trusted or kind not in _CALLS:
            raise SandboxViolation("not allowed while grading: an unknown request to the sandbox")
        method, words = _CALLS[kind]
        if self._unasked(caller, words, 16):
            why = "reached into the grading sandbox"
            self.violations.append(why)
            raise SandboxViolation(f"not allowed while grading: the code {why}")
        return getattr(self, method)(caller, *request[1:])


    def install(self) -> None:
        """Add the audit hook (for the rest of the process's life) and open the vault."""
        lock = _thread.RLock()
        vaults = [_vault(self) for _ in range(_VAULTS)]
        for vault in vaults:
            next(vault)
        self.ask = _door(tuple(v.send for v in vaults), tuple(vaults), lock)
        self._door_code = self.ask.__code__
        self.gc_watch = _gc_watcher(self._gc)
        sys.addaudithook(self._hook)
        import gc

        gc.callbacks.append(self.gc_watch)

    def take(self) -> list[str]:
        """The violations recorded since the last call, in order, without duplicates."""
        out = list(dict.fromkeys(self.violations))
        self.violations.clear()
        return out


_GUARD_CODES.update(_codes_of_module(globals()))
for _part in (guard_rules, guard_places, guard_code, guard_doors, guard_vault, guard_judge):
    _GUARD_CODES.update(_codes_of_module(vars(_part)))
