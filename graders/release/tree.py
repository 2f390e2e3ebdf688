"""The allow-list behind ``drills release`` and the Gradescope export: which files of the kit ship.

Nothing is copied by walking the kit. Each shipped file is named by one of these rules:

- ``exercises/dayN/``: the stubs of the days asked for (Python and text files, no caches);
- ``graders/``: the modules that the plugin, ``check()``, the student commands and the day's
  grader tests import, found by following their imports (:func:`grader_modules`), plus the
  registry cut to the days asked for (:func:`filter_registry`);
- ``graders/dayN/``: the grader tests, with the hidden checks cut out (:func:`strip_hidden`);
- ``datasets/``: the ``drills_data`` package and its data files, and the data README.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from graders.core import registry

SHIPPED_SUFFIXES = (".py", ".md", ".txt", ".json", ".csv", ".toml", ".pt", ".npz")
STUDENT_VERBS = ("progress", "hint", "watch", "solution")
_MODULE_RE = re.compile(r"^graders(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def day_files(root: Path, folder: str, day: str) -> list[Path]:
    """The shipped files of ``root/folder/day`` (sorted, no caches, no bytecode)."""
    base = root / folder / day
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in SHIPPED_SUFFIXES
                  and "__pycache__" not in p.parts)


def data_files(root: Path) -> list[Path]:
    """The data package (``datasets/drills_data``) and ``datasets/README.md``."""
    files = [p for p in (root / "datasets" / "drills_data").rglob("*")
             if p.is_file() and p.suffix in SHIPPED_SUFFIXES and "__pycache__" not in p.parts]
    readme = root / "datasets" / "README.md"
    return sorted(files + ([readme] if readme.exists() else []))


def command(root: Path) -> str:
    """The module of the ``drills`` command, as the kit's pyproject.toml declares it."""
    with (root / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["project"]["scripts"]["drills"].partition(":")[0]


def verbs(root: Path) -> dict[str, str]:
    """The command's verbs and the module each one runs (its ``VERBS`` table, read as text: the
    release ships the command, it does not run it)."""
    path = _module_file(root, command(root))
    for node in ast.parse(path.read_text("utf-8") if path else "").body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "VERBS" for t in node.targets):
            return {verb: row[0] for verb, row in ast.literal_eval(node.value).items()}
    return {}


def _module_file(root: Path, name: str) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, name: str) -> set[str]:
    """Every ``graders...`` module that ``path`` (module ``name``) may import, also lazily."""
    tree = ast.parse(path.read_text("utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and _MODULE_RE.match(node.value):
            found.add(node.value)  # importlib.import_module("graders.x"), cli.VERBS
    return {f for f in found if f == "graders" or f.startswith("graders.")}


def grader_modules(root: Path, seeds: Iterable[str], *, leave_out: Iterable[str] = ()) -> list[Path]:
    """The files of the ``graders`` modules reachable from ``seeds`` by imports.

    Modules in ``leave_out`` (and everything under them) are not followed: instructor commands
    named in ``graders.cli`` must not pull themselves into a student release.
    """
    skip = tuple(leave_out)
    todo, seen, files = list(seeds), set(), set()
    while todo:
        name = todo.pop()
        if name in seen or any(name == s or name.startswith(s + ".") for s in skip):
            continue
        seen.add(name)
        path = _module_file(root, name)
        if path is None:
            continue
        files.add(path)
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)
        todo.extend(_imports(path, name))
    return sorted(files)


def _is_hidden_marker(node: ast.expr) -> bool:
    text = ast.unparse(node)
    return text in ("pytest.mark.hidden", "mark.hidden") or text.startswith("pytest.mark.hidden(")


def strip_hidden(source: str, patterns: Iterable[str] = ()) -> tuple[str | None, list[str]]:
    """Cut the hidden checks out of a grader module's source.

    A check is hidden when it is decorated with ``@pytest.mark.hidden`` or its name matches one of
    ``patterns`` (the registry's ``hidden`` lists). Returns the new source (None when the whole
    module is hidden by ``pytestmark``) and the names cut out.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    cuts: list[tuple[int, int]] = []
    names: list[str] = []
    pats = tuple(patterns)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            value = node.value
            marks = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
            if any(_is_hidden_marker(m) for m in marks):
                return None, ["<module>"]
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        hidden = any(_is_hidden_marker(d) for d in node.decorator_list) or any(
            fnmatch.fnmatchcase(node.name, p) for p in pats)
        if hidden:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            end = node.end_lineno or node.lineno
            while end < len(lines) and not lines[end].strip():
                end += 1
            cuts.append((start, end))
            names.append(node.name)
    for start, end in sorted(cuts, reverse=True):
        del lines[start:end]
    return "".join(lines), names


def hidden_patterns(day: str, module: str) -> list[str]:
    """The registry's ``hidden = [...]`` test patterns of the exercises of one module."""
    out: list[str] = []
    for ex in registry.exercises():
        if ex.module == f"{day}.{module}":
            out.extend(str(p) for p in ex.extra.get("hidden", ()))
    return out


def filter_registry(text: str, days: Iterable[str]) -> str:
    """The registry's text with only the ``[[exercise]]`` blocks of ``days`` (comments kept)."""
    keep = set(days)
    blocks = re.split(r"(?m)^(?=\[\[exercise\]\]\s*$)", text)
    out = [blocks[0]]
    for block in blocks[1:]:
        match = re.search(r'(?m)^id\s*=\s*"(day\d+)\.', block)
        if match and match.group(1) in keep:
            out.append(block)
    return "".join(out)
