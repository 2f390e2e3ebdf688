"""What a student release must not hold: the reference's solution bodies, line by line.

A *solution line* is a line of a function body of the reference (private helpers and methods
included, docstrings left out) that, with its whitespace collapsed, is at least ``MIN_CHARS``
long and occurs in none of the kit's public files that the release copies (stubs, grader
modules, registry, data): the graders and hints show some oracles on purpose, and those lines
are public by design. Every file of a release is searched for every solution line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

MIN_CHARS = 16
GENERATED = ("README.md", "pyproject.toml", ".gitignore", "graders/registry.toml")


def normalize(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip())


def _blob(text: str) -> str:
    return "\n".join(normalize(line) for line in text.splitlines())


def _body_lines(source: str) -> list[str]:
    tree = ast.parse(source)
    lines = source.splitlines()
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            for stmt in body:
                out.extend(lines[stmt.lineno - 1: stmt.end_lineno])
    return out


def shipped_kit_files(kit: Path, release: Path) -> list[Path]:
    """The kit files that the release copies (generated files and golden outputs left out)."""
    out = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        rel = path.relative_to(release).as_posix()
        if rel not in GENERATED and not rel.startswith("graders/golden/") and (kit / rel).is_file():
            out.append(kit / rel)
    return out


def solution_lines(kit: Path, release: Path, days: list[str]) -> set[str]:
    """Every solution line of the reference of ``days`` (see the module docstring)."""
    public = "\n".join(_blob(p.read_text("utf-8", errors="replace"))
                       for p in shipped_kit_files(kit, release) + [kit / "graders" / "registry.toml"])
    lines: set[str] = set()
    for day in days:
        for path in sorted((kit / "reference" / day).glob("*.py")):
            lines.update(normalize(line) for line in _body_lines(path.read_text("utf-8")))
    return {line for line in lines if len(line) >= MIN_CHARS and line not in public}


def leaks(release: Path, lines: set[str]) -> list[str]:
    """``file: line`` for every solution line found in any file of the release."""
    found: list[str] = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        blob = _blob(path.read_bytes().decode("utf-8", errors="replace"))
        found += [f"{path.relative_to(release)}: {line}" for line in sorted(lines) if line in blob]
    return found
