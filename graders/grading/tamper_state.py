"""The interpreter's and the libraries' settings a check's code can change for every later check
(default dtype, modes left entered, hooks, signal handlers, warnings filters, the environment...):
taken before each check and put back after it, with what the check's code changed.
"""

from __future__ import annotations

import _signal
import os
import sys
from collections.abc import Callable
from types import FunctionType, ModuleType
from typing import Any

from graders.grading.tamper import (
    _LIVE_SYS,
    _MISSING,
)

#: Signals whose handlers are put back after each check.
_SIGNALS = tuple(range(1, 65))


class State:
    """The settings a check's code can change for every later check, taken before it runs:
    torch's default dtype and device, grad mode, deterministic algorithms, anomaly mode, print
    options and threads; numpy's error handling and print options; the recursion limit, the
    warnings filters, ``gc``, the working folder, the environment, signal handlers and timers;
    the import system (``sys.path``, ``sys.meta_path``, ``sys.path_hooks``, the finders'
    cache); the interpreter's hooks (``sys.excepthook``, ``threading.excepthook``...); torch's
    function and dispatch modes, saved-tensor hooks and global module and optimizer hooks.

    :meth:`restore` puts every one back and says which changes reach into the grader's own
    computations (a mode left entered, a global hook, a hook or finder of the submission's code,
    a signal handler it left installed): those are flagged. The rest (a default dtype set at
    import time, a print option) is put back without a word.
    """

    def __init__(self, mine: Callable[[object], bool], handlers: Callable[[object], bool]) -> None:
        self.mine, self.handlers = mine, handlers
        self.saved: list[tuple[str, object, Callable, Callable[[object], None], str]] = []
        for label, get, put, kind in _settings():
            try:
                self.saved.append((label, get(), get, put, kind))
            except Exception:  # noqa: BLE001 - not available here (no CUDA, old torch)
                continue
        torch = sys.modules.get("torch")
        self.functions = self.dispatch = 0
        self.saved_hooks = None
        if torch is not None:
            self.functions = torch._C._len_torch_function_stack()
            self.dispatch = torch._C._len_torch_dispatch_stack()
            self.saved_hooks = torch._C._autograd._top_saved_tensors_default_hooks(True)

    def restore(self) -> list[str]:
        """Put everything back; return what is flagged."""
        flagged: list[str] = []
        for label, before, get, put, kind in self.saved:
            try:
                now = get()
                if _same(now, before):
                    continue
                put(before)
            except Exception:  # noqa: BLE001 - put back as much as possible
                continue
            if kind == "hook" and self._submitted(now):
                flagged.append(f"changed {label}")
            elif kind == "signal" and self.handlers(now):
                flagged.append(f"left a signal handler installed ({label})")
            elif kind == "finders" and any(self._submitted(x) for x in _added(now, before)):  # noqa: SIM114
                flagged.append(f"changed {label}")
            elif kind == "importer cache" and any(
                self._submitted(f) or _misplaced(k, f) for k, f in now.items()  # type: ignore[attr-defined]
                if before.get(k, _MISSING) is not f  # type: ignore[attr-defined]
            ):
                flagged.append(f"changed {label}")
            elif kind == "environ":
                names = sorted(
                    os.fsdecode(k) for k in {*now, *before}  # type: ignore[misc]
                    if now.get(k) != before.get(k) and os.fsdecode(k).startswith(_WATCHED_ENV)  # type: ignore[attr-defined]
                )
                if names:
                    flagged.append("set the environment variable " + ", ".join(names))
            elif kind == "global hooks":
                flagged.append(f"left a hook in {label}")
        torch = sys.modules.get("torch")
        if torch is not None:
            popped = 0
            while torch._C._len_torch_function_stack() > self.functions:
                torch._C._pop_torch_function_stack()
                popped += 1
            while torch._C._len_torch_dispatch_stack() > self.dispatch:
                torch._C._pop_torch_dispatch_stack(None)
                popped += 1
            if popped:
                flagged.append("left a torch function or dispatch mode entered")
            hooks = 0
            while torch._C._autograd._top_saved_tensors_default_hooks(True) != self.saved_hooks and hooks < 64:
                torch._C._autograd._pop_saved_tensors_default_hooks()
                hooks += 1
            if hooks:
                flagged.append("left saved-tensor hooks installed")
        return flagged

    def _submitted(self, value: object) -> bool:
        """True when ``value`` is (or wraps) code of the submission."""
        for _ in range(4):
            code = getattr(value, "__code__", None) if type(value) is FunctionType else None
            if code is not None:
                return self.mine(code)
            if hasattr(type(value), "__dict__") and any(
                type(v) is FunctionType and self.mine(v.__code__) for v in vars(type(value)).values()
            ):
                return True
            inner = getattr(value, "func", None) if type(value).__name__ == "partial" else None
            if inner is None:
                return False
            value = inner
        return False


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) in (int, float, str, bool, bytes):
        return a == b
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[index,union-attr]
    return False


_WATCHED_ENV = ("PYTEST_", "DRILLS_", "NBGRADER", "HYPOTHESIS")


def _misplaced(key: object, finder: object) -> bool:
    """True for a standard path finder cached under a folder that is not its own."""
    path = getattr(finder, "path", None) if type(finder).__name__ == "FileFinder" else None
    return type(key) is str and type(path) is str and os.path.realpath(key) != os.path.realpath(path)


def _added(now: Any, before: Any) -> list:
    ids = {id(x) for x in before} if type(before) in (list, tuple) else set()  # type: ignore[union-attr]
    return [x for x in now if id(x) not in ids] if type(now) in (list, tuple) else []  # type: ignore[union-attr]


def _settings() -> list[tuple[str, Callable[[], object], Callable[[object], None], str]]:
    """(label, get, put, kind) of every setting :class:`State` restores."""
    import gc
    import signal
    import threading
    import warnings

    out: list = []

    def attr(owner: object, name: str, label: str, kind: str = "") -> None:
        out.append((label, lambda: getattr(owner, name), lambda v: setattr(owner, name, v), kind))

    def contents(lst: list, label: str, kind: str = "") -> None:
        def put(v: Any) -> None:
            lst[:] = v  # type: ignore[index]

        out.append((label, lambda: list(lst), put, kind))

    def put_recursion(v: object) -> None:
        try:
            sys.setrecursionlimit(v)  # type: ignore[arg-type]
        except RecursionError:
            pass

    out.append(("the recursion limit", sys.getrecursionlimit, put_recursion, ""))
    out.append(("the switch interval", sys.getswitchinterval, sys.setswitchinterval, ""))
    if hasattr(sys, "get_int_max_str_digits"):
        out.append(("the int digits limit", sys.get_int_max_str_digits, sys.set_int_max_str_digits, ""))
    live = _LIVE_SYS
    for name in ("excepthook", "unraisablehook", "displayhook", "breakpointhook"):
        attr(live, name, f"sys.{name}", "hook")
    for name in ("excepthook", "_trace_hook", "_profile_hook"):
        attr(threading, name, f"threading.{name.lstrip('_')}", "hook")
    attr(warnings, "showwarning", "warnings.showwarning", "hook")
    attr(warnings, "formatwarning", "warnings.formatwarning", "hook")
    out.append(("the warnings filters", lambda: list(warnings.filters), _put_filters, ""))
    contents(gc.callbacks, "gc.callbacks", "finders")
    out.append(("gc", gc.isenabled, lambda v: gc.enable() if v else gc.disable(), ""))
    out.append(("gc thresholds", gc.get_threshold, lambda v: gc.set_threshold(*v), ""))  # type: ignore[misc]
    out.append(("the working folder", os.getcwd, os.chdir, ""))
    out.append(("the environment", lambda: dict(os.environ._data), _put_environ, "environ"))  # type: ignore[attr-defined]
    for name in ("path", "meta_path", "path_hooks"):
        attr(live, name, f"sys.{name}", "finders")
        contents(getattr(live, name), f"sys.{name}", "finders")
    out.append(("sys.path_importer_cache", lambda: dict(live.path_importer_cache), _put_importer_cache,
                "importer cache"))
    real_signal, real_getsignal = _signal_functions()
    for signum in _SIGNALS:
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            real_getsignal(signum)
        except (ValueError, OSError):
            continue
        out.append((f"signal {signum}", lambda s=signum: real_getsignal(s),
                    lambda v, s=signum: real_signal(s, v), "signal"))
    for which in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        out.append((f"timer {which}", lambda w=which: signal.getitimer(w) == (0.0, 0.0),
                    lambda v, w=which: signal.setitimer(w, 0) if v else None, ""))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        out.append(("numpy's error handling", numpy.geterr, lambda v: numpy.seterr(**v), ""))  # type: ignore[arg-type]
        out.append(("numpy's error callback", numpy.geterrcall, numpy.seterrcall, "hook"))
        out.append(("numpy's print options", numpy.get_printoptions,
                    lambda v: numpy.set_printoptions(**v), ""))  # type: ignore[arg-type]
    torch = sys.modules.get("torch")
    if torch is not None:
        out += _torch_settings(torch)
    return out


def _torch_settings(torch: ModuleType) -> list:
    import torch.utils._device as device_module  # noqa: F401 - the default device's context

    out: list = []
    context = sys.modules["torch"].__dict__.get("_GLOBAL_DEVICE_CONTEXT")

    def get_device() -> object:
        return getattr(context, "device_context", None)

    def put_device(v: object) -> None:
        torch.set_default_device(getattr(v, "device", None) if v is not None else None)

    # the default device first: it is a function mode of its own
    out.append(("torch's default device", get_device, put_device, ""))
    out.append(("torch's default dtype", torch.get_default_dtype, torch.set_default_dtype, ""))
    out.append(("torch's grad mode", torch.is_grad_enabled, torch.set_grad_enabled, ""))
    out.append(("torch's deterministic algorithms",
                lambda: (torch.are_deterministic_algorithms_enabled(),
                         torch.is_deterministic_algorithms_warn_only_enabled()),
                lambda v: torch.use_deterministic_algorithms(v[0], warn_only=v[1]), ""))  # type: ignore[index]
    out.append(("torch's anomaly mode",
                lambda: (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
                lambda v: torch.set_anomaly_enabled(*v), ""))  # type: ignore[misc]
    out.append(("torch's threads", torch.get_num_threads, torch.set_num_threads, ""))
    out.append(("torch's warn-always", torch.is_warn_always_enabled, torch.set_warn_always, ""))
    out.append(("torch's matmul precision", torch.get_float32_matmul_precision,
                torch.set_float32_matmul_precision, ""))
    opts = torch._tensor_str.PRINT_OPTS
    out.append(("torch's print options", lambda: dict(vars(opts)), lambda v: vars(opts).update(v), ""))  # type: ignore[arg-type]
    backends = torch.backends
    for owner, name in ((backends.cudnn, "enabled"), (backends.cudnn, "benchmark"),
                        (backends.cudnn, "deterministic"), (backends.cudnn, "allow_tf32"),
                        (backends.cuda.matmul, "allow_tf32"), (backends.mkldnn, "enabled")):
        out.append((f"torch.backends {name}", lambda o=owner, n=name: getattr(o, n),
                    lambda v, o=owner, n=name: setattr(o, n, v), ""))
    module = sys.modules.get("torch.nn.modules.module")
    optimizer = sys.modules.get("torch.optim.optimizer")
    for owner, names in ((module, [n for n in dir(module) if n.startswith("_global_")]),
                         (optimizer, ["_global_optimizer_pre_hooks", "_global_optimizer_post_hooks"])):
        for name in names:
            hooks = getattr(owner, name, None)
            if isinstance(hooks, dict):
                out.append((f"torch's {name.strip('_')}", lambda h=hooks: dict(h),
                            lambda v, h=hooks: (h.clear(), h.update(v)), "global hooks"))  # type: ignore[arg-type]
    return out


def _signal_functions() -> tuple[Callable, Callable]:
    """The built-in signal functions as they were when this module was imported (before the
    guard wrapped them: asking the guard's vault 64 times per check cost milliseconds)."""
    return _REAL_SIGNAL, _REAL_GETSIGNAL


#: Taken once, when this module is imported (before the sandbox installs its guard).
_REAL_SIGNAL, _REAL_GETSIGNAL = _signal.signal, _signal.getsignal


def _put_filters(v: object) -> None:
    import warnings

    warnings.filters[:] = v  # type: ignore[index]
    warnings._filters_mutated()  # type: ignore[attr-defined]


def _put_environ(v: object) -> None:
    data = os.environ._data  # type: ignore[attr-defined]
    for key in [k for k in data if k not in v]:  # type: ignore[operator]
        os.unsetenv(key)
        del data[key]
    for key, value in v.items():  # type: ignore[attr-defined]
        if data.get(key) is not value:
            os.putenv(key, value)
            data[key] = value


def _put_importer_cache(v: Any) -> None:
    cache = _LIVE_SYS.path_importer_cache
    for key in [k for k in cache if k not in v]:  # type: ignore[operator]
        del cache[key]
    cache.update(v)  # type: ignore[arg-type]
