"""``drills solution`` shows code that runs: a definition with the helpers and imports it uses."""

from __future__ import annotations

import ast

import pytest

from graders.core import registry, runtime, sources

MODULE = '''\
from __future__ import annotations

import math
import torch

_SCALE = 2.0
PUBLIC = 3


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _area(v):
    h, w = _pair(v)
    return h * w * _SCALE


def other_exercise(x):
    return x


def target(x, k):
    """Docstring."""
    return math.sqrt(_area(k)) + other_exercise(x) + PUBLIC
'''


def test_definition_comes_with_its_private_helpers_and_imports():
    """Are the private helpers it uses (transitively), their constants and imports shown, in order?"""
    text = sources.definition_with_helpers(MODULE, "target")
    tops = [getattr(n, "name", None) or ast.unparse(n) for n in ast.parse(text).body]
    assert tops == ["import math", "_SCALE = 2.0", "_pair", "_area", "target"]


def test_public_names_and_unused_helpers_are_left_out():
    """Is another exercise, or a public name the student's module has, never shown?"""
    text = sources.definition_with_helpers(MODULE, "_pair")
    assert "other_exercise" not in text and "PUBLIC =" not in text and "import torch" not in text
    assert sources.definition_with_helpers(MODULE, "missing") is None


@pytest.mark.parametrize("ex", registry.exercises(), ids=lambda e: e.id)
def test_every_solution_names_only_what_it_shows_or_the_module_has(ex):
    """Does every reference solution, as drills solution prints it, define every private name it uses?"""
    day, mod = ex.module.split(".")
    text = sources.definition_with_helpers((runtime.REFERENCE_DIR / day / f"{mod}.py").read_text(), ex.name)
    assert text is not None
    tree = ast.parse(text)
    shown = {t for n in tree.body for t in sources._bound(n)}
    private = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id.startswith("_")}
    local = {a.arg for n in ast.walk(tree) if isinstance(n, ast.arg) for a in [n]} | {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    assert private <= shown | local | {"__name__", "__file__"}, sorted(private - shown - local)
