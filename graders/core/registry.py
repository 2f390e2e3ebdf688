"""The registry: one TOML file (graders/registry.toml) that lists every exercise.

Everything else is driven by it: which grader tests belong to which exercise, points, hints,
tags, the scoreboard, progress, reports and releases.

A grader test in ``graders/dayN/test_<module>.py`` belongs to the exercise ``dayN.module.name``
whose ``test_<name>`` is the longest prefix of the test's name (followed by ``_`` or nothing),
unless an exercise lists its tests explicitly with ``tests = [patterns]``.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from graders.core import paths
from graders.core.paths import REGISTRY_FILE

TAGS = frozenset({"speed", "gpu", "train", "forbid"})


@dataclass(frozen=True)
class Exercise:
    """One exercise of the kit."""

    id: str
    title: str
    points: float
    hints: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def day(self) -> str:
        return self.id.split(".")[0]

    @property
    def module(self) -> str:
        """The short module name, e.g. ``day1.tensors``."""
        return ".".join(self.id.split(".")[:2])

    @property
    def name(self) -> str:
        return self.id.split(".")[-1]

    @property
    def grader_module(self) -> str:
        """``graders.day1.test_tensors``."""
        return paths.grader_module(self.id)

    @property
    def grader_file(self) -> Path:
        """``graders/day1/test_tensors.py``."""
        return paths.grader_file(self.id)

    @property
    def stub_file(self) -> Path:
        """``exercises/day1/tensors.py``."""
        return paths.stub_file(self.id)

    @property
    def reference_file(self) -> Path:
        """``reference/day1/tensors.py``."""
        return paths.reference_file(self.id)

    @property
    def golden_file(self) -> Path:
        """``graders/golden/day1/tensors.json`` (a student release)."""
        return paths.golden_file(self.id)


class RegistryError(ValueError):
    """The registry file is malformed."""


def _parse(data: dict) -> tuple[Exercise, ...]:
    out: list[Exercise] = []
    seen: set[str] = set()
    for raw in data.get("exercise", []):
        raw = dict(raw)
        ex_id = raw.pop("id", None)
        if not isinstance(ex_id, str) or ex_id.count(".") != 2 or not ex_id.startswith("day"):
            raise RegistryError(f"bad exercise id {ex_id!r}: expected 'dayN.module.name'")
        if ex_id in seen:
            raise RegistryError(f"exercise {ex_id} is listed twice")
        seen.add(ex_id)
        tags = tuple(raw.pop("tags", ()))
        unknown = set(tags) - TAGS
        if unknown:
            raise RegistryError(f"{ex_id}: unknown tags {sorted(unknown)}")
        points = float(raw.pop("points"))
        if points <= 0:
            raise RegistryError(f"{ex_id}: points must be positive")
        out.append(
            Exercise(
                id=ex_id,
                title=str(raw.pop("title")),
                points=points,
                hints=tuple(raw.pop("hints", ())),
                tags=tags,
                tests=tuple(raw.pop("tests", ())),
                extra=raw,
            )
        )
    return tuple(out)


@lru_cache(maxsize=4)
def _load(path: Path, mtime: float) -> tuple[Exercise, ...]:
    with path.open("rb") as fh:
        return _parse(tomllib.load(fh))


def exercises(path: Path = REGISTRY_FILE) -> tuple[Exercise, ...]:
    """Every exercise, in course order."""
    return _load(path, path.stat().st_mtime)


def by_id(path: Path = REGISTRY_FILE) -> dict[str, Exercise]:
    return {e.id: e for e in exercises(path)}


def days(path: Path = REGISTRY_FILE) -> list[str]:
    """The days present in the registry, in order (``["day1", "day2", ...]``)."""
    return sorted({e.day for e in exercises(path)}, key=lambda d: int(d[3:]))


def parse_days(spec: str | Iterable[str] | None, path: Path = REGISTRY_FILE) -> list[str]:
    """The days a command line names, in registry order without duplicates.

    ``"1"``, ``"day1"``, ``"1,3"``, ``"day1, day3"``, ``"1 3"`` or a list of such strings
    (``["1", "day3"]``); empty or None means every day. The one parser of day lists for every
    command (``drills grade --days``, ``drills progress``, ``drills release --days``...).

    Raises:
        ValueError: naming each unknown day and the days the kit has.
    """
    known = days(path)
    if spec is None:
        return known
    text = spec if isinstance(spec, str) else ",".join(str(s) for s in spec)
    wanted: list[str] = []
    unknown: list[str] = []
    for token in re.split(r"[,\s]+", text.strip()):
        if not token:
            continue
        number = token.lower().removeprefix("day")
        day = f"day{int(number)}" if number.isdigit() else token
        if day in known:
            wanted.append(day)
        elif token not in unknown:
            unknown.append(token)
    if unknown:
        raise ValueError(f"no such day {', '.join(repr(u) for u in unknown)}: "
                         f"the kit has {', '.join(known)}")
    return [d for d in known if d in wanted] if wanted else known


def owner(day: str, module: str, test_name: str, path: Path = REGISTRY_FILE) -> Exercise | None:
    """The exercise that owns grader test ``test_name`` of ``graders/<day>/test_<module>.py``.

    Parametrised ids (``test_x[0-1]``) are reduced to the function name first.
    """
    base = test_name.split("[", 1)[0]
    candidates = [e for e in exercises(path) if e.day == day and e.module == f"{day}.{module}"]
    explicit = [e for e in candidates if any(fnmatch.fnmatchcase(base, p) for p in e.tests)]
    if explicit:
        return explicit[0]
    best: Exercise | None = None
    for e in candidates:
        if e.tests:
            continue
        stem = f"test_{e.name}"
        if (base == stem or base.startswith(stem + "_")) and (best is None or len(e.name) > len(best.name)):
            best = e
    return best


def resolve(query: str, path: Path = REGISTRY_FILE) -> Exercise:
    """Find an exercise by id or an unambiguous suffix/abbreviation (``conv2d``, ``conv.conv2d``).

    Raises:
        KeyError: with a did-you-mean suggestion when nothing or several things match.
    """
    import difflib

    table = by_id(path)
    if query in table:
        return table[query]
    matches = [e for i, e in table.items() if i.endswith("." + query)]
    if not matches:
        matches = [e for i, e in table.items() if query in i]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(e.id for e in matches[:8])
        raise KeyError(f"'{query}' is ambiguous: {names}")
    close = difflib.get_close_matches(query, list(table) + [i.split(".")[-1] for i in table], n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise KeyError(f"no exercise '{query}'{hint}")
