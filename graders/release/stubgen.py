"""Write a student stub from a reference module: same imports, signatures and docstrings.

Every function body (and every method body of a class) becomes its docstring followed by
``raise NotImplementedError("<exercise id>")``. Used by course authors:

    python -m graders.release.stubgen reference/day1/strides.py exercises/day1/strides.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def _body_start(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The 0-based line after the docstring (or after the signature when there is none)."""
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str):
        return first.end_lineno  # type: ignore[return-value]
    return first.lineno - 1


def make_stub(source: str, short: str) -> str:
    """Return the stub text for the reference ``source`` of module ``short`` ("day1.strides")."""
    tree = ast.parse(source)
    lines = source.splitlines()
    edits: list[tuple[int, int, str]] = []  # (start, end) 0-based line span to replace

    def stub(fn: ast.FunctionDef | ast.AsyncFunctionDef, ex_id: str, super_init: bool) -> None:
        start = _body_start(fn)
        indent = " " * fn.body[0].col_offset
        new = []
        if super_init:
            new.append(f"{indent}super().__init__()")
        new.append(f'{indent}raise NotImplementedError("{ex_id}")')
        edits.append((start, fn.end_lineno, "\n".join(new)))  # type: ignore[arg-type]

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            stub(node, f"{short}.{node.name}", False)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    is_init = item.name == "__init__"
                    bases = {ast.unparse(b) for b in node.bases}
                    needs_super = is_init and bool(bases & {"nn.Module", "torch.nn.Module", "Module"})
                    stub(item, f"{short}.{node.name}", needs_super)
    for start, end, text in sorted(edits, reverse=True):
        lines[start:end] = [text]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    src, dst = Path(args[0]), Path(args[1])
    short = f"{src.parent.name}.{src.stem}"
    dst.write_text(make_stub(src.read_text(encoding="utf-8"), short), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
