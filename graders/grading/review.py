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
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from graders.grading.review_forbidden import forbidden_names
from graders.grading.review_rules import (
    ALLOWED_MODULES,
    ATTRIBUTES,
    CALLS,
    DEFINED,
    HONEST_DUNDERS,
    LYING_BASES,
    OWNED,
    WHY_MODULE,
    computed_name,
    internal,
)

__all__ = ["ALLOWED_MODULES", "Finding", "forbidden_names", "review"]


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
        if internal(module):
            self._add(node, f"imports {module} (torch's internals)")
        elif top in WHY_MODULE:
            self._add(node, f"imports {module} ({WHY_MODULE[top]})")
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
            if alias.name in CALLS or alias.name in ATTRIBUTES:
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
        if attr.startswith("__") and attr.endswith("__") and attr not in HONEST_DUNDERS:
            self._add(node, f"reads or sets the attribute {attr}")
        elif attr in ATTRIBUTES:
            owner = self._dotted(node.value)
            if attr not in OWNED or owner == OWNED[attr]:
                self._add(node, f"uses {owner + '.' if owner else ''}{attr} ({ATTRIBUTES[attr]})")
        dotted = self._dotted(node)
        part = internal(dotted)
        if part:
            self._add(node, f"uses {part} (torch's internals)")
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
        part = internal(self.aliases.get(node.id, ""))
        if part:
            self._add(node, f"uses {part} (torch's internals)")
        self.generic_visit(node)

    def _replaces(self, target: ast.AST) -> None:
        """An assignment to an attribute of an imported module (``torch.allclose = ...``)."""
        if isinstance(target, ast.Attribute):
            root: ast.expr = target
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
        if isinstance(func, ast.Name) and func.id in CALLS and func.id not in self.aliases:
            self._add(node, f"calls {func.id} ({CALLS[func.id]})")
        if self._dotted(func) in ("sys.exit", "exit", "quit"):
            self._add(node, f"calls {self._dotted(func)} (ends the process)")
        if isinstance(func, ast.Name) and func.id in ("getattr", "setattr", "delattr", "hasattr") \
                and len(node.args) > 1 and computed_name(node.args[1]):
            self._add(node, f"calls {func.id} with a name built at run time")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in DEFINED:
            self._add(node, DEFINED[node.name])
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            name = self._dotted(base).rsplit(".", 1)[-1]
            if name in LYING_BASES:
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


if __name__ == "__main__":  # python -m graders.grading.review FILE...: review files by hand
    for path in sys.argv[1:]:
        for finding in review({Path(path).parent.name + "/" + Path(path).name: Path(path).read_bytes()}):
            print(finding)
