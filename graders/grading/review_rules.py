"""The static review's rules: what honest solutions import and use, and what each construct
that code written against the grader needs is reported as (:mod:`graders.grading.review`)."""

from __future__ import annotations

import ast

#: Modules the exercises need (those the stubs and the reference import), and harmless ones.
ALLOWED_MODULES = frozenset({
    "__future__", "abc", "bisect", "collections", "contextlib", "copy", "dataclasses", "datetime",
    "drills_data", "enum", "functools", "heapq", "itertools", "json", "keras", "math", "numbers",
    "numpy", "operator", "os", "pathlib", "random", "re", "socket", "statistics", "string", "sys",
    "tempfile", "tensorflow", "time", "torch", "torchvision", "triton", "typing", "warnings",
})
#: Imports that are named for what they give access to.
WHY_MODULE = {
    "graders": "the kit's graders", "pytest": "the test runner", "_pytest": "the test runner",
    "hypothesis": "the input generator of the checks", "pluggy": "the test runner's plugins",
    "gc": "the interpreter's objects", "inspect": "frames and source code",
    "importlib": "the import system", "ctypes": "native code and raw memory",
    "threading": "threads", "_thread": "threads", "concurrent": "threads or processes",
    "multiprocessing": "processes", "subprocess": "processes", "signal": "signals",
    "builtins": "the built-in functions", "types": "code and frame types",
    "marshal": "code objects", "resource": "resource limits",
}
CALLS = {
    "exec": "runs code built at run time", "eval": "runs code built at run time",
    "compile": "compiles code at run time", "__import__": "imports by a computed name",
    "globals": "reads module globals as a dict", "locals": "reads a frame's variables",
    "vars": "reads an object's namespace", "breakpoint": "starts a debugger",
}
ATTRIBUTES = {
    "_getframe": "reads interpreter frames", "f_back": "walks interpreter frames",
    "f_locals": "reads a frame's variables", "f_globals": "reads a frame's globals",
    "f_code": "reads a frame's code", "tb_frame": "reads a traceback's frames",
    "gi_frame": "reads a generator's frame", "cr_frame": "reads a coroutine's frame",
    "_current_frames": "reads every thread's frames", "settrace": "installs a tracer",
    "setprofile": "installs a profiler", "addaudithook": "installs an audit hook",
    "modules": "reads or edits sys.modules",
    "setsid": "leaves its process group", "fork": "forks the process", "kill": "sends signals",
    "killpg": "sends signals", "system": "runs a shell command", "popen": "runs a shell command",
    "mkfifo": "creates a FIFO", "mknod": "creates a device or FIFO",
    "_exit": "ends the process", "abort": "ends the process",
    "dup2": "rewires file descriptors", "write": "writes to a file descriptor by number",
}
#: Attributes above that only count on these owners (``os.write``, not ``file.write``).
OWNED = {"modules": "sys", "fork": "os", "kill": "os", "system": "os", "write": "os",
          "_exit": "os", "abort": "os", "dup2": "os"}
#: Dunder attributes honest solutions use; any other one is reported.
HONEST_DUNDERS = frozenset({
    "__init__", "__name__", "__qualname__", "__doc__", "__class__", "__dict__", "__call__",
    "__setattr__", "__getattr__", "__delattr__", "__len__", "__iter__", "__next__",
    "__getitem__", "__setitem__", "__contains__", "__repr__", "__str__", "__enter__", "__exit__",
})
#: Methods whose definition makes a value able to lie to a check, or runs at odd times.
DEFINED = {
    "__eq__": "defines __eq__ (a value that decides its own comparisons)",
    "__ne__": "defines __ne__ (a value that decides its own comparisons)",
    "__bool__": "defines __bool__", "__index__": "defines __index__", "__int__": "defines __int__",
    "__float__": "defines __float__", "__hash__": "defines __hash__",
    "__torch_function__": "defines __torch_function__ (intercepts torch calls)",
    "__torch_dispatch__": "defines __torch_dispatch__ (intercepts torch kernels)",
    "__del__": "defines __del__ (code run by the garbage collector)",
    "__getattribute__": "defines __getattribute__", "__instancecheck__": "defines __instancecheck__",
}
LYING_BASES = frozenset({"int", "float", "str", "bool", "tuple", "list", "dict", "Tensor", "ndarray"})
TORCH_INTERNALS = ("torch._C", "torch.ops", "torch.library", "torch.overrides",
                    "torch.utils._python_dispatch", "torch._dynamo", "torch._ops")


def internal(dotted: str) -> str:
    """The part of torch's internals ``dotted`` names (``torch._C``), or ""."""
    return next((p for p in TORCH_INTERNALS if dotted == p or dotted.startswith(p + ".")), "")


def computed_name(node: ast.AST) -> bool:
    """A name argument built at run time (not a literal, not a plain variable), or a dunder."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value.startswith("__")
    return not isinstance(node, (ast.Name, ast.Attribute, ast.Subscript))
