"""A fork server: one process per worker that imports torch, pytest and the graders once, then
forks a fresh grading process for each run (what would cost seconds of imports per submission
costs a fork).

Run as ``python -m graders.grading.forkserver`` with the environment of a grading process (the
copy of the kit first on ``PYTHONPATH``). It reads one JSON request per line on stdin and
answers on stdout with ``{"pid": N}`` once the grading process started and ``{"rc": R}`` when
it ended (``-signal`` when killed). The grading process starts a new session, closes the
server's pipes (its stdin becomes ``/dev/null``, stdout and stderr the output file), opens the
channel file, takes its ``DRILLS_SANDBOX_*`` settings from the request and runs ``pytest.main``.
No submission code ever runs in the server itself.
"""

from __future__ import annotations

import json
import os
import sys


_PRELOAD = (
    "torch", "numpy", "hypothesis", "pytest", "graders.plugin", "graders.checks", "graders.forbid",
    "graders.gpu", "graders.speed", "graders.strategies", "graders.sandbox",
    "graders.grading.guard", "graders.grading.tamper",
)


def _preload() -> None:
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)


def _child(req: dict) -> None:
    """In the forked process: become the grading process described by ``req``."""
    os.setsid()
    os.chdir(req["cwd"])
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    fd = os.open(req["channel"], os.O_WRONLY | os.O_APPEND)
    env = dict(req["env"])
    env["DRILLS_SANDBOX_FD"] = str(fd)
    os.environ.clear()
    os.environ.update(env)
    import tempfile

    tempfile.tempdir = None  # follow this process's TMPDIR
    import pytest

    sys.stdin = open(os.devnull)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    rc = pytest.main(req["args"])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(rc))


def serve() -> None:
    """Answer requests until stdin closes."""
    _preload()
    reply = sys.stdout
    reply.write(json.dumps({"ready": True}) + "\n")
    reply.flush()
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                _child(req)
            finally:
                os._exit(70)
        reply.write(json.dumps({"pid": pid}) + "\n")
        reply.flush()
        _, status = os.waitpid(pid, 0)
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        reply.write(json.dumps({"rc": rc}) + "\n")
        reply.flush()


class ForkServer:
    """The grading side of a fork server: start it, run grading processes through it."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        import queue
        import subprocess
        import threading

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "graders.grading.forkserver"], cwd=cwd, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, start_new_session=True,
        )
        self.lines: queue.Queue = queue.Queue()
        self.ready = False
        self.kit_root: object = None
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.put(json.loads(line))
        self.lines.put({"eof": True})

    def _next(self, timeout: float | None) -> dict:
        msg = self.lines.get(timeout=timeout)
        if msg.get("eof"):
            raise RuntimeError("the fork server stopped")
        return msg

    def start(self, args: list[str], env: dict[str, str], cwd: str, log: str, channel: str) -> int:
        """Fork a grading process; return its pid (also its process group)."""
        if not self.ready:
            if self._next(600).get("ready") is not True:
                raise RuntimeError("the fork server did not start")
            self.ready = True
        req = {"args": args, "env": env, "cwd": cwd, "log": log, "channel": channel}
        self.proc.stdin.write(json.dumps(req) + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return int(self._next(60)["pid"])

    def poll(self, timeout: float) -> int | None:
        """The exit status of the running grading process (-signal), or None if still running."""
        import queue

        try:
            return int(self._next(timeout)["rc"])
        except queue.Empty:
            return None

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - it is going away anyway
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    serve()
