"""A pytest plugin that writes every grader check's outcome as JSON, for autograder exports.

    DRILLS_CHECKS_REPORT=checks.json pytest exercises/day1 -p graders.export.checks_report

Each row: ``nodeid``, ``exercise``, ``question``, ``outcome`` (passed, failed, not assessed),
``kind``, ``feedback``, ``reason`` (why not assessed), ``hidden`` and ``duration``, in the order
the checks ran. The scoreboard itself comes from ``--drills-report``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ENV = "DRILLS_CHECKS_REPORT"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    from graders import plugin

    owners = session.config.stash.get(plugin._EXERCISES, {})
    results = session.config.stash.get(plugin._RESULTS, {})
    rows = []
    for nodeid, exercise in owners.items():
        res = results.get(nodeid)
        rows.append({
            "nodeid": nodeid,
            "exercise": exercise,
            "question": getattr(res, "question", ""),
            "outcome": getattr(res, "outcome", "not run"),
            "kind": getattr(res, "kind", ""),
            "feedback": getattr(res, "feedback", ""),
            "reason": getattr(res, "reason", ""),
            "hidden": bool(getattr(res, "hidden", False)),
            "duration": round(float(getattr(res, "duration", 0.0)), 3),
        })
    Path(path).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
