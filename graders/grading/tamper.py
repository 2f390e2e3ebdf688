"""Notice (and undo) changes a check's code made to the graders, pytest, hypothesis or torch.

Before each grader test the sandbox takes a :class:`Snapshot` of the namespaces a submission
could patch to pass a check: ``builtins``; the comparison functions of torch and numpy
(``torch.allclose``, ``torch.testing.assert_close``, ``numpy.testing``, ``Tensor.__eq__``...);
and every module and class of the graders, pytest, pluggy and hypothesis: their code
(functions, classes, descriptors), not their data. After the test,
:meth:`Snapshot.restore` puts back every entry that was replaced or removed (and removes new
entries of ``builtins`` and of torch's tensor classes) and says what changed.

Attribute writes on modules and classes raise no audit event, so comparing before and after is
how they are seen. New entries of modules are not reported (modules import submodules lazily).
Nor are the caches the standard library writes on a class as a side effect of using it: pickling
or copying a tensor makes :func:`copyreg._slotnames` store ``__slotnames__`` on its class
(:data:`_CACHES`). Such an entry is removed after the check like any other new one, and it is
reported only when it holds something else than what the standard library would have stored.
"""

from __future__ import annotations

import _signal
import os
import sys
from collections.abc import Callable, Iterable
from types import CellType, FunctionType, ModuleType

#: Modules whose every class is watched too (by module-name prefix).
DEEP = ("graders", "_pytest", "pytest", "pluggy", "hypothesis", "_hypothesis")
#: Further modules whose own namespace is watched.
SHALLOW = (
    "builtins", "math", "operator", "functools", "json",
    "torch", "torch.functional", "torch.nn.functional", "torch.testing",
    "torch.testing._comparison", "torch.linalg", "torch.autograd", "torch.autograd.function",
    "torch.autograd.grad_mode", "torch._tensor", "torch.overrides", "torch.random",
    "numpy", "numpy.testing", "numpy.testing._private.utils", "numpy.linalg",
)
#: Classes watched wherever they live: the tensor types and their C bindings.
_STRICT_CLASSES = ("torch.Tensor", "torch._C.TensorBase", "torch._C._VariableFunctionsClass",
                   "torch.nn.Module", "torch.autograd.Function", "numpy.ndarray")
_SKIP_KEYS = frozenset({"__dict__", "__weakref__", "__doc__", "__annotations__"})


def _slot_names(cls: type) -> list[str]:
    """What :func:`copyreg._slotnames` computes (and caches as ``cls.__slotnames__``)."""
    names: list[str] = []
    if not hasattr(cls, "__slots__"):
        return names
    for c in cls.__mro__:
        slots = c.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                stripped = c.__name__.lstrip("_")
                name = f"_{stripped}{name}" if stripped else name
            names.append(name)
    return names


#: Entries the standard library adds to a class as a cache when the class is used (pickling or
#: copying an instance: ``copyreg._slotnames``), with the value it stores. numpy's ndarray
#: takes no new attributes, and ``nn.Module`` pickles through its own ``__getstate__``; the
#: other caches of the standard library (``abc``'s, ``functools``') live elsewhere.
_CACHES: dict[str, Callable[[type], object]] = {"__slotnames__": _slot_names}


def _cache_entry(owner: object, key: str, value: object) -> bool:
    """True when ``key`` of class ``owner`` is a standard cache holding its own value."""
    compute = _CACHES.get(key)
    if compute is None or not isinstance(owner, type):
        return False
    try:
        return value == compute(owner)
    except Exception:  # a class whose slots cannot be read: not a cache
        return False


#: Hooks pytest itself re-binds for every test.
_PER_TEST = frozenset({"_pytest.assertion.util._reprcompare", "_pytest.assertion.util._assertion_pass",
                       "_pytest.assertion.util._config"})


def _resolve(dotted: str) -> object | None:
    mod_name, _, attr = dotted.rpartition(".")
    obj = sys.modules.get(dotted)
    if obj is not None:
        return obj
    owner = sys.modules.get(mod_name)
    if owner is None and "._C" in dotted:
        owner = sys.modules.get("torch._C")
        attr = dotted.split(".")[-1]
    return getattr(owner, attr, None) if owner is not None else None


def _targets() -> list[tuple[str, object, bool]]:
    """(label, owner, strict) for every namespace watched now; strict: new keys count too."""
    out: list[tuple[str, object, bool]] = []
    seen: set[int] = set()

    def add(label: str, owner: object, strict: bool) -> None:
        if owner is not None and id(owner) not in seen:
            seen.add(id(owner))
            out.append((label, owner, strict))

    for name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType):
            continue
        if name.split(".")[0] in DEEP or name in SHALLOW:
            add(name, module, name == "builtins")
        if name.split(".")[0] in DEEP:
            for attr, value in list(vars(module).items()):
                if isinstance(value, type) and getattr(value, "__module__", "") == name:
                    add(f"{name}.{attr}", value, False)
    for dotted in _STRICT_CLASSES:
        add(dotted, _resolve(dotted), True)
    return out


class Snapshot:
    """The entries of every watched namespace at one moment."""

    def __init__(self) -> None:
        self.modules = len(sys.modules)
        self._entries = [
            (label, owner, strict, {k: v for k, v in vars(owner).items() if _watched(v)},
             frozenset(vars(owner)) if strict else frozenset())
            for label, owner, strict in _targets()
        ]

    def restore(self, mine: Callable[[object], bool] | None = None) -> list[str]:
        """Undo every change since the snapshot; return what changed (``torch.allclose``...).

        ``mine(code)`` tells the submission's code objects: a wrapper made by them never passes
        for a library's own wrapper of what it replaced."""
        changed: list[str] = []
        for label, owner, strict, before, keys in self._entries:
            now = vars(owner)
            for key, value in before.items():
                if key in _SKIP_KEYS or f"{label}.{key}" in _PER_TEST:
                    continue
                current = now.get(key, _MISSING)
                if current is not value and not _library_wrapper(current, value, label, mine):
                    changed.append(f"{label}.{key}")
                    _put(owner, key, value)
            if strict:
                for key in [k for k in now if k not in keys and k not in _SKIP_KEYS]:
                    if _library_marker(label, key, now[key]):
                        continue  # torch._dynamo's mark that it wrapped nn.Module (kept)
                    if not _cache_entry(owner, key, now[key]):
                        changed.append(f"{label}.{key}")
                    _drop(owner, key)
        return changed


_MISSING = object()
_CODE_TYPES = (staticmethod, classmethod, property, ModuleType, type)


def _watched(value: object) -> bool:
    """Code, not data: functions, classes, modules and descriptors (module state may change)."""
    return callable(value) or isinstance(value, _CODE_TYPES)


def _library_wrapper(new: object, old: object, label: str,
                     mine: Callable[[object], bool] | None = None) -> bool:
    """True for a library's own wrapper of the old value (``torch._dynamo`` wraps
    ``torch.manual_seed`` when it is first imported, and ``nn.Module.__init__`` when it first
    compiles): a plain function whose code lies in the library's own folder and whose
    ``__wrapped__`` is the old value, or whose closure holds it. A function's ``__module__``
    and ``__wrapped__`` can be set by anyone without an audit event, so they alone prove
    nothing; code the submission wrote or compiled (``mine``) never passes."""
    if type(new) is not FunctionType:
        return False
    code = new.__code__
    if mine is not None and mine(code):
        return False
    if _dict_get(vars(new), "__wrapped__") is not old and not any(
            _cell(c) is old for c in new.__closure__ or ()):
        return False  # neither functools.wraps'd nor closing over what it replaced
    package = sys.modules.get(label.split(".")[0])
    where = getattr(package, "__file__", None)
    if type(where) is not str:
        return False
    folder = os.path.dirname(os.path.realpath(where)) + os.sep
    filename = code.co_filename
    return type(filename) is str and os.path.realpath(filename).startswith(folder)


def _library_marker(label: str, key: str, value: object) -> bool:
    """True for the flags torch keeps on its own classes (``___needs_generation_tag_patch``,
    which ``torch._dynamo`` sets on ``nn.Module`` beside the wrappers it installs): a private
    name of three underscores and a bool, which no behaviour of the class reads."""
    return label.split(".")[0] == "torch" and key.startswith("___") and type(value) is bool


def _put(owner: object, key: str, value: object) -> None:
    try:
        setattr(owner, key, value)
    except (AttributeError, TypeError):
        try:
            vars(owner)[key] = value  # type: ignore[index]
        except TypeError:
            pass


def _drop(owner: object, key: str) -> None:
    try:
        delattr(owner, key)
    except (AttributeError, TypeError):
        pass


_dict_get = dict.get
_LIVE_SYS = sys  # the interpreter's own module, read for its current state (not sealed)


# --- sealed copies ------------------------------------------------------------------------------


def seal(names: Iterable[str]) -> dict[str, ModuleType]:
    """Private copies of the modules ``names``, for code that must keep working as it was
    written whatever the code under test changes afterwards.

    Each copy is a module object that is in no ``sys.modules``: its functions are copies of the
    module's functions whose globals are the copy (and whose closures are new cells), its
    classes are copies of the module's classes (exceptions are kept: ``except`` clauses
    elsewhere must still catch them), its dicts, lists and sets are copies, and its
    ``__builtins__`` is a copy of ``builtins`` as it is now. Any other module it refers to
    (``os``, ``sys``) is replaced by a copy of that module's namespace as it is now; a module
    that is itself sealed is replaced by its sealed copy (``os.path`` by sealed ``posixpath``).
    A global whose name starts with ``_LIVE_`` is kept as it is: the live module, for code that
    reads or sets the interpreter's current state (``sys.meta_path``) rather than calls it.
    Replacing a function of a module, of ``builtins`` or a method of a class afterwards does
    not reach the copies; built-in (C) functions cannot be changed at all.
    """
    import builtins

    names = list(names)
    spaces = {n: ModuleType(n, getattr(sys.modules[n], "__doc__", None)) for n in names}
    private_builtins = dict(vars(builtins))
    memo: dict[int, object] = {}
    keep: list[object] = []  # originals whose ids are memo keys

    def module_copy(module: ModuleType) -> ModuleType:
        name = getattr(module, "__name__", None)
        if name in spaces:
            return spaces[name]
        done = memo.get(id(module))
        if done is None:
            done = memo[id(module)] = ModuleType(str(name))
            keep.append(module)
            copy = vars(done)
            for key, value in list(vars(module).items()):
                if isinstance(value, ModuleType) and getattr(value, "__name__", None) in spaces:
                    value = spaces[value.__name__]
                copy[key] = value
        return done  # type: ignore[return-value]

    def sealed_home(obj: object) -> dict | None:
        module = getattr(obj, "__module__", None)
        return vars(spaces[module]) if module in spaces else None

    def convert(value: object) -> object:
        done = memo.get(id(value), _MISSING)
        if done is not _MISSING:
            return done
        kind = type(value)
        if isinstance(value, ModuleType):
            return module_copy(value)
        if kind is FunctionType and sealed_home(value) is not None \
                and value.__globals__ is vars(sys.modules[value.__module__]):  # type: ignore[attr-defined]
            f: FunctionType = value  # type: ignore[assignment]
            cells = None
            if f.__closure__:
                cells = tuple(CellType() for _ in f.__closure__)
            copy = FunctionType(f.__code__, sealed_home(f), f.__name__, None, cells)
            memo[id(value)] = copy
            keep.append(value)
            for cell, old in zip(cells or (), f.__closure__ or ()):
                try:
                    cell.cell_contents = convert(old.cell_contents)
                except ValueError:  # an empty cell
                    pass
            copy.__defaults__ = convert(f.__defaults__)  # type: ignore[assignment]
            copy.__kwdefaults__ = convert(f.__kwdefaults__)  # type: ignore[assignment]
            copy.__qualname__, copy.__doc__ = f.__qualname__, f.__doc__
            copy.__dict__.update({k: convert(v) for k, v in vars(f).items()})
            return copy
        if isinstance(value, type) and sealed_home(value) is not None and not issubclass(value, BaseException):
            cls: type = value
            members = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
            copy_cls = type(cls)(cls.__name__, tuple(convert(b) for b in cls.__bases__), {})
            memo[id(value)] = copy_cls
            keep.append(value)
            for key, member in members.items():
                if key in ("__module__", "__qualname__", "__doc__"):
                    continue
                type.__setattr__(copy_cls, key, convert(member))
            copy_cls.__qualname__, copy_cls.__doc__ = cls.__qualname__, cls.__doc__
            copy_cls.__module__ = cls.__module__
            return copy_cls
        if kind is staticmethod:
            return staticmethod(convert(value.__func__))  # type: ignore[attr-defined]
        if kind is classmethod:
            return classmethod(convert(value.__func__))  # type: ignore[attr-defined]
        if kind is property:
            p: property = value  # type: ignore[assignment]
            return property(convert(p.fget), convert(p.fset), convert(p.fdel), p.__doc__)
        if kind is dict:
            out: dict = {}
            memo[id(value)] = out
            keep.append(value)
            out.update({k: convert(v) for k, v in value.items()})  # type: ignore[attr-defined]
            return out
        if kind is list:
            out_list: list = []
            memo[id(value)] = out_list
            keep.append(value)
            out_list.extend(convert(v) for v in value)  # type: ignore[attr-defined]
            return out_list
        if kind is set:
            return {convert(v) for v in value}  # type: ignore[attr-defined]
        if kind is tuple:
            return tuple(convert(v) for v in value)  # type: ignore[attr-defined]
        if kind is frozenset:
            return frozenset(convert(v) for v in value)  # type: ignore[attr-defined]
        return value

    for name in names:
        space = vars(spaces[name])
        for key, value in list(vars(sys.modules[name]).items()):
            space[key] = value if key.startswith("_LIVE_") else convert(value)  # live on purpose
        space["__builtins__"] = private_builtins
    spaces[names[0]].__dict__["_SEALED_KEEP"] = keep
    return spaces


# --- interpreter and library settings -----------------------------------------------------------

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


def _same(a: object, b: object) -> bool:
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


def _added(now: object, before: object) -> list:
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
        def put(v: object) -> None:
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


def _put_importer_cache(v: object) -> None:
    cache = _LIVE_SYS.path_importer_cache
    for key in [k for k in cache if k not in v]:  # type: ignore[operator]
        del cache[key]
    cache.update(v)  # type: ignore[arg-type]


# --- the graders' data --------------------------------------------------------------------------

#: Packages whose modules' data (not only code) is put back after each check, and what the
#: grader test changes by design (its own bookkeeping).
DATA = ("graders", "drills_data")
#: Entries the graders set during a check (the running check's id, the last scoreboard).
_BOOKKEEPING = ("graders.core.runtime._state['current']", "graders.core.runtime._state['last_board']")
_MAX_DEPTH = 10
_MAX_NODES = 200_000


class Data:
    """The data the graders decide with, taken before a check: every value reachable from the
    modules of :data:`DATA` (module globals, and inside them dicts, lists, sets, tuples,
    instances of their classes and of hypothesis's, tensors and arrays), the attributes of their
    functions (``__defaults__``, ``__kwdefaults__``, ``__dict__`` such as a hypothesis test's
    ``.hypothesis.inner_test``, the cells of their closures) and hypothesis's settings profiles.

    :meth:`restore` puts back whatever was replaced, removed or changed in place and names it
    (``graders.forbid.AUTOGRAD``, ``graders.speed.speed_check.__kwdefaults__['factor']``). A
    module global that was ``None`` and is now set is a lazily made value, not a change; new
    keys of a module's namespace are new imports, and a dict's new keys are kept and its
    removed keys stay removed (the graders cache their own work in dicts: a run of a training
    check, a recorded answer); what a key holds is watched.
    """

    def __init__(self, modules: dict | None = None) -> None:
        self.records: list[tuple[tuple, str, object, object]] = []
        seen: set[int] = set()
        todo: list[tuple[tuple, object, int]] = []
        source = modules if modules is not None else sys.modules
        for name, module in sorted(source.items()):
            if isinstance(module, ModuleType) and name.split(".")[0] in DATA:
                todo.append(((name,), module, 0))
        settings = sys.modules.get("hypothesis._settings")
        if settings is not None:
            for attr in ("settings", "default_variable"):
                if hasattr(settings, attr):
                    todo.append((("hypothesis._settings", attr), getattr(settings, attr), 1))
        torch = sys.modules.get("torch")
        numpy = sys.modules.get("numpy")
        tensor = torch.Tensor if torch is not None else None
        ndarray = numpy.ndarray if numpy is not None else None
        while todo and len(seen) < _MAX_NODES:
            path, obj, depth = todo.pop()
            if id(obj) in seen or depth > _MAX_DEPTH:
                continue
            kind = type(obj)
            if kind in (str, int, float, bool, bytes, type(None), complex):
                continue
            if isinstance(obj, ModuleType) and depth > 0:
                continue  # another module: watched through its own root, if at all
            seen.add(id(obj))
            nxt = depth + 1
            if isinstance(obj, ModuleType):
                saved = dict(vars(obj))
                self.records.append((path, "module", obj, saved))
                todo.extend(((*path, f".{k}"), v, nxt)
                            for k, v in saved.items() if not k.startswith("__") or k == "__path__")
            elif kind is dict:
                saved = dict(obj)  # type: ignore[call-overload]
                self.records.append((path, "dict", obj, saved))
                todo.extend(((*path, f"[{k!r}]"), v, nxt) for k, v in saved.items())
            elif kind is list:
                saved_list = list(obj)  # type: ignore[call-overload]
                self.records.append((path, "list", obj, saved_list))
                todo.extend(((*path, f"[{i}]"), v, nxt) for i, v in enumerate(saved_list))
            elif kind is set:
                self.records.append((path, "set", obj, list(obj)))  # type: ignore[call-overload]
            elif kind in (tuple, frozenset):
                todo.extend(((*path, f"[{i}]"), v, nxt) for i, v in enumerate(obj))  # type: ignore[call-overload]
            elif kind is FunctionType:
                if not _ours(obj):
                    continue
                f: FunctionType = obj  # type: ignore[assignment]
                cells = tuple(_cell(c) for c in (f.__closure__ or ()))
                self.records.append((path, "function", f, (f.__code__, f.__defaults__, f.__kwdefaults__, cells)))
                todo.append(((*path, ".__defaults__"), f.__defaults__, nxt))
                todo.append(((*path, ".__kwdefaults__"), f.__kwdefaults__, nxt))
                self.records.append((path, "attributes", f, dict(vars(f))))
                todo.extend(((*path, f".{k}"), v, nxt) for k, v in vars(f).items())
                todo.extend(((*path, f".<cell {i}>"), c, nxt) for i, c in enumerate(cells) if c is not _MISSING)
            elif isinstance(obj, type):
                if not _ours(obj):
                    continue
                saved = {k: v for k, v in vars(obj).items() if k not in _SKIP_KEYS}
                self.records.append((path, "class", obj, saved))
                todo.extend(((*path, f".{k}"), v, nxt) for k, v in saved.items() if not _watched(v) or
                            type(v) is FunctionType)
            elif tensor is not None and isinstance(obj, tensor):
                self.records.append((path, "tensor", obj, _tensor_bytes(obj)))
            elif ndarray is not None and isinstance(obj, ndarray):
                self.records.append((path, "array", obj, _array_bytes(obj)))
            elif _ours(kind) and hasattr(obj, "__dict__") and type(getattr(obj, "__dict__", None)) is dict:
                self.records.append((path, "attributes", obj, dict(vars(obj))))
                todo.extend(((*path, f".{k}"), v, nxt) for k, v in vars(obj).items())

    def restore(self) -> list[str]:
        """Undo every change since the snapshot; return what changed."""
        changed: list[str] = []
        for path, kind, obj, saved in self.records:
            label = "".join(path)
            try:
                changed += _restore_one(label, kind, obj, saved)
            except Exception:  # noqa: BLE001 - what cannot be put back is still reported
                changed.append(label)
        return changed


#: hypothesis's classes whose instances the graders hold and decide with: a test's handle
#: (``test.hypothesis.inner_test``) and settings. Its strategies keep caches of their own.
_HYPOTHESIS_CLASSES = frozenset({"HypothesisHandle", "settings"})


def _ours(obj: object) -> bool:
    """True for functions and classes of the watched packages (and hypothesis's few above)."""
    module = vars(obj).get("__module__") if isinstance(obj, type) else getattr(obj, "__module__", None)
    if type(module) is not str:
        return False
    top = module.split(".")[0]
    if top == "hypothesis":
        return not isinstance(obj, type) or obj.__name__ in _HYPOTHESIS_CLASSES
    return top in DATA


def _cell(cell: CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


def _tensor_bytes(t: object) -> object:
    try:
        if t.numel() > 10_000_000 or t.is_meta or t.layout != sys.modules["torch"].strided:  # type: ignore[attr-defined]
            return None
        return t.detach().cpu().contiguous().reshape(-1).view(sys.modules["torch"].uint8).clone()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a tensor that cannot be read as bytes is not watched
        return None


def _array_bytes(a: object) -> object:
    try:
        return a.tobytes() if a.nbytes <= 80_000_000 and a.dtype.kind != "O" else None  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return None


def _restore_one(label: str, kind: str, obj: object, saved: object) -> list[str]:
    out: list[str] = []
    if kind in ("module", "dict", "class", "attributes"):
        now = vars(obj) if kind != "dict" else obj
        for key, value in saved.items():  # type: ignore[attr-defined]
            current = now.get(key, _MISSING)  # type: ignore[union-attr]
            if current is value:
                continue
            if current is _MISSING and kind == "dict":  # an entry the graders evicted: kept out
                continue
            if kind == "module" and (value is None or (key.startswith("__") and key != "__path__")):
                continue  # a lazily made value, or the module's own bookkeeping
            if kind == "class" and (key in _SKIP_KEYS or _watched(value)):
                continue  # code: :class:`Snapshot` restores it
            name = f"{label}[{key!r}]" if kind == "dict" else f"{label}.{key}"
            if name in _BOOKKEEPING:
                continue
            out.append(name)
            if kind == "dict":
                now[key] = value  # type: ignore[index]
            else:
                _put(obj, key, value)
    elif kind == "list":
        if len(obj) != len(saved) or any(a is not b for a, b in zip(obj, saved)):  # type: ignore[arg-type]
            out.append(label)
            obj[:] = saved  # type: ignore[index]
    elif kind == "set":
        if len(obj) != len(saved) or {id(x) for x in obj} != {id(x) for x in saved}:  # type: ignore[attr-defined, arg-type]
            out.append(label)
            obj.clear()  # type: ignore[attr-defined]
            obj.update(saved)  # type: ignore[attr-defined]
    elif kind == "function":
        code, defaults, kwdefaults, cells = saved  # type: ignore[misc]
        f: FunctionType = obj  # type: ignore[assignment]
        if f.__code__ is not code:
            out.append(f"{label}.__code__")
            f.__code__ = code
        if f.__defaults__ is not defaults:
            out.append(f"{label}.__defaults__")
            f.__defaults__ = defaults
        if f.__kwdefaults__ is not kwdefaults:
            out.append(f"{label}.__kwdefaults__")
            f.__kwdefaults__ = kwdefaults
        for i, (cell, value) in enumerate(zip(f.__closure__ or (), cells)):
            if _cell(cell) is not value and value is not _MISSING:
                out.append(f"{label}.<cell {i}>")
                cell.cell_contents = value
    elif kind == "tensor" and saved is not None:
        now_bytes = _tensor_bytes(obj)
        torch = sys.modules["torch"]
        if now_bytes is None or now_bytes.shape != saved.shape or not torch.equal(now_bytes, saved):  # type: ignore[attr-defined]
            out.append(label)
            with torch.no_grad():
                obj.detach().view(-1).view(torch.uint8).copy_(saved)  # type: ignore[attr-defined]
    elif kind == "array" and saved is not None:  # noqa: SIM102  (the branches after are for other kinds)
        if _array_bytes(obj) != saved:
            out.append(label)
            import numpy

            obj.reshape(-1).view(numpy.uint8)[:] = numpy.frombuffer(saved, numpy.uint8)  # type: ignore[attr-defined, union-attr]
    return out


# --- the modules ---------------------------------------------------------------------------------

#: Names of modules whose entry in ``sys.modules`` must stay the module that was imported.
_KIT_MODULES = ("graders", "_drills_reference", "reference", "drills_data")


class Modules:
    """``sys.modules`` as it was before a check.

    :meth:`restore` puts back a module of the kit, torch, numpy, hypothesis or pytest that was
    replaced or removed, removes a new module of the kit that is not made of the kit's own files
    (:func:`genuine`: planted there, or loaded from elsewhere), and removes a module loaded
    from the submission's own folders under the name of a package that is not its own (a
    ``torch`` submodule written by the submission); each is named.
    """

    def __init__(self) -> None:
        self.saved = dict(sys.modules)

    def restore(self, kit: tuple[str, ...], own: tuple[str, ...]) -> list[str]:
        changed: list[str] = []
        modules = sys.modules
        for name, module in self.saved.items():
            now = _dict_get(modules, name, _MISSING)
            if now is module:
                continue
            top = name.split(".")[0]
            if top == "_drills_student":
                continue  # the grader forgets the submission's modules when an import fails
            if top in _KIT_MODULES or top in DEEP or name in SHALLOW or top in ("torch", "numpy"):
                changed.append(f"sys.modules[{name!r}]")
                modules[name] = module
        for name in [n for n in modules if n not in self.saved]:
            module = modules[name]
            top = name.split(".")[0]
            where = getattr(module, "__file__", None)
            where = os.path.realpath(where) if type(where) is str else None
            planted = False
            if top in _KIT_MODULES:
                planted = not genuine(module, kit)
            elif top != "_drills_student" and where is not None and where.startswith(own):
                base = self.saved.get(top) or modules.get(top)
                base_file = getattr(base, "__file__", None)
                planted = "." in name or (type(base_file) is str and not os.path.realpath(base_file).startswith(own))
            if planted:
                changed.append(f"sys.modules[{name!r}]")
                del modules[name]
        return changed


def genuine(module: object, folders: tuple[str, ...]) -> bool:
    """True when ``module`` is made of files in ``folders`` (each ending with a separator): its
    file (or, for a package without one, every folder of its ``__path__``) lies there, and so
    does the code of every function defined in it."""
    if not isinstance(module, ModuleType):
        return False
    namespace = vars(module)
    where = namespace.get("__file__")
    if where is None:
        path = namespace.get("__path__")
        return type(path) is list and bool(path) and all(
            type(p) is str and (os.path.realpath(p) + os.sep).startswith(folders) for p in path)
    if type(where) is not str or not os.path.realpath(where).startswith(folders):
        return False
    name = namespace.get("__name__")
    for value in list(namespace.values()):
        if type(value) is FunctionType and value.__module__ == name:
            filename = value.__code__.co_filename
            if type(filename) is not str or not os.path.realpath(filename).startswith(folders):
                return False
    return True
