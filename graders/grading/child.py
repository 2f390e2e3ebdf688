"""One grading process: pytest with the sandbox plugin (:mod:`graders.grading.sandbox`) on one
submission, with limits.

:func:`run_once` has a fork server start the process (in its own session, under the slot's
user id when there is one), hands it its settings in the request (``DRILLS_SANDBOX_*``
variables that the process sets itself and the sandbox removes before any submission code
runs; they are never in an environment a process was started with), waits at most ``wall``
seconds (then kills the whole process group) and reads back what the sandbox wrote to the
channel: a file made here, opened by the grading process and checked to be that very file,
whose lines are trusted only when they carry this run's secret. A fork server that ends, is
stopped or stops answering during the run ends the run (``server_lost``), never the caller.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.grading.kit import KIT_ROOT, KitCopy


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission."""

    per_test: float = 60.0
    per_submission: float = 900.0
    memory_mb: int = 12288  # TensorFlow training beside torch maps about 5.7 GB
    output_mb: int = 32
    restarts: int = 8


#: Why a check failed when the fork server running it ended, hung or was stopped meanwhile.
SERVER_LOST = "stopped the grading worker (its fork server ended or hung)"


@dataclass
class RunResult:
    """What one grading process reported, and how it ended."""

    collected: list[dict] | None = None
    results: dict[str, dict] = field(default_factory=dict)
    started: str | None = None
    done: bool = False
    forged: int = 0
    forged_in: dict[str, int] = field(default_factory=dict)
    returncode: int | None = None
    timed_out: bool = False
    test_timed_out: bool = False
    test_wall: float = 0.0
    output_tail: str = ""
    server_lost: bool = False

    def ending(self, wall: float) -> str:
        """Why the process ended before it finished, in words (empty when it finished)."""
        if self.server_lost:
            return SERVER_LOST
        if self.done:
            return ""
        if self.timed_out:
            return f"ran past the time limit of the submission ({wall:g} s)"
        if self.test_timed_out:
            return f"ran past the time limit of the check ({self.test_wall:g} s) and was stopped"
        rc = self.returncode or 0
        if rc < 0:
            sig = signal.Signals(-rc).name if -rc in signal.valid_signals() else str(-rc)
            if sig == "SIGXCPU":
                return "ran out of CPU time"
            if sig == "SIGKILL":
                return "was killed (out of memory or over a limit)"
            return f"crashed the grading process ({sig})"
        return f"ended the grading process early (exit status {rc})"


#: The plugins a grading process uses, named in ``PYTEST_PLUGINS`` (:func:`environment`), in
#: this order: no plugin is loaded from the installed packages' entry points, and none is looked
#: up among them (each ``-p`` would read every installed package's metadata first).
PLUGINS = ("pytest_timeout", "_hypothesis_pytestplugin", "graders.grading.sandbox")


def command(kit: KitCopy, tree: Path, days: list[str], exercises: list[str], profile: str,
            per_test: float, collect_only: bool = False, hint_command: bool = True) -> list[str]:
    """The pytest command line of a grading process (its plugins: :data:`PLUGINS`)."""
    cmd = [sys.executable, "-m", "pytest", "--disable-plugin-autoload", "-p", "no:cacheprovider",
           "-q", "--no-header", "-W", "ignore::pytest.PytestAssertRewriteWarning",
           "-c", str(kit.root / "pyproject.toml"), "--rootdir", str(kit.root)]
    cmd += [str(kit.root / "exercises" / d) for d in days]
    cmd += ["--drills-target", str(tree), "--hypothesis-profile", profile,
            "--timeout", f"{per_test:g}", "--timeout-method", "signal"]
    for ex in exercises:
        cmd += ["--drills-exercise", ex]
    if not hint_command:
        cmd.append("--drills-no-commands")
    if collect_only:
        cmd.append("--collect-only")
    return cmd


def environment(kit: KitCopy, home: Path, settings: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home), "TMPDIR": str(home / "tmp"), "LANG": "C.UTF-8",
        # the kit's copy, then the data package where a kit that is not installed keeps it
        "PYTHONPATH": os.pathsep.join((str(kit.root), str(KIT_ROOT / "datasets"))),
        "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg",
        "PYTEST_PLUGINS": ",".join(PLUGINS),
    }
    for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update({f"DRILLS_SANDBOX_{k}": v for k, v in settings.items()})
    return env


def run_once(cmd: list[str], *, kit: KitCopy, home: Path, tree: Path, protected: list[Path],
             limits: Limits, wall: float, skip: set[str], server: Any, uid: int | None = None) -> RunResult:
    """Run one grading process (forked by ``server``, as ``uid`` when given) and read its channel."""
    from graders.grading.forkserver import ServerLost

    (home / "tmp").mkdir(parents=True, exist_ok=True)
    nonce = secrets.token_hex(16)
    settings = {
        "NONCE": nonce, "TREE": str(tree), "SKIP": "\n".join(sorted(skip)),
        "PROTECT": os.pathsep.join(str(p) for p in protected),
        "ALLOW": os.pathsep.join(str(p) for p in kit.allowed),
        "REFERENCE": str(kit.reference), "WRITABLE": str(home),
        "AS": str(limits.memory_mb << 20), "FSIZE": str(limits.output_mb << 20),
        "CPU": str(int(wall * 2 + 30)),
    }
    made: list[tuple[int, Path]] = []
    try:
        channel, channel_spec = _made(home.parent / f".channel-{secrets.token_hex(8)}", made)
        log, log_spec = _made(home.parent / f".output-{secrets.token_hex(8)}", made)
        try:
            pid = server.start(cmd[3:], environment(kit, home, settings), str(home), log_spec,
                               channel_spec, uid)
        except ServerLost:
            return RunResult(server_lost=True)
        result = _watch(pid, server, channel, nonce, wall, limits.per_test * 1.5 + 5)
        result.output_tail = _tail(log)
        _read_channel(channel, nonce, result)
        return result
    finally:
        for fd, path in made:
            os.close(fd)
            path.unlink(missing_ok=True)


def _made(path: Path, made: list[tuple[int, Path]]) -> tuple[int, list]:
    """Make a new empty file at ``path`` (never an existing one, nor through a link); return a
    descriptor to read it and ``[path, device, inode]`` for the grading process to check."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    made.append((fd, path))
    st = os.fstat(fd)
    return fd, [str(path), st.st_dev, st.st_ino]


def _watch(pid: int, server: Any, channel: int, nonce: str, wall: float, test_wall: float) -> RunResult:
    """Wait for the process, following its channel; end it once it reported that it is done
    (what it would still do is pytest's summary, which nobody reads); kill it past ``wall`` in
    all or past ``test_wall`` in one check (a check can outlive its own timeout: code that
    swallows the timeout, or hypothesis replaying a hanging example). A server that ends, is stopped, or
    does not report the end of a killed process within a minute, is lost."""
    from graders.grading.forkserver import ServerLost

    deadline = time.monotonic() + wall
    current, since = None, time.monotonic()
    result = RunResult()
    try:
        while True:
            rc = server.poll(0.1)
            if rc is not None:
                result.returncode = rc
                break
            now = time.monotonic()
            seen = RunResult()
            _read_channel(channel, nonce, seen)
            if seen.started != current:
                current, since = seen.started, now
            if seen.done:  # every result is in: what is left is pytest's summary, read by nobody
                _kill(pid)
                result.returncode = server.poll(60)
                result.server_lost = result.returncode is None
                break
            if now > deadline or (current is not None and now - since > test_wall):
                result.timed_out = now > deadline
                result.test_timed_out = not result.timed_out
                result.test_wall = test_wall
                _kill(pid)
                result.returncode = server.poll(60)
                result.server_lost = result.returncode is None
                break
    except ServerLost:
        result.server_lost = True
    _kill(pid)  # anything the process left behind
    return result


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(fd: int, size: int = 4000) -> str:
    end = os.fstat(fd).st_size
    return os.pread(fd, min(size, end), max(0, end - size)).decode("utf-8", "replace")


def _read_channel(fd: int, nonce: str, result: RunResult) -> None:
    lines = os.pread(fd, min(os.fstat(fd).st_size, 64 << 20), 0).split(b"\n")
    for n, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            if n < len(lines) - 1:  # an unterminated last line is a write cut short by a kill
                _forged(result)
            continue
        if not isinstance(rec, dict) or rec.get("nonce") != nonce:
            _forged(result)
            continue
        kind = rec.get("type")
        if kind == "collected" and result.collected is None:
            result.collected = rec.get("checks", [])
        elif kind == "start":
            result.started = rec.get("id")
        elif kind == "result":
            if rec.get("id") in result.results:
                _forged(result)
                continue
            result.results[rec["id"]] = rec
            if result.started == rec.get("id"):
                result.started = None
        elif kind == "done":
            result.done = True


def _forged(result: RunResult) -> None:
    """Count a line the sandbox did not write, against the check running when it appeared."""
    result.forged += 1
    if result.started is not None:
        result.forged_in[result.started] = result.forged_in.get(result.started, 0) + 1
