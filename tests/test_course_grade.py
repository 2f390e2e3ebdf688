"""Does `drills grade` of a tiny class with a roster, a due date and an override end with the
course's reports, and does grading one student again (--update) replace only that row, with the
staff's settings remembered?"""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from graders.core.paths import EXERCISES_DIR, KIT_ROOT, REFERENCE_DIR

EXERCISES = "day1.tensors.describe,day1.tensors.batched_gather"


def _drills(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "graders.cli", *args], cwd=KIT_ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _grade(*args: str) -> None:
    _drills("grade", *args, "--exercises", EXERCISES, "--profile", "drills", "--timeout-per-test", "20",
            "--no-progress")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_grade_with_roster_due_date_override_then_regrade_one(tmp_path):
    """Roster, lateness and override in grades.csv after grading; a regrade replaces one row."""
    ref = (REFERENCE_DIR / "day1" / "tensors.py").read_text()
    stub = (EXERCISES_DIR / "day1" / "tensors.py").read_text()
    subs = tmp_path / "subs"
    for name, code in {"ann": ref, "bob": stub}.items():
        (subs / name / "day1").mkdir(parents=True)
        (subs / name / "day1" / "tensors.py").write_text(code)
    (tmp_path / "roster.csv").write_text("submission,student_id,name,email,section,submitted_at\n"
                                         "ann,1,Ann,ann@u.edu,A,2025-03-08T05:00\n"
                                         "bob,2,Bob,bob@u.edu,A,2025-03-07T05:00\n"
                                         "cy,3,Cy,cy@u.edu,B,\n")
    (tmp_path / "overrides.csv").write_text("submission,exercise,points,comment,who\n"
                                            "bob,day1.tensors.describe,0.5,tried hard,TA\n")
    out = tmp_path / "out"
    _grade(str(subs / "ann"), str(subs / "bob"), "--out", str(out), "--roster", str(tmp_path / "roster.csv"),
           "--due", "2025-03-08T00:00", "--late-policy", "1pt/hour,cap=1pt",
           "--overrides", str(tmp_path / "overrides.csv"))
    rows = {r["submission"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert (rows["ann"]["raw"], rows["ann"]["penalty"], rows["ann"]["final"]) == ("3", "1", "2")
    assert (rows["bob"]["final"], rows["cy"]["status"]) == ("0.5", "no submission")
    assert "tried hard" in (out / "feedback" / "bob.txt").read_text()

    (subs / "bob" / "day1" / "tensors.py").write_text(ref)  # bob hands in again: graded alone
    _grade(str(subs / "bob"), "--out", str(out), "--update")
    rows = {r["submission"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert list(rows) == ["ann", "bob", "cy"]
    assert rows["ann"]["final"] == "2" and rows["bob"]["day1.tensors.batched_gather"] == "2"
    assert rows["bob"]["day1.tensors.describe"] == "0.5"  # the override still stands
    page = (out / "summary.html").read_text()
    assert 'id="heat-map"' in page and 'id="students"' in page
