"""The guard's judgement of one audit event: what it would do (cheap, first), then who asks for it
(a walk of the stack, only when it would be refused).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import CodeType, FunctionType
from typing import Any

from graders.grading.guard_code import (
    _asks_for,
    _dict_get,
    _frame_at,
    _frame_helper,
    _gc_disable,
    _gc_enable,
    _gc_isenabled,
    _local_busy,
    _names_exec,
    _startswith,
)
from graders.grading.guard_places import (
    _PROC_PRIVATE,
    Places,
    _under,
)
from graders.grading.guard_rules import (
    _CODE_EVENTS,
    _EXCEPTION_FORMATTERS,
    _FRAME_ATTRS,
    _FRAME_EVENTS,
    _LETHAL,
    _LIBRARIES,
    _PATH_LIST,
    _PATH_WRITE,
    _REFUSED,
    _TRACEBACK_FILE,
    _WATCHED,
    _WATCHED_RULES,
    _WRITE_FLAGS,
    ALLOWANCES,
    SandboxViolation,
    _loopback,
)
from graders.grading.guard_vault import _gc_watcher


class Judge:
    """The rules of :class:`graders.grading.guard.Guard` applied to one event (a base of it)."""

    # what the guard holds and knows (see Guard)
    tree: str
    writable: tuple[str, ...]
    protected: tuple[str, ...]
    allowed: tuple[str, ...]
    places: Places
    violations: list[str]
    allow: frozenset[str]
    checking: bool
    _local: Any
    _gc: Any
    _mine: Callable[[Any], bool]
    is_mine: Callable[[object], bool]
    remember: Callable[[object], None]
    student_on_stack: Callable[..., bool]
    student_not_importing: Callable[..., bool]

    # --- the rules -----------------------------------------------------------------------
    def _readable(self, path: str) -> bool:
        if _under(path, self.writable) or _under(path, self.allowed):
            return True
        if _PROC_PRIVATE.match(path):
            return False
        return not _under(path, self.protected)

    def _writable(self, path: str) -> bool:
        return _under(path, self.writable) or path in ("/dev/null",)

    def _allowed(self, event: str, args: tuple, why: str) -> bool:
        """Whether the check being run may do this (its registry entry's ``sandbox = [...]``)."""
        for name in self.allow:
            if why in ALLOWANCES.get(name, ()):
                return name != "loopback" or _loopback(event, args)
        return False

    def _foreign_name(self, filename: object) -> str | None:
        """The file name ``filename`` when code given it would pass for another file's."""
        if type(filename) is bytes:
            filename = filename.decode("utf-8", "replace")
        if type(filename) is not str or not filename or filename.startswith("<"):
            return None
        real = os.path.realpath(filename)
        if _under(real, self.writable):
            return None
        return self.places.describe(real) if os.path.isabs(filename) else filename

    def verdict(self, event: str, args: tuple, importing: bool = False) -> str | None:
        """Why ``event`` must be refused (None when it is fine); ``importing``: the event
        comes from an ``import`` statement of the submission."""
        where = self.places.describe
        if event in _REFUSED:
            why = _REFUSED[event]
            return None if self._allowed(event, args, why) else why
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if type(path) is int:
                why = "opened a file descriptor by number"
                return None if self._allowed(event, args, why) else why
            if type(path) not in (str, bytes):
                return None
            real = os.path.realpath(os.fsdecode(path))
            writing = (type(mode) is str and any(c in mode for c in "wax+")) or bool(
                type(flags) is int and flags & _WRITE_FLAGS
            )
            if writing and not self._writable(real):
                return f"wrote to {where(real)} (outside its own folder)"
            if not self._readable(real):
                module = self.places.module(real) if importing else None
                return f"imported {module}" if module else f"read {where(real)}"
            return None
        if event in _PATH_WRITE:
            for p in args:
                if type(p) in (str, bytes):
                    real = os.path.realpath(os.fsdecode(p))
                    if not self._writable(real):
                        return f"changed {where(real)} (outside its own folder)"
            return None
        if event in _PATH_LIST:
            p = args[0] if args else "."
            if type(p) in (str, bytes):
                real = os.path.realpath(os.fsdecode(p) or ".")
                if not self._readable(real):
                    return f"listed {where(real)}"
            return None
        if event == "import":
            name = args[0] if args else ""
            name = name if type(name) is str else ""
            if name.split(".")[0] in ("reference", "_drills_reference"):
                return f"imported {name}"
            return None
        if event == "compile":
            filename = args[1] if len(args) > 1 else None
            if type(filename) is bytes:
                filename = filename.decode(errors="replace")
            if type(filename) is str and filename and not filename.startswith("<"):
                real = os.path.realpath(filename)
                if not _under(real, (self.tree,)) and (
                    not os.path.exists(real) or not self._readable(real)
                ):
                    shown = where(real) if os.path.isabs(filename) else filename
                    return f"compiled code under another file's name ({shown})"
            return None
        if event == "object.__setattr__":
            name = args[1] if len(args) > 1 else ""
            if name in ("__code__", "__globals__", "__closure__"):
                return f"replaced a function's {name}"
            value = args[2] if len(args) > 2 else None
            if name in ("__module__", "__wrapped__") and (
                name == "__wrapped__" or (type(value) is str and value.split(".")[0] in _LIBRARIES)
            ):
                return f"disguised a function as a library's ({name})"
            if name in ("__defaults__", "__kwdefaults__"):
                fn = args[0] if args else None
                if type(fn) is FunctionType and not self.is_mine(fn.__code__):
                    return f"changed the {name} of a function that is not its own"
            return None
        return None

    def _unasked(self, caller, words: tuple[str, ...], window: int = 6) -> bool:
        """True when the code that raised an event (or called a wrapper) did not ask for it by
        name: a finaliser gc runs in the frame it interrupted, built-in callables chained
        together, or anything that runs in the guard's own frames. importlib's trampoline,
        which calls what it is given, asks for what it calls."""
        if caller is None or caller is _dict_get(self._gc.__dict__, "frame"):
            return True
        code = caller.f_code
        if id(code) in _GUARD_CODES and code is not _WATCH_CODE:
            return True
        if code.co_name == "_call_with_frames_removed" and _startswith(code.co_filename, "<frozen importlib"):
            return False
        return not _asks_for(caller, words, window)

    def _frames(self, caller, event: str, args: tuple) -> str | None:
        """Why handing out a frame (``sys._getframe``, a traceback's, a generator's) to
        ``caller`` is refused: the submission's code, directly or through the standard
        library's helpers that return frames, or built-in callables chained by it (which no
        code that names a frame calls)."""
        if event == "object.__getattr__":
            name = args[1] if len(args) > 1 else None
            if name not in _FRAME_ATTRS:
                return None
        elif event != "sys._getframe":
            return None
        why = "read the interpreter's frames (where the grader keeps its state)"
        if caller is None:
            return None
        if self._unasked(caller, ("frame",)):
            return why  # gc's finalisers, built-in callables chained together, the guard's frames
        outer = None
        frame = caller
        while frame is not None and _frame_helper(frame.f_code):
            outer = frame.f_code
            frame = frame.f_back
        if frame is None or not self._mine(frame):
            return None
        if event == "object.__getattr__" and outer is not None and outer.co_filename == _TRACEBACK_FILE \
                and outer.co_name in _EXCEPTION_FORMATTERS:
            return None  # traceback.format_exc() and its kin: text, no frame comes back
        return why

    def _code_events(self, caller, event: str, args: tuple) -> str | None:
        """Record code run or made into a function by the submission; refuse code it makes
        under another file's name."""
        if event in ("exec", "function.__new__"):
            code = args[0] if args else None
            if self.student_not_importing(3) or (caller is not None and not _names_exec(caller.f_code)
                                                 and not self.student_on_stack(3)):
                self.remember(code)  # run for the submission, or by built-in callables it chained
            return None
        if event in ("compile", "code.__new__", "marshal.loads"):
            if caller is None or not self._mine(caller):
                return None
            if event == "marshal.loads":
                return "loaded code from bytes (marshal)"
            if event == "code.__new__":
                return "built a code object by hand"
            shown = self._foreign_name(args[1] if len(args) > 1 else None)
            if shown is not None:
                return f"compiled code under another file's name ({shown})"
        return None

    def _judge(self, event: str, args: tuple) -> str | None:
        """Why ``event`` is refused (None when it is fine). What the event would do is judged
        first (cheap); who is asking only when that would be refused (a walk of the stack)."""
        caller = _frame_at(3)  # _frame_at <- _judge <- _hook <- the code that raised the event
        if event in _FRAME_EVENTS:
            return self._frames(caller, event, args)
        if event in _CODE_EVENTS:
            why = self._code_events(caller, event, args)
            if why is not None or event not in _WATCHED_RULES:
                return why
        if self.checking and event in _LETHAL and self._unasked(caller, _LETHAL[event]):
            why = self.verdict(event, args)  # not asked for by name: built-in callables chained
            if why is not None:
                return why
        if event not in _WATCHED_RULES:
            return None
        why = self.verdict(event, args)
        if why is None:
            return None
        if event == "object.__setattr__" or event in _PATH_LIST:
            return why if self.student_not_importing(3) else None
        if not self.student_on_stack(3):
            return None
        if event == "open" and not self.student_not_importing(3):
            why = self.verdict(event, args, importing=True)
        return why

    def _hook(self, event: str, args: tuple) -> None:
        if event == "object.__getattr__":
            if len(args) < 2 or args[1] not in _FRAME_ATTRS:
                return  # f_code, __code__...: nothing to judge, and read by the guard itself
        elif event not in _WATCHED:
            return
        local = self._local
        if _local_busy(local):
            return
        collecting = _gc_isenabled()
        if collecting:
            _gc_disable()  # no finaliser of the submission's runs inside the guard's own frames
        local.busy = True
        try:
            why = self._judge(event, args)
        finally:
            local.busy = False
            if collecting:
                _gc_enable()
        if why is not None:
            self.violations.append(why)
            raise SandboxViolation(f"not allowed while grading: the code {why}")



#: The guard's own code (its frames never ask for a frame where the hook looks; filled in by
#: :mod:`graders.grading.guard` from all its modules), and the gc callback's, which asks for
#: the frame gc interrupted.
_GUARD_CODES: dict[int, CodeType] = {}
_WATCH_CODE = _gc_watcher(None).__code__
