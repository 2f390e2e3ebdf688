"""The pytest plugin: ``pytest exercises/day1`` runs day 1's graders and ends with a scoreboard.

How it works:
- A student module ``exercises/dayN/<module>.py`` given to pytest is collected as the grader
  module ``graders/dayN/test_<module>.py`` (:mod:`graders.plugin.collect`).
- ``--drills-target DIR`` points the graders at another tree (``reference`` = the reference).
- Every grader test belongs to one registry exercise; its reports are folded into per-exercise
  statuses and points (:mod:`graders.plugin.running`), printed as a scoreboard and written by
  ``--drills-report FILE`` (:mod:`graders.plugin.scoreboard`).
- Failures are rewritten for students (:mod:`graders.plugin.feedback`).
- What a run keeps lives in ``config.stash`` (:mod:`graders.plugin.state`).

This module imports neither torch nor TensorFlow: the graders import what they need.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graders import profiles
from graders.core import registry, runtime
from graders.plugin import scoreboard, state
from graders.plugin.collect import (
    pytest_collect_file,
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_itemcollected,
    pytest_pycollect_makemodule,
)
from graders.plugin.running import (
    _drills_seed,
    pytest_collection,
    pytest_runtest_call,
    pytest_runtest_logreport,
    pytest_runtest_makereport,
)

#: The hooks and the fixture of the plugin's modules, registered with this one.
HOOKS = (
    pytest_collect_file, pytest_collection_finish, pytest_collection_modifyitems,
    pytest_itemcollected, pytest_pycollect_makemodule, _drills_seed, pytest_collection,
    pytest_runtest_call, pytest_runtest_logreport, pytest_runtest_makereport,
)

profiles.register()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--drills-*`` options."""
    group = parser.getgroup("drills", "Deep Learning Drills")
    group.addoption(
        "--drills-target",
        metavar="DIR",
        default=None,
        help="grade the exercise tree at DIR (holding dayN/ folders like exercises/) instead of "
        "exercises/; the word 'reference' means the reference solution",
    )
    group.addoption(
        "--drills-report",
        metavar="FILE",
        default=None,
        help="write the scoreboard as JSON to FILE",
    )
    group.addoption(
        "--drills-exercise",
        metavar="ID",
        action="append",
        default=[],
        help="run only the grader tests of this exercise (repeatable): its id or an unambiguous "
        "part of it (conv2d_backward, conv.conv2d)",
    )
    group.addoption(
        "--drills-public-only",
        action="store_true",
        default=False,
        help="leave out the grader tests marked hidden",
    )
    group.addoption(
        "--drills-no-commands",
        action="store_true",
        default=False,
        help="feedback for students without the drills command (Gradescope, nbgrader): no "
        "pointers to `drills hint`",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Markers, the run's state, the tree under test and hypothesis' profile."""
    config.addinivalue_line("markers", "hidden: a check students do not see before grading")
    config.addinivalue_line(
        "markers", "hint(text): the hint printed when this check fails, in place of the "
        "exercise's first hint")
    state.start(config, _wanted_exercises(config.getoption("drills_exercise")))
    runtime.set_target(runtime.resolve_target(config.getoption("drills_target")))
    if not config.getoption("hypothesis_profile", None):
        profiles.load_default()


def _wanted_exercises(queries: list[str]) -> set[str]:
    """The exercise ids named by ``--drills-exercise`` (ids or unambiguous parts, as
    ``drills hint`` takes them); an unknown or ambiguous one ends the run as a usage error."""
    wanted: set[str] = set()
    for query in queries:
        try:
            wanted.add(registry.resolve(query.strip()).id)
        except KeyError as exc:
            pytest.exit(f"--drills-exercise: {exc.args[0]}", returncode=2)
    return wanted


# --- the scoreboard ---------------------------------------------------------------------------


def _board(config: pytest.Config) -> scoreboard.Scoreboard:
    return scoreboard.build(state.owners(config), state.results(config))


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    """The scoreboard, after pytest's own summary."""
    if not state.active(config):
        return
    scoreboard.render_terminal(_board(config), terminalreporter, target=runtime.target_dir(),
                               stopped=_why_stopped(config))


def _why_stopped(config: pytest.Config) -> str:
    """Why selected checks did not run, in a student's words ("" when they all ran)."""
    if config.getoption("collectonly"):
        return "--collect-only collects the checks without running them"
    session = state.session(config)
    stop = getattr(session, "shouldstop", False) or getattr(session, "shouldfail", False)
    if stop:
        return f"the run stopped early: {stop}"
    return ""


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    """Keep the scoreboard for check(), write --drills-report, fail the run unless all passed."""
    config = session.config
    if not state.active(config):
        return
    board = _board(config)
    runtime.set_last_board(board)
    path = config.getoption("drills_report")
    if path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(board.to_json(), indent=2) + "\n", encoding="utf-8")
    if not board.all_passed() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
