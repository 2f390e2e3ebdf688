"""Can a class full of hostile submissions break `drills grade`?

All hostile submissions (tests/redteam/hostile.py) are graded in ONE `drills grade` run with two
workers and short time limits, on two day-1 exercises: `describe` (made hostile) and
`batched_gather` (left honest). Every question below reads that run's reports.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redteam import hostile  # noqa: E402

KIT = Path(__file__).resolve().parent.parent
HOSTILE = "day1.tensors.describe"
HONEST = "day1.tensors.batched_gather"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("redteam")
    kinds = hostile.build(root / "subs")
    out = root / "out"
    subs = sorted(str(p) for p in (root / "subs").iterdir())
    originals = _contents(root / "subs")
    proc = subprocess.run(
        [sys.executable, "-m", "graders.cli", "grade", *subs, "--out", str(out), "--workers", "2",
         "--exercises", f"{HOSTILE},{HONEST}", "--profile", "drills", "--timeout-per-test", "4",
         "--timeout-per-submission", "90", "--no-progress"],
        cwd=KIT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grades = json.loads((out / "grades.json").read_text())
    return {
        "kinds": kinds, "out": out, "log": proc.stdout + proc.stderr, "subs": root / "subs",
        "originals": originals,
        "rows": {r["submission"]: r for r in csv.DictReader((out / "grades.csv").open())},
        "json": {s["submission"]: s for s in grades["submissions"]},
    }


def test_every_submission_and_exercise_appears_in_every_report(graded):
    names = set(graded["kinds"])
    assert len(hostile.CHEATS) + len(hostile.FAULTS) + len(hostile.MODULE_CHEATS) >= 25
    assert set(graded["rows"]) == names
    assert set(graded["json"]) == names
    for name in names:
        assert set(graded["json"][name]["exercises"]) == {HOSTILE, HONEST}
        assert (graded["out"] / "feedback" / f"{name}.txt").exists()
    header = next(csv.reader((graded["out"] / "grades.csv").open()))
    assert header == ["submission", HOSTILE, HONEST, "day1", "total", "flags", "review", "feedback"]
    html = (graded["out"] / "summary.html").read_text()
    assert all(name in html for name in names if graded["json"][name]["flags"])


def test_the_honest_submissions_get_full_marks_and_no_flag(graded):
    for name, kind in graded["kinds"].items():
        if kind == "honest":
            assert graded["rows"][name]["total"] == "3", graded["json"][name]
            assert graded["rows"][name]["flags"] == ""
            assert graded["rows"][name]["review"] == ""


def test_the_static_review_reaches_the_instructor(graded):
    """Is what the static review found listed, with file and line, in grades.csv and summary.html?"""
    reviewed = {name: row["review"] for name, row in graded["rows"].items() if row["review"]}
    assert len(reviewed) >= len(hostile.CHEATS) // 2, sorted(graded["rows"])
    assert all(":" in text and "day1/" in text for text in reviewed.values()), reviewed
    html = (graded["out"] / "summary.html").read_text()
    assert 'id="review"' in html and all(name in html for name in reviewed)


@pytest.mark.parametrize("name", sorted(hostile.CHEATS))
def test_a_cheat_is_flagged_scores_zero_and_spares_the_honest_exercise(graded, name):
    sub = graded["json"][name]
    assert sub["exercises"][HOSTILE]["points"] == 0, sub["exercises"][HOSTILE]
    assert sub["exercises"][HOSTILE]["status"] == "flagged", sub["exercises"][HOSTILE]
    assert sub["flags"] and graded["rows"][name]["flags"], sub
    assert sub["exercises"][HONEST]["points"] == 2, sub["exercises"][HONEST]
    assert "Flagged" in (graded["out"] / "feedback" / f"{name}.txt").read_text()


@pytest.mark.parametrize("name", sorted(hostile.LIES))
def test_a_lie_earns_nothing_and_spares_the_honest_exercise(graded, name):
    sub = graded["json"][name]
    assert sub["exercises"][HOSTILE]["points"] == 0, sub["exercises"][HOSTILE]
    assert sub["exercises"][HONEST]["points"] == 2, sub["exercises"][HONEST]


@pytest.mark.parametrize("name", sorted(hostile.FAULTS))
def test_a_fault_costs_only_the_exercise_it_touched(graded, name):
    sub = graded["json"][name]
    assert sub["exercises"][HOSTILE]["points"] == 0, sub["exercises"][HOSTILE]
    assert sub["exercises"][HONEST]["points"] == 2, sub["exercises"][HONEST]


@pytest.mark.parametrize("name", sorted(hostile.MODULE_CHEATS))
def test_hostile_code_at_import_flags_every_exercise_of_its_module(graded, name):
    sub = graded["json"][name]
    assert sub["total"] == 0
    assert {e["status"] for e in sub["exercises"].values()} == {"flagged"}, sub


def test_a_crash_is_named_in_the_flags(graded):
    assert any("SIGSEGV" in f for f in graded["json"]["real_segfault"]["flags"])


def test_broken_and_refused_submissions_score_zero_with_a_reason(graded):
    for name, kind in graded["kinds"].items():
        if kind in ("broken", "refused"):
            sub = graded["json"][name]
            assert sub["total"] == 0
            assert all(e["feedback"] for e in sub["exercises"].values()), sub
    assert any("escapes" in f for f in graded["json"]["zip_slip"]["flags"])
    assert any("zip bomb" in f for f in graded["json"]["zip_bomb"]["flags"])


def test_nothing_was_written_outside_the_sandbox(graded):
    assert not Path("/tmp/drills-redteam-was-here").exists()
    assert "# mine" not in (KIT / "graders" / "day1" / "test_tensors.py").read_text()


# --- harm to the run and to the others (tests/redteam/run_harm.py) ---------------------------


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _escapees() -> list[int]:
    """The processes left by the submissions of tests/redteam/run_harm.py that still run
    (killed here, so that a failing test leaves none running)."""
    from redteam import run_harm

    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if run_harm.MARKER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                alive.append(int(pid))
        except OSError:
            continue
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    return alive


def test_no_process_a_submission_started_outlives_it(graded):
    """Is every process that a submission left behind (in a session of its own, reparented)
    ended with its grading process, before it could harm what was graded after it?"""
    assert _escapees() == []


def test_the_submissions_and_the_reports_are_untouched(graded):
    """Are the submissions' own folders as they were, is every report a regular file of the
    run (a FIFO or a link put there was replaced, never opened or followed), and is nothing
    written where those links pointed?"""
    from redteam import run_harm

    assert _contents(graded["subs"]) == graded["originals"]
    out = graded["out"]
    for name in ("grades.csv", "grades.json", "timings.json", "summary.html"):
        assert (out / name).is_file() and not (out / name).is_symlink(), name
    assert (out / "feedback").is_dir() and not (out / "feedback").is_symlink()
    assert all(p.is_file() and not p.is_symlink() for p in (out / "feedback").iterdir())
    assert not list(Path(run_harm.ELSEWHERE).parent.glob(Path(run_harm.ELSEWHERE).name + "*"))


def test_a_lost_fork_server_is_replaced_and_flags_the_check_it_ran(graded):
    """Does a fork server killed, interrupted or stopped by a submission cost that submission's
    check only (flagged), with the honest exercise graded by a new server? As root with a user
    id per submission, the server cannot be reached at all."""
    grades = json.loads((graded["out"] / "grades.json").read_text())
    separate = grades["kit"]["isolation"].startswith("separate user id")
    lost = f"{HOSTILE}: stopped the grading worker (its fork server ended or hung)"
    for name in ("kill_the_fork_server", "terminate_the_fork_server", "stop_the_fork_server"):
        sub = graded["json"][name]
        assert [f for f in sub["flags"] if "fork server" in f] in ([], [lost]), sub["flags"]
        if separate:
            assert lost not in sub["flags"], sub["flags"]
        else:  # the server was lost, or the signal refused: flagged either way
            assert sub["exercises"][HOSTILE]["status"] == "flagged", sub["flags"]
        assert sub["exercises"][HONEST]["points"] == 2
    assert "Isolation: " + grades["kit"]["isolation"] in (graded["out"] / "summary.html").read_text()


# --- what a check allowed processes may do (run_harm.PROCESSES, day 6) ------------------------

PROCESSES_ALLOWED = "day6.distributed.train_data_parallel"


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One run: the hostile train_data_parallel of run_harm.PROCESSES, and honest day-1
    submissions graded after them."""
    from redteam import run_harm

    root = tmp_path_factory.mktemp("processes")
    ref = (KIT / "reference" / "day6" / "distributed.py").read_text()
    for name, snippet in run_harm.PROCESSES.items():
        (root / "subs" / name / "exercises" / "day6").mkdir(parents=True)
        (root / "subs" / name / "exercises" / "day6" / "distributed.py").write_text(ref + snippet)
    for name in ("zz_after_1", "zz_after_2"):
        (root / "subs" / name / "day1").mkdir(parents=True)
        (root / "subs" / name / "day1" / "tensors.py").write_text(hostile.reference_text())
    originals, out = _contents(root / "subs"), root / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "graders.cli", "grade", *sorted(map(str, (root / "subs").iterdir())),
         "--out", str(out), "--workers", "2", "--exercises", f"{PROCESSES_ALLOWED},{HONEST}",
         "--profile", "drills", "--timeout-per-test", "30", "--timeout-per-submission", "120", "--no-progress"],
        cwd=KIT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grades = json.loads((out / "grades.json").read_text())
    return {"subs": root / "subs", "originals": originals, "out": out, "kit": grades["kit"],
            "json": {s["submission"]: s for s in grades["submissions"]}}


def test_processes_a_check_started_end_with_it_and_harm_no_one(processes):
    """Do the processes that a check allowed processes started (and that left their session)
    end with its grading process, before they can edit or kill what is graded after it? Are the
    submissions' folders and the reports untouched, and do the honest submissions keep their
    points?"""
    from redteam import run_harm

    assert _escapees() == []
    assert _contents(processes["subs"]) == processes["originals"]
    for name in ("grades.csv", "grades.json", "timings.json", "summary.html"):
        assert (processes["out"] / name).is_file() and not (processes["out"] / name).is_symlink()
    assert not list(Path(run_harm.ELSEWHERE).parent.glob(Path(run_harm.ELSEWHERE).name + "*"))
    for name in ("zz_after_1", "zz_after_2"):
        sub = processes["json"][name]
        assert sub["exercises"][HONEST]["points"] == 2 and sub["flags"] == [], sub


def test_what_a_check_allowed_processes_does_costs_only_its_submission(processes):
    """Does each hostile train_data_parallel score 0, a fork server it killed or stopped flag it
    (as root with a user id of its own, it cannot reach the server), and a copy of the kit it
    changed flag it (as root with a user id of its own, it cannot change it)?"""
    from redteam import run_harm

    separate = processes["kit"]["isolation"].startswith("separate user id")
    for name in run_harm.PROCESSES:
        assert processes["json"][name]["total"] == 0, processes["json"][name]
    lost = f"{PROCESSES_ALLOWED}: stopped the grading worker (its fork server ended or hung)"
    for name in ("processes_kill_the_fork_server", "processes_stop_the_fork_server"):
        flags = processes["json"][name]["flags"]
        assert (lost not in flags) if separate else (lost in flags), flags
    changed = any("copy of the kit" in f for f in processes["json"]["processes_change_the_kit"]["flags"])
    assert changed is not separate


def test_no_environment_block_holds_the_channels_secret(processes):
    """Read from a process of its own (no audit hook there), do the environment blocks of the
    grading process and of its fork server hold no secret of the channel?"""
    text = processes["json"]["processes_look_for_secrets"]["exercises"][PROCESSES_ALLOWED]["feedback"]
    assert "a secret in an environment: False" in text, text


# --- code that hides its origin, and the grader's state (hiding.py, grader_state.py) ----------


def test_the_hiding_and_grader_state_families_are_graded(graded):
    """Are both families in the run, with at least 25 cases between them?"""
    from redteam import grader_state, hiding

    mine = {name for module in (hiding, grader_state)
            for table in ("CHEATS", "LIES", "FAULTS") for name in getattr(module, table, {})}
    assert len(mine) >= 25
    assert mine <= set(graded["kinds"])


@pytest.mark.parametrize("name, why", [
    ("thread_copies_reference", "reference/day1/tensors.py"),
    ("finalizer_copies_reference", "reference/day1/tensors.py"),
    ("exec_with_library_globals", "read reference/day1/tensors.py"),
    ("compile_under_library_name", "under another file's name"),
    ("wrapper_poses_as_torch", "torch.allclose"),
    ("getframe_reads_grader_locals", "interpreter's frames"),
    ("frame_from_builtin_chain", "interpreter's frames"),
    ("sandbox_vault_closed", "tampered with the grading sandbox"),
    ("not_assessed_by_builtin_chain", "reached into the grading sandbox"),
    ("speed_factor_raised", "graders.speed.speed_check.__kwdefaults__['factor']"),
    ("next_check_emptied", ".hypothesis.inner_test"),
    ("reference_planted", "sys.modules['_drills_reference.day1.tensors']"),
    ("mode_left_entered", "mode entered"),
])
def test_a_flag_names_what_was_reached(graded, name, why):
    """Is the reason in the flag what the code did (not a side effect of a refusal)?"""
    assert any(why in f for f in graded["json"][name]["flags"]), graded["json"][name]["flags"]


@pytest.fixture(scope="module")
def honest_libraries(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One submission graded alone: describe written with libraries that compile code, look
    at frames or start threads (redteam.hiding.HONEST_LIBRARIES)."""
    from redteam import hiding

    root = tmp_path_factory.mktemp("libraries")
    (root / "libraries" / "day1").mkdir(parents=True)
    (root / "libraries" / "day1" / "tensors.py").write_text(hostile.reference_text() + hiding.HONEST_LIBRARIES)
    proc = subprocess.run(
        [sys.executable, "-m", "graders.cli", "grade", str(root / "libraries"), "--out", str(root / "out"),
         "--workers", "1", "--exercises", f"{HOSTILE},{HONEST}", "--profile", "drills",
         "--timeout-per-test", "20", "--timeout-per-submission", "120", "--no-progress"],
        cwd=KIT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((root / "out" / "grades.json").read_text())["submissions"][0]


def test_libraries_that_compile_code_or_read_frames_are_not_the_submission_hiding(honest_libraries):
    """Is an honest describe that uses dataclasses, namedtuple, typing, torch.jit.script,
    torch.fx, logging, traceback and a thread pool graded full marks without a flag?"""
    assert honest_libraries["flags"] == [], honest_libraries["flags"]
    assert honest_libraries["total"] == 3, honest_libraries["exercises"]
