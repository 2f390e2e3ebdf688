"""The guard's doors: the wrappers that stand for what starts threads and callbacks, ``compile``
and the calls the sandbox refuses, the frames that run what the submission started as its code,
and what the wrappers ask the guard for (:class:`Callbacks`). A wrapper holds a token of the
vault (:mod:`graders.grading.guard_vault`), never the function it stands for.
"""

from __future__ import annotations

from collections.abc import Callable
from types import CodeType
from typing import Any, cast

from graders.grading.guard_code import (
    _FUTURE_FLAGS,
    _names_exec,
)
from graders.grading.guard_rules import (
    SandboxViolation,
)

#: A :class:`graders.grading.guard.Guard` (which imports this module).
GuardT = Any


#: What the wrappers of attribute_callbacks() ask for: (the guard's method, words the code that
#: calls the wrapper names).
_CALLS = {"thread": ("_start_thread", ("start_new",)), "signal": ("_set_signal", ("signal",)),
          "getsignal": ("_get_signal", ("getsignal",)), "atexit": ("_at_exit", ("register",)),
          "finalize": ("_finalize", ()),  # weakref.finalize or a subclass of it, by any name
          "builtin": ("_builtin", ("create_builtin",)), "compile": ("_compile", ("compile",))}
_NO_KWARGS = object()
_SIG_DFL = 0  # signal.SIG_DFL


def _signal_enum(handler: object) -> bool:
    return type(handler).__name__ == "Handlers" and type(handler).__module__ == "signal"


def attribute_callbacks(guard: GuardT) -> None:
    """Wrap what starts threads and registers callbacks (threads, signal handlers, ``atexit``,
    ``weakref.finalize``), and ``compile``: what the submission starts runs as its code
    (:func:`_as_submission`) for all its life, and the code it compiles is recorded as its own.

    The wrappers hold no real function: they ask the guard's vault, which calls it. A fresh
    copy of a wrapped built-in module (``_imp.create_builtin``) is the wrapped module itself.
    """
    import _imp  # the live modules (this code may run from a sealed copy of this module)
    import _signal
    import _thread
    import atexit
    import builtins
    import posix
    import sys
    import threading
    import weakref

    ask = cast(Callable[..., Any], guard.ask)  # installed: the vault's door
    weakref.finalize(guard, int)  # weakref registers its atexit hook once, before any check
    start = _calling(ask, "thread", guard.hide(_thread.start_new_thread), _thread_args)
    guard.trust(start)
    _thread.start_new_thread = _thread.start_new = threading._start_new_thread = start  # type: ignore[attr-defined]
    _signal.signal = _calling(ask, "signal", guard.hide(_signal.signal), _plain_args)
    _signal.getsignal = _calling(ask, "getsignal", guard.hide(_signal.getsignal), _plain_args)
    atexit.register = _calling(ask, "atexit", guard.hide(atexit.register), _atexit_args)
    weakref.finalize.__init__ = _calling(  # type: ignore[method-assign]
        ask, "finalize", guard.hide(weakref.finalize.__init__), _finalize_args)
    _imp.create_builtin = _calling(ask, "builtin", guard.hide(_imp.create_builtin), _plain_args)
    builtins.compile = _calling(ask, "compile", guard.hide(builtins.compile), _compile_args)
    for module in (_thread, _signal, atexit, _imp, posix, builtins, sys):
        guard._modules[module.__name__] = module


def _calling(ask: Callable, kind: str, token: int, shape: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        return ask(kind, token, *shape(args, kwargs))

    return wrapper


def _plain_args(args: tuple, kwargs: dict) -> tuple:
    return args


def _thread_args(args: tuple, kwargs: dict) -> tuple:
    function, rest, *more = args
    return (function, rest, more[0] if more else kwargs.get("kwargs", _NO_KWARGS))


def _atexit_args(args: tuple, kwargs: dict) -> tuple:
    return (args[0], args[1:], kwargs)


def _finalize_args(args: tuple, kwargs: dict) -> tuple:
    this, obj, func, *rest = args
    return (this, obj, func, tuple(rest), kwargs)


def _compile_args(args: tuple, kwargs: dict) -> tuple:
    return (args, kwargs)


def _compile_call(source, filename, mode, flags=0, dont_inherit=False, optimize=-1, **extra):
    return source, filename, mode, flags, dont_inherit, optimize, extra





def _as_submission(fn, /, *args, **kwargs):
    """Run ``fn`` as the submission's code: the guard counts this frame as the submission's (the
    sandbox imports the submission's modules through it)."""
    return fn(*args, **kwargs)


def _started_by_submission(fn, /, *args, **kwargs):
    """Run a thread or a callback the submission started, as its code for all its life. A
    refusal is already recorded: it ends the thread quietly (printing its traceback would read
    the graders' sources on the submission's behalf)."""
    try:
        return fn(*args, **kwargs)
    except SandboxViolation:
        return None


def _signal_as_submission(fn, signum, frame):
    """A signal handler of the submission: run as its code, without the interrupted frame."""
    try:
        return fn(signum, None)
    except SandboxViolation:
        return None


def _submission_callable(fn: object) -> object:
    import functools

    if not callable(fn):
        return fn
    return functools.partial(_started_by_submission, fn)


def guarded(guard: GuardT, fn: Callable, why: str) -> Callable:
    """``fn``, refused (and recorded) when called from the submission's code.

    The wrapper holds no reference to the guard or to ``fn``: it asks the guard's vault for
    ``fn``, which it gets only when no submission code is calling.
    """
    if guard.ask is None:  # not installed (the kit's own tests): a plain check
        def plain(*args, **kwargs):
            if guard.student_on_stack(2):
                guard.violations.append(why)
                raise SandboxViolation(f"not allowed while grading: the code {why}")
            return fn(*args, **kwargs)

        plain.__doc__, plain.__name__ = fn.__doc__, getattr(fn, "__name__", "wrapper")
        return plain
    wrapper = _guarded_wrapper(guard.ask, guard.hide(fn), why)
    guard.trust(wrapper)
    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = getattr(fn, "__name__", "wrapper")
    return wrapper


def _guarded_wrapper(ask: Callable, token: int, why: str) -> Callable:
    def wrapper(*args, **kwargs):
        ask("refuse", why)
        return ask("fetch", token)(*args, **kwargs)

    return wrapper




class Callbacks:
    """What the wrappers of :func:`attribute_callbacks` ask the guard for (a base of ``Guard``)."""

    # what the guard holds and knows (see Guard)
    violations: list[str]
    _hidden: dict[int, Any]
    _handlers: set[int]
    _exits: list
    _modules: dict[str, object]
    _mine: Callable[[Any], bool]
    _foreign_name: Callable[[object], str | None]
    remember: Callable[[object], None]
    student_on_stack: Callable[..., bool]
    student_not_importing: Callable[..., bool]

    def _start_thread(self, caller, token: int, function, args, kwargs):
        if self.student_on_stack(1):
            function = _submission_callable(function)
        real = self._hidden[token]
        return real(function, args) if kwargs is _NO_KWARGS else real(function, args, kwargs)

    def _shown_handler(self, handler: object, mine: bool) -> object:
        """A signal handler as the submission may see it: its own, or none of the grader's."""
        if not mine or handler is None or type(handler) is int or _signal_enum(handler):
            return handler
        if id(handler) in self._handlers:
            return handler.args[0]  # type: ignore[attr-defined]
        return _SIG_DFL

    def _set_signal(self, caller, token: int, signum, handler):
        mine = self.student_on_stack(1)
        if mine and callable(handler):
            import functools

            handler = functools.partial(_signal_as_submission, handler)
            self._handlers.add(id(handler))
            self._exits.append(handler)  # kept alive: its id stays its own
        return self._shown_handler(self._hidden[token](signum, handler), mine)

    def _get_signal(self, caller, token: int, signum):
        return self._shown_handler(self._hidden[token](signum), self.student_on_stack(1))

    def _at_exit(self, caller, token: int, func, args, kwargs):
        if caller is not None and self._mine(caller):
            why = "registered code to run when the grading process exits"
            self.violations.append(why)
            raise SandboxViolation(f"not allowed while grading: the code {why}")
        run = func
        if self.student_on_stack(1):
            run = _submission_callable(func)
            self._exits.append(run)
        self._hidden[token](run, *args, **kwargs)
        return func

    def _finalize(self, caller, token: int, this, obj, func, args, kwargs):
        if self.student_on_stack(1):
            func = _submission_callable(func)
        return self._hidden[token](this, obj, func, *args, **kwargs)

    def _builtin(self, caller, token: int, spec):
        name = getattr(spec, "name", None)
        if type(name) is str and name in self._modules:
            return self._modules[name]  # the module with the sandbox's wrappers, not a fresh copy
        return self._hidden[token](spec)

    def _compile(self, caller, token: int, args, kwargs):
        source, filename, mode, flags, dont_inherit, optimize, extra = _compile_call(*args, **kwargs)
        if caller is not None and self._mine(caller):
            shown = self._foreign_name(filename)
            if shown is not None:
                why = f"compiled code under another file's name ({shown})"
                self.violations.append(why)
                raise SandboxViolation(f"not allowed while grading: the code {why}")
        if not dont_inherit and caller is not None:  # the caller's __future__ flags, not ours
            flags, dont_inherit = flags | (caller.f_code.co_flags & _FUTURE_FLAGS), True
        code = self._hidden[token](source, filename, mode, flags, dont_inherit, optimize, **extra)
        if type(code) is CodeType and (self.student_not_importing(1) or (
                caller is not None and not _names_exec(caller.f_code) and not self.student_on_stack(1))):
            self.remember(code)
        return code
