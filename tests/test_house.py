"""The house: graders/ is a set of rooms whose imports point one way.

Every framework module (all of ``graders/`` but the grader tests in ``graders/dayN/``) lives in
one room; a module imports only from its own room and the rooms below it, and no two modules
import each other, even through others. Imports are read from the source: at the top, inside
functions, and by name in strings (``importlib.import_module("graders.x")``, ``-p graders.x``,
the ``drills`` verbs), so a lazy import does not hide a wrong-way door.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADERS = ROOT / "graders"

#: The rooms, from the bottom up: a module may import from its room and the rooms before it.
ROOMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("graders.core",)),
    ("authoring", ("graders.checks", "graders.forbid", "graders.speed", "graders.gpu",
                   "graders.strategies", "graders.profiles", "graders.testing", "graders.budget")),
    ("plugin", ("graders.plugin",)),
    ("learner", ("graders.learner",)),
    ("release", ("graders.release",)),
    ("grading", ("graders.grading",)),
    ("course", ("graders.course",)),
    ("grade command", ("graders.grading.cli",)),
    ("export", ("graders.export",)),
    ("entry", ("graders", "graders.cli")),
)
#: What grader tests may import: the authoring API, the facade and their day's helpers.
AUTHORING_API = ("graders", "graders.checks", "graders.forbid", "graders.speed", "graders.gpu",
                 "graders.strategies", "graders.profiles", "graders.testing", "graders.budget")
MAX_LINES = 300
_NAME = re.compile(r"^graders(\.[A-Za-z_][A-Za-z0-9_]*)+$")  # "graders" alone is a folder


def _is_grader(name: str) -> bool:
    parts = name.split(".")
    return len(parts) > 1 and re.fullmatch(r"day\d+", parts[1]) is not None


def modules() -> dict[str, Path]:
    """Every module of graders/ by dotted name (packages by their own name)."""
    out: dict[str, Path] = {}
    for path in sorted(GRADERS.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _absolute(name: str, module: str, level: int, package: bool) -> str:
    if not level:
        return name
    base = module.split(".") if package else module.split(".")[:-1]
    base = base[: len(base) - level + 1]
    return ".".join(base + ([name] if name else []))


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The kit's modules that ``name`` imports anywhere in its source, or names in a string."""
    package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", name, node.level, package)
            named = {f"{base}.{a.name}" for a in node.names}
            found.update(named)
            if not named <= set(known):  # a name defined in base itself, not a submodule
                found.add(base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.split(":")[0]
            if _NAME.match(text):
                found.add(text)
    out: set[str] = set()
    for target in found:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def room_of(name: str) -> int:
    best, rank = -1, -1
    for index, (_, prefixes) in enumerate(ROOMS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    return rank


def framework(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in ts if not _is_grader(t)} for m, ts in edges.items() if not _is_grader(m)}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_framework_module_has_a_room():
    """Does every module of graders/ (but the grader tests) belong to a declared room?"""
    lost = [m for m in modules() if not _is_grader(m) and room_of(m) < 0]
    assert not lost, f"modules in no room of tests/test_house.py: {lost}"


def test_no_import_cycles():
    """Do the framework's modules import one another without a cycle (lazy imports included)?"""
    found = cycles(framework(graph()))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_imports_point_down():
    """Does every framework module import only from its own room and the rooms below it?"""
    wrong = []
    for module, targets in framework(graph()).items():
        for target in targets:
            if room_of(target) > room_of(module):
                wrong.append(f"{module} ({ROOMS[room_of(module)][0]}) -> "
                             f"{target} ({ROOMS[room_of(target)][0]})")
    assert not wrong, "imports that point up:\n" + "\n".join(sorted(wrong))


def test_framework_never_imports_the_facade():
    """Do framework modules import what they need from its own module, not from ``graders``?"""
    offenders = sorted(m for m, ts in framework(graph()).items() if "graders" in ts and m != "graders")
    assert not offenders, f"import from graders.<module> instead of graders: {offenders}"


def test_grader_tests_use_the_authoring_api():
    """Do the grader tests import only the authoring API and their own day's helpers?"""
    edges = graph()
    wrong = []
    for module, targets in edges.items():
        if not _is_grader(module):
            continue
        day = module.split(".")[1]
        for target in targets:
            if target not in AUTHORING_API and not target.startswith(f"graders.{day}"):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "grader tests reaching past the authoring API:\n" + "\n".join(sorted(wrong))


def test_modules_are_small():
    """Is every framework module readable in one sitting (about 300 lines at most)?"""
    long = {m: len(p.read_text("utf-8").splitlines()) for m, p in modules().items()
            if not _is_grader(m)}
    assert not {m: n for m, n in long.items() if n > MAX_LINES}


def test_every_package_is_packaged():
    """Does pyproject.toml's packages list name every package of graders/?"""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"])
    packages = {".".join(p.parent.relative_to(ROOT).parts) for p in GRADERS.rglob("__init__.py")
                if "__pycache__" not in p.parts}
    assert not packages - listed, f"missing from [tool.setuptools] packages: {sorted(packages - listed)}"


def _framework_files() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for m, p in modules().items() if not _is_grader(m))


def _configured(tool: str) -> None:
    import tomllib

    if tool not in tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8")).get("tool", {}):
        pytest.skip(f"[tool.{tool}] is not configured in pyproject.toml yet")


def test_ruff_is_clean():
    """Does ruff, configured in pyproject.toml, find nothing in graders/?"""
    pytest.importorskip("ruff")
    _configured("ruff")
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    proc = subprocess.run([ruff, "check", "graders"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean():
    """Does mypy, configured in pyproject.toml, find nothing in the framework?"""
    pytest.importorskip("mypy")
    _configured("mypy")
    files = [f for f in _framework_files() if not f.startswith("graders/course/")]
    proc = subprocess.run([sys.executable, "-m", "mypy", *files], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
