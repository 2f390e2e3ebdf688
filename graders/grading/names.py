"""The names in a class's reports: the exercise columns, and one feedback file per
submission (one-to-one, safe on any file system)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from graders.core import registry
from graders.grading.intake import _name

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def exercise_ids(results: list[dict]) -> list[str]:
    seen = {e for r in results for e in r["exercises"]}
    return [e.id for e in registry.exercises() if e.id in seen]


def day_names(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(i.split(".")[0] for i in ids))


def _safe(name: str) -> bool:
    return bool(_SAFE_NAME.fullmatch(name)) and not name.endswith(".")


def _hashed(name: str, digits: int) -> str:
    stem = _UNSAFE.sub("_", name).strip("._-")[:60] or "submission"
    return f"{stem}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:digits]}.txt"


def feedback_name(submission: str) -> str:
    """The feedback file of ``submission`` on its own: ``alice.txt`` for a name that is a safe
    file name, else the name made safe plus 8 hex digits of its hash (``a_b-4f1c2e9a.txt`` for
    ``a b``). :func:`feedback_names` keeps a whole class one-to-one."""
    return submission + ".txt" if _safe(submission) else _hashed(submission, 8)


def feedback_names(submissions: list[str]) -> dict[str, str]:
    """``{submission: file name}`` for a class, one-to-one and the same for the same names.

    Safe names keep their own file first (in sorted order); each other name takes the first of
    its hashed names with 8, 12, 16... hex digits that no other submission holds, so a name
    made up to collide with another one's (``a_b-<hash of "a b">``) cannot take its file.
    Names are compared without case, as on a case-insensitive file system (of ``Ann`` and
    ``ann``, the second in sorted order is hashed too).
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    names = sorted(set(submissions))
    for name in names:
        if _safe(name) and (name + ".txt").casefold() not in taken:
            out[name] = name + ".txt"
            taken.add(out[name].casefold())
    for name in names:
        if name in out:
            continue
        candidates = [_hashed(name, digits) for digits in range(8, 65, 4)]
        free = [c for c in candidates if c.casefold() not in taken]
        if free:
            candidate = free[0]
        else:  # every hash length taken: only by names made up for it; still never overwrite
            n = 2
            while f"{candidates[-1][:-4]}-{n}.txt".casefold() in taken:
                n += 1
            candidate = f"{candidates[-1][:-4]}-{n}.txt"
        out[name] = candidate
        taken.add(candidate.casefold())
    return out


def submission_names(paths: list[Path]) -> list[str]:
    """One report name per submission, one-to-one: its folder or zip name (``alice``), and for
    a name given twice (``a/alice``, ``b/alice.zip``), ``alice-2``, ``alice-3``... in order,
    skipping any that is the name of another submission (a real ``alice-2`` keeps its own)."""
    bases = [_name(p) for p in paths]
    taken, used, out = set(bases), set(), []
    for base in bases:
        name, n = base, 2
        while name in used:
            name = f"{base}-{n}"
            n += 1
            if name in taken:
                name = base  # another submission's own name: try the next number
        used.add(name)
        out.append(name)
    return out
