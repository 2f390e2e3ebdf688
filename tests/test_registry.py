"""Is the registry complete and consistent with the exercises, the reference and the graders?"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from graders.core import registry

KIT = Path(__file__).resolve().parent.parent
EXERCISES = registry.exercises()


def _grader_tests() -> dict[str, list[str]]:
    """Test function names per grader module (graders/dayN/test_<module>.py)."""
    out: dict[str, list[str]] = {}
    for path in sorted(KIT.glob("graders/day*/test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [n.name for n in tree.body
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")]
        out[f"{path.parent.name}.{path.stem[5:]}"] = names
    return out


def test_every_exercise_has_a_grader_test():
    """Does every exercise of the registry own at least one grader test?"""
    tests = _grader_tests()
    orphans = []
    for ex in EXERCISES:
        day, module = ex.module.split(".")
        owned = [t for t in tests.get(ex.module, []) if registry.owner(day, module, t) == ex]
        if not owned:
            orphans.append(ex.id)
    assert not orphans, f"exercises without grader tests: {orphans}"


def test_every_grader_test_belongs_to_an_exercise():
    """Does every grader test belong to exactly one registry exercise (none earns nothing)?"""
    unowned = []
    for short, names in _grader_tests().items():
        day, module = short.split(".")
        unowned += [f"graders/{day}/test_{module}.py::{n}" for n in names
                    if registry.owner(day, module, n) is None]
    assert not unowned, f"grader tests that belong to no exercise: {unowned}"


def test_registry_entries_are_complete():
    """Has every exercise a title, positive points, at least two hints and known tags?"""
    for ex in EXERCISES:
        assert ex.title.strip(), ex.id
        assert ex.points > 0, ex.id
        assert len(ex.hints) >= 2, f"{ex.id} needs at least two hints"
        assert set(ex.tags) <= registry.TAGS, ex.id
    ids = [e.id for e in EXERCISES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("ex", EXERCISES, ids=[e.id for e in EXERCISES])
def test_stub_and_reference_agree(ex):
    """Do the stub and the reference define the exercise with the same signature and docstring,
    and does the stub's body only raise NotImplementedError naming the exercise?"""
    day, module = ex.module.split(".")
    stub_path = KIT / "exercises" / day / f"{module}.py"
    ref_path = KIT / "reference" / day / f"{module}.py"
    assert stub_path.exists() and ref_path.exists(), ex.id
    stub_tree = ast.parse(stub_path.read_text(encoding="utf-8"))
    ref_tree = ast.parse(ref_path.read_text(encoding="utf-8"))

    def find(tree):
        for node in tree.body:
            if getattr(node, "name", None) == ex.name:
                return node
        return None

    stub, ref = find(stub_tree), find(ref_tree)
    assert stub is not None, f"{ex.id} is missing from {stub_path}"
    assert ref is not None, f"{ex.id} is missing from {ref_path}"
    assert type(stub) is type(ref), ex.id
    assert ast.get_docstring(stub) == ast.get_docstring(ref), f"{ex.id}: docstrings differ"
    assert len(ast.get_docstring(stub) or "") > 80, f"{ex.id}: the docstring is the student's spec"

    def signature(node):
        return ast.dump(node.args) if isinstance(node, ast.FunctionDef) else [
            (m.name, ast.dump(m.args)) for m in node.body if isinstance(m, ast.FunctionDef)]

    assert signature(stub) == signature(ref), f"{ex.id}: signatures differ"
    source = ast.unparse(stub)
    assert f'NotImplementedError("{ex.id}")' in source or f"NotImplementedError('{ex.id}')" in source, (
        f"{ex.id}: the stub must raise NotImplementedError naming the exercise")
    ref_src = ast.unparse(ref)
    assert "NotImplementedError" not in ref_src, f"{ex.id}: the reference is a stub"


def test_exercise_ids_are_resolvable():
    """Can every exercise be found by its bare name when that name is unique?"""
    names = [e.name for e in EXERCISES]
    for ex in EXERCISES:
        if names.count(ex.name) == 1:
            assert registry.resolve(ex.name) == ex
    with pytest.raises(KeyError, match="did you mean"):
        registry.resolve("pairwise_sq_distz")


@pytest.mark.parametrize("spec, days", [
    ("1", ["day1"]), ("day1", ["day1"]), ("1,3", ["day1", "day3"]), ("day3,day1", ["day1", "day3"]),
    (" 1 , day3 ", ["day1", "day3"]), ("1 3 1", ["day1", "day3"]), ("Day2", ["day2"]),
    (["1", "day3"], ["day1", "day3"]), ("", None), (None, None),
])
def test_day_lists_are_parsed_one_way(spec, days):
    """Does the one day-list parser accept every spelling, in registry order, once each?"""
    assert registry.parse_days(spec) == (days or registry.days())


def test_an_unknown_day_names_itself_and_the_known_days():
    with pytest.raises(ValueError, match=r"'9'.*day1, day2"):
        registry.parse_days("1,9")
    with pytest.raises(ValueError, match=r"'dayx'"):
        registry.parse_days("dayx")
    from graders.release import parse_days  # the old name still answers

    assert parse_days("2") == ["day2"]


def test_examples_do_not_depend_on_the_modules_loaded(tmp_path, monkeypatch):
    """Does hypothesis draw nothing from the constants of local modules (the code under test,
    the kit's own files), so that every engine and install draws the same examples?"""
    from hypothesis.internal.conjecture import providers

    from graders import profiles

    (tmp_path / "drills_local_consts.py").write_text("ODD = 987654321\nNAME = 'zebra-quartz'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("drills_local_consts")
    profiles.register()
    assert len(providers._get_local_constants()) == 0
