"""Do the student commands work as a student uses them, on a scratch copy of the kit?

Each command runs in a subprocess; watch mode runs in a pseudo-terminal while a file is edited.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import KIT, copy_kit

pytestmark = pytest.mark.timeout(600)

REF_DESCRIBE = '''    return {"shape": tuple(t.shape), "dtype": str(t.dtype), "device": str(t.device),
            "stride": tuple(t.stride()), "storage_offset": t.storage_offset(),
            "is_contiguous": t.is_contiguous(), "numel": t.numel(),
            "requires_grad": t.requires_grad, "is_leaf": t.is_leaf}'''


@pytest.fixture
def scratch(tmp_path):
    """A copy of the kit a student could have cloned (no state from earlier runs)."""
    return copy_kit(tmp_path / "kit")


def drills(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "graders.cli", *args], cwd=root, env=env,
                          capture_output=True, text=True, input=stdin, timeout=500)


def solve_describe(root: Path) -> None:
    path = root / "exercises/day1/tensors.py"
    text = path.read_text()
    path.write_text(text.replace('    raise NotImplementedError("day1.tensors.describe")', REF_DESCRIBE))


def test_progress_regrades_only_what_changed(scratch):
    """Does `drills progress` show every exercise, then re-grade only the module that changed?"""
    first = drills(scratch, "progress", "day1", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["exercises"]["day1.tensors.describe"]["status"] == "not started"
    assert len(data["graded_now"]) == 4
    again = json.loads(drills(scratch, "progress", "day1", "--json").stdout)
    assert again["graded_now"] == []
    solve_describe(scratch)
    third = json.loads(drills(scratch, "progress", "day1", "--json").stdout)
    assert third["graded_now"] == ["day1.tensors"]
    assert third["exercises"]["day1.tensors.describe"]["status"] == "passed"
    assert third["points"] == 1.0
    text = drills(scratch, "progress", "day1").stdout
    assert "day1.tensors.describe" in text and "passed" in text and "%" in text
    assert "\x1b[" not in text  # no colour codes when not a terminal


def test_hint_reveals_one_more_each_time(scratch):
    """Does `drills hint` reveal the hints in order, accept abbreviations, then say no more?"""
    outs = [drills(scratch, "hint", "pairwise").stdout for _ in range(4)]
    assert "Hint 1/3" in outs[0] and "Hint 2/3" in outs[1] and "Hint 3/3" in outs[2]
    assert "No more hints" in outs[3]
    typo = drills(scratch, "hint", "pairwse_sq_dists")
    assert typo.returncode == 2 and "did you mean" in typo.stdout


def test_solution_only_after_passing(scratch):
    """Is the reference solution refused before passing, and shown after passing or giving up?"""
    refused = drills(scratch, "solution", "day1.tensors.describe")
    assert refused.returncode == 1 and "pass it first" in refused.stdout
    gave_up = drills(scratch, "solution", "masked_mean", "--give-up", "--yes")
    assert gave_up.returncode == 0 and "def masked_mean" in gave_up.stdout
    solve_describe(scratch)
    shown = drills(scratch, "solution", "day1.tensors.describe")
    assert shown.returncode == 0 and "def describe" in shown.stdout


def _read_until(fd: int, needle: str, timeout: float, buf: list[str]) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536).decode(errors="replace")
            except OSError:
                return False
            buf.append(chunk)
            if needle in "".join(buf):
                return True
    return False


def test_watch_regrades_on_save(scratch):
    """Does `drills watch day1` re-grade a module when it is saved, survive a syntax error, and
    show the result and the overall progress bar without a traceback wall?"""
    env = {**os.environ, "PYTHONPATH": str(scratch), "NO_COLOR": "1", "COLUMNS": "120"}
    pid, fd = pty.fork()
    if pid == 0:  # child: the student's terminal
        os.chdir(scratch)
        os.execvpe(sys.executable, [sys.executable, "-m", "graders.cli", "watch", "day1",
                                    "--interval", "0.2"], env)
    buf: list[str] = []
    try:
        assert _read_until(fd, "Watching", 60, buf), "".join(buf)
        path = scratch / "exercises/day1/devices.py"
        good = path.read_text()
        time.sleep(0.5)
        path.write_text(good.replace("def pick_device(", "def pick_device(("))
        assert _read_until(fd, "SyntaxError", 120, buf), "".join(buf)
        assert _read_until(fd, "overall:", 60, buf), "".join(buf)
        assert "day1.devices.pick_device  error" in "".join(buf)
        buf.clear()
        path.write_text(good)
        assert _read_until(fd, "day1.devices.pick_device  not started", 120, buf), "".join(buf)
        assert _read_until(fd, "overall:", 60, buf), "".join(buf)
        assert "Traceback (most recent call last)" not in "".join(buf)
    finally:
        os.kill(pid, 2)
        time.sleep(0.3)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)


def test_progress_takes_the_day_lists_of_every_command(scratch):
    """Does `drills progress` take `1`, `day1` and `1,3` like `drills grade --days`, and stop
    with exit status 2 on an unknown day, naming it?"""
    both = drills(scratch, "progress", "1,3", "--json")
    assert both.returncode == 0, both.stdout + both.stderr
    assert {i.split(".")[0] for i in json.loads(both.stdout)["exercises"]} == {"day1", "day3"}
    for spec in ("1", "day1"):  # from the cache
        one = drills(scratch, "progress", spec, "--json")
        assert one.returncode == 0, one.stdout + one.stderr
        assert {i.split(".")[0] for i in json.loads(one.stdout)["exercises"]} == {"day1"}
    bad = drills(scratch, "progress", "1,9")
    assert bad.returncode == 2 and "'9'" in bad.stdout and "day1, day2" in bad.stdout, bad.stdout


def test_hypothesis_keeps_no_files_in_the_working_folder(tmp_path):
    """Does a run of the graders leave no `.hypothesis/` (example database, constants cache) in
    the folder it runs in, nor in the graded tree, its files going to the user's cache?"""
    cwd, cache = tmp_path / "work", tmp_path / "cache"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPOTHESIS")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(KIT / "exercises" / "day1" / "strides.py"),
         "--drills-target", "reference", "-c", str(KIT / "pyproject.toml"), "--rootdir", str(KIT),
         "-p", "no:cacheprovider", "-q"],
        cwd=cwd, env={**env, "XDG_CACHE_HOME": str(cache), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert list(cwd.iterdir()) == []
    assert not (KIT / "reference" / ".hypothesis").exists()
    assert not (KIT / "reference" / "day1" / ".hypothesis").exists()
    # whatever hypothesis still keeps (the kit turns its constants cache off) goes under the cache
    stray = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert all("deep-learning-drills" in p.parts for p in stray), stray
