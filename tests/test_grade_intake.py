"""Does `drills grade` read every shape of submission, and only the exercise files in it?"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest

from graders.grading import intake
from graders.grading.guard import Guard
from graders.grading.guard_places import Places
from graders.grading.names import feedback_name, feedback_names, submission_names

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
    assert feedback_name("alice") == "alice.txt" and feedback_name("bob-2.final") == "bob-2.final.txt"
    for name in ("../../etc/passwd", "ann smith (late)", ".hidden", "", "x" * 300, "café"):
        file = feedback_name(name)
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{8}\.txt", file), file
        assert len(file) < 100
    assert feedback_name("ann smith (late)").startswith("ann_smith_late-")


def test_feedback_file_names_are_one_to_one_within_a_class():
    """Do names that would share a file (`a b`, `a_b`; `victim`, `victim!`; a name made up to be
    another one's file name; names equal but for case) each get a file of their own?"""
    made_up = feedback_name("a b")[:-4]  # "a_b-<hash of 'a b'>", a safe name
    names = ["a b", "a_b", "victim", "victim!", made_up, "Ann", "ann", "a  b", "a\tb"]
    files = feedback_names(names)
    assert len({f.casefold() for f in files.values()}) == len(names)
    assert files["a_b"] == "a_b.txt" and files["victim"] == "victim.txt" and files["Ann"] == "Ann.txt"
    assert files[made_up] == made_up + ".txt" and files["a b"] != made_up + ".txt"
    assert feedback_names(list(reversed(names))) == files  # the same whatever the order


def test_report_names_of_submissions_are_one_to_one():
    """Do two folders of the same name get distinct names that are not another one's?"""
    paths = [Path(p) for p in ("a/alice", "b/alice", "c/alice-2", "d/alice.zip", "e/bob")]
    assert submission_names(paths) == ["alice", "alice-3", "alice-2", "alice-4", "bob"]


def test_places_are_named_in_the_kits_terms(tmp_path):
    """Does the guard name what a submission touched without the temporary folders of the run?"""
    work, kit = tmp_path / "drills-grade-x", tmp_path / "kit"
    box, copy, ref = work / "sub-1", work / "kits" / "kit-1", work / "kits" / "reference-1"
    for folder in (box / "tree", box / "home", copy / "graders", kit / "graders", ref, tmp_path / "subs", tmp_path / "out"):
        folder.mkdir(parents=True)
    (kit / "graders" / "core").mkdir()
    (kit / "graders" / "core" / "runtime.py").write_text("")
    places = Places(str(box / "tree"), [str(kit), str(copy), str(ref), str(work), str(tmp_path / "subs"),
                                        str(tmp_path / "out")],
                    [str(box / "home")], reference=str(ref), kits=[str(copy)],
                    roles={"submissions": [str(tmp_path / "subs")], "reports": [str(tmp_path / "out")]})
    named = {
        ref / "day1" / "tensors.py": "reference/day1/tensors.py",
        kit / "reference" / "day1" / "tensors.py": "reference/day1/tensors.py",
        copy / "graders" / "testing.py": "graders/testing.py",
        work / "sub-2" / "tree" / "day1" / "x.py": "another submission's files",
        tmp_path / "subs" / "bob" / "day1" / "x.py": "another submission's files",
        tmp_path / "out" / "grades.csv": "the reports folder",
        box / "tree" / "day1" / "x.py": "its own file day1/x.py",
        Path("/etc/passwd"): "/etc/passwd",
    }
    for path, name in named.items():
        assert places.describe(str(path)) == name
    assert places.describe(f"/proc/{os.getpid()}/environ") == "/proc/self/environ"
    assert places.module(str(copy / "graders" / "__pycache__" / "testing.cpython-311.pyc")) == "graders.testing"
    text = f"FileNotFoundError: {box / 'home' / 'tmp' / 'ckpt.pt'} from {box / 'tree' / 'day1' / 'x.py'}"
    assert places.scrub(text) == "FileNotFoundError: $HOME/tmp/ckpt.pt from exercises/day1/x.py"
    guard = Guard(str(box / "tree"), [str(ref), str(copy)], writable=[str(box / "home")], places=places)
    assert guard.verdict("open", (str(ref / "day1" / "tensors.py"), "r", 0)) == "read reference/day1/tensors.py"
    testing = (str(copy / "graders" / "testing.py"), "r", 0)
    assert guard.verdict("open", testing) == "read graders/testing.py"
    assert guard.verdict("open", testing, importing=True) == "imported graders.testing"
    assert guard.verdict("open", (str(tmp_path / "out" / "x"), "w", 0)) == \
        "wrote to the reports folder (outside its own folder)"


def test_pickling_a_tensor_is_not_taken_for_tampering():
    """Is `__slotnames__`, which pickling caches on torch.Tensor, the standard library's doing
    (not flagged), while a made-up value is flagged and removed?"""
    import copy
    import io
    import pickle

    import torch

    from graders.grading.tamper import Snapshot

    if "__slotnames__" in vars(torch.Tensor):  # cached by an earlier test of this process
        del torch.Tensor.__slotnames__
    snapshot = Snapshot()
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2), "m": torch.nn.Linear(2, 2).state_dict()}, buf)
    buf.seek(0)
    torch.load(buf, weights_only=True)
    pickle.loads(pickle.dumps(torch.zeros(3)))
    copy.deepcopy(torch.nn.Linear(2, 2))
    assert snapshot.restore() == []
    assert "__slotnames__" not in vars(torch.Tensor)
    torch.Tensor.__slotnames__ = ["data"]
    assert snapshot.restore() == ["torch.Tensor.__slotnames__"]
    assert "__slotnames__" not in vars(torch.Tensor)


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


def test_the_graders_data_is_put_back_and_taken_again_only_when_it_could_differ():
    """Does the graders' data notice (and put back) a replaced value, a function's new
    defaults, code or closure, and a namespace's new key; and does it ask to be taken again
    exactly when a new take could watch something else?"""
    import types

    from graders.grading.tamper_data import Data

    def make():
        secret = [1]

        def inner(x=1):
            return secret, x

        return inner

    mod = types.ModuleType("graders._data_probe")
    mod.TABLE, mod.cache, mod.fn = ("a", "b"), {"k": 1}, make()
    mod.fn.__module__ = mod.__name__  # a function of the graders
    data = Data({"graders._data_probe": mod})
    assert data.restore() == [] and not data.stale()

    mod.TABLE = ("x",)
    mod.fn.__defaults__ = (2,)
    assert data.restore() == ["graders._data_probe.TABLE", "graders._data_probe.fn.__defaults__"]
    assert mod.TABLE == ("a", "b") and mod.fn.__defaults__ == (1,)
    assert data.stale()  # something was found changed: a new take is due

    data = Data({"graders._data_probe": mod})
    mod.fn.__code__ = mod.fn.__code__.replace(co_name="evil")
    mod.fn.__closure__[0].cell_contents = [2]
    assert data.restore() == ["graders._data_probe.fn.__code__", "graders._data_probe.fn.<cell 0>"]
    assert mod.fn() == ([1], 1) and mod.fn.__code__.co_name == "inner"

    data = Data({"graders._data_probe": mod})
    mod.cache["new"] = 2  # a cache the graders fill: kept, and watched from the next take on
    assert data.restore() == [] and mod.cache == {"k": 1, "new": 2} and data.stale()


def test_the_fork_server_imports_a_days_libraries_once_before_its_first_process(monkeypatch):
    """Does the fork server import a day's libraries when a grading process of that day is
    first asked for (and only then), freezing what they keep, while other days' are left?"""
    import gc
    import sys

    from graders.grading import warmup

    monkeypatch.setattr(warmup, "DAY_IMPORTS", {"day3": ("colorsys", "no_such_library_here")})
    monkeypatch.setattr(warmup, "_warm_days", set())
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    sys.modules.pop("colorsys", None)
    warmup.warm_up_days(["-q", "/kit/exercises/day1", "--drills-target", "/t"])
    assert "colorsys" not in sys.modules and not frozen
    warmup.warm_up_days(["/kit/exercises/day3/", "/kit/exercises/day1"])
    assert "colorsys" in sys.modules and frozen == [True]
    warmup.warm_up_days(["/kit/exercises/day3"])
    assert frozen == [True]  # once per server


def test_the_snapshot_is_taken_again_when_an_import_between_checks_changed_what_it_watches():
    """A library imported between checks (an exercise's preload) may add a method to
    nn.Module: the snapshot must then be taken again (so that the method is not taken for the
    submission's doing), while a module that changed nothing it watches leaves it as it is."""
    import sys
    import types

    import torch

    from graders.grading.tamper import Snapshot

    snapshot = Snapshot()
    try:
        sys.modules["_drills_probe_quiet"] = types.ModuleType("_drills_probe_quiet")
        assert not snapshot.stale()
        torch.nn.functional._drills_probe_registry = {}  # data (a warning's registry): not code
        sys.modules["_drills_probe_data"] = types.ModuleType("_drills_probe_data")
        assert not snapshot.stale()
        sys.modules["_drills_probe_loud"] = types.ModuleType("_drills_probe_loud")
        torch.nn.Module._drills_probe_method = lambda self: None
        assert snapshot.stale()
    finally:
        for name in ("_drills_probe_quiet", "_drills_probe_data", "_drills_probe_loud"):
            sys.modules.pop(name, None)
        vars(torch.nn.functional).pop("_drills_probe_registry", None)
        if "_drills_probe_method" in vars(torch.nn.Module):
            del torch.nn.Module._drills_probe_method


def test_a_hypothesis_tests_first_run_and_a_check_not_assessed_leave_the_graders_data_current():
    """hypothesis sets an attribute on a test function whenever it runs it, and a check that
    cannot be assessed here (no CUDA) is noted in the graders' runtime: neither is a reason to
    walk the graders' data again (20 ms each), once the sandbox settled the tests."""
    import types

    from hypothesis import given, strategies as st

    from graders.core import runtime
    from graders.grading.tamper_data import Data, settle_hypothesis_tests

    @given(st.integers(0, 3))
    def test_probe(x):
        assert x >= 0

    test_probe.__module__ = "graders._hypothesis_probe"
    mod = types.ModuleType("graders._hypothesis_probe")
    mod.test_probe = test_probe
    settle_hypothesis_tests([test_probe, None, len])
    modules = {"graders._hypothesis_probe": mod, "graders.core.runtime": runtime}
    data = Data(modules)
    test_probe()
    previous = runtime._state["current"]
    runtime._state["current"] = "exercises/day1/probe.py::test_on_gpu"
    try:
        runtime.mark_not_assessed("no CUDA device")
        assert data.restore() == [] and not data.stale()
    finally:
        runtime._state["not_assessed"].pop("exercises/day1/probe.py::test_on_gpu", None)
        runtime._state["current"] = previous
