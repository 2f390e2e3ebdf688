"""Writing and reading the run's own files safely: the reports, the caches, the copy's checks.

A submission may learn where the run writes (the reports folder is on ``drills grade``'s
command line) and put something there first: a FIFO, which blocks whoever opens it for
writing, or a link to elsewhere. So :func:`write` never opens the path it writes: it makes a
new regular file beside it (a fresh random name, ``O_EXCL``, no link followed), writes it and
renames it over the path (``os.replace``, atomic: a FIFO or a link standing there is
replaced, never opened; a folder in the way is moved aside). :func:`read` reads a regular file
only, without following a link and without blocking, so a FIFO or a link is read as missing.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _aside(path: Path) -> None:
    """Move whatever is at ``path`` out of the way (it is not the run's)."""
    os.rename(path, path.with_name(f"{path.name}.in-the-way-{secrets.token_hex(4)}"))


def folder(path: Path) -> Path:
    """``path`` as a real folder: made if missing; a link, FIFO or file there is moved aside."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        _aside(path)
        st = None
    if st is None:
        path.mkdir(parents=True, exist_ok=True)
    return path


def write(path: Path, data: str | bytes, mode: int = 0o666) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a new file renamed over it."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, _NEW, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            if stat.S_ISDIR(os.lstat(path).st_mode):
                _aside(path)
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read(path: Path, limit: int = 256 << 20) -> bytes | None:
    """The bytes of the regular file at ``path``; None when it is missing, is not a regular
    file (a FIFO, a link, a folder) or is larger than ``limit``."""
    try:
        fd = os.open(path, _READ)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return None if size > limit else b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: Path, limit: int = 256 << 20) -> str | None:
    """:func:`read` as UTF-8 text (None when it is not there or not text)."""
    data = read(path, limit)
    try:
        return None if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        return None
