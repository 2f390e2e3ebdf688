"""Ending every process a grading process started, and the user ids that grading runs under.

A check whose registry entry allows processes (``sandbox = ["processes"]``) may start some, and
one of them may leave its process group and session (``setsid``) to outlive the kill of the
grading process's group. Two mechanisms find such processes:

- the fork server, and ``drills grade`` itself, are *child subreapers*
  (``PR_SET_CHILD_SUBREAPER``): a process whose parent ends is reparented to the nearest one,
  so every descendant is found by following parent ids in ``/proc`` (:func:`end_descendants`);
- as root, each grading process runs under a user id of its own slot (:func:`claim_uid`);
  when it ends, every process of that user id is killed at once (:func:`end_user`) and the
  files it left in the shared temporary folders are removed (:func:`remove_user_files`).

Nothing here runs submission code; these functions run in the fork server and in
``drills grade``.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import pwd
import shutil
import signal
import stat
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

#: The first user id tried for a slot; each slot claims the next free one (see :func:`claim_uid`).
UID_BASE = 61000
UID_COUNT = 2000
#: Where slots lock the user ids they hold, so that two runs on one machine never share one.
UID_LOCKS = Path("/tmp/.drills-grade-uids")
#: World-writable folders a grading process's user id can leave files in.
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")

_libc = None


def prctl(option: int, value: int) -> bool:
    """``prctl(option, value)``; False where it fails (not Linux, refused)."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Make this process the one orphaned descendants are reparented to."""
    return prctl(PR_SET_CHILD_SUBREAPER, 1)


def state(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, session id) of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return (fields[0].decode(), int(fields[1]), int(fields[3])) if len(fields) > 3 else None


def _table() -> dict[int, tuple[str, int, int]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            found = state(int(name))
            if found is not None:
                out[int(name)] = found
    return out


def descendants(root: int, spare: frozenset[int] = frozenset(),
                other_sessions: bool = False) -> dict[int, tuple[str, int, int]]:
    """``{pid: (state, parent, session)}`` of every descendant of ``root``, leaving out the
    subtrees of the pids in ``spare`` (and, with ``other_sessions``, of the children of
    ``root`` in its own session: processes it started itself, not grading processes)."""
    table = _table()
    kids: dict[int, list[int]] = {}
    for pid, (_, parent, _) in table.items():
        kids.setdefault(parent, []).append(pid)
    own = table.get(root, ("", 0, -1))[2] if other_sessions else -1
    out: dict[int, tuple[str, int, int]] = {}
    todo = [pid for pid in kids.get(root, ()) if table[pid][2] != own]
    while todo:
        pid = todo.pop()
        if pid in spare or pid in out:
            continue
        out[pid] = table[pid]
        todo += kids.get(pid, ())
    return out


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def end_descendants(spare: frozenset[int] = frozenset(), other_sessions: bool = False,
                    timeout: float = 10.0) -> int:
    """Kill every descendant of this process (see :func:`descendants` for ``spare`` and
    ``other_sessions``) and reap those that are its children; return how many were killed.
    Orphans reparented here while it runs are found on the next pass."""
    me, killed, deadline = os.getpid(), 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = descendants(me, spare, other_sessions)
        live = [pid for pid, (state, _, _) in found.items() if state != "Z"]
        for pid, (state, parent, _) in found.items():
            if state == "Z" and parent == me:
                _reap(pid)
        if not live:
            return killed
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.01)
        for pid in live:
            if found[pid][1] == me:
                _reap(pid)
    return killed


# --- user ids (root only) --------------------------------------------------------------------


def user_processes(uid: int) -> list[int]:
    """Live processes (not zombies) whose real, effective or saved user id is ``uid``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"State:") and line.split()[1:2] == [b"Z"]:
                        break
                    if line.startswith(b"Uid:"):
                        if uid in {int(x) for x in line.split()[1:4]}:
                            out.append(int(name))
                        break
        except (OSError, IndexError, ValueError):
            continue
    return out


def end_user(uid: int, timeout: float = 10.0) -> None:
    """Kill every process of ``uid``: a helper process that takes that user id sends SIGKILL to
    every process it may signal (``kill(-1)``, which no fork can outrun), until none is left."""
    deadline = time.monotonic() + timeout
    while user_processes(uid) and time.monotonic() < deadline:
        pid = os.fork()
        if pid == 0:  # the helper: only system calls until it exits
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.01)


def remove_user_files(uid: int, places: tuple[str, ...] = SHARED_TMP) -> None:
    """Remove what ``uid`` left at the top of the world-writable folders (call after
    :func:`end_user`, so that nothing of that user id runs while it is removed)."""
    for place in places:
        try:
            names = os.listdir(place)
        except OSError:
            continue
        for name in names:
            path = os.path.join(place, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if st.st_uid != uid:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _reachable(path: str) -> bool:
    """True when a user with no rights of its own can reach and read ``path``."""
    p = Path(path)
    for folder in [*reversed(p.parents), p]:
        try:
            st = folder.stat()
        except OSError:
            return False
        if stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_IXOTH:
            return False
    return bool(p.stat().st_mode & stat.S_IROTH)


def separation_unavailable(paths: list[str]) -> str:
    """Why grading cannot run under separate user ids here (empty when it can): not root, or
    a folder the grading process needs (Python, the data sets, the working folder) that other
    users cannot reach."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not running as root"
    if not sys.platform.startswith("linux"):
        return "not on Linux"
    for path in dict.fromkeys(paths):
        if os.path.exists(path) and not _reachable(path):
            return f"{path} cannot be reached by other users"
    return ""


class UserId:
    """A user id claimed for one slot (``uid``), held until :meth:`release` (or until this
    process ends): two slots, of this run or of another on the same machine, never share one."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid, self._fd = uid, fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _lock_folder() -> Path:
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(UID_LOCKS)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
        raise OSError(f"{UID_LOCKS} is not a folder of root's that only root can write to")
    return UID_LOCKS


def claim_uid() -> UserId:
    """Claim a free user id (no account of that id, no lock held on it) and end whatever still
    runs under it."""
    folder = _lock_folder()
    for uid in range(UID_BASE, UID_BASE + UID_COUNT):
        try:
            pwd.getpwuid(uid)
            continue  # a real account
        except KeyError:
            pass
        fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        end_user(uid)
        return UserId(uid, fd)
    raise OSError("no free user id to grade under")
