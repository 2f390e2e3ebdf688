"""Does `pytest exercises/...` behave as SPEC section 2 promises, seen from a student's shell?"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import KIT, run_pytest

pytestmark = pytest.mark.timeout(600)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A submission-like tree: reference day 1 copied, with some files replaced."""
    root = tmp_path / "submission"
    shutil.copytree(KIT / "reference" / "day1", root / "day1")
    for name, text in files.items():
        (root / "day1" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_plugin_imports_no_framework_at_load():
    """Does loading the plugin leave torch and TensorFlow unimported?"""
    code = "import sys, graders.plugin; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=KIT)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr


def test_one_module_grades_only_its_exercises(pytester):
    """Does `pytest exercises/day1/strides.py` grade the strides exercises and nothing else?"""
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(
        str(KIT / "exercises" / "day1" / "strides.py"), "--drills-target", "reference",
        "--drills-report", str(report), "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()[-3000:]
    data = json.loads(report.read_text())
    assert set(data["exercises"]) == {e for e in data["exercises"] if e.startswith("day1.strides.")}
    assert len(data["exercises"]) == 9
    assert set(data) >= {"exercises", "points", "max_points"}
    for entry in data["exercises"].values():
        assert entry["status"] == "passed" and entry["points"] == entry["max_points"]
    result.stdout.fnmatch_lines(["*Deep Learning Drills: scoreboard*", "*day1.strides.sliding_windows*passed*",
                                 "*day1 total: 15 / 15 points*"])


def test_k_selects_exercises(pytester):
    """Does `-k transpose_view` select that exercise only?"""
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(
        str(KIT / "exercises" / "day1"), "-k", "transpose_view", "--drills-report", str(report),
        "-p", "no:cacheprovider")
    assert result.ret != 0
    data = json.loads(report.read_text())
    assert list(data["exercises"]) == ["day1.strides.transpose_view"]
    assert data["exercises"]["day1.strides.transpose_view"] == {
        **data["exercises"]["day1.strides.transpose_view"],
        "status": "not started", "points": 0.0, "max_points": 2.0}


def test_statuses_in_one_submission(tmp_path):
    """Are broken, wrong, unfinished and correct modules told apart (error / failed / not started
    / passed), each costing only its own points?"""
    root = _tree(tmp_path, {
        "devices.py": "def pick_device(prefer=None:\n    pass\n",  # syntax error
        "tensors.py": (KIT / "exercises/day1/tensors.py").read_text().replace(
            'raise NotImplementedError("day1.tensors.describe")',
            'return {"shape": t.shape}'),
    })
    code, out, report = run_pytest("exercises/day1", "--drills-target", str(root))
    assert code != 0
    ex = report["exercises"]
    assert ex["day1.devices.pick_device"]["status"] == "error"
    assert ex["day1.devices.move_to"]["status"] == "error"
    assert ex["day1.tensors.describe"]["status"] == "failed"
    assert ex["day1.tensors.masked_mean"]["status"] == "not started"
    assert all(ex[k]["status"] == "passed" for k in ex if k.startswith(("day1.strides", "day1.autograd")))
    assert "could not be imported" in out and "SyntaxError" in out
    full = sum(v["max_points"] for k, v in ex.items() if k.startswith(("day1.strides", "day1.autograd")))
    assert report["points"] == pytest.approx(full)


def test_failure_feedback_order(tmp_path):
    """Does a failure name the exercise, then the smallest input, what went wrong, the hint,
    and last the student's own frames only?"""
    src = (KIT / "reference/day1/strides.py").read_text().replace(
        "    windows = (length - size) // step + 1\n",
        "    windows = (length - size) // step\n", 1)
    root = _tree(tmp_path, {"strides.py": src})
    code, out, report = run_pytest("exercises/day1/strides.py", "--drills-target", str(root),
                                   "-k", "sliding_windows")
    assert code != 0
    assert report["exercises"]["day1.strides.sliding_windows"]["status"] == "failed"
    start = out.index("Exercise day1.strides.sliding_windows")
    block = out[start:]
    positions = [block.index(s) for s in ("Check:", "Smallest failing input:", "What went wrong:", "Hint:")]
    assert positions == sorted(positions), block[:2000]
    assert "site-packages" not in block.split("Hint:")[0]


def test_skip_from_student_code_is_a_failure(tmp_path):
    """Does a pytest.skip() called from exercise code count as a failure, not a pass?"""
    src = (KIT / "reference/day1/devices.py").read_text().replace(
        '    if prefer is not None:\n', '    import pytest; pytest.skip("nothing to see")\n    if prefer is not None:\n', 1)
    root = _tree(tmp_path, {"devices.py": src})
    code, out, report = run_pytest("exercises/day1/devices.py", "--drills-target", str(root))
    assert code != 0
    assert report["exercises"]["day1.devices.pick_device"]["status"] == "failed"
    assert report["exercises"]["day1.devices.move_to"]["status"] == "passed"
    assert "counts as failed" in out


def test_a_whole_pytest_process_freezes_its_imports_and_check_in_a_kernel_does_not(tmp_path):
    """Does `python -m pytest exercises/...` freeze what collection imported (its closing
    garbage collections then skip torch's objects), while `pytest.main` called inside a
    longer-lived process (a notebook's check()) leaves that process's collector as it was?"""
    (tmp_path / "freeze_probe.py").write_text(
        "import gc\n\ndef pytest_sessionfinish(session):\n"
        "    print('FROZEN', gc.get_freeze_count() > 0)\n", encoding="utf-8")
    args = ["exercises/day1/devices.py", "--drills-target", "reference", "-p", "freeze_probe",
            "-p", "no:cacheprovider", "-s", "-q"]
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    whole = subprocess.run([sys.executable, "-m", "pytest", *args], capture_output=True,
                           text=True, cwd=KIT, env=env)
    assert "FROZEN True" in whole.stdout, whole.stdout[-2000:]
    inside = subprocess.run([sys.executable, "-c", f"import pytest; pytest.main({args!r})"],
                            capture_output=True, text=True, cwd=KIT, env=env)
    assert "FROZEN False" in inside.stdout, inside.stdout[-2000:]


def test_hypothesis_runs_as_installed_not_rewritten_by_pytest(tmp_path):
    """pytest rewrites every module of a plugin's distribution (all of hypothesis) and, where it
    cannot keep bytecode, does it again on every run: a second. Is hypothesis imported as
    installed in `pytest exercises/...`, and are the grader modules still rewritten?"""
    (tmp_path / "loader_probe.py").write_text(
        "import sys\n\ndef pytest_sessionfinish(session):\n"
        "    names = ['hypothesis', 'hypothesis.core', 'graders.day1.test_devices']\n"
        "    print('LOADERS', *(type(sys.modules[n].__spec__.loader).__name__ for n in names))\n",
        encoding="utf-8")
    args = ["exercises/day1/devices.py", "--drills-target", "reference", "-p", "loader_probe",
            "-p", "no:cacheprovider", "-s", "-q"]
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-m", "pytest", *args], capture_output=True, text=True,
                         cwd=KIT, env=env).stdout
    assert "LOADERS SourceFileLoader SourceFileLoader AssertionRewritingHook" in out, out[-2000:]
    twice = ("import pytest\nfor _ in range(2):\n"
             f"    pytest.main({['exercises/day1/devices.py', '--drills-target', 'reference', '-q']!r})\n")
    out = subprocess.run([sys.executable, "-c", twice], capture_output=True, text=True, cwd=KIT, env=env)
    assert out.stdout.count("passed") >= 2 and "cannot be rewritten" not in out.stdout + out.stderr, \
        out.stdout[-2000:]  # a second session in one process (check() in a notebook) says nothing of it
