"""Is the student release a working kit that holds nothing of the reference?

One release of day 1 is built per session (``drills release --out DIR --days 1``, in a
subprocess, as an instructor would) and examined; a second one proves it is reproducible.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from release_scan import leaks, shipped_kit_files, solution_lines

from conftest import KIT, run_pytest
from graders.core import registry
from graders.release.tree import filter_registry, strip_hidden

DAY = "day1"


def _release(out: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "graders.cli", "release", "--out", str(out),
                           "--days", "1"], cwd=KIT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("release") / "kit"
    return out, _release(out)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_release_holds_only_the_student_kit(released):
    """Does the release hold the student kit's folders and none of the instructor's?"""
    out, _ = released
    assert sorted(p.name for p in out.iterdir()) == [
        ".gitignore", "README.md", "conftest.py", "datasets", "exercises", "graders", "pyproject.toml"]
    names = set(_files(out))
    for forbidden in ("graders/release/build.py", "graders/release/stubgen.py", "graders/testing.py"):
        assert forbidden not in names
    assert not any(n.startswith(("graders/export/", "graders/grading/", "reference/", "tests/"))
                   for n in names)
    assert sorted(p.name for p in (out / "exercises").iterdir()) == [DAY]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_release_copies_only_public_kit_files(released):
    """Is every shipped file generated, or a copy of a public kit file (hidden checks cut out)?"""
    out, _ = released
    for kit_file in shipped_kit_files(KIT, out):
        rel = kit_file.relative_to(KIT)
        assert rel.parts[0] in ("exercises", "graders", "datasets", "conftest.py"), rel
        shipped = (out / rel).read_text("utf-8", errors="replace")
        original = kit_file.read_text("utf-8", errors="replace")
        if rel.parts[0] == "graders" and rel.name.startswith("test_"):
            original = strip_hidden(original)[0]
        assert shipped == original, f"{rel} differs from the kit's public file"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_release_holds_no_bytecode_or_pickle_of_the_reference(released):
    """Does the release hold no bytecode, and no pickle that names the reference's modules?"""
    out, _ = released
    for path in out.rglob("*"):
        assert path.name != "__pycache__" and path.suffix not in (".pyc", ".pyo", ".pkl", ".pickle")
        if path.is_file() and path.suffix in (".pt", ".npz", ".zip"):
            data = path.read_bytes()
            assert b"_drills_reference" not in data and b"reference.day" not in data, path


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_release_holds_no_solution_line(released):
    """Does no file of the release contain any line of a reference function's body?"""
    out, _ = released
    lines = solution_lines(KIT, out, [DAY])
    assert len(lines) > 50  # the scan looks for something real
    assert leaks(out, lines) == []
    probe = out.parent / "with-a-leak"
    shutil.copytree(out, probe)
    shutil.copy(KIT / "reference" / DAY / "strides.py", probe / "graders" / "notes.txt")
    assert leaks(probe, lines), "the scan must find a reference file copied under another name"
    shutil.rmtree(probe)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_release_registry_and_pyproject_cover_the_released_days(released):
    """Do the release's registry and pyproject list exactly the released days and packages?"""
    out, _ = released
    data = tomllib.loads((out / "graders" / "registry.toml").read_text("utf-8"))
    assert {e["id"].split(".")[0] for e in data["exercise"]} == {DAY}
    project = tomllib.loads((out / "pyproject.toml").read_text("utf-8"))
    for package in project["tool"]["setuptools"]["packages"]:
        if package != "drills_data":
            assert (out / package.replace(".", "/") / "__init__.py").is_file(), package
    readme = (out / "README.md").read_text("utf-8")
    assert "reference/" not in readme and "drills release" not in readme
    assert all(f"`{e.id}`" in readme for e in registry.exercises() if e.day == DAY)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_release_serves_every_public_day1_check(released):
    """Can every public day-1 check run in the release (nothing left "not assessed" by it)?"""
    _, output = released
    assert "not assessed in the release" not in output, output


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_release_serves_every_public_check_of_every_day(tmp_path):
    """Released with all days, can every public check run in the student kit (none left "not
    assessed" because it needs the reference), so that a student's "passed" is the instructor's?"""
    proc = subprocess.run([sys.executable, "-m", "graders.cli", "release", "--out", str(tmp_path / "kit")],
                          cwd=KIT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not assessed in the release" not in proc.stdout, proc.stdout
    assert "not served in the release" not in proc.stdout, proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_stubs_fail_in_the_release(released, tmp_path):
    """In the release, does `pytest exercises/day1` show every exercise "not started"?"""
    kit = tmp_path / "as-shipped"
    shutil.copytree(released[0], kit)  # a run leaves caches behind: keep the release pristine
    code, text, report = run_pytest(f"exercises/{DAY}", cwd=kit)
    assert code != 0 and report is not None, text[-3000:]
    assert f"graded: {kit / 'exercises'}" in text
    assert {v["status"] for v in report["exercises"].values()} == {"not started"}, text[-3000:]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_reference_solutions_pass_in_the_release(released, tmp_path):
    """With the reference solutions copied into its exercises/, does every public check pass?"""
    out, _ = released
    kit = tmp_path / "solved"
    shutil.copytree(out, kit)
    for path in (KIT / "reference" / DAY).glob("*.py"):
        shutil.copy(path, kit / "exercises" / DAY / path.name)
    code, text, report = run_pytest(f"exercises/{DAY}", cwd=kit)
    assert report is not None, text[-3000:]
    failed = {k: v["status"] for k, v in report["exercises"].items() if v["status"] != "passed"}
    assert not failed and code == 0, f"{failed}\n{text[-4000:]}"
    assert report["points"] == report["max_points"] == sum(
        e.points for e in registry.exercises() if e.day == DAY)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_release_is_reproducible(released, tmp_path):
    """Does releasing the same kit twice give the same files, byte for byte?"""
    out, _ = released
    again = tmp_path / "again"
    _release(again)
    assert _files(again) == _files(out)


def test_hidden_checks_are_cut_out():
    """Are checks marked hidden (or named in the registry) cut out of a grader module?"""
    source = (
        "import pytest\n\n\ndef test_a_public():\n    assert True\n\n\n"
        "@pytest.mark.hidden\n@pytest.mark.parametrize('n', [1])\ndef test_a_secret(n):\n"
        "    assert SECRET\n\n\ndef test_a_named_secret():\n    assert OTHER\n"
    )
    text, cut = strip_hidden(source, ["test_a_named_*"])
    assert cut == ["test_a_secret", "test_a_named_secret"]
    assert "SECRET" not in text and "OTHER" not in text and "def test_a_public" in text
    compile(text, "grader", "exec")
    assert strip_hidden("import pytest\npytestmark = pytest.mark.hidden\n")[0] is None


def test_registry_filter_keeps_only_the_released_days():
    """Does the registry cut keep only the [[exercise]] blocks of the released days?"""
    text = '# head\n\n[[exercise]]\nid = "day1.a.b"\n\n[[exercise]]\nid = "day2.c.d"\n'
    assert filter_registry(text, ["day1"]) == '# head\n\n[[exercise]]\nid = "day1.a.b"\n\n'
