"""A warm grader for ``drills watch`` and ``drills progress``: imports paid once, a fresh fork per run.

A fresh ``pytest exercises/dayN/module.py`` pays seconds before the first check runs: Python,
torch, hypothesis, pytest and the graders are imported again on every save. The warm worker
imports them once (``python -m graders.learner.warm``) and listens on a Unix socket of the kit
(``.drills/warm.sock``, or a file in the temporary folder when that path is too long for a
socket). Each request forks a child that runs ``pytest.main`` with the request's arguments,
folder and environment, its output going to the request's file; the child starts clean, as a
fresh process would: the student's modules and the grader modules are imported in the child only,
and the random generators of Python, numpy and torch are re-seeded as a new process seeds them.
No torch operation ever runs in the worker itself (forking after one is unsafe), and nothing a
grader marks for assertion rewriting (the plugin, the grader modules) is imported before the
child's pytest does, so failure messages read the same as in a fresh process.

The worker ends after ``DRILLS_WARM_IDLE`` seconds without a request (default 600), when the
kit's folder is gone, or when the kit's graders changed since it started (a request carries the
client's :func:`stamp` of them; a worker whose stamp differs answers ``stale`` and ends, and the
client starts a new one). ``DRILLS_WARM=0`` turns the worker off: every run is a fresh pytest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from graders.core import fingerprint, runtime

_PRELOAD = ("numpy", "torch", "graders.profiles", "hypothesis", "pytest", "_pytest.python",
            "_pytest.assertion", "graders.checks", "graders.forbid", "graders.gpu", "graders.speed",
            "graders.strategies", "graders.core.registry")
_STATE = runtime.KIT_ROOT / ".drills"


def enabled() -> bool:
    """The warm worker is on unless ``DRILLS_WARM=0`` (or ``false``, ``no``, ``off``)."""
    return os.environ.get("DRILLS_WARM", "1").strip().lower() not in ("0", "false", "no", "off")


def socket_path() -> Path:
    """Where the kit's worker listens: in ``.drills/`` when the path fits a Unix socket."""
    here = _STATE / "warm.sock"
    if len(os.fsencode(here)) < 100:
        return here
    tag = hashlib.sha256(os.fsencode(runtime.KIT_ROOT)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"drills-{os.getuid()}-{tag}.sock"


def stamp() -> str:
    """What the worker's imports depend on: the interpreter and every grader file's size and time."""
    h = hashlib.sha256(os.fsencode(sys.executable) + os.fsencode(runtime.KIT_ROOT))
    root = runtime.KIT_ROOT / "graders"
    for path in fingerprint.grading_files(root):
        st = path.stat()
        h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


# --- the worker -----------------------------------------------------------------------------------

def _preload() -> None:
    """Import what every run imports, as a fresh ``python -m pytest`` would import it.

    A dry pytest session in an empty folder loads every plugin installed by entry point with
    pytest's assertion-rewriting importer, as each run does (rewriting them), and its conftest
    imports torch, hypothesis (as installed, through :mod:`graders.profiles`, as in a run) and
    the graders' framework while that importer is in place, so that what pytest would rewrite
    is rewritten. The child's pytest finds them imported by that same importer and uses them as
    they are. Neither the kit's conftest nor its plugin nor its grader modules are loaded here.
    """
    import io

    import pytest

    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="drills-warm-") as tmp:
        conftest = Path(tmp) / "conftest.py"
        conftest.write_text(f"import importlib\nfor name in {_PRELOAD!r}:\n"
                            f"    importlib.import_module(name)\n", encoding="utf-8")
        os.chdir(tmp)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", tmp])
        finally:
            os.chdir(here)
            for name, mod in list(sys.modules.items()):
                if (getattr(mod, "__file__", None) or "").startswith(tmp):
                    del sys.modules[name]
            sys.path[:] = [p for p in sys.path if not p.startswith(tmp)]
    import torch

    from graders import profiles

    # The meta device's and fake tensors' first use imports their kernels (sympy...): paid here;
    # they hold no data, start no threads, leave CUDA alone: the worker stays safe to fork.
    (torch.empty(2, 3, device="meta") @ torch.empty(3, 2, device="meta")).sum()
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(allow_non_fake_inputs=True):  # the graders' tensors "on" CUDA, no GPU
        torch.empty(3, 2, device="meta").t()
    profiles.warm_up_hypothesis()  # its generator is re-seeded in each child (:func:`_reseed`)
    profiles.settle_before_forking()


def _reseed() -> None:
    """The random generators as a new process finds them."""
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.random.default_generator.manual_seed(torch.initial_seed())
    sys.modules["graders.profiles"].reseed_hypothesis()  # imported by :func:`_preload`


def _child(req: dict, closing: list[socket.socket]) -> None:
    """In the forked child: run pytest as ``python -m pytest`` would in ``req["cwd"]``."""
    for s in closing:
        s.close()
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(req["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    sys.dont_write_bytecode = True
    tempfile.tempdir = None  # follow the request's TMPDIR
    sys.stdin = open(os.devnull)  # noqa: SIM115 - the child's stdin until it exits
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    _reseed()
    import pytest

    rc = pytest.main(list(req["args"]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(rc))


def _answer(conn: socket.socket, msg: dict) -> None:
    with contextlib.suppress(OSError):
        conn.sendall((json.dumps(msg) + "\n").encode())


def _read_line(conn: socket.socket) -> dict:
    """One JSON message (empty when the other side closed first)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            return {}
        data += chunk
    return json.loads(data)


def serve(path: Path, idle: float) -> None:
    """Listen on ``path`` (already bound by nobody else), preload, answer requests until idle."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = os.umask(0o077)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(os.fspath(path))
    finally:
        os.umask(old)
    listener.listen(16)
    mine = stamp()
    sys.dont_write_bytecode = True  # nothing written into the kit or the environment
    _preload()
    last = time.monotonic()
    listener.settimeout(5)
    try:
        while time.monotonic() - last < idle and runtime.KIT_ROOT.is_dir() and path.exists():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    conn.settimeout(30)
                    req = _read_line(conn)
                except (OSError, ValueError):
                    continue
                if not req:
                    continue
                if req.get("stamp") != mine:
                    _answer(conn, {"stale": True})
                    return
                pid = os.fork()
                if pid == 0:
                    try:
                        _child(req, [listener, conn])
                    finally:
                        os._exit(70)
                _, status = os.waitpid(pid, 0)
                rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                _answer(conn, {"rc": rc})
            last = time.monotonic()
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            path.unlink()


# --- the client -----------------------------------------------------------------------------------

def start(path: Path | None = None) -> None:
    """Start a worker in the background (it outlives this process; see the module's docstring)."""
    path = path or socket_path()
    with contextlib.suppress(OSError):
        path.unlink()  # a socket left by a worker that was killed
    log = _STATE / "warm.log"
    _STATE.mkdir(exist_ok=True)
    with open(log, "wb") as fh:
        subprocess.Popen([sys.executable, "-m", "graders.learner.warm", os.fspath(path)],
                         cwd=runtime.KIT_ROOT, stdin=subprocess.DEVNULL, stdout=fh, stderr=fh,
                         start_new_session=True, close_fds=True)


def _connect(path: Path, wait: float) -> socket.socket | None:
    deadline = time.monotonic() + wait
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(os.fspath(path))
            return s
        except OSError:
            s.close()
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


def ensure(*, wait: float = 0.0) -> bool:
    """Make sure a worker runs or starts (without waiting for it unless ``wait``)."""
    if not enabled():
        return False
    path = socket_path()
    s = _connect(path, 0)
    if s is not None:
        s.close()
        return True
    start(path)
    if (s := _connect(path, wait)) is not None:
        s.close()
    return True


def run_pytest(args: list[str], *, cwd: Path, env: dict[str, str],
               timeout: float = 3600) -> tuple[int, str] | None:
    """Run ``python -m pytest *args`` in the warm worker (starting one if needed).

    Returns the exit status and the output, or None when no worker could serve the run (the
    caller then runs pytest itself).
    """
    if not enabled():
        return None
    path = socket_path()
    req = {"args": args, "cwd": os.fspath(cwd), "env": env, "stamp": stamp()}
    for _attempt in range(2):
        conn = _connect(path, 0)
        if conn is None:
            start(path)
            conn = _connect(path, 60)
        if conn is None:
            return None
        with conn, tempfile.TemporaryDirectory(prefix="drills-warm-") as tmp:
            output_file = req["output"] = os.path.join(tmp, "output.txt")
            try:
                conn.settimeout(timeout)
                conn.sendall((json.dumps(req) + "\n").encode())
                msg = _read_line(conn)
            except (OSError, ValueError):
                return None
            if msg.get("stale"):  # wait until the stale worker let go of its socket
                deadline = time.monotonic() + 10
                while path.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
                continue
            if "rc" not in msg:
                return None
            output = Path(output_file).read_text(encoding="utf-8", errors="replace")
            return int(msg["rc"]), output
    return None


if __name__ == "__main__":
    serve(Path(sys.argv[1]), float(os.environ.get("DRILLS_WARM_IDLE", "600")))
