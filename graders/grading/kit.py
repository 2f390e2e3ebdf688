"""The grading kit: a private copy of the graders, and the reference beside it.

Every grading process runs against a copy of the kit (``graders/``, the stubs in
``exercises/``, ``conftest.py``, ``pyproject.toml``) made once per set of graders, so nothing a
submission does can change the kit itself. The reference is copied to a separate folder that
the copy of the kit does not contain (``import reference`` finds nothing); the grading process
is told where it is and refuses it to the submission's code.

The copy is named after :func:`digest`, a hash of the graders, the registry, the reference, the
stubs and the pytest configuration: the same digest means the same grades for the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from graders import _runtime

KIT_ROOT = _runtime.KIT_ROOT
_PARTS = ("graders", "exercises", "reference", "conftest.py", "pyproject.toml")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")


def _files(root: Path, part: str) -> list[Path]:
    top = root / part
    if top.is_file():
        return [top]
    return sorted(
        p for p in top.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def digest(root: Path = KIT_ROOT) -> str:
    """A hash of everything that decides a grade: graders, registry, reference, stubs, config."""
    h = hashlib.sha256()
    for part in _PARTS:
        for path in _files(root, part):
            h.update(str(path.relative_to(root)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def tree_digest(root: Path) -> str:
    """A hash of the files under ``root`` (to notice a changed copy of the graders)."""
    h = hashlib.sha256()
    for path in _files(root, "."):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@dataclass
class KitCopy:
    """A ready copy of the kit: ``root`` (no reference inside) and ``reference`` beside it."""

    root: Path
    reference: Path
    digest: str
    graders_digest: str = ""
    checks: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def protected(self) -> list[Path]:
        """What the submission's code may not read: the kit (original and copy), the reference."""
        return [KIT_ROOT, self.root, self.reference]

    @property
    def allowed(self) -> list[Path]:
        """Readable even inside protected folders: the Python environment and the data sets."""
        import sys

        out = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
        out.add(KIT_ROOT / "datasets")
        return sorted(out)

    def intact(self) -> bool:
        """True when the copy of the graders still has the content it was made with."""
        return tree_digest(self.root / "graders") == self.graders_digest


def prepare(base: Path) -> KitCopy:
    """Copy the kit under ``base`` (once per digest; safe when several processes race)."""
    base.mkdir(parents=True, exist_ok=True)
    dig = digest()
    dest = base / f"kit-{dig[:16]}"
    ref = base / f"reference-{dig[:16]}"
    if not (dest / ".ready").exists():
        tmp = Path(tempfile.mkdtemp(prefix=".kit-", dir=base))
        for part in ("graders", "exercises"):
            shutil.copytree(KIT_ROOT / part, tmp / "kit" / part, ignore=_IGNORE)
        for name in ("conftest.py", "pyproject.toml"):
            shutil.copy2(KIT_ROOT / name, tmp / "kit" / name)
        shutil.copytree(KIT_ROOT / "reference", tmp / "reference", ignore=_IGNORE)
        graders_digest = tree_digest(tmp / "kit" / "graders")
        (tmp / "kit" / ".ready").write_text(graders_digest)
        for src, dst in ((tmp / "reference", ref), (tmp / "kit", dest)):
            try:
                os.rename(src, dst)
            except OSError:
                pass  # another process made it first: same digest, same content
        shutil.rmtree(tmp, ignore_errors=True)
    return KitCopy(dest, ref, dig, (dest / ".ready").read_text())


def load_checks(kit: KitCopy, key: str) -> list[dict] | None:
    path = kit.root.parent / f"checks-{kit.digest[:16]}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"
    return json.loads(path.read_text()) if path.exists() else None


def save_checks(kit: KitCopy, key: str, checks: list[dict]) -> None:
    path = kit.root.parent / f"checks-{kit.digest[:16]}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"
    path.write_text(json.dumps(checks))
