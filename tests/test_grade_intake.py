"""Does `drills grade` read every shape of submission, and only the exercise files in it?"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from graders.grading import intake
from graders.grading.guard import Guard
from graders.grading.outputs import feedback_name

DAYS = {"day1", "day2"}


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_folder_with_exercises_is_read(tmp_path):
    sub = intake.read(_write(tmp_path / "ann", {"exercises/day1/tensors.py": "x = 1"}), DAYS)
    assert sub.files == {"day1/tensors.py": b"x = 1"} and not sub.refused


def test_a_folder_holding_the_days_directly_is_read(tmp_path):
    sub = intake.read(_write(tmp_path / "bob", {"day1/tensors.py": "a", "day2/losses.py": "b"}), DAYS)
    assert set(sub.files) == {"day1/tensors.py", "day2/losses.py"}


def test_only_py_files_of_known_days_are_taken(tmp_path):
    root = _write(tmp_path / "cy", {
        "exercises/day1/tensors.py": "a", "exercises/day1/notes.txt": "n", "exercises/day1/sub/x.py": "s",
        "exercises/day9/tensors.py": "z", "exercises/graders/day1/test_tensors.py": "t", "setup.py": "s",
    })
    assert set(intake.read(root, DAYS).files) == {"day1/tensors.py"}


def test_symbolic_links_are_left_out(tmp_path):
    root = _write(tmp_path / "di", {"day1/tensors.py": "a"})
    os.symlink("/etc/passwd", root / "day1" / "strides.py")
    sub = intake.read(root, DAYS)
    assert set(sub.files) == {"day1/tensors.py"} and any("strides.py" in n for n in sub.notes)


def test_a_zip_of_a_folder_is_read(tmp_path):
    path = tmp_path / "eve.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("eve-final/exercises/day1/tensors.py", "a")
        zf.writestr("eve-final/README.md", "r")
    sub = intake.read(path, DAYS)
    assert sub.name == "eve" and sub.files == {"day1/tensors.py": b"a"}


@pytest.mark.parametrize("member", ["../evil/day1/tensors.py", "/abs/day1/tensors.py", "day1/../../x.py"])
def test_a_zip_whose_paths_escape_is_refused(tmp_path, member):
    path = tmp_path / "slip.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("day1/tensors.py", "a")
        zf.writestr(member, "b")
    sub = intake.read(path, DAYS)
    assert "escapes" in sub.refused and not sub.files


def test_a_zip_bomb_is_refused_before_extraction(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_ZIP_UNCOMPRESSED", 1 << 20)
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("day1/tensors.py", "a")
        zf.writestr("day1/big.bin", bytes(2 << 20))
    assert "zip bomb" in intake.read(path, DAYS).refused


def test_a_zip_with_too_many_members_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_ZIP_MEMBERS", 5)
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(6):
            zf.writestr(f"day1/m{i}.py", "a")
    assert "members" in intake.read(path, DAYS).refused


def test_a_file_larger_than_the_cap_is_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_FILE_BYTES", 10)
    root = _write(tmp_path / "fat", {"day1/tensors.py": "x" * 11, "day1/strides.py": "ok"})
    sub = intake.read(root, DAYS)
    assert set(sub.files) == {"day1/strides.py"} and sub.notes


def test_something_else_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    assert intake.read(tmp_path / "notes.txt", DAYS).refused
    assert intake.read(tmp_path / "missing", DAYS).refused


def test_the_digest_follows_the_content_only(tmp_path):
    a = intake.read(_write(tmp_path / "a", {"day1/tensors.py": "x"}), DAYS)
    b = intake.read(_write(tmp_path / "b", {"exercises/day1/tensors.py": "x"}), DAYS)
    c = intake.read(_write(tmp_path / "c", {"day1/tensors.py": "y"}), DAYS)
    assert a.digest == b.digest != c.digest


def test_feedback_file_names_are_safe():
    assert feedback_name("../../etc/passwd") == "etc_passwd.txt"
    assert feedback_name("ann smith (late)") == "ann_smith_late.txt"


def test_the_guard_refuses_reading_protected_and_writing_outside(tmp_path):
    tree, kit = tmp_path / "tree", tmp_path / "kit"
    guard = Guard(str(tree), [str(kit)], allowed=[str(kit / "datasets")])
    assert guard.verdict("open", (str(kit / "reference" / "x.py"), "r", 0)).startswith("read")
    assert guard.verdict("open", (str(kit / "datasets" / "d.pt"), "r", 0)) is None
    assert guard.verdict("open", (str(tree / "day1" / "a.py"), "w", 0)) is None
    assert guard.verdict("open", ("/tmp/elsewhere", "w", 0)).startswith("wrote")
    assert guard.verdict("open", (5, "w", 0)) == "opened a file descriptor by number"
    assert guard.verdict("subprocess.Popen", ("cat", [])) == "started a process"
    assert guard.verdict("import", ("reference.day1",)) == "imported reference.day1"
