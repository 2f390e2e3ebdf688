"""Do the course's options reach `drills grade` (here through --merge, which grades nothing),
does `drills report` remember the staff's settings, and does a regrade keep the other rows?"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import course_class as cc

from graders.core.paths import KIT_ROOT
from graders.course.regrade import keep_others

DESCRIBE = "day1.tensors.describe"


def _drills(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "graders.cli", *args], cwd=KIT_ROOT, capture_output=True,
                          text=True, timeout=300)


def _rows(out: Path) -> dict[str, dict]:
    return {r["submission"]: r for r in csv.DictReader((out / "grades.csv").open())}


def _one(name: str, outcome: str) -> dict:
    return cc.record(name, {DESCRIBE: [cc.check("graders/day1/test_tensors.py::test_describe_a", outcome)]})


def test_grade_merge_applies_the_roster_and_report_remembers_it(tmp_path):
    """Does --roster on drills grade shape grades.csv, and does a plain drills report keep it?"""
    part = cc.write(tmp_path / "part", [_one("ann", "passed"), _one("bob", "failed")])
    (tmp_path / "roster.csv").write_text("submission,student_id,name\nann,1,Ann\nbob,2,Bob\ncy,3,Cy\n")
    proc = _drills("grade", "--merge", str(part), "--out", str(tmp_path / "out"), "--roster",
                   str(tmp_path / "roster.csv"))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    assert _rows(out)["cy"]["status"] == "no submission" and _rows(out)["ann"]["name"] == "Ann"
    (tmp_path / "overrides.csv").write_text(f"submission,exercise,points,comment,who\nbob,{DESCRIBE},1,ok,me\n")
    proc = _drills("report", str(out), "--overrides", str(tmp_path / "overrides.csv"))
    assert proc.returncode == 0 and "1 with overrides" in proc.stdout, proc.stderr
    assert _rows(out)["bob"]["final"] == "1" and _rows(out)["cy"]["status"] == "no submission"
    proc = _drills("report", str(out), "--roster", "none", "--overrides", "none")
    assert proc.returncode == 0, proc.stderr
    assert list(_rows(out)) == ["ann", "bob"] and "status" not in _rows(out)["ann"]  # as graded again


def test_a_mistyped_late_policy_is_a_usage_error(tmp_path):
    """Does drills report say what is wrong with a late policy, with exit status 2?"""
    out = cc.write(tmp_path / "out", [_one("ann", "passed")])
    proc = _drills("report", str(out), "--due", "2025-01-01T00:00", "--late-policy", "10%/fortnight")
    assert proc.returncode == 2 and "per day or per hour" in proc.stderr


def test_regrade_replaces_only_the_regraded_rows(tmp_path):
    """Does --update keep the others and put the new result in place of the old one?"""
    out = cc.write(tmp_path / "out", [_one("ann", "passed"), _one("bob", "failed")])
    meta = {"digest": "kit", "days": ["day1"], "exercises": [], "isolation": "audit hook, limits"}
    results, merged = keep_others(out, [_one("bob", "passed")], meta)
    assert sorted((r["submission"], r["total"]) for r in results) == [("ann", 1.0), ("bob", 1.0)]
    assert merged["isolation"] == "audit hook, limits"
    assert keep_others(tmp_path / "empty", [_one("x", "passed")], meta)[0][0]["submission"] == "x"
