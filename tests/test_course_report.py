"""Do the course's reports follow the staff's files, computed again from the results without
grading: roster columns and missing students, late penalties with extensions, overrides (a
cleared flag gets its points back), feedback without the hidden checks, gradebook exports,
and the analytics of summary.html?"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import course_class as cc
import pytest

from graders.course import deadlines, report
from graders.course.files import StaffFileError

DESCRIBE, GATHER = "day1.tensors.describe", "day1.tensors.batched_gather"
T1 = "graders/day1/test_tensors.py::test_describe_keys"
T2 = "graders/day1/test_tensors.py::test_batched_gather_hidden"
BIASED = "Exercise x\nCheck: q\nWhat went wrong:\n    your running_var uses the biased batch variance: torch stores the unbiased one.\nHint: h"
SECRET = "What went wrong:\n    HIDDEN-SECRET the hidden check's own words about index 7."


def _class(root: Path) -> Path:
    """ann (all right), bob (a hidden check failed), eve (flagged), zed (not on the roster)."""
    ok = {DESCRIBE: [cc.check(T1, "passed")], GATHER: [cc.check(T2, "passed", hidden=True)]}
    records = [
        cc.record("ann", ok),
        cc.record("bob", {DESCRIBE: [cc.check(T1, "failed", feedback=BIASED)],
                          GATHER: [cc.check(T2, "failed", hidden=True, feedback=SECRET)]}),
        cc.record("eve", {DESCRIBE: [cc.check(T1, "passed", violations=["read reference/day1/tensors.py"])],
                          GATHER: [cc.check(T2, "passed", hidden=True)]}),
        cc.record("zed", ok),
    ]
    out = cc.write(root / "out", records)
    (root / "roster.csv").write_text(
        "submission,student_id,name,email,section,canvas_id,submitted_at\n"
        "ann,s1,Ann A,ann@u.edu,A,101,2025-03-07T20:00\n"
        "bob,s2,Bob B,bob@u.edu,B,102,2025-03-09T01:00\n"
        "eve,s3,Eve E,eve@u.edu,A,103,2025-03-08T10:00\n"
        "kim,s4,Kim K,kim@u.edu,B,104,\n")
    (root / "extensions.csv").write_text("student_id,days\ns3,2\n")
    (root / "overrides.csv").write_text(
        "submission,exercise,points,comment,who\n"
        f"eve,{DESCRIBE},clear,flag reviewed: her own file,Prof Lee\n"
        f"bob,{DESCRIBE},0.5,partial credit for the shapes,TA Ann\n")
    return out


def _rows(out: Path) -> dict[str, dict]:
    return {r["submission"]: r for r in csv.DictReader((out / "grades.csv").open())}


@pytest.fixture
def staffed(tmp_path):
    out = _class(tmp_path)
    status = report.main(out=out, roster=tmp_path / "roster.csv", due="2025-03-08T00:00",
                         late_policy="10%/day,cap=30%", extensions=tmp_path / "extensions.csv",
                         overrides=tmp_path / "overrides.csv", feedback="public", quiet=True)
    assert status == 0
    return out


def test_roster_columns_missing_students_and_strays(staffed):
    """Does every roster student get a row (kim: 0, no submission) and zed show as not on the roster?"""
    rows = _rows(staffed)
    assert list(rows) == ["ann", "bob", "eve", "kim", "zed"]
    assert rows["ann"]["name"] == "Ann A" and rows["ann"]["email"] == "ann@u.edu" and rows["ann"]["canvas_id"] == "101"
    assert rows["kim"]["status"] == "no submission" and rows["kim"]["final"] == "0"
    assert rows["zed"]["status"] == "not on roster" and rows["zed"]["final"] == "3"


def test_late_penalty_with_cap_and_extension(staffed):
    """Is bob (1 d 1 h late: 2 started days) 20% of 3 points down, and eve (extended) on time?"""
    rows = _rows(staffed)
    assert (rows["bob"]["raw"], rows["bob"]["penalty"], rows["bob"]["final"]) == ("0.5", "0.5", "0")
    assert rows["bob"]["late"] == "1 d 1 h late"
    assert (rows["eve"]["late"], rows["eve"]["penalty"]) == ("on time", "0")
    assert rows["ann"]["total"] == rows["ann"]["final"] == "3"


def test_overrides_change_points_and_clear_a_flag_everywhere(staffed):
    """Does the cleared flag give eve her point back, and are both overrides in every output?"""
    rows = _rows(staffed)
    assert rows["eve"][DESCRIBE] == "1" and rows["eve"]["final"] == "3" and rows["eve"]["flags"] == ""
    assert "flag cleared" in rows["eve"]["overrides"] and "Prof Lee" in rows["eve"]["overrides"]
    assert rows["bob"][DESCRIBE] == "0.5" and "partial credit" in rows["bob"]["overrides"]
    final = json.loads((staffed / "final.json").read_text())
    bob = next(s for s in final["students"] if s["submission"] == "bob")
    assert bob["overrides"][0]["who"] == "TA Ann" and bob["penalty"] == 0.5
    assert "partial credit for the shapes, by TA Ann" in (staffed / "feedback" / "bob.txt").read_text()
    assert "partial credit" in (staffed / "summary.html").read_text()
    graded = json.loads((staffed / "grades.json").read_text())  # the results stay as graded
    assert next(s for s in graded["submissions"] if s["submission"] == "eve")["exercises"][DESCRIBE]["points"] == 0


def test_public_feedback_leaves_out_what_hidden_checks_said(staffed):
    """Does bob's feedback keep the public diagnosis and leave out the hidden check's words?"""
    text = (staffed / "feedback" / "bob.txt").read_text()
    assert "biased batch variance" in text
    assert "HIDDEN-SECRET" not in text and "Hidden checks failed: 1 of 1" in text
    assert "Final score: 0 / 3" not in text and "final score: 0 / 3 points" in text
    assert "no submission" in (staffed / "feedback" / "kim.txt").read_text()


def test_all_feedback_after_release_shows_everything(staffed):
    """Once released (--feedback all, the other settings remembered), is the hidden feedback back?"""
    assert report.main(out=staffed, feedback="all", quiet=True) == 0
    assert "HIDDEN-SECRET" in (staffed / "feedback" / "bob.txt").read_text()
    assert _rows(staffed)["bob"]["penalty"] == "0.5"


def test_gradebook_exports_for_canvas_and_moodle(staffed):
    """Do the Canvas and Moodle files hold every roster student's final score?"""
    canvas = list(csv.reader((staffed / "gradebook-canvas.csv").open()))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Deep Learning Drills"]
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][-1] == "3"
    assert ["Ann A", "101", "s1", "ann@u.edu", "A", "3"] in canvas and len(canvas) == 2 + 4
    moodle = {r["ID number"]: r for r in csv.DictReader((staffed / "gradebook-moodle.csv").open())}
    assert moodle["s4"]["Deep Learning Drills"] == "0" and "no submission" in moodle["s4"]["Feedback"]
    assert "late penalty 0.5" in moodle["s2"]["Feedback"]


def test_summary_has_sortable_totals_heat_map_check_rates_and_mistakes(staffed):
    """Does summary.html show the students table, the heat map, failure rates and the mistakes?"""
    page = (staffed / "summary.html").read_text()
    for element in ('id="students" class="sortable"', 'id="heat-map"', 'id="check-rates"', 'id="mistakes"',
                    'id="distribution"'):
        assert element in page
    assert "your running_var uses the biased batch variance" in page
    assert "http" not in page.replace("http-equiv", "")  # self-contained


def test_a_bad_staff_file_is_an_error_that_names_the_line(tmp_path, capsys):
    """Does an override of an unknown exercise stop the report with its file and line?"""
    out = _class(tmp_path)
    (tmp_path / "bad.csv").write_text("submission,exercise,points\nann,day1.nope,1\n")
    assert report.main(out=out, overrides=tmp_path / "bad.csv") == 2
    assert "bad.csv line 2" in capsys.readouterr().err


def test_late_policy_spellings():
    """Are per-hour points, caps and grace periods read as written?"""
    p = deadlines.parse_policy("0.5pt/hour,cap=2pt,grace=15min")
    assert p.penalty(10 * 60, 10) == 0 and p.penalty(61 * 60, 10) == 1.0 and p.penalty(99 * 3600, 10) == 2
    assert deadlines.parse_policy("none") is None
    with pytest.raises(StaffFileError):
        deadlines.parse_policy("10%/week")


def test_a_class_of_300_is_reported_again_in_seconds(tmp_path):
    """Does changing the roster of 300 graded students re-compute every report quickly?"""
    out = cc.write(tmp_path / "out", cc.class_results(300))
    (tmp_path / "roster.csv").write_text("submission,student_id,name\n" + "".join(
        f"s{i:03d},{i},Student {i}\n" for i in range(300)))
    start = time.perf_counter()
    assert report.main(out=out, roster=tmp_path / "roster.csv", quiet=True) == 0
    assert time.perf_counter() - start < 15
    assert len(_rows(out)) == 300
