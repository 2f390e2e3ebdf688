"""The grading kit: a private copy of the graders, and the reference beside it.

Every grading process runs against a copy of the kit (``graders/``, the stubs in
``exercises/``, ``conftest.py``, ``pyproject.toml``) made once per set of graders, so nothing a
submission does can change the kit itself. The reference is copied to a separate folder that
the copy of the kit does not contain (``import reference`` finds nothing); the grading process
is told where it is and refuses it to the submission's code.

The copy is named after :func:`digest`, a hash of the graders, the registry, the reference, the
stubs and the pytest configuration: the same digest means the same grades for the same files.

Grading processes do not use that copy itself: each slot (:mod:`graders.grading.slots`) has a
:func:`clone` of it, read-only, whose :attr:`KitCopy.fingerprint` (every entry, files and
anything else, with its content) is taken when it is made. A clone that no longer has that
fingerprint after a submission (:meth:`KitCopy.intact`) was changed during it: the submission
is flagged and the slot gets a fresh clone, so the change never reaches another submission.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from graders.core import runtime
from graders.core.fingerprint import digest as fingerprint_of_graders
from graders.grading import atomic

KIT_ROOT = runtime.KIT_ROOT
_PARTS = ("exercises", "reference", "conftest.py", "pyproject.toml")  # and graders/: its fingerprint
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
    """A hash of everything that decides a grade: the graders and registry (their
    :func:`graders.core.fingerprint.digest`), the reference, the stubs, the pytest config."""
    h = hashlib.sha256(fingerprint_of_graders(root / "graders").encode() + b"\0")
    for part in _PARTS:
        for path in _files(root, part):
            h.update(str(path.relative_to(root)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def fingerprint(*roots: Path) -> str:
    """A hash of everything under ``roots``: each entry's path, kind and mode, a file's content,
    a link's target; a FIFO, socket or device by its kind (it is never opened)."""
    h = hashlib.sha256()
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(dirs + files):
                path = os.path.join(folder, name)
                st = os.lstat(path)
                h.update(f"{os.path.relpath(path, root)}\0{st.st_mode:o}\0".encode("utf-8", "surrogateescape"))
                if stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as fh:
                        h.update(hashlib.sha256(fh.read()).digest())
                elif stat.S_ISLNK(st.st_mode):
                    h.update(os.readlink(path).encode("utf-8", "surrogateescape"))
        h.update(b"\1")
    return h.hexdigest()


def python_paths() -> list[Path]:
    """The Python environment: its prefixes, and any site-packages folder on the path,
    wherever it lies."""
    import sys

    out = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    out |= {Path(p) for p in sys.path if Path(p).name in ("site-packages", "dist-packages")}
    return sorted(out)


@dataclass
class KitCopy:
    """A ready copy of the kit: ``root`` (no reference inside) and ``reference`` beside it."""

    root: Path
    reference: Path
    digest: str
    fingerprint: str = ""
    checks: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def protected(self) -> list[Path]:
        """What the submission's code may not read: the kit (original and copy), the reference."""
        return [KIT_ROOT, self.root, self.reference]

    @property
    def allowed(self) -> list[Path]:
        """Readable even inside protected folders: the Python environment and the data sets."""
        return sorted({*python_paths(), KIT_ROOT / "datasets"})

    def intact(self) -> bool:
        """True when the copy (graders, stubs, configuration and reference) still has every
        entry it was made with, and nothing else."""
        try:
            return fingerprint(self.root, self.reference) == self.fingerprint
        except OSError:
            return False


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
        (tmp / "kit" / ".ready").write_text(dig)
        for src, dst in ((tmp / "reference", ref), (tmp / "kit", dest)):
            try:
                os.rename(src, dst)
            except OSError:
                pass  # another process made it first: same digest, same content
        shutil.rmtree(tmp, ignore_errors=True)
    return KitCopy(dest, ref, dig, fingerprint(dest, ref))


def clone(kit: KitCopy, base: Path) -> KitCopy:
    """A read-only copy of ``kit`` in a new folder under ``base`` (readable by every user, for
    grading processes that run under user ids of their own)."""
    folder = Path(tempfile.mkdtemp(prefix="slot-", dir=base))
    os.chmod(folder, 0o755)
    root, ref = folder / "kit", folder / "reference"
    shutil.copytree(kit.root, root, symlinks=True)
    shutil.copytree(kit.reference, ref, symlinks=True)
    for top in (root, ref):
        _read_only(top)
    return KitCopy(root, ref, kit.digest, fingerprint(root, ref))


def _read_only(top: Path) -> None:
    for folder, _, files in os.walk(top, topdown=False):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o444)
        os.chmod(folder, 0o555)


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything under it, read-only folders too; never fails."""
    def writable(func, name, _exc) -> None:  # a folder without write permission: allow, retry
        try:
            os.chmod(os.path.dirname(name), 0o700)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, 0o700)
            func(name)
        except OSError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=writable)
        if os.path.lexists(path):
            shutil.rmtree(path, ignore_errors=True)


def _checks_path(kit: KitCopy, key: str) -> Path:
    return kit.root.parent / f"checks-{kit.digest[:16]}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"


def load_checks(kit: KitCopy, key: str) -> list[dict] | None:
    text = atomic.read_text(_checks_path(kit, key))
    try:
        checks = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return checks if isinstance(checks, list) else None


def save_checks(kit: KitCopy, key: str, checks: list[dict]) -> None:
    atomic.write(_checks_path(kit, key), json.dumps(checks))
