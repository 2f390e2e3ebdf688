"""Cut reference modules into notebook cells with nbgrader solution regions.

For an exercise function, the cell is the reference's ``def`` line(s) and docstring, then its
body between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader replaces the region with
``raise NotImplementedError()`` in the student version). The imports, helpers and constants that
only the reference has go, at module level, into one region of the module's helpers cell
(:func:`helpers_cell`), so the student version never names them. For a class, each method the stub also has keeps its
signature and docstring outside its region; a class with methods the stub lacks has its whole
body in one region after the class docstring.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@dataclass(frozen=True)
class ModuleParts:
    """A stub module split for a notebook: docstring, setup code, docstring per public name."""

    docstring: str
    setup: str
    docstrings: dict[str, str]


def _defs(tree: ast.Module | ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    return {n.name: n for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _body_start(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> int:
    """The 0-based line index where the body starts after the docstring."""
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str):
        return first.end_lineno or first.lineno
    return first.lineno - 1


def _start(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators]) - 1


def split_stub(source: str, public: set[str]) -> ModuleParts:
    """The module docstring, the setup code (everything but the exercises) and their docstrings."""
    tree = ast.parse(source)
    lines = source.splitlines()
    setup: list[str] = []
    docs: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant):
            continue  # the module docstring
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in public:
            docs[node.name] = ast.get_docstring(node) or ""
            continue
        setup.append("\n".join(lines[_start(node):node.end_lineno]))
    return ModuleParts(ast.get_docstring(tree) or "", "\n".join(setup), docs)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
        {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def _helpers(ref: ast.Module, ref_lines: list[str], stub: ast.Module) -> dict[str, tuple[ast.stmt, str]]:
    """Reference-only top-level statements by the name(s) they define."""
    stub_defs = {ast.unparse(n) for n in stub.body} | set(_defs(stub))
    out: dict[str, tuple[ast.stmt, str]] = {}
    for node in ref.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr)):
            continue
        names = [node.name] if hasattr(node, "name") else [
            t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)]
        if not names or any(n in stub_defs for n in names) or ast.unparse(node) in stub_defs:
            continue
        text = "\n".join(ref_lines[_start(node):node.end_lineno])
        for n in names:
            out[n] = (node, text)
    return out


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line if line.strip() else "" for line in text.splitlines()]


def _function_cell(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> list[str]:
    body = _body_start(node)
    indent = " " * node.body[0].col_offset
    return lines[_start(node):body] + [indent + BEGIN] + lines[body:node.end_lineno] + [indent + END]


HELPERS_INTRO = "# Helpers of your own for this module (imports, functions, constants), if you want any."


def sibling_imports(setup: str) -> str:
    """Setup code whose imports from the day's other modules (``from .text import encode``)
    also run in the notebook, where the cells above already define those names."""
    tree = ast.parse(setup)
    lines = setup.splitlines()
    for node in reversed(tree.body):
        if isinstance(node, ast.ImportFrom) and node.level:
            block = ["try:", *("    " + line for line in lines[node.lineno - 1:node.end_lineno]),
                     "except ImportError:  # in this notebook, the cells above define them",
                     "    pass"]
            lines[node.lineno - 1:node.end_lineno] = block
    return "\n".join(lines)


def helpers_cell(ref_source: str, stub_source: str) -> str | None:
    """The module's cell for the reference's own imports and helpers (None when it has none).

    They stay at module level (a helper handed to another process must be importable by its
    name), inside a solution region wrapped so that the student version, whose region raises
    ``NotImplementedError``, runs without error::

        try:
            ### BEGIN SOLUTION
            import datetime
            def _free_port(): ...
            ### END SOLUTION
        except NotImplementedError:
            pass
    """
    ref = ast.parse(ref_source)
    stub = ast.parse(stub_source)
    lines = ref_source.splitlines()
    in_stub = {ast.unparse(n) for n in stub.body}
    imports = [n for n in ref.body if isinstance(n, (ast.Import, ast.ImportFrom))
               and ast.unparse(n) not in in_stub and getattr(n, "module", "") != "__future__"]
    helpers = {id(node): node for node, _ in _helpers(ref, lines, stub).values()}
    nodes = sorted([*imports, *helpers.values()], key=lambda n: n.lineno)
    if not nodes:
        return None
    body: list[str] = []
    for node in nodes:
        if body and not isinstance(node, (ast.Import, ast.ImportFrom)):
            body.append("")
        body += _indent(sibling_imports("\n".join(lines[_start(node):node.end_lineno])), "    ")
    return "\n".join([HELPERS_INTRO, "try:", "    " + BEGIN, *body, "    " + END,
                      "except NotImplementedError:", "    pass"]) + "\n"


def solution_cell(ref_source: str, stub_source: str, name: str) -> str:
    """The solution cell of exercise ``name`` (a function or a class) of one module."""
    ref = ast.parse(ref_source)
    stub = ast.parse(stub_source)
    lines = ref_source.splitlines()
    node = _defs(ref)[name]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "\n".join(_function_cell(node, lines)) + "\n"
    stub_cls = _defs(stub).get(name)
    stub_methods = set(_defs(stub_cls)) if isinstance(stub_cls, ast.ClassDef) else set()
    methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    others = [n for n in node.body if n not in methods and not (
        isinstance(n, ast.Expr) and isinstance(getattr(n, "value", None), ast.Constant))]
    body = _body_start(node)
    if others or any(m.name not in stub_methods for m in methods):
        indent = " " * (node.col_offset + 4)
        out = lines[_start(node):body] + [indent + BEGIN] + lines[body:node.end_lineno] + [indent + END]
        return "\n".join(out) + "\n"
    out = lines[_start(node):body]
    for m in methods:
        out += [""] if out and out[-1].strip() else []
        out += _function_cell(m, lines)
    return "\n".join(out) + "\n"
