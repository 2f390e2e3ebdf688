"""What the guard refuses and watches: the audit events, by the reason a refusal gives.

Tables only (and the loopback test): :mod:`graders.grading.guard` applies them.
"""

from __future__ import annotations

import logging
import os
import traceback

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
