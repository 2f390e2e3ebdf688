"""Where a submission is graded: a slot, with its own copy of the kit, its own fork server and,
as root, its own user id.

One submission at a time uses a slot, from its first grading process to its last; slots are
kept for the next submission. A slot has:

- a read-only :func:`~graders.grading.kit.clone` of the run's copy of the kit, checked after
  each submission: a changed clone is replaced by a fresh one (:meth:`Slot.finish`), so that
  nothing a submission did to it reaches the next one;
- a fork server (:mod:`graders.grading.forkserver`), or with ``--no-fork-server`` a new one
  for each grading process. A server that ended, hangs or was stopped is killed and replaced
  (:meth:`Slot.server_lost`), whatever it was running is ended, and grading goes on;
- as root (and unless told not to), a user id of its own (:func:`graders.grading.procs.claim_uid`)
  that its grading processes run under. That user id owns the submission's folders and
  nothing else: it cannot write the kit, the reports or another submission's folders, nor
  signal ``drills grade``, the fork servers or another slot's processes. After each grading
  process, every process of that user id is ended; after each submission, what it left in the
  shared temporary folders is removed.

:func:`policy` says which of these protections a run has (``grades.json``'s ``kit`` and the
summary show it).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from graders.grading import child, kit as kitmod, procs
from graders.grading.forkserver import ForkServer
from graders.grading.guard_places import ROLES_FILE

AUDIT_ONLY = "audit hook, limits"
SEPARATE = "separate user id per submission, audit hook, limits"


@dataclass(frozen=True)
class Policy:
    """Whether grading processes run under user ids of their own, and if not, why."""

    separate: bool
    why_not: str = ""

    def describe(self) -> str:
        """The protections in force, in words (the same on every run of the same machine)."""
        if self.separate:
            return SEPARATE
        if self.why_not in ("", "not running as root"):
            return AUDIT_ONLY
        return f"{AUDIT_ONLY} (separate user ids off: {self.why_not})"


_lock = threading.RLock()
_policies: dict[tuple[bool, Path], Policy] = {}
_all: list[Slot] = []
_free: list[Slot] = []


def policy(separate: bool, work: Path) -> Policy:
    """The isolation of grading processes under ``work``: separate user ids when ``separate``
    is asked for (the default), this process is root, and everything a grading process must
    reach (Python, the data sets, ``work``) can be reached by another user. As root, ``work``
    is made traversable (``0711``: not listable) for them."""
    key = (separate, work)
    with _lock:
        if key not in _policies:
            _policies[key] = _decide(separate, work)
        return _policies[key]


def _decide(separate: bool, work: Path) -> Policy:
    if not separate:
        return Policy(False, "--no-separate-users" if os.geteuid() == 0 else "not running as root")
    why = procs.separation_unavailable([str(p) for p in (*kitmod.python_paths(), kitmod.KIT_ROOT / "datasets")])
    if not why:
        why = procs.separation_unavailable([str(work.parent)])
    if not why:
        try:
            procs.claim_uid().release()
        except OSError as exc:
            why = str(exc)
    if why:
        return Policy(False, why)
    os.chmod(work, 0o711)
    roles = work / ROLES_FILE
    if roles.exists():
        os.chmod(roles, 0o644)
    return Policy(True)


class Slot:
    """A place to grade one submission at a time (see the module's documentation)."""

    def __init__(self, master: kitmod.KitCopy, work: Path, *, fork_server: bool, separate: bool) -> None:
        self.master, self.work, self.fork_server = master, work, fork_server
        self.policy = policy(separate, work)
        self.key = (master.digest, work, fork_server, separate)
        self.user = procs.claim_uid() if self.policy.separate else None
        (work / "kits").mkdir(exist_ok=True)
        (work / "tmp").mkdir(exist_ok=True)
        if self.user is not None:
            os.chmod(work / "kits", 0o711)  # its copy of the kit can be reached, not listed
        self.kit = kitmod.clone(master, work / "kits")
        self._server: ForkServer | None = None

    @property
    def uid(self) -> int | None:
        return self.user.uid if self.user is not None else None

    @property
    def protected(self) -> list[Path]:
        return [*self.master.protected, *self.kit.protected]

    def server(self) -> ForkServer:
        """A running fork server for the next grading process (a new one when the last one was
        lost, or for every process without a fork server)."""
        with _lock:
            srv = self._server
            if srv is not None and (not self.fork_server or not srv.alive()):
                srv.close()
                srv = self._server = None
            if srv is None:
                env = child.environment(self.kit, self.work, {})
                srv = self._server = ForkServer(env, str(self.work), preload=self.fork_server,
                                                once=not self.fork_server)
            return srv

    def server_lost(self) -> None:
        """The server ended, hangs or was stopped: kill it and whatever its grading process left
        (reparented to this process, or running under the slot's user id)."""
        with _lock:
            srv, self._server = self._server, None
        if srv is not None:
            srv.kill()
        sweep()
        if self.uid is not None:
            procs.end_user(self.uid)

    def box(self, box: Path) -> None:
        """Hand ``box``'s ``tree`` and ``home`` to the slot's user id (``box`` itself stays
        drills grade's: traversable, not listable)."""
        (box / "home" / "tmp").mkdir(parents=True, exist_ok=True)
        if self.uid is None:
            return
        os.chmod(box, 0o711)
        for top in (box / "tree", box / "home"):
            top.mkdir(exist_ok=True)
            for folder, dirs, files in os.walk(top):
                for name in [*dirs, *files]:
                    os.lchown(os.path.join(folder, name), self.uid, self.uid)
            os.chown(top, self.uid, self.uid)
            os.chmod(top, 0o700)

    def finish(self) -> bool:
        """After a submission: end its user id's processes and files; return False (and take a
        fresh copy of the kit) when its copy changed."""
        if self.uid is not None:
            procs.end_user(self.uid)
            procs.remove_user_files(self.uid)
        if self.kit.intact():
            return True
        with _lock:
            srv, self._server = self._server, None
        if srv is not None:
            srv.close()  # it imported the graders from the changed copy
        old = self.kit
        self.kit = kitmod.clone(self.master, self.work / "kits")
        kitmod.remove_tree(old.root.parent)
        return False

    def close(self) -> None:
        with _lock:
            srv, self._server = self._server, None
        if srv is not None:
            srv.close()
        if self.uid is not None:
            procs.end_user(self.uid)
            procs.remove_user_files(self.uid)
            self.user.release()  # type: ignore[union-attr]
        kitmod.remove_tree(self.kit.root.parent)


def acquire(master: kitmod.KitCopy, work: Path, *, fork_server: bool = True, separate: bool = True) -> Slot:
    """A free slot for grading against ``master`` under ``work`` (a new one when none is free)."""
    key = (master.digest, work, fork_server, separate)
    with _lock:
        for slot in _free:
            if slot.key == key:
                _free.remove(slot)
                return slot
    slot = Slot(master, work, fork_server=fork_server, separate=separate)
    with _lock:
        _all.append(slot)
    return slot


def release(slot: Slot) -> None:
    with _lock:
        _free.append(slot)


def close_all() -> None:
    """Close every slot this process made (their servers, user ids and copies)."""
    with _lock:
        slots = list(_all)
        _all.clear()
        _free.clear()
        _policies.clear()
    for slot in slots:
        slot.close()
    sweep()


def sweep() -> None:
    """End the processes reparented to this process from grading (when it is a subreaper):
    its descendants in other sessions than its own, but for the fork servers of its slots."""
    with _lock:
        spare = frozenset(s._server.pid for s in _all if s._server is not None)
        procs.end_descendants(spare, other_sessions=True)
