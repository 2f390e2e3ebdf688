"""Collection: a student's module is collected as its grader module, and every grader test is
tied to one registry exercise.

``exercises/dayN/<module>.py`` given to pytest (directly or inside a folder) is collected as
``graders/dayN/test_<module>.py``; node ids keep the student's path, so
``pytest exercises/day1/strides.py`` reads naturally. ``--drills-exercise`` and an exact ``-k``
select exercises, ``--drills-public-only`` leaves out the hidden checks.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from graders.core import paths, registry, runtime
from graders.plugin import state


def _grader_for(path: Path) -> str | None:
    """``graders.dayN.test_mod`` when ``path`` is a student module of the kit's exercises/."""
    try:
        rel = path.resolve().relative_to(runtime.EXERCISES_DIR)
    except ValueError:
        return None
    if len(rel.parts) != 2 or not rel.parts[0].startswith("day") or path.suffix != ".py":
        return None
    short = f"{rel.parts[0]}.{path.stem}"
    if path.stem.startswith("_") or not paths.grader_file(short).exists():
        return None
    return paths.grader_module(short)


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
    """A student module found inside a folder given to pytest: its grader module."""
    if parent.session.isinitpath(file_path):
        return None  # handled by pytest_pycollect_makemodule, once
    return _make(file_path, parent)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):
    """A student module given to pytest by name: its grader module."""
    return _make(module_path, parent)


def exercise_of(item: pytest.Item) -> registry.Exercise | None:
    """The registry exercise a grader test belongs to (None for any other test)."""
    module = getattr(item, "module", None)
    name = getattr(module, "__name__", "")
    parts = name.split(".")
    if len(parts) != 3 or parts[0] != "graders" or not parts[2].startswith("test_"):
        return None
    return registry.owner(parts[1], parts[2][5:], getattr(item, "originalname", item.name))


def pytest_itemcollected(item: pytest.Item) -> None:
    """Let ``-k`` name a grader test by its exercise's id, name or module; its failures are
    told by the feedback, not pytest's traceback."""
    ex = exercise_of(item)
    if ex is not None:  # `-k conv2d` / `-k day3.conv` select exercises
        item.extra_keyword_matches.update({ex.id, ex.name, ex.module})
        item.repr_failure = _told_by_feedback  # type: ignore[method-assign]


def _told_by_feedback(excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
    """What stands for pytest's traceback of a failed grader test until the report's text is
    replaced by the feedback (:func:`graders.plugin.feedback.classify`, for every failure):
    formatting a traceback nobody reads costs a tenth of a second per failure."""
    return f"{excinfo.typename} (the feedback replaces this text)"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items):
    """Keep only the exercises asked for, and only public checks under --drills-public-only."""
    wanted = state.wanted(config) | _named_by_keyword(config.getoption("keyword"), items)
    public_only = config.getoption("drills_public_only")
    if not wanted and not public_only:
        return
    keep, drop = [], []
    for item in items:
        ex = exercise_of(item)
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
    return {ex.id for ex in map(exercise_of, items) if ex is not None and word in (ex.id, ex.name)}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Record which selected grader test belongs to which exercise (after -k and -m)."""
    owners: dict[str, str] = {}
    for item in session.items:
        ex = exercise_of(item)
        if ex is not None:
            owners[item.nodeid] = ex.id
    state.collected(session, owners)
    for item in session.items:
        handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        if handle is not None and item.nodeid in owners and hasattr(handle, "inner_test"):
            from graders.checks import guard_hypothesis  # the grader module imported torch

            handle.inner_test = guard_hypothesis(handle.inner_test)
    if _whole_process():
        from graders.profiles import settle_before_forking, warm_up_hypothesis

        warm_up_hypothesis()  # its first use searches referrers: before anything is frozen
        settle_before_forking()


def _whole_process() -> bool:
    """Whether this pytest session is what the process is for (``pytest``, ``python -m
    pytest``), not one call of ``pytest.main`` in a longer-lived process (a notebook's
    ``check()``; a fork server's or the watch worker's run, which their server settled)."""
    import sys

    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None:
        return spec.name == "pytest.__main__"
    return Path(sys.argv[0] if sys.argv else "").name in ("pytest", "py.test")
