"""A static review of a submission, before any of its code runs: what an instructor should look at.

:func:`review` reads the submission's files as syntax trees, outside the sandbox, and lists,
with file and line, the constructs that honest solutions of these exercises never need and that
code written against the grader does: reflection (frames, ``gc``, ``exec``/``compile``/``eval``,
``importlib``, module ``__path__``, dunder attributes such as ``__globals__``, ``getattr`` with a
name built at run time), threads and signals, ``ctypes``, torch's internals (``torch._C``,
``torch.ops``, ``torch.library``, ``__torch_function__``), imports of the kit (``graders``),
``pytest`` or ``hypothesis``, values that can lie in a comparison (classes that subclass
``int`` or ``Tensor``, or define ``__eq__``), and the library functions an exercise forbids,
found in its own code (:func:`forbidden_names`, read from the graders).

A finding costs no points by itself: the sandbox decides what a submission may do while it
runs. The review says where to look. No honest solution may be flagged: the kit's tests run
it on the reference, the stubs and alternative correct solutions.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from graders.core import registry, runtime

#: Modules the exercises need (those the stubs and the reference import), and harmless ones.
ALLOWED_MODULES = frozenset({
    "__future__", "abc", "bisect", "collections", "contextlib", "copy", "dataclasses", "datetime",
    "drills_data", "enum", "functools", "heapq", "itertools", "json", "keras", "math", "numbers",
    "numpy", "operator", "os", "pathlib", "random", "re", "socket", "statistics", "string", "sys",
    "tempfile", "tensorflow", "time", "torch", "torchvision", "triton", "typing", "warnings",
})
#: Imports that are named for what they give access to.
_WHY_MODULE = {
    "graders": "the kit's graders", "pytest": "the test runner", "_pytest": "the test runner",
    "hypothesis": "the input generator of the checks", "pluggy": "the test runner's plugins",
    "gc": "the interpreter's objects", "inspect": "frames and source code",
    "importlib": "the import system", "ctypes": "native code and raw memory",
    "threading": "threads", "_thread": "threads", "concurrent": "threads or processes",
    "multiprocessing": "processes", "subprocess": "processes", "signal": "signals",
    "builtins": "the built-in functions", "types": "code and frame types",
    "marshal": "code objects", "resource": "resource limits",
}
_CALLS = {
    "exec": "runs code built at run time", "eval": "runs code built at run time",
    "compile": "compiles code at run time", "__import__": "imports by a computed name",
    "globals": "reads module globals as a dict", "locals": "reads a frame's variables",
    "vars": "reads an object's namespace", "breakpoint": "starts a debugger",
}
_ATTRIBUTES = {
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
_OWNED = {"modules": "sys", "fork": "os", "kill": "os", "system": "os", "write": "os",
          "_exit": "os", "abort": "os", "dup2": "os"}
#: Dunder attributes honest solutions use; any other one is reported.
_HONEST_DUNDERS = frozenset({
    "__init__", "__name__", "__qualname__", "__doc__", "__class__", "__dict__", "__call__",
    "__setattr__", "__getattr__", "__delattr__", "__len__", "__iter__", "__next__",
    "__getitem__", "__setitem__", "__contains__", "__repr__", "__str__", "__enter__", "__exit__",
})
#: Methods whose definition makes a value able to lie to a check, or runs at odd times.
_DEFINED = {
    "__eq__": "defines __eq__ (a value that decides its own comparisons)",
    "__ne__": "defines __ne__ (a value that decides its own comparisons)",
    "__bool__": "defines __bool__", "__index__": "defines __index__", "__int__": "defines __int__",
    "__float__": "defines __float__", "__hash__": "defines __hash__",
    "__torch_function__": "defines __torch_function__ (intercepts torch calls)",
    "__torch_dispatch__": "defines __torch_dispatch__ (intercepts torch kernels)",
    "__del__": "defines __del__ (code run by the garbage collector)",
    "__getattribute__": "defines __getattribute__", "__instancecheck__": "defines __instancecheck__",
}
_LYING_BASES = frozenset({"int", "float", "str", "bool", "tuple", "list", "dict", "Tensor", "ndarray"})
_TORCH_INTERNALS = ("torch._C", "torch.ops", "torch.library", "torch.overrides",
                    "torch.utils._python_dispatch", "torch._dynamo", "torch._ops")


@dataclass(frozen=True, order=True)
class Finding:
    """One construct an instructor should look at: where, and what it does."""

    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


_LOCK = threading.Lock()  # one review at a time: graded submissions arrive on several threads


def review(files: dict[str, bytes]) -> list[Finding]:
    """Every finding in ``files`` (``{"day1/tensors.py": bytes}``), sorted, without repeats."""
    with _LOCK:
        return _review(files)


def _review(files: dict[str, bytes]) -> list[Finding]:
    out: set[Finding] = set()
    for rel, data in files.items():
        try:
            tree = ast.parse(data.decode("utf-8", "replace"), filename=rel)
        except (SyntaxError, ValueError):
            continue  # the grading says so
        out |= {Finding(rel, line, what) for line, what in _Reader(_module_of(rel)).read(tree)}
    return sorted(out)


def _module_of(rel: str) -> str:
    parts = Path(rel).with_suffix("").parts
    return ".".join(parts[-2:]) if len(parts) >= 2 else ""


class _Reader(ast.NodeVisitor):
    """Collect ``(line, what)`` for one module."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.found: list[tuple[int, str]] = []
        self.aliases: dict[str, str] = {}  # local name -> dotted module or object
        self.forbidden = {name: names for name, names in forbidden_names().items()
                          if name.rsplit(".", 1)[0] == module}
        self.exercise = ""  # the exercise whose definition is being read

    def read(self, tree: ast.Module) -> list[tuple[int, str]]:
        for node in tree.body:
            ex_id = f"{self.module}.{getattr(node, 'name', '')}"
            self.exercise = ex_id if ex_id in self.forbidden else ""
            self.visit(node)
        return self.found

    def _add(self, node: ast.AST, what: str) -> None:
        self.found.append((getattr(node, "lineno", 0), what))

    def _import(self, node: ast.AST, module: str) -> None:
        top = module.split(".")[0]
        if _internal(module):
            self._add(node, f"imports {module} (torch's internals)")
        elif top in _WHY_MODULE:
            self._add(node, f"imports {module} ({_WHY_MODULE[top]})")
        elif top not in ALLOWED_MODULES:
            self._add(node, f"imports {module} (not a module the exercises need)")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(node, alias.name)
            self.aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            return  # the submission's own modules
        module = node.module or ""
        self._import(node, module)
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
            if alias.name in _CALLS or alias.name in _ATTRIBUTES:
                self._add(node, f"imports {module}.{alias.name}")

    def _dotted(self, node: ast.AST) -> str:
        """``F.unfold`` -> ``torch.nn.functional.unfold`` (through the module's imports)."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self._dotted(node.value)
            return f"{base}.{node.attr}" if base else ""
        return ""

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("__") and attr.endswith("__") and attr not in _HONEST_DUNDERS:
            self._add(node, f"reads or sets the attribute {attr}")
        elif attr in _ATTRIBUTES:
            owner = self._dotted(node.value)
            if attr not in _OWNED or owner == _OWNED[attr]:
                self._add(node, f"uses {owner + '.' if owner else ''}{attr} ({_ATTRIBUTES[attr]})")
        dotted = self._dotted(node)
        internal = _internal(dotted)
        if internal:
            self._add(node, f"uses {internal} (torch's internals)")
        self._forbidden(node, dotted)
        self.generic_visit(node)

    def _forbidden(self, node: ast.AST, dotted: str) -> None:
        if not self.exercise:
            return
        for name in self.forbidden[self.exercise]:
            method = name.startswith("torch.Tensor.") and isinstance(node, ast.Attribute) \
                and node.attr == name.rsplit(".", 1)[1] and len(node.attr) > 3
            if dotted == name or dotted.startswith(name + ".") or method:
                self._add(node, f"calls {name}, which {self.exercise} forbids")
                return

    def visit_Name(self, node: ast.Name) -> None:
        internal = _internal(self.aliases.get(node.id, ""))
        if internal:
            self._add(node, f"uses {internal} (torch's internals)")
        self.generic_visit(node)

    def _replaces(self, target: ast.AST) -> None:
        """An assignment to an attribute of an imported module (``torch.allclose = ...``)."""
        if isinstance(target, ast.Attribute):
            root = target
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in self.aliases:
                self._add(target, f"replaces {self._dotted(target)} (changes a library for everyone)")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._replaces(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._replaces(node.target)
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        name = self._dotted(exc) if exc is not None else ""
        if name.rsplit(".", 1)[-1] in ("KeyboardInterrupt", "SystemExit", "GeneratorExit"):
            self._add(node, f"raises {name.rsplit('.', 1)[-1]} (stops the run, not the function)")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in _CALLS and func.id not in self.aliases:
            self._add(node, f"calls {func.id} ({_CALLS[func.id]})")
        if self._dotted(func) in ("sys.exit", "exit", "quit"):
            self._add(node, f"calls {self._dotted(func)} (ends the process)")
        if isinstance(func, ast.Name) and func.id in ("getattr", "setattr", "delattr", "hasattr") \
                and len(node.args) > 1 and _computed_name(node.args[1]):
            self._add(node, f"calls {func.id} with a name built at run time")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in _DEFINED:
            self._add(node, _DEFINED[node.name])
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            name = self._dotted(base).rsplit(".", 1)[-1]
            if name in _LYING_BASES:
                self._add(node, f"subclasses {name} (a value that can lie in comparisons)")
            if name in ("TorchFunctionMode", "TorchDispatchMode"):
                self._add(node, f"subclasses {name} (intercepts torch calls)")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        text = node.value if isinstance(node.value, str) else ""
        for needle, what in (("/proc/", "a /proc path"), ("DRILLS_", "the kit's settings"),
                             ("PYTEST_", "the test runner's settings"),
                             ("_drills_", "the kit's private module names")):
            if needle in text:
                self._add(node, f"names {what} ({text[:40]!r})")


def _internal(dotted: str) -> str:
    """The part of torch's internals ``dotted`` names (``torch._C``), or ""."""
    return next((p for p in _TORCH_INTERNALS if dotted == p or dotted.startswith(p + ".")), "")


def _computed_name(node: ast.AST) -> bool:
    """A name argument built at run time (not a literal, not a plain variable), or a dunder."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value.startswith("__")
    return not isinstance(node, (ast.Name, ast.Attribute, ast.Subscript))


@functools.cache
def forbidden_names() -> dict[str, tuple[str, ...]]:
    """Per exercise id, the dotted names its graders forbid (``forbidden_calls(...)`` and
    ``by_hand(...)`` in ``graders/dayN/``, read from their syntax trees where the exercise is
    named by a literal and the names are literals or module constants; a grader that builds
    them at run time is checked at run time only)."""
    from graders.forbid import AUTOGRAD

    out: dict[str, set[str]] = {}
    for day in registry.days():
        folder = runtime.KIT_ROOT / "graders" / day
        consts: dict[str, tuple[str, ...]] = {}
        trees = [ast.parse(p.read_text("utf-8")) for p in sorted(folder.glob("*.py"))]
        for tree in trees:
            for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name):
                    names = _strings(node.value, consts)
                    if names:
                        consts[node.targets[0].id] = names
        for tree in trees:
            for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
                kind = getattr(call.func, "id", getattr(call.func, "attr", ""))
                if kind not in ("forbidden_calls", "by_hand"):
                    continue
                what = next((k.value.value for k in call.keywords if k.arg == "what"
                             and isinstance(k.value, ast.Constant)), None)
                args = list(call.args)
                if kind == "by_hand" and args and isinstance(args[0], ast.Constant):
                    what, args = args[0].value, args[1:]
                names = [s for a in args for s in _strings(a, consts)]
                if kind == "by_hand":
                    names += list(AUTOGRAD)
                ex = registry.by_id().get(_owner(day, str(what)))
                if ex is not None:
                    out.setdefault(ex.id, set()).update(names)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _owner(day: str, what: str) -> str:
    for ex in registry.exercises():
        if ex.day == day and ex.name == what:
            return ex.id
    return ""


def _strings(node: ast.AST, consts: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The dotted-name strings of a constant expression (tuples, ``+``, ``*NAME``, names)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("torch"):
        return (node.value,)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(s for e in node.elts for s in _strings(e, consts))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _strings(node.left, consts) + _strings(node.right, consts)
    if isinstance(node, ast.Starred):
        return _strings(node.value, consts)
    if isinstance(node, ast.Name):
        return consts.get(node.id, ())
    return ()


if __name__ == "__main__":  # python -m graders.grading.review FILE...: review files by hand
    for path in sys.argv[1:]:
        for finding in review({Path(path).parent.name + "/" + Path(path).name: Path(path).read_bytes()}):
            print(finding)
