"""Shared fixtures of the kit's own tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent
#: A warm worker that a test's `drills progress` or `watch` starts outlives the test by this
#: much at most (not the default 10 minutes of a student's session, each holding torch).
os.environ.setdefault("DRILLS_WARM_IDLE", "20")


def copy_kit(root: Path) -> Path:
    """A copy of the kit at ``root`` as a student could have cloned it (no state of earlier runs)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".drills")
    for name in ("exercises", "graders", "reference", "datasets"):
        shutil.copytree(KIT / name, root / name, ignore=ignore)
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(KIT / name, root / name)
    return root


def run_pytest(*args: str, cwd: Path = KIT, timeout: int = 900) -> tuple[int, str, dict | None]:
    """Run pytest as a student would, in a subprocess; return (exit code, output, JSON report)."""
    report = Path(os.environ.get("TMPDIR", "/tmp")) / f"drills-report-{os.getpid()}-{abs(hash(args))}.json"
    if report.exists():
        report.unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "--drills-report", str(report), "-p", "no:cacheprovider"],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )
    data = json.loads(report.read_text()) if report.exists() else None
    return proc.returncode, proc.stdout + proc.stderr, data


@pytest.fixture(scope="session")
def kit() -> Path:
    return KIT


pytest_plugins = ["pytester"]
