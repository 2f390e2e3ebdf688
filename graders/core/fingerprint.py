"""One fingerprint of what decides a grade: the files under ``graders/`` that grading reads.

Grading reads the framework, the registry, the grader tests with their day's helpers
(``graders/day2/_helpers.py``...) and, in a student release, the reference's recorded answers
(``graders/golden/``): every ``.py``, ``.toml`` and ``.json`` file under ``graders/``. The same
rule serves ``drills grade`` (the grading kit's digest, :mod:`graders.grading.kit`), ``drills
progress`` and ``watch`` (their cache, :mod:`graders.learner.progress`) and the warm worker's
stamp (:mod:`graders.learner.warm`), so editing any of these files re-grades everywhere.

For one module of exercises (``day1.tensors``) only part of them can decide its grade: every
file outside the ``dayN/`` folders, the day's files that are not grader tests (``__init__.py``
and helpers), and the module's own grader tests.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from graders.core import paths

SUFFIXES = (".py", ".toml", ".json")
_DAY = re.compile(r"day\d+")


def _decides(rel: Path, module: str | None) -> bool:
    if module is None or not _DAY.fullmatch(rel.parts[0]) or len(rel.parts) == 1:
        return True
    day, name = module.split(".")[:2]
    if rel.parts[0] != day:
        return False
    return len(rel.parts) > 2 or not rel.name.startswith("test_") or rel.name == f"test_{name}.py"


def grading_files(graders: Path | None = None, module: str | None = None) -> list[Path]:
    """The files under ``graders`` (the kit's ``graders/`` by default) that decide a grade,
    sorted; with ``module`` (``day1.tensors``), those that decide that module's grade."""
    root = paths.GRADERS_DIR if graders is None else graders
    found = [p for p in root.rglob("*")
             if p.suffix in SUFFIXES and "__pycache__" not in p.parts and p.is_file()]
    return sorted(p for p in found if _decides(p.relative_to(root), module))


def digest(graders: Path | None = None, module: str | None = None) -> str:
    """The SHA-256 of :func:`grading_files`: each file's path under ``graders`` and content."""
    return digests([module], graders)[module]


def digests(modules: list[str | None], graders: Path | None = None) -> dict[str | None, str]:
    """:func:`digest` of each of ``modules``, with every file found and read once."""
    root = paths.GRADERS_DIR if graders is None else graders
    files = [(path.relative_to(root), path) for path in grading_files(root)]
    contents = [(rel, rel.as_posix().encode() + b"\0", path.read_bytes() + b"\0") for rel, path in files]
    out: dict[str | None, str] = {}
    for module in modules:
        h = hashlib.sha256()
        for rel, name, content in contents:
            if _decides(rel, module):
                h.update(name)
                h.update(content)
        out[module] = h.hexdigest()
    return out
