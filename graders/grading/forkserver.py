"""A fork server: one process per slot that imports torch, pytest and the graders once, then
forks a fresh grading process for each run (what would cost seconds of imports per submission
costs a fork). ``--no-fork-server`` starts a server for each run instead, which forks once.

Run as ``python -m graders.grading.forkserver`` with the environment of a grading process (the
copy of the kit first on ``PYTHONPATH``). It reads one JSON request per line on stdin and
answers on stdout with ``{"pid": N}`` once the grading process started and ``{"rc": R}`` when
it ended (``-signal`` when killed) and everything it started was ended. No submission code
ever runs in the server itself.

The grading process starts a new session, makes itself the first choice of the kernel's
out-of-memory killer, points stdin at ``/dev/null`` and stdout and stderr at the output file,
opens the channel file (both made by ``drills grade``: it checks they are the very files, not
something put in their place), takes the user id of its slot when it has one (as root: no
groups, no way to gain privileges), asks to be killed when the server ends, takes its
``DRILLS_SANDBOX_*`` settings from the request (never from an environment it was started
with, which ``/proc/<pid>/environ`` would show) and runs ``pytest.main``.

The server is a child subreaper: whatever the grading process started is reparented to the
server when its parent ends, so that, once the grading process ended, every process it left is
found and killed (and, with a user id, every process of that user id). Server and grading
process are not dumpable: their ``/proc`` entries (descriptors, memory, environment) are
root's, so another grading process of the same user id cannot reach their pipes or secrets.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys


def _open_made(spec: list, flags: int) -> int:
    """Open the file ``drills grade`` made (``[path, device, inode]``), and only that file."""
    path, dev, ino = spec
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (dev, ino):
        os._exit(71)
    os.set_blocking(fd, True)
    return fd


def _child(req: dict, server: int) -> None:
    """In the forked process: become the grading process described by ``req``."""
    from graders.grading import procs

    os.setsid()
    procs.prctl(procs.PR_SET_DUMPABLE, 1)  # its own /proc entries, for a moment
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass
    procs.prctl(procs.PR_SET_DUMPABLE, 0)
    null = os.open(os.devnull, os.O_RDONLY)
    out = _open_made(req["log"], os.O_WRONLY | os.O_APPEND)
    fd = _open_made(req["channel"], os.O_WRONLY | os.O_APPEND)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    uid = req.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    procs.prctl(procs.PR_SET_NO_NEW_PRIVS, 1)
    procs.prctl(procs.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:  # the server ended before the signal was asked for
        os._exit(72)
    os.chdir(req["cwd"])
    env = dict(req["env"])
    env["DRILLS_SANDBOX_FD"] = str(fd)
    os.environ.clear()
    os.environ.update(env)
    import tempfile

    tempfile.tempdir = None  # follow this process's TMPDIR
    import pytest

    sys.stdin = open(os.devnull)  # noqa: SIM115  (the process's stdin: open until it exits)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    rc = pytest.main(req["args"])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(rc))


def _answer(reply, msg: dict) -> None:
    reply.write(json.dumps(msg) + "\n")
    reply.flush()


def serve(preload: bool = True, once: bool = False) -> None:
    """Answer requests until stdin closes (after one request with ``once``)."""
    from graders.grading import procs

    procs.become_subreaper()
    procs.prctl(procs.PR_SET_DUMPABLE, 0)  # its /proc entries (pipes, memory) are root's
    from graders.grading.warmup import warm_up, warm_up_days

    if preload:
        warm_up()
    reply, me = sys.stdout, os.getpid()
    _answer(reply, {"ready": True})
    for line in sys.stdin:
        req = json.loads(line)
        if preload:
            warm_up_days(req["args"])
        pid = os.fork()
        if pid == 0:
            try:
                _child(req, me)
            finally:
                os._exit(70)
        _answer(reply, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        procs.end_descendants()
        if req.get("uid") is not None:
            procs.end_user(req["uid"])
            procs.end_descendants()
        _answer(reply, {"rc": rc})
        if once:
            break


class ServerLost(RuntimeError):
    """The fork server ended, stopped answering, or closed its pipes."""


class ForkServer:
    """The grading side of a fork server: start it, run grading processes through it.

    Every wait is bounded: a server that ended, hangs or was stopped raises
    :class:`ServerLost`, and :meth:`kill` ends it (and the grading process it was running).
    """

    def __init__(self, env: dict[str, str], cwd: str, *, preload: bool = True, once: bool = False) -> None:
        import queue
        import subprocess
        import threading

        cmd = [sys.executable, "-m", "graders.grading.forkserver"]
        cmd += [] if preload else ["--no-preload"]
        cmd += ["--once"] if once else []
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        self.once = once
        self.lines: queue.Queue = queue.Queue()
        self.ready = False
        self.lost = False
        self.running: int | None = None
        threading.Thread(target=self._pump, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _pump(self) -> None:
        try:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self.lines.put(json.loads(line))
        except (OSError, ValueError):
            pass
        self.lines.put({"eof": True})

    def _next(self, timeout: float | None) -> dict:
        import queue

        try:
            msg = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise ServerLost("the fork server did not answer") from None
        if msg.get("eof"):
            self.lost = True
            raise ServerLost("the fork server ended")
        return msg

    def _wait(self, timeout: float) -> dict:
        """The next message within ``timeout`` seconds, giving up early on a server that ended
        or was stopped."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._next(min(1.0, max(0.01, deadline - time.monotonic())))
            except ServerLost:
                if self.lost or not self.alive() or time.monotonic() >= deadline:
                    raise

    def alive(self) -> bool:
        """The server runs and is not stopped (by a signal or a tracer)."""
        if self.lost or self.proc.poll() is not None:
            return False
        from graders.grading.procs import state

        found = state(self.proc.pid)
        return found is not None and found[0] not in ("T", "t", "Z", "X")

    def start(self, args: list[str], env: dict[str, str], cwd: str, log: list, channel: list,
              uid: int | None = None) -> int:
        """Fork a grading process; return its pid (also its process group)."""
        if not self.ready:
            if self._wait(600).get("ready") is not True:
                raise ServerLost("the fork server did not start")
            self.ready = True
        if not self.alive():
            raise ServerLost("the fork server is not running")
        req = {"args": args, "env": env, "cwd": cwd, "log": log, "channel": channel, "uid": uid}
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (OSError, ValueError):
            self.lost = True
            raise ServerLost("the fork server closed its pipe") from None
        msg = self._wait(60)
        pid = msg.get("pid")
        from graders.grading.procs import state

        if not isinstance(pid, int) or pid <= 1:
            raise ServerLost("the fork server answered out of turn")
        found = state(pid)
        if found is None or found[1] != self.proc.pid:  # only ever a child of the server
            raise ServerLost("the fork server answered out of turn")
        self.running = pid
        return pid

    def poll(self, timeout: float) -> int | None:
        """The exit status of the running grading process (-signal), or None if still running;
        raises :class:`ServerLost` when the server is gone or stopped."""
        try:
            msg = self._next(timeout)
        except ServerLost:
            if self.lost or not self.alive():
                raise
            return None
        if "rc" not in msg:
            raise ServerLost("the fork server answered out of turn")
        self.running = None
        return int(msg["rc"])

    def kill(self) -> None:
        """End the server now (and the grading process it ran)."""
        self.lost = True
        for pid in (self.running, self.proc.pid):
            if pid is not None:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - a process in uninterruptible sleep: leave it
            pass

    def close(self) -> None:
        if self.proc.poll() is not None:
            return
        if self.lost or not self.alive():
            self.kill()
            return
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - it is going away anyway
            self.kill()


if __name__ == "__main__":
    serve(preload="--no-preload" not in sys.argv, once="--once" in sys.argv)
    sys.stdout.flush()
    os._exit(0)  # nothing left to do: no second of tearing down torch's modules at exit
