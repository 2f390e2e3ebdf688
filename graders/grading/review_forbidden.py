"""The library calls each exercise forbids, read from its graders' syntax trees, so that the
static review (:mod:`graders.grading.review`) finds them in a submission's own code."""

from __future__ import annotations

import ast
import functools

from graders.core import registry, runtime


@functools.cache
def forbidden_names() -> dict[str, tuple[str, ...]]:
    """Per exercise id, the dotted names its graders forbid (``forbidden_calls(...)`` and
    ``by_hand(...)`` in ``graders/dayN/``, read from their syntax trees where the exercise is
    named by a literal and the names are literals or module constants; a grader that builds
    them at run time is checked at run time only)."""
    autograd = _autograd()
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
                called = [s for a in args for s in _strings(a, consts)]
                if kind == "by_hand":
                    called += list(autograd)
                ex = registry.by_id().get(_owner(day, str(what)))
                if ex is not None:
                    out.setdefault(ex.id, set()).update(called)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _autograd() -> tuple[str, ...]:
    """:data:`graders.forbid.AUTOGRAD`, read from its module's syntax tree: importing the
    package would import torch into ``drills grade`` itself (seconds of a busy core)."""
    tree = ast.parse((runtime.KIT_ROOT / "graders" / "forbid" / "tables.py").read_text("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["AUTOGRAD"]:
            return _strings(node.value, {})
    raise LookupError("graders/forbid/tables.py defines no AUTOGRAD")


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
