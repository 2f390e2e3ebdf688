"""One grading process: ``pytest -p graders.sandbox`` on one submission, with limits.

:func:`run_once` starts the process in its own session, feeds it its settings through
``DRILLS_SANDBOX_*`` variables (the sandbox removes them before any submission code runs),
waits at most ``wall`` seconds (then kills the whole process group) and reads back what the
sandbox wrote to the channel: a file opened here and handed over as a bare descriptor, whose
lines are trusted only when they carry this run's secret.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
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
    memory_mb: int = 6144
    output_mb: int = 32
    restarts: int = 8


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

    def ending(self, wall: float) -> str:
        """Why the process ended before it finished, in words (empty when it finished)."""
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


def command(kit: KitCopy, tree: Path, days: list[str], exercises: list[str], profile: str,
            per_test: float, collect_only: bool = False, hint_command: bool = True) -> list[str]:
    """The pytest command line of a grading process."""
    cmd = [sys.executable, "-m", "pytest", "-p", "graders.sandbox", "-p", "no:cacheprovider",
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
        "PYTHONPATH": os.pathsep.join((str(kit.root), str(KIT_ROOT / "datasets"))), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg",
    }
    for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update({f"DRILLS_SANDBOX_{k}": v for k, v in settings.items()})
    return env


def run_once(cmd: list[str], *, kit: KitCopy, home: Path, tree: Path, protected: list[Path],
             limits: Limits, wall: float, skip: set[str], server: Any = None) -> RunResult:
    """Run one grading process (forked by ``server`` when given) and read its channel."""
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    nonce = secrets.token_hex(16)
    channel = home.parent / f".channel-{secrets.token_hex(8)}"
    log = home.parent / f".output-{secrets.token_hex(8)}"
    settings = {
        "NONCE": nonce, "TREE": str(tree), "SKIP": "\n".join(sorted(skip)),
        "PROTECT": os.pathsep.join(str(p) for p in protected),
        "ALLOW": os.pathsep.join(str(p) for p in kit.allowed),
        "REFERENCE": str(kit.reference), "WRITABLE": str(home),
        "AS": str(limits.memory_mb << 20), "FSIZE": str(limits.output_mb << 20),
        "CPU": str(int(wall * 2 + 30)),
    }
    if server is not None:
        channel.touch(mode=0o600)
        pid = server.start(cmd[3:], environment(kit, home, settings), str(home), str(log), str(channel))
        poll = server.poll
    else:
        fd = os.open(channel, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        settings["FD"] = str(fd)
        with open(log, "wb") as out:
            try:
                proc = subprocess.Popen(
                    cmd, cwd=home, env=environment(kit, home, settings), stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT, pass_fds=(fd,), start_new_session=True,
                )
            finally:
                os.close(fd)
        pid, poll = proc.pid, lambda t: _poll(proc, t)
    result = _watch(pid, poll, channel, nonce, wall, limits.per_test * 1.5 + 5)
    _finish(result, channel, log, nonce)
    return result


def _poll(proc: subprocess.Popen, timeout: float) -> int | None:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def _watch(pid: int, poll: Any, channel: Path, nonce: str, wall: float, test_wall: float) -> RunResult:
    """Wait for the process, following its channel; kill it past ``wall`` in all or past
    ``test_wall`` in one check (a check can outlive its own timeout: code that swallows the
    timeout, or hypothesis replaying a hanging example)."""
    deadline = time.monotonic() + wall
    current, since = None, time.monotonic()
    result = RunResult()
    while True:
        rc = poll(0.25)
        if rc is not None:
            result.returncode = rc
            break
        now = time.monotonic()
        seen = RunResult()
        _read_channel(channel, nonce, seen)
        if seen.started != current:
            current, since = seen.started, now
        if now > deadline or (current is not None and now - since > test_wall):
            result.timed_out = now > deadline
            result.test_timed_out = not result.timed_out
            result.test_wall = test_wall
            _kill(pid)
            result.returncode = poll(60)
            break
    _kill(pid)  # anything the process left behind
    return result


def _finish(result: RunResult, channel: Path, log: Path, nonce: str) -> None:
    result.output_tail = _tail(log) if log.exists() else ""
    if channel.exists():
        _read_channel(channel, nonce, result)
    for path in (channel, log):
        path.unlink(missing_ok=True)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, size: int = 4000) -> str:
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - size))
        return fh.read().decode("utf-8", "replace")


def _read_channel(path: Path, nonce: str, result: RunResult) -> None:
    with open(path, "rb") as fh:
        lines = fh.read(64 << 20).split(b"\n")
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
