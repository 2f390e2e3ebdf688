"""An audit hook that stops a submission's code from reaching what it must not touch.

Installed in the grading process (``-p graders.grading.sandbox``) before any submission code runs.
CPython audit hooks cannot be removed once added, and they see every file opened, every
process started, every socket, every ``ctypes`` call, every frame handed out and every piece
of code compiled or run.

A sensitive event raised while code of the submission is on the stack is refused with
:class:`SandboxViolation` and recorded; the grading process reports it and the exercise being
checked scores 0. Code is the submission's by where it comes from, not by what it says it is:
its files and what it wrote to its own folders, code run with its module globals, code it
compiled or ran with ``exec``/``eval`` under any file name or globals, and the threads and
callbacks it started (:func:`_as_submission`). Grader code, torch and the standard library are
not restricted, except that code which did not ask for it by name (a chain of built-in
callables the submission left for grader code to call, a finaliser gc runs) gets no frame and,
while a check runs, starts or signals no process and uses no network (:data:`_LETHAL`).

The guard's own state lives in the frame of a suspended generator (:func:`_vault`), which the
hook refuses to hand to the submission; the sandbox's wrappers talk to it through
:attr:`Guard.ask` and never hold the real functions they stand for.

What was touched is said in the kit's own terms (:class:`Places`): ``read
reference/day1/tensors.py``, ``imported graders.testing``, ``wrote to the reports folder``, never
the temporary folders of one run, so the same submission gets the same report on every run.
"""

from __future__ import annotations

import _thread
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from types import CodeType, FunctionType

_STUDENT_PKG = "_drills_student"

#: Events refused outright when a submission's frame is on the stack.
_REFUSED = {
    "subprocess.Popen": "started a process",
    "os.system": "started a process",
    "os.exec": "started a process",
    "os.posix_spawn": "started a process",
    "os.spawn": "started a process",
    "os.fork": "forked the process",
    "os.forkpty": "forked the process",
    "pty.spawn": "started a process",
    "os.kill": "sent a signal to a process",
    "os.killpg": "sent a signal to a process",
    "socket.connect": "used the network",
    "socket.bind": "used the network",
    "socket.sendto": "used the network",
    "socket.getaddrinfo": "used the network",
    "ctypes.dlopen": "loaded native code with ctypes",
    "ctypes.dlsym": "loaded native code with ctypes",
    "ctypes.call_function": "called native code with ctypes",
    "ctypes.addressof": "read raw memory with ctypes",
    "ctypes.string_at": "read raw memory with ctypes",
    "ctypes.cdata": "read raw memory with ctypes",
    "gc.get_objects": "walked the interpreter's objects (gc)",
    "gc.get_referrers": "walked the interpreter's objects (gc)",
    "gc.get_referents": "walked the interpreter's objects (gc)",
    "sys._current_frames": "inspected the interpreter's frames",
    "sys.settrace": "installed a tracer",
    "signal.pthread_kill": "sent a signal to a process",
    "sys.setprofile": "installed a profiler",
    "sys.addaudithook": "installed an audit hook",
    "resource.setrlimit": "changed the resource limits",
    "resource.prlimit": "changed the resource limits",
}
_PATH_WRITE = {
    "os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.symlink", "os.link", "os.chmod",
    "os.chown", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile",
    "shutil.copytree", "os.chflags", "os.setxattr", "os.removexattr",
}
_PATH_LIST = {"os.listdir", "os.scandir", "glob.glob", "os.chdir"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_LIBRARIES = frozenset({"torch", "numpy", "graders", "hypothesis", "pytest", "_pytest", "pluggy", "builtins"})
#: Events that the rules below judge when the submission's code is on the stack.
_WATCHED_RULES = frozenset(_REFUSED) | _PATH_WRITE | _PATH_LIST | {
    "open", "import", "compile", "object.__setattr__",
}
#: Refused while a check runs to code that did not ask for them by name (a registry allowance
#: still applies): grader code that starts processes or opens sockets names what it calls, a
#: finaliser or a chain of built-in callables the submission left for others to run does not.
_LETHAL = {  # event: words the code that asks for it names (``os.kill(pid, sig)``: "kill")
    "subprocess.Popen": ("audit", "popen", "fork_exec"), "os.system": ("system",),
    "os.exec": ("exec",), "os.posix_spawn": ("spawn",), "os.spawn": ("spawn",),
    "os.fork": ("fork",), "os.forkpty": ("fork",), "pty.spawn": ("audit", "spawn"),
    "os.kill": ("kill",), "os.killpg": ("kill",), "signal.pthread_kill": ("kill",),
    "socket.connect": ("connect",), "socket.bind": ("bind",), "socket.sendto": ("send",),
}
#: Events that hand out an interpreter frame (from which every older frame can be reached).
_FRAME_EVENTS = frozenset({"sys._getframe", "object.__getattr__"})
_FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"})
#: Events that make or run code: recorded (attribution) or refused (disguise).
_CODE_EVENTS = frozenset({"exec", "function.__new__", "compile", "code.__new__", "marshal.loads"})
_WATCHED = _WATCHED_RULES | frozenset(_LETHAL) | _FRAME_EVENTS | _CODE_EVENTS
#: The standard library's helpers that return frames (or their locals) to their caller.
_HELPER_FILES = frozenset(
    os.path.join(os.path.dirname(os.__file__), name) for name in ("inspect.py", "traceback.py")
)
try:
    import _pytest

    _HELPER_DIRS: tuple[str, ...] = (os.path.join(os.path.dirname(_pytest.__file__), "_code") + os.sep,)
except ImportError:  # pragma: no cover - pytest is a dependency of the kit
    _HELPER_DIRS = ()
_TRACEBACK_FILE = traceback.__file__
_LOGGING_FILE = logging.__file__
#: traceback functions that format an exception as text: nothing of a frame comes back.
_EXCEPTION_FORMATTERS = frozenset({
    "format_exc", "print_exc", "format_exception", "print_exception", "format_tb", "print_tb",
    "extract_tb", "format_exception_only", "print_last",
})


#: What a registry entry's ``sandbox = [...]`` may allow, by the reason it would be refused for.
ALLOWANCES = {
    "processes": ("started a process", "forked the process", "sent a signal to a process"),
    "loopback": ("used the network",),
    "descriptors": ("opened a file descriptor by number",),
}
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "", "0.0.0.0")


def _loopback(event: str, args: tuple) -> bool:
    """True when a socket event names this machine's loopback address."""
    if event == "socket.getaddrinfo":
        host = args[0] if args else None
    else:  # socket.connect / bind / sendto: (socket, address)
        address = args[-1] if args else None
        host = address[0] if isinstance(address, tuple) and address else address
    if type(host) is bytes:
        host = host.decode(errors="replace")
    return type(host) is str and host in _LOOPBACK


class SandboxViolation(RuntimeError):
    """The submission's code tried something the grading sandbox does not allow."""


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in roots)


#: Written by ``drills grade`` into its working folder: which protected folders hold the
#: submissions and which one the reports (``{"submissions": [...], "reports": [...]}``).
ROLES_FILE = "protected.json"
_PROC = re.compile(r"^/proc/(\d+)(?=/|$)")
_TASK = re.compile(r"/task/\d+(?=/|$)")
#: What a process's /proc entries hold that it must not read: its descriptors, memory and
#: environment, in every spelling (a process, a thread of it: ``/proc/<pid>/task/<tid>/``,
#: ``/proc/self/``, ``/proc/thread-self/``; paths are compared once made real).
_PROC_PRIVATE = re.compile(
    r"^/proc/(?:\d+|self|thread-self)(?:/task/\d+)?/"
    r"(?:fd|fdinfo|mem|environ|maps|smaps|smaps_rollup|numa_maps|pagemap|map_files)(?:/|$)"
)


def _is_kit(root: str) -> bool:
    """True when ``root`` is a copy of the kit (it holds the graders package)."""
    return os.path.isfile(os.path.join(root, "graders", "core", "runtime.py"))


class Places:
    """Names for the folders of a grading run, the same on every run.

    ``tree`` (the submission's files), ``home`` (its HOME and TMPDIR), ``reference``, the
    copies of the kit (``kits``: the one the grading process imported, and any protected
    folder holding the graders), ``drills grade``'s working folder (a protected folder above
    ``tree``; the other ``sub-*`` folders in it belong to other submissions), and ``roles``:
    protected folders known to hold the other ``submissions`` or the ``reports``.
    """

    def __init__(self, tree: str, protected: Iterable[str] = (), writable: Iterable[str] = (),
                 reference: str | None = None, kits: Iterable[str] = (),
                 roles: dict[str, Iterable[str]] | None = None) -> None:
        real = os.path.realpath
        tree = real(tree)
        protected = [real(p) for p in protected]
        known = {real(p): "reports" if role == "reports" else "submissions"
                 for role, paths in (roles or {}).items() for p in paths}
        roots: dict[str, str] = {}
        for p in {*protected, *known}:  # a kit is named as such, even where submissions lie
            roots[p] = "kit" if _is_kit(p) else known.get(p) or ("work" if _under(tree, (p,)) else "protected")
        for p in kits:
            roots[real(p)] = "kit"
        if reference:
            roots[real(reference)] = "reference"
        for p in writable:
            roots[real(p)] = "home"
        roots[os.path.dirname(tree)] = "box"
        roots[tree] = "tree"
        self.roots = sorted(roots.items(), key=lambda kv: -len(kv[0]))
        self._aliases = sorted(
            {(alias, root, role) for root, role in roots.items() for alias in {root, _unreal(root)}},
            key=lambda t: -len(t[0]),
        )

    def _root(self, path: str) -> tuple[str, str, str] | None:
        for root, role in self.roots:
            if path == root or path.startswith(root + os.sep):
                return role, root, os.path.relpath(path, root) if path != root else ""
        return None

    def describe(self, path: str) -> str:
        """``path`` (a real path) in the kit's terms: ``reference/day1/tensors.py``,
        ``graders/testing.py``, ``another submission's files``; a path outside every folder of
        the run (``/etc/passwd``) as it is."""
        found = self._root(path)
        if found is None:
            return _proc(path)
        role, _, rel = found
        rel = rel.replace(os.sep, "/")
        if role == "tree":
            return f"its own file {rel}" if rel else "its own folder"
        if role == "home":
            return "its own temporary folder"
        if role == "reference":
            return f"reference/{rel}" if rel else "reference/"
        if role == "kit":
            return rel or "the kit's folder"
        if role == "work" and rel.split("/")[0].startswith("sub-"):
            return "another submission's files"
        return {
            "box": "drills grade's files for this submission",
            "work": "drills grade's working folder",
            "submissions": "another submission's files",
            "reports": "the reports folder",
        }.get(role, "a folder that drills grade protects")

    def module(self, path: str) -> str | None:
        """The kit's module at ``path`` (``graders.testing``), or None."""
        found = self._root(path)
        if found is None or found[0] not in ("kit", "reference") or not path.endswith((".py", ".pyc")):
            return None
        parts = found[2].split(os.sep)
        if len(parts) > 1 and parts[-2] == "__pycache__":  # graders/__pycache__/x.cpython-311.pyc
            parts[-2:] = [parts[-1].split(".")[0]]
        else:
            parts[-1] = parts[-1].rsplit(".", 1)[0]
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join((["reference"] if found[0] == "reference" else []) + parts) or None

    def scrub(self, text: str) -> str:
        """``text`` with the run's folders replaced by names (``exercises/day1/x.py``)."""
        if not text or os.sep not in text:
            return text
        labels = {"tree": "exercises", "home": "$HOME", "reference": "reference", "kit": "<kit>",
                  "box": "<grading folder>", "work": "<grading folder>"}
        for alias, _, role in self._aliases:
            if role in labels and alias in text:
                text = re.sub(re.escape(alias) + r"(?![\w.-])", lambda _m, r=role: labels[r], text)
        return text


def _unreal(path: str) -> str:
    """``path`` as a caller may spell it: through ``$TMPDIR`` when that is a link (macOS)."""
    import tempfile

    tmp = tempfile.gettempdir()
    real_tmp = os.path.realpath(tmp)
    if tmp != real_tmp and (path == real_tmp or path.startswith(real_tmp + os.sep)):
        return tmp + path[len(real_tmp):]
    return path


def _proc(path: str) -> str:
    """``/proc/<this pid>/...`` as ``/proc/self/...`` (process ids differ between runs)."""
    def pid(m: re.Match) -> str:
        return "/proc/self" if int(m.group(1)) == os.getpid() else "/proc/<pid>"

    return _TASK.sub("/task/<tid>", _PROC.sub(pid, path)) if path.startswith("/proc/") else path


def load_roles(tree: str) -> dict[str, list[str]]:
    """The roles ``drills grade`` wrote beside its submissions' folders (``{}`` when none)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(tree))), ROLES_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return {k: [str(p) for p in v] for k, v in data.items() if isinstance(v, list)} if isinstance(data, dict) else {}


class Guard:
    """The rules for one grading process; :meth:`install` adds the audit hook.

    Code counts as the submission's (:meth:`student_on_stack`) by where it comes from: its files
    and whatever it wrote to its own folders, code run with its module globals, code it
    compiled or ran with ``exec``/``eval`` (recorded as it happens, whatever file name or
    globals it was given), and code that runs in a thread or a callback it started (those run
    under a frame of :func:`_as_submission`, so they are the submission's for all their life).
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
                frame = sys._getframe(depth)
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
                frame = sys._getframe(depth)
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

    # --- what the wrappers of attribute_callbacks() ask for ----------------------------------
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


def attribute_callbacks(guard: Guard) -> None:
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

    ask = guard.ask
    weakref.finalize(guard, int)  # weakref registers its atexit hook once, before any check
    start = _calling(ask, "thread", guard.hide(_thread.start_new_thread), _thread_args)
    guard.trust(start)
    _thread.start_new_thread = _thread.start_new = threading._start_new_thread = start  # type: ignore[attr-defined]
    _signal.signal = _calling(ask, "signal", guard.hide(_signal.signal), _plain_args)
    _signal.getsignal = _calling(ask, "getsignal", guard.hide(_signal.getsignal), _plain_args)
    atexit.register = _calling(ask, "atexit", guard.hide(atexit.register), _atexit_args)
    weakref.finalize.__init__ = _calling(ask, "finalize", guard.hide(weakref.finalize.__init__), _finalize_args)
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


def _opcodes() -> tuple[int, int, int, int, frozenset[int]]:
    import opcode

    m = opcode.opmap
    loads = frozenset(m[n] for n in ("LOAD_ATTR", "LOAD_METHOD", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_CONST",
                                     "IMPORT_NAME", "IMPORT_FROM") if n in m)
    return m["EXTENDED_ARG"], m["LOAD_GLOBAL"], m["LOAD_CONST"], m["LOAD_DEREF"], loads


_EXTENDED_ARG, _LOAD_GLOBAL, _LOAD_CONST, _LOAD_DEREF, _NAME_OPS = _opcodes()


def _more_opcodes() -> tuple:
    import opcode

    m = opcode.opmap
    jumps = frozenset(opcode.hasjrel) | frozenset(opcode.hasjabs)
    callee = frozenset(m[n] for n in ("LOAD_ATTR", "LOAD_METHOD", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF",
                                      "LOAD_FAST") if n in m)
    return (m["LOAD_ATTR"], m["LOAD_METHOD"], m["LOAD_FAST"], m["CALL"], m["PRECALL"], m["CACHE"],
            opcode.HAVE_ARGUMENT, jumps, callee, opcode.stack_effect)


(_LOAD_ATTR, _LOAD_METHOD, _LOAD_FAST, _CALL, _PRECALL, _CACHE, _HAVE_ARGUMENT, _JUMPS, _CALLEE_OPS,
 _stack_effect) = _more_opcodes()


def _future_flags() -> int:
    import __future__

    out = 0
    for name in __future__.all_feature_names:
        out |= getattr(__future__, name).compiler_flag
    return out


_FUTURE_FLAGS = _future_flags()


def _vault(guard: Guard):
    """The guard, kept in the frame of a suspended generator.

    Only this generator's frame refers to the guard (and the audit hook, which nothing can
    read). Reading a generator's frame is an audited event the guard refuses to the
    submission, so what is hidden here (the real functions behind the sandbox's wrappers, the
    violations, the rules) cannot be reached or changed. Closing the generator or throwing
    into it is noted as tampering, and it keeps serving.
    """
    box: list = [(True, None)]  # what the door takes out (nothing stays here after a request)
    while True:
        try:
            request = yield box
        except GeneratorExit:
            if sys.is_finalizing():
                return
            guard.violations.append("tampered with the grading sandbox")
            box = [(False, SandboxViolation("not allowed while grading: the code tampered with the grading sandbox"))]
            continue
        except BaseException:  # noqa: BLE001 - thrown in from outside
            guard.violations.append("tampered with the grading sandbox")
            box = [(False, SandboxViolation("not allowed while grading: the code tampered with the grading sandbox"))]
            continue
        try:
            local = guard._local
            busy = _local_busy(local)
            local.busy = True  # the guard's own look at the stack
            try:
                door = sys._getframe(1)
            finally:
                local.busy = busy
            requester = door.f_back if door.f_code is guard._door_code else None
            collecting = _gc_isenabled()
            if collecting:
                _gc_disable()  # no finaliser runs in here
            try:
                box = [(True, guard._serve(request, requester))]
            finally:
                if collecting:
                    _gc_enable()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box = [(False, exc)]
        # let go of the caller's objects while the caller still holds them: none of them may
        # end (and run a finaliser) in this frame
        door = requester = request = None


def _gc_watcher(marks) -> Callable[[str, dict], None]:
    """A ``gc`` callback: while gc collects, ``marks.frame`` is the frame it interrupted (the
    finalisers gc runs are not that frame's doing)."""

    def watch(phase: str, info: dict) -> None:
        try:
            marks.frame = sys._getframe(1) if phase == "start" else None
        except ValueError:  # gc started by no Python code
            marks.frame = None

    return watch


#: Vaults over the same guard: a request made while another one is being answered in the same
#: thread (a finaliser that runs meanwhile, an import it needs) goes to the next one.
_VAULTS = 4


def _door(sends: tuple, vaults: tuple, lock) -> Callable[..., object]:
    def ask(*request):
        """Ask the grading sandbox (see :func:`_vault`)."""
        with lock:
            for send, vault in zip(sends, vaults):
                if not vault.gi_running:
                    ok, value = send(request).pop()
                    break
            else:
                raise RuntimeError("the grading sandbox is busy")
        if ok:
            return value
        raise value

    return ask


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


def guarded(guard: Guard, fn: Callable, why: str) -> Callable:
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


# --- small helpers that read no mutable state -------------------------------------------------

_dict_get = dict.get
_str_startswith = str.startswith
_gc_isenabled, _gc_disable, _gc_enable = __import__("gc").isenabled, __import__("gc").disable, __import__("gc").enable


def _startswith(text: object, prefix: str | tuple[str, ...]) -> bool:
    return type(text) is str and _str_startswith(text, prefix)


def _frame_at(depth: int):
    """The frame ``depth`` levels up from the caller of this function, or None (a thread that
    runs no Python code of its own raises events with no frame of its own)."""
    try:
        return sys._getframe(depth)
    except ValueError:
        return None


def _local_busy(local) -> bool:
    return _dict_get(local.__dict__, "busy", False) is True


def _asks_for(frame, words: tuple[str, ...], window: int = 6) -> bool:
    """True when what ``frame`` is doing names one of ``words``: the function its current call
    calls (``sys._getframe(1)``, ``atexit.register(f)``), the attribute it reads
    (``tb.tb_frame``), or, for ``getattr``, the name it reads. Where the call cannot be read
    from the bytecode (a conditional expression among its arguments), one of the ``window``
    names loaded just before will do."""
    site = _call_site(frame)
    if not words:  # any call will do (not an instruction that calls nothing by name)
        return site is None or site[0] != ""
    if site is not None:
        callee, arguments = site
        if _contains(callee, words):
            return True
        if type(callee) is str and callee.lower() in ("getattr", "attrgetter"):
            return any(_contains(a, words) for a in arguments)
        return False
    offsets, names = _named_loads(frame.f_code)
    at = _bisect_right(offsets, frame.f_lasti)
    return any(_contains(name, words) for name in names[max(0, at - max(window, 16)):at])


def _contains(name: object, words: tuple[str, ...]) -> bool:
    if type(name) is not str:
        return False
    low = name.lower()
    return any(w in low for w in words)


def _call_site(frame) -> tuple[object, list] | None:
    """(callee, argument names) of what ``frame`` is doing, read from its bytecode: the
    function a call calls (the name its callable was loaded by) and the names and constants
    its arguments load; an attribute read (its name, []); anything else ("", []). None when
    the call cannot be read (a jump among its arguments)."""
    instructions = _instructions(frame.f_code)
    at = _bisect_right([i[0] for i in instructions], frame.f_lasti) - 1
    if at < 0:
        return None
    offset, op, arg, name = instructions[at]
    if op in (_LOAD_ATTR, _LOAD_METHOD):
        return name, []
    if op not in (_CALL, _PRECALL):  # a built-in function is called by PRECALL itself
        return "", []
    nargs = arg
    j = at - 1
    if op == _CALL and j >= 0 and instructions[j][1] == _PRECALL:
        j -= 1
    depth, arguments = 0, []
    while j >= 0:
        _, op, arg, name = instructions[j]
        if op in _JUMPS:
            return None
        if depth >= nargs:  # the arguments are done: this loads the callable (or the method)
            if type(name) is str and op in _CALLEE_OPS:
                return name, arguments
            if depth >= nargs + 2:
                return "", arguments
        elif name is not None:
            arguments.append(name)
        try:
            depth += _stack_effect(op, arg) if op >= _HAVE_ARGUMENT else _stack_effect(op)
        except ValueError:
            return None
        j -= 1
    return None


def _instructions(code: CodeType) -> list[tuple[int, int, int, object]]:
    """(offset, opcode, argument, name or constant) of ``code``'s instructions (no caches)."""
    hit = _INSTRUCTIONS.get(id(code))
    if hit is not None:
        return hit
    raw, names, consts = code.co_code, code.co_names, code.co_consts
    out: list[tuple[int, int, int, object]] = []
    extended = 0
    for offset in range(0, len(raw) - 1, 2):
        op, arg = raw[offset], raw[offset + 1] | extended
        extended = (arg << 8) if op == _EXTENDED_ARG else 0
        if op in (_CACHE, _EXTENDED_ARG):
            continue
        name: object = None
        if op in _NAME_OPS:
            index = arg >> 1 if op == _LOAD_GLOBAL else arg
            table = consts if op == _LOAD_CONST else names
            name = table[index] if index < len(table) else None
        elif op in (_LOAD_DEREF, _LOAD_FAST):
            try:
                name = code._varname_from_oparg(arg)
            except (AttributeError, IndexError, ValueError):
                name = None
        out.append((offset, op, arg, name))
    _INSTRUCTIONS[id(code)] = out
    _KEEP.append(code)
    return out


_INSTRUCTIONS: dict[int, list[tuple[int, int, int, object]]] = {}


def _named_loads(code: CodeType) -> tuple[list[int], list[object]]:
    """(offsets, names) of the instructions of ``code`` that load a name, an attribute or a
    constant, read from its bytecode (no library code involved)."""
    hit = _NAMED_LOADS.get(id(code))
    if hit is not None:
        return hit
    raw, names, consts = code.co_code, code.co_names, code.co_consts
    offsets: list[int] = []
    loaded: list[object] = []
    extended = 0
    for offset in range(0, len(raw) - 1, 2):
        op, arg = raw[offset], raw[offset + 1] | extended
        extended = (arg << 8) if op == _EXTENDED_ARG else 0
        if op in _NAME_OPS:
            index = arg >> 1 if op == _LOAD_GLOBAL else arg
            table = consts if op == _LOAD_CONST else names
            if index < len(table):
                offsets.append(offset)
                loaded.append(table[index])
        elif op == _LOAD_DEREF:  # a closure's variable (the sandbox's own hooks use them)
            try:
                name = code._varname_from_oparg(arg)
            except (AttributeError, IndexError, ValueError):
                continue
            offsets.append(offset)
            loaded.append(name)
    hit = _NAMED_LOADS[id(code)] = (offsets, loaded)
    _KEEP.append(code)
    return hit


def _bisect_right(values: list[int], x: int) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if x < values[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


_NAMED_LOADS: dict[int, tuple[list[int], list[object]]] = {}


def _codes_of_module(namespace: dict) -> dict[int, CodeType]:
    """Every code object of the functions (and methods) defined in a module's namespace."""
    out: dict[int, CodeType] = {}
    todo = [v for v in namespace.values()]
    for value in list(todo):
        if isinstance(value, type) and value.__module__ == namespace.get("__name__"):
            todo.extend(vars(value).values())
    codes = [getattr(v, "__code__", None) for v in todo]
    codes += [getattr(getattr(v, "fget", None), "__code__", None) for v in todo]
    while codes:
        code = codes.pop()
        if type(code) is CodeType and id(code) not in out and code.co_filename == __file__:
            out[id(code)] = code
            codes.extend(c for c in code.co_consts if type(c) is CodeType)
    return out


def _names_exec(code: CodeType) -> bool:
    """True when ``code`` calls ``exec``, ``eval`` or ``compile`` by name (or is importlib's
    trampoline that runs them)."""
    hit = _NAMES_EXEC.get(id(code))
    if hit is None:
        hit = code.co_name == "_call_with_frames_removed" or any(
            n in ("exec", "eval", "compile", "exec_", "_exec", "_eval", "_compile", "FunctionType")
            for n in code.co_names
        )
        _NAMES_EXEC[id(code)] = hit
        _KEEP.append(code)
    return hit


def _frame_helper(code: CodeType) -> bool:
    """True for the standard library's helpers that hand frames to their caller."""
    filename = code.co_filename
    if filename in _HELPER_FILES or _startswith(filename, _HELPER_DIRS):
        return True
    return filename == _LOGGING_FILE and code.co_name == "<lambda>"  # logging.currentframe


_NAMES_EXEC: dict[int, bool] = {}
_KEEP: list = []  # the code objects whose ids are cached above


#: The guard's own code (its frames never ask for a frame where the hook looks), and the gc
#: callback's, which asks for the frame gc interrupted.
_GUARD_CODES = _codes_of_module(globals())
_WATCH_CODE = _gc_watcher(None).__code__
