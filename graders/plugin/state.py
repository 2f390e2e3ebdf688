"""What the plugin keeps for one pytest run, in ``config.stash`` (never in module globals).

- ``owners(config)``: node id -> exercise id of every selected grader test (after -k and -m);
- ``results(config)``: node id -> :class:`~graders.core.outcomes.ItemResult` as reports come in;
- ``wanted(config)``: the exercises named by ``--drills-exercise`` and an exact ``-k``;
- ``active(config)``: whether this run grades anything (no scoreboard otherwise);
- ``session(config)``: the session, to say why a run stopped early;
- ``hypothesis_at_start(config)``: hypothesis' settings as the kit chose them.
"""

from __future__ import annotations

from typing import Any

import pytest

from graders.core.outcomes import ItemResult

_OWNERS = pytest.StashKey[dict[str, str]]()
_RESULTS = pytest.StashKey[dict[str, ItemResult]]()
_WANTED = pytest.StashKey[set[str]]()
_ACTIVE = pytest.StashKey[bool]()
_SESSION = pytest.StashKey[pytest.Session]()
_HYPOTHESIS = pytest.StashKey[tuple[Any, ...]]()


def start(config: pytest.Config, wanted: set[str]) -> None:
    """A fresh state for a run that grades the exercises in ``wanted`` (all when empty)."""
    config.stash[_WANTED] = wanted
    config.stash[_RESULTS] = {}
    config.stash[_OWNERS] = {}
    config.stash[_ACTIVE] = False


def collected(session: pytest.Session, owners: dict[str, str]) -> None:
    """Record the selected grader tests and their exercises once collection is over."""
    config = session.config
    config.stash[_OWNERS] = owners
    config.stash[_SESSION] = session
    config.stash[_ACTIVE] = bool(owners)


def owners(config: pytest.Config) -> dict[str, str]:
    return config.stash.get(_OWNERS, {})


def results(config: pytest.Config) -> dict[str, ItemResult]:
    return config.stash.setdefault(_RESULTS, {})


def wanted(config: pytest.Config) -> set[str]:
    return config.stash.get(_WANTED, set())


def active(config: pytest.Config) -> bool:
    return config.stash.get(_ACTIVE, False)


def session(config: pytest.Config) -> pytest.Session | None:
    return config.stash.get(_SESSION, None)


def remember_hypothesis(config: pytest.Config, settings: tuple[Any, ...]) -> None:
    config.stash[_HYPOTHESIS] = settings


def hypothesis_at_start(config: pytest.Config) -> tuple[Any, ...] | None:
    return config.stash.get(_HYPOTHESIS, None)
