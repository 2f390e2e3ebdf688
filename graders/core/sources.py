"""Reading a solution out of a reference module: one definition with what it needs to run.

Nothing here imports torch or pytest; it works on source text only.
"""

from __future__ import annotations

import ast


def _start(node: ast.stmt) -> int:
    """The 0-based first line of a statement, decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1


def _bound(node: ast.stmt) -> list[str]:
    """The names a top-level statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
    return [n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)]


def _shown_with(node: ast.stmt) -> bool:
    """Imports and private helpers travel with a definition; public names (other exercises,
    helpers the student's module is given) never do."""
    return isinstance(node, (ast.Import, ast.ImportFrom)) or all(n.startswith("_") for n in _bound(node))


def definition_with_helpers(ref_source: str, name: str) -> str | None:
    """The reference's definition of ``name`` after the imports and the private module-level
    helpers and constants it uses (followed transitively, in source order), so that the code
    shown runs as it is; None when the module does not define ``name``."""
    ref = ast.parse(ref_source)
    owner: dict[str, ast.stmt] = {}
    for node in ref.body:
        if getattr(node, "module", "") != "__future__":
            owner.update(dict.fromkeys(_bound(node), node))
    if name not in owner:
        return None
    needed: set[int] = set()
    todo = [owner[name]]
    while todo:
        for used in {n.id for n in ast.walk(todo.pop()) if isinstance(n, ast.Name)}:
            dep = owner.get(used)
            if dep is not None and id(dep) not in needed and dep is not owner[name] \
                    and _shown_with(dep):
                needed.add(id(dep))
                todo.append(dep)
    lines = ref_source.splitlines()
    parts = [n for n in ref.body if id(n) in needed] + [owner[name]]
    return "\n\n".join("\n".join(lines[_start(n):n.end_lineno]) for n in parts)
