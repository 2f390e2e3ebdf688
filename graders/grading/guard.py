"""An audit hook that stops a submission's code from reaching what it must not touch.

Installed in the grading process (``-p graders.sandbox``) before any submission code runs.
CPython audit hooks cannot be removed once added, and they see every file opened, every
process started, every socket, every ``ctypes`` call and every attempt to read interpreter
frames or walk the garbage collector.

A sensitive event raised while a frame of the submission is on the stack (its files, or code
run with its module globals) is refused with :class:`SandboxViolation` and recorded; the
grading process reports it and the exercise being checked scores 0. Grader code, torch and
the standard library are not restricted: the rules only apply to calls made from the
submission's own code.

What was touched is said in the kit's own terms (:class:`Places`): ``read
reference/day1/tensors.py``, ``imported graders.testing``, ``wrote to the reports folder``, never
the temporary folders of one run, so the same submission gets the same report on every run.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable

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
_WATCHED = frozenset(_REFUSED) | _PATH_WRITE | _PATH_LIST | {
    "open", "import", "compile", "object.__setattr__",
}


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
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    return str(host) in _LOOPBACK


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
    return os.path.isfile(os.path.join(root, "graders", "_runtime.py"))


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
    """The rules for one grading process; :meth:`install` adds the audit hook."""

    def __init__(self, tree: str, protected: Iterable[str], allowed: Iterable[str] = (),
                 writable: Iterable[str] = (), places: Places | None = None) -> None:
        self.tree = os.path.realpath(tree)
        self.writable = (self.tree, *(os.path.realpath(p) for p in writable))
        self.protected = tuple(os.path.realpath(p) for p in protected)
        self.allowed = tuple(os.path.realpath(p) for p in allowed)
        self.places = places or Places(self.tree, self.protected, self.writable[1:])
        self.violations: list[str] = []
        self.allow: frozenset[str] = frozenset()  # set per check from the registry
        self._busy = False

    # --- who is calling ------------------------------------------------------------------
    def student_on_stack(self, depth: int = 2) -> bool:
        """True when a frame of the submission's code is on the current stack."""
        try:
            frame = sys._getframe(depth)
        except ValueError:
            return False
        tree = self.tree + os.sep
        while frame is not None:
            if frame.f_code.co_filename.startswith(tree):
                return True
            name = frame.f_globals.get("__name__")
            if isinstance(name, str) and name.startswith(_STUDENT_PKG):
                return True
            frame = frame.f_back
        return False

    def student_not_importing(self, depth: int = 2) -> bool:
        """True when the nearest submission frame is reached before any import machinery.

        A library imported lazily from the submission's code (``torch._dynamo``) decorates its
        functions as it loads; that is the library's doing, not the submission's.
        """
        try:
            frame = sys._getframe(depth)
        except ValueError:
            return False
        tree = self.tree + os.sep
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith(tree) or str(frame.f_globals.get("__name__")).startswith(_STUDENT_PKG):
                return True
            if filename.startswith("<frozen importlib"):
                return False
            frame = frame.f_back
        return False

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

    def verdict(self, event: str, args: tuple, importing: bool = False) -> str | None:
        """Why ``event`` must be refused (None when it is fine); ``importing``: the event
        comes from an ``import`` statement of the submission."""
        where = self.places.describe
        if event in _REFUSED:
            why = _REFUSED[event]
            return None if self._allowed(event, args, why) else why
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if isinstance(path, int):
                why = "opened a file descriptor by number"
                return None if self._allowed(event, args, why) else why
            real = os.path.realpath(os.fsdecode(path))
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and not self._writable(real):
                return f"wrote to {where(real)} (outside its own folder)"
            if not self._readable(real):
                module = self.places.module(real) if importing else None
                return f"imported {module}" if module else f"read {where(real)}"
            return None
        if event in _PATH_WRITE:
            for p in args:
                if isinstance(p, (str, bytes, os.PathLike)):
                    real = os.path.realpath(os.fsdecode(p))
                    if not self._writable(real):
                        return f"changed {where(real)} (outside its own folder)"
            return None
        if event in _PATH_LIST:
            p = args[0] if args else "."
            if isinstance(p, (str, bytes, os.PathLike)):
                real = os.path.realpath(os.fsdecode(p) or ".")
                if not self._readable(real):
                    return f"listed {where(real)}"
            return None
        if event == "import":
            name = str(args[0]) if args else ""
            if name.split(".")[0] in ("reference", "_drills_reference"):
                return f"imported {name}"
            return None
        if event == "compile":
            filename = args[1] if len(args) > 1 else None
            if isinstance(filename, bytes):
                filename = filename.decode(errors="replace")
            if isinstance(filename, str) and filename and not filename.startswith("<"):
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
                name == "__wrapped__" or str(value).split(".")[0] in _LIBRARIES
            ):
                return f"disguised a function as a library's ({name})"
            return None
        return None

    def _hook(self, event: str, args: tuple) -> None:
        if event not in _WATCHED or self._busy:
            return
        self._busy = True
        try:
            if event == "object.__setattr__" or event in _PATH_LIST:
                if not self.student_not_importing(2):
                    return
            elif not self.student_on_stack(2):
                return
            why = self.verdict(event, args)
            if why is not None and event == "open" and not self.student_not_importing(2):
                why = self.verdict(event, args, importing=True)
        finally:
            self._busy = False
        if why is not None:
            self.violations.append(why)
            raise SandboxViolation(f"not allowed while grading: the code {why}")

    def install(self) -> None:
        """Add the audit hook (for the rest of the process's life)."""
        sys.addaudithook(self._hook)

    def take(self) -> list[str]:
        """The violations recorded since the last call, in order, without duplicates."""
        out = list(dict.fromkeys(self.violations))
        self.violations.clear()
        return out


def guarded(guard: Guard, fn: Callable, why: str) -> Callable:
    """``fn``, refused (and recorded) when called from the submission's code."""

    def wrapper(*args, **kwargs):
        if guard.student_on_stack(2):
            guard.violations.append(why)
            raise SandboxViolation(f"not allowed while grading: the code {why}")
        return fn(*args, **kwargs)

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = getattr(fn, "__name__", "wrapper")
    return wrapper
