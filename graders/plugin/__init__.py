"""The pytest plugin: ``pytest exercises/day1`` runs day 1's graders and ends with a scoreboard.

How it works:
- A student module ``exercises/dayN/<module>.py`` given to pytest (directly or inside a folder)
  is collected as the grader module ``graders/dayN/test_<module>.py``; node ids keep the
  student's path, so ``pytest exercises/day1/strides.py`` reads naturally.
- ``--drills-target DIR`` points the graders at another tree (``reference`` = the reference).
- Every grader test belongs to one registry exercise; outcomes are folded into per-exercise
  statuses and points, printed as a scoreboard and written by ``--drills-report FILE``.
- Failures are rewritten for students (see :mod:`graders.plugin.feedback`).
- The body of every ``@given`` grader test runs through :func:`graders.checks.guard_hypothesis`:
  code under test that raises hypothesis' own exceptions (``assume``, ``reject``) fails.

This module imports neither torch nor TensorFlow: the graders import what they need.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from graders import budget, profiles
from graders.core import registry, runtime
from graders.core.outcomes import ItemResult
from graders.plugin import feedback, scoreboard

profiles.register()

_RESULTS = pytest.StashKey[dict]()
_EXERCISES = pytest.StashKey[dict]()
_ACTIVE = pytest.StashKey[bool]()
_WANTED = pytest.StashKey[set]()
_SESSION = pytest.StashKey[pytest.Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
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
    config.addinivalue_line("markers", "hidden: a check students do not see before grading")
    config.addinivalue_line(
        "markers", "hint(text): the hint printed when this check fails, in place of the "
        "exercise's first hint")
    config.stash[_WANTED] = _wanted_exercises(config.getoption("drills_exercise"))
    config.stash[_RESULTS] = {}
    config.stash[_EXERCISES] = {}
    config.stash[_ACTIVE] = False
    runtime.set_target(runtime.resolve_target(config.getoption("drills_target")))
    feedback.HINT_COMMAND = not config.getoption("drills_no_commands")
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


# --- collection -------------------------------------------------------------------------------


def _grader_for(path: Path) -> str | None:
    """``graders.dayN.test_mod`` when ``path`` is a student module of the kit's exercises/."""
    try:
        rel = path.resolve().relative_to(runtime.EXERCISES_DIR)
    except ValueError:
        return None
    if len(rel.parts) != 2 or not rel.parts[0].startswith("day") or path.suffix != ".py":
        return None
    stem = rel.parts[1][:-3]
    if stem.startswith("_"):
        return None
    grader = runtime.KIT_ROOT / "graders" / rel.parts[0] / f"test_{stem}.py"
    if not grader.exists():
        return None
    return f"graders.{rel.parts[0]}.test_{stem}"


class GraderModule(pytest.Module):
    """A student's exercise file, collected as the grader module that checks it."""

    grader_module: str = ""

    def _getobj(self):
        _import_frameworks_in_safe_order()
        return importlib.import_module(self.grader_module)


def _import_frameworks_in_safe_order() -> None:
    """Import torch (and triton) before any grader, so TensorFlow is always imported after them.

    Importing triton after TensorFlow crashes the interpreter with the pinned versions.
    """
    import torch  # noqa: F401

    try:
        import triton  # noqa: F401
    except Exception:  # noqa: BLE001 - triton is optional (CPU builds)
        pass


def _make(path: Path, parent: pytest.Collector) -> GraderModule | None:
    name = _grader_for(path)
    if name is None:
        return None
    module = GraderModule.from_parent(parent, path=path)
    module.grader_module = name
    return module


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if parent.session.isinitpath(file_path):
        return None  # handled by pytest_pycollect_makemodule, once
    return _make(file_path, parent)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):
    return _make(module_path, parent)


def _exercise_of(item: pytest.Item) -> registry.Exercise | None:
    module = getattr(item, "module", None)
    name = getattr(module, "__name__", "")
    parts = name.split(".")
    if len(parts) != 3 or parts[0] != "graders" or not parts[2].startswith("test_"):
        return None
    return registry.owner(parts[1], parts[2][5:], getattr(item, "originalname", item.name))


def pytest_itemcollected(item: pytest.Item) -> None:
    ex = _exercise_of(item)
    if ex is not None:  # `-k conv2d` / `-k day3.conv` select exercises
        item.extra_keyword_matches.update({ex.id, ex.name, ex.module})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items):
    wanted = config.stash[_WANTED] | _named_by_keyword(config.getoption("keyword"), items)
    public_only = config.getoption("drills_public_only")
    if not wanted and not public_only:
        return
    keep, drop = [], []
    for item in items:
        ex = _exercise_of(item)
        hidden = item.get_closest_marker("hidden") is not None
        if ex is not None and ((wanted and ex.id not in wanted) or (public_only and hidden)):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _named_by_keyword(expression: str, items: list[pytest.Item]) -> set[str]:
    """``-k conv2d`` names exactly the exercise conv2d (not conv2d_backward, which pytest's
    substring match would select too): the ids of the exercises whose id or name is the whole
    expression."""
    word = (expression or "").strip()
    if not word.replace(".", "").replace("_", "").isalnum():
        return set()
    found = {ex.id for ex in map(_exercise_of, items) if ex is not None and word in (ex.id, ex.name)}
    return found


def pytest_collection_finish(session: pytest.Session) -> None:
    """Record which selected grader test belongs to which exercise (after -k and -m)."""
    owners: dict[str, str] = {}
    for item in session.items:
        ex = _exercise_of(item)
        if ex is not None:
            owners[item.nodeid] = ex.id
    session.config.stash[_EXERCISES] = owners
    session.config.stash[_SESSION] = session
    session.config.stash[_ACTIVE] = bool(owners)
    for item in session.items:
        handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        if item.nodeid in owners and hasattr(handle, "inner_test"):
            from graders.checks import guard_hypothesis  # the grader module imported torch

            handle.inner_test = guard_hypothesis(handle.inner_test)


# --- running ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _drills_seed(request: pytest.FixtureRequest):
    """Same code, same result: every grader test starts from the same seeds, on one thread.

    One torch thread makes results independent of the machine's core count (the order of
    floating-point reductions) and CPU-time budgets of training checks comparable everywhere.
    """
    graded = request.node.nodeid in request.config.stash[_EXERCISES]
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if graded and torch is not None else None
    if graded:
        feedback.reset_seeds()
        runtime.set_current(request.node.nodeid)
        if torch is not None:
            torch.set_num_threads(1)
    yield
    runtime.set_current(None)
    if threads is not None:
        torch.set_num_threads(threads)


_HYPOTHESIS_AT_START: list[tuple] = []


def _hypothesis_settings() -> tuple:
    """hypothesis' active profile, default settings and registered profiles."""
    from hypothesis import _settings as hs

    return hs.settings._current_profile, hs.default_variable.value, dict(hs.settings._profiles)


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """Remember hypothesis' settings as the kit chose them, before any code under test runs
    (a module under test may be imported while tests are collected)."""
    _HYPOTHESIS_AT_START[:] = [_hypothesis_settings()]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Every grader test starts from the kit's hypothesis settings; one whose code under test
    steered hypothesis fails, even where hypothesis could not record the failure (see
    :func:`graders.checks.guard_hypothesis`)."""
    if _HYPOTHESIS_AT_START and item.nodeid in item.config.stash[_EXERCISES]:
        name, default, registered = _HYPOTHESIS_AT_START[0]
        if _hypothesis_settings()[:2] != (name, default) or _hypothesis_settings()[2] != registered:
            from hypothesis import _settings as hs

            hs.settings._current_profile = name
            hs.default_variable.value = default
            hs.settings._profiles.clear()
            hs.settings._profiles.update(registered)
    checks = sys.modules.get("graders.checks")
    if checks is not None:
        checks.take_hypothesis_problems()
    try:
        result = yield
    finally:
        checks = sys.modules.get("graders.checks")
        problems = checks.take_hypothesis_problems() if checks is not None else []
        if problems and item.nodeid in item.config.stash[_EXERCISES]:
            raise checks.DrillsFailure(problems[0]) from None  # in place of hypothesis' report
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    owners = item.config.stash[_EXERCISES]
    ex_id = owners.get(item.nodeid)
    if ex_id is None:
        return report
    results = item.config.stash[_RESULTS]
    res = results.get(item.nodeid)
    if res is None:
        res = results[item.nodeid] = ItemResult(
            exercise=ex_id,
            hidden=item.get_closest_marker("hidden") is not None,
            question=feedback.question_of(item),
        )
    if report.when == "call" or report.outcome != "passed":
        res.duration += report.duration
        feedback.classify(item, call, report, res, registry.by_id()[ex_id])
        res.feedback = budget.noted(item.nodeid, res.feedback)  # a training check's CPU budget used
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep captured output of student code to a readable size."""
    if report.failed and report.sections:
        report.sections = [(t, feedback.truncate(c)) for t, c in report.sections]


# --- the scoreboard ---------------------------------------------------------------------------


def _board(config: pytest.Config) -> scoreboard.Scoreboard:
    return scoreboard.build(config.stash[_EXERCISES], config.stash[_RESULTS])


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if not config.stash.get(_ACTIVE, False):
        return
    scoreboard.render_terminal(_board(config), terminalreporter, target=runtime.target_dir(),
                               stopped=_why_stopped(config))


def _why_stopped(config: pytest.Config) -> str:
    """Why selected checks did not run, in a student's words ("" when they all ran)."""
    if config.getoption("collectonly"):
        return "--collect-only collects the checks without running them"
    session = config.stash.get(_SESSION, None)
    stop = getattr(session, "shouldstop", False) or getattr(session, "shouldfail", False)
    if stop:
        return f"the run stopped early: {stop}"
    return ""


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    config = session.config
    if not config.stash.get(_ACTIVE, False):
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
