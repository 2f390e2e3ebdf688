"""Progress: grade the student's modules, re-grading only what changed since the last run.

Results are cached in ``.drills/progress.json`` at the kit's root, per module, keyed by the
SHA-256 of the student's file and of everything that decides its grade (the module's graders,
the day's helpers, the registry, the framework: :mod:`graders.core.fingerprint`). ``drills
progress`` and ``drills watch`` share the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graders.core import fingerprint, paths, registry, runtime
from graders.learner import warm

STATE_DIR = runtime.KIT_ROOT / ".drills"
CACHE_FILE = STATE_DIR / "progress.json"


@dataclass
class ExerciseState:
    id: str
    status: str  # passed | failed | not started | error
    points: float
    max_points: float
    feedback: str = ""


def modules(days: list[str] | None = None) -> list[str]:
    """Short module names (``day1.tensors``) in course order, optionally for some days only."""
    seen: list[str] = []
    for ex in registry.exercises():
        if (days is None or ex.day in days) and ex.module not in seen:
            seen.append(ex.module)
    return seen


def module_key(short: str, root: Path | None = None) -> str:
    """What decides ``short``'s grade: the student's file, and the files of graders/ that decide
    it (:func:`graders.core.fingerprint.digest`: the framework, the day's helpers, its graders)."""
    return module_keys([short], root)[short]


def module_keys(shorts: list[str], root: Path | None = None) -> dict[str, str]:
    """:func:`module_key` of each of ``shorts``, the graders' files read once."""
    graders = fingerprint.digests(list(shorts))
    out = {}
    for short in shorts:
        student = paths.module_file(root or runtime.EXERCISES_DIR, short)
        h = hashlib.sha256(graders[short].encode() + b"\0")
        h.update(student.read_bytes() if student.exists() else b"<missing>")
        out[short] = h.hexdigest()
    return out


def _load_cache() -> dict:
    try:
        return json.loads(CACHE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_cache(cache: dict) -> None:
    STATE_DIR.mkdir(exist_ok=True)
    tmp = CACHE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, CACHE_FILE)


def run_graders(shorts: list[str], *, extra: list[str] | None = None) -> tuple[dict, str]:
    """Grade the student's modules ``shorts`` in one pytest subprocess.

    Returns the JSON report's ``exercises`` table and pytest's output.
    """
    if not shorts:
        return {}, ""
    files = [str(paths.stub_file(s)) for s in shorts]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pytest", *files, "--drills-report", str(report),
               "-p", "no:cacheprovider", "-q", "--tb=no", "--no-header", *(extra or [])]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        warm_run = warm.run_pytest(cmd[3:], cwd=runtime.KIT_ROOT, env=env)
        if warm_run is not None:  # the warm worker: the same run, without the imports
            output = warm_run[1]
        else:
            proc = subprocess.run(cmd, cwd=runtime.KIT_ROOT, capture_output=True, text=True, env=env)
            output = proc.stdout + proc.stderr
        data = json.loads(report.read_text()) if report.exists() else {"exercises": {}}
    return data["exercises"], output


def collect(days: list[str] | None = None, *, refresh: bool = False, grade: bool = True,
            only: list[str] | None = None) -> tuple[list[ExerciseState], list[str]]:
    """Every exercise's state for ``days``; re-grades only modules whose key changed.

    With ``grade=False`` nothing is graded: what the cache knows is shown, and modules never
    graded count as "not started". With ``only``, just those modules (``day1.tensors``) of
    ``days``. Returns the states in course order and the modules that were graded this time.
    """
    cache = {} if refresh else _load_cache()
    wanted = [m for m in modules(days) if only is None or m in only]
    keys = module_keys(wanted) if grade else {}  # reading the cache alone needs none
    stale = [m for m in wanted if cache.get(m, {}).get("key") != keys[m]] if grade else []
    if stale:
        table, output = run_graders(stale)
        for m in stale:
            entries = {k: v for k, v in table.items() if k.startswith(m + ".")}
            if not entries:  # pytest could not even start on this module
                entries = {e.id: {"status": "error", "points": 0.0, "max_points": e.points,
                                  "feedback": output[-2000:]}
                           for e in registry.exercises() if e.module == m}
            cache[m] = {"key": keys[m], "exercises": entries}
        _save_cache(cache)
    states: list[ExerciseState] = []
    for ex in registry.exercises():
        if ex.module not in wanted:
            continue
        entry = cache.get(ex.module, {}).get("exercises", {}).get(ex.id)
        if entry is None:
            states.append(ExerciseState(ex.id, "not started", 0.0, ex.points))
        else:
            states.append(ExerciseState(ex.id, entry["status"], float(entry["points"]),
                                        float(entry["max_points"]), entry.get("feedback", "")))
    return states, stale
