"""Read a submission (a folder or a .zip) into memory: only ``dayN/*.py`` of the kit's days.

A submission may hold an ``exercises/`` tree, or its ``dayN/`` folders directly, possibly one
or two folders down (a zip of a folder). Nothing else is read: no other files, no folders
below ``dayN/``, no symbolic links. Zip files are checked before anything is extracted:
members whose path escapes (absolute, ``..``), too many members, or too many uncompressed
bytes (a zip bomb) refuse the whole submission; each member is read with a hard byte cap,
whatever its header claims.
"""

from __future__ import annotations

import hashlib
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 1 << 20
MAX_TOTAL_BYTES = 16 << 20
MAX_ZIP_MEMBERS = 5000
MAX_ZIP_UNCOMPRESSED = 256 << 20
_DAY = re.compile(r"^day\d+$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$")


@dataclass
class Submission:
    """A submission's exercise files (``{"day1/tensors.py": b"..."}``) and what was wrong."""

    name: str
    source: str
    files: dict[str, bytes] = field(default_factory=dict)
    refused: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0" + self.files[rel] + b"\0")
        h.update(b"refused:" + self.refused.encode())
        return h.hexdigest()

    def days(self) -> set[str]:
        return {rel.split("/")[0] for rel in self.files}


def _root_of(paths: list[PurePosixPath], days: set[str]) -> PurePosixPath | None:
    """The folder holding the ``dayN/`` folders (``exercises/`` preferred), at most 3 deep."""
    candidates: dict[PurePosixPath, int] = {}
    for p in paths:
        for i, part in enumerate(p.parts[:-1]):
            if part in days and i <= 3:
                root = PurePosixPath(*p.parts[:i])
                candidates[root] = candidates.get(root, 0) + 1
    if not candidates:
        return None
    return min(candidates, key=lambda r: (r.name != "exercises", -candidates[r], len(r.parts), str(r)))


def _wanted(rel: PurePosixPath, root: PurePosixPath, days: set[str]) -> str | None:
    try:
        inner = rel.relative_to(root)
    except ValueError:
        return None
    if len(inner.parts) == 2 and inner.parts[0] in days and _MODULE.match(inner.parts[1]):
        return f"{inner.parts[0]}/{inner.parts[1]}"
    return None


def read(path: Path, days: set[str], name: str | None = None) -> Submission:
    """Read the submission at ``path`` (folder or .zip) for the given days."""
    sub = Submission(name or _name(path), str(path))
    try:
        if path.is_dir():
            _read_folder(path, days, sub)
        elif zipfile.is_zipfile(path):
            _read_zip(path, days, sub)
        else:
            sub.refused = "not a folder or a .zip file"
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError) as exc:
        sub.refused = f"could not be read: {type(exc).__name__}: {exc}"
        sub.files.clear()
    if not sub.refused and not sub.files:
        sub.notes.append("no dayN/*.py files found")
    return sub


def _name(path: Path) -> str:
    """The submission's name: its folder's, or its zip file's without ``.zip``."""
    name = path.name or path.resolve().name  # "." names the folder it is
    return name[:-4] if name.lower().endswith(".zip") and len(name) > 4 else name


def _add(sub: Submission, rel: str, data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        sub.notes.append(f"{rel} is larger than {MAX_FILE_BYTES >> 10} KiB (left out)")
        return
    if sum(map(len, sub.files.values())) + len(data) > MAX_TOTAL_BYTES:
        raise ValueError(f"more than {MAX_TOTAL_BYTES >> 20} MiB of exercise files")
    sub.files[rel] = data


def _read_folder(path: Path, days: set[str], sub: Submission) -> None:
    found: list[PurePosixPath] = []
    for day_dir in _day_dirs(path, days, depth=4):
        for f in sorted(day_dir.iterdir()):
            found.append(PurePosixPath(f.relative_to(path).as_posix()))
    root = _root_of(found, days)
    if root is None:
        return
    for rel in found:
        key = _wanted(rel, root, days)
        if key is None:
            continue
        file = path / rel
        st = file.lstat()
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            sub.notes.append(f"{key} is not a regular file (left out)")
            continue
        with open(file, "rb") as fh:
            _add(sub, key, fh.read(MAX_FILE_BYTES + 1))


def _day_dirs(path: Path, days: set[str], depth: int) -> list[Path]:
    out: list[Path] = []
    if depth < 0:
        return out
    for child in sorted(path.iterdir()):
        if child.is_symlink() or not child.is_dir() or child.name.startswith("."):
            continue
        if child.name in days:
            out.append(child)
        elif depth > 0:
            out.extend(_day_dirs(child, days, depth - 1))
    return out


def _read_zip(path: Path, days: set[str], sub: Submission) -> None:
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            sub.refused = f"zip has more than {MAX_ZIP_MEMBERS} members"
            return
        if sum(i.file_size for i in infos) > MAX_ZIP_UNCOMPRESSED:
            sub.refused = f"zip expands to more than {MAX_ZIP_UNCOMPRESSED >> 20} MiB (zip bomb?)"
            return
        members: dict[PurePosixPath, zipfile.ZipInfo] = {}
        for info in infos:
            rel = PurePosixPath(info.filename.replace("\\", "/"))
            if rel.is_absolute() or ".." in rel.parts or info.filename.startswith(("/", "\\")) or ":" in rel.parts[0]:
                sub.refused = f"zip member {info.filename!r} escapes the submission folder"
                return
            if not info.is_dir():
                members[rel] = info
        root = _root_of(list(members), days)
        if root is None:
            return
        for rel, info in sorted(members.items()):
            key = _wanted(rel, root, days)
            if key is None:
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                sub.notes.append(f"{key} is a symbolic link (left out)")
                continue
            with zf.open(info) as fh:
                _add(sub, key, fh.read(MAX_FILE_BYTES + 1))
