"""The fingerprint of what decides a grade (graders/core/fingerprint.py), for every engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graders.core import fingerprint, paths, registry
from graders.grading import kit
from graders.learner import progress


@pytest.fixture
def graders_copy(tmp_path: Path) -> Path:
    """A copy of the kit's graders/ (with its grader helpers) in a kit of its own."""
    dest = tmp_path / "kit" / "graders"
    shutil.copytree(paths.GRADERS_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _helper(graders: Path) -> Path:
    helpers = sorted(graders.glob("day*/_*.py"))
    assert helpers, "the kit has no grader helpers (graders/dayN/_*.py) to edit"
    return helpers[0]


def test_editing_a_grader_helper_changes_the_fingerprint(graders_copy: Path):
    """Does editing a day's grader helper change the fingerprint of the graders?"""
    before = fingerprint.digest(graders_copy)
    helper = _helper(graders_copy)
    helper.write_text(helper.read_text("utf-8") + "\nEDITED = True\n", "utf-8")
    assert fingerprint.digest(graders_copy) != before


def test_a_helper_decides_its_days_modules_only(graders_copy: Path):
    """Does a day's helper change the fingerprint of that day's modules and no other day's?"""
    helper = _helper(graders_copy)
    day = helper.parent.name
    mine = next(e.module for e in registry.exercises() if e.day == day)
    other = next(e.module for e in registry.exercises() if e.day != day)
    before = {m: fingerprint.digest(graders_copy, m) for m in (mine, other)}
    helper.write_text(helper.read_text("utf-8") + "\nEDITED = True\n", "utf-8")
    assert fingerprint.digest(graders_copy, mine) != before[mine]
    assert fingerprint.digest(graders_copy, other) == before[other]


def test_the_grading_kit_digest_follows_the_fingerprint(graders_copy: Path):
    """Does drills grade's kit digest change when a grader helper does?"""
    root = graders_copy.parent
    before = kit.digest(root)
    helper = _helper(graders_copy)
    helper.write_text(helper.read_text("utf-8") + "\nEDITED = True\n", "utf-8")
    assert kit.digest(root) != before


def test_progress_regrades_after_a_helper_changes(graders_copy: Path, monkeypatch):
    """Does drills progress's cache key for a module change when its day's helper does?"""
    monkeypatch.setattr(paths, "GRADERS_DIR", graders_copy)
    helper = _helper(graders_copy)
    short = next(e.module for e in registry.exercises() if e.day == helper.parent.name)
    before = progress.module_key(short)
    helper.write_text(helper.read_text("utf-8") + "\nEDITED = True\n", "utf-8")
    assert progress.module_key(short) != before


def test_files_outside_the_rule_do_not_count(graders_copy: Path):
    """Is a file grading never reads (notes, caches) left out of the fingerprint?"""
    before = fingerprint.digest(graders_copy)
    (graders_copy / "NOTES.md").write_text("notes\n", "utf-8")
    (graders_copy / "day1" / "__pycache__").mkdir(exist_ok=True)
    (graders_copy / "day1" / "__pycache__" / "x.py").write_text("x = 1\n", "utf-8")
    assert fingerprint.digest(graders_copy) == before


def test_every_modules_fingerprint_at_once_is_each_ones(graders_copy: Path):
    """Do the fingerprints of many modules read at once (drills progress, every module) equal
    each one's own, so that the cache keys are the same however they were computed?"""
    shorts = [None, *progress.modules()]
    many = fingerprint.digests(shorts, graders_copy)
    assert many == {m: fingerprint.digest(graders_copy, m) for m in shorts}
    assert len(set(many.values())) == len(shorts)  # every module's own, none the framework's alone


def test_showing_the_cache_reads_no_grader_file(monkeypatch):
    """Does reading what the cache knows (watch's totals after each verdict) leave the graders'
    files unread (their fingerprint is only needed to decide what to grade)?"""
    def unread(*args, **kwargs):
        raise AssertionError("the graders' files were read to show the cache")

    monkeypatch.setattr(fingerprint, "digests", unread)
    states, graded = progress.collect(None, grade=False)
    assert graded == [] and len(states) == len(registry.exercises())
