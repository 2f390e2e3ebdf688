"""How soon after a save does `drills watch` show the verdict, against a fresh pytest?

On a scratch copy of the kit whose module holds the reference solution, measures (all in one
run, so that the machine's load is the same for both):
- a fresh ``python -m pytest exercises/dayN/module.py`` (what a save cost before the warm worker);
- ``drills watch dayN`` in a pseudo-terminal: from the save (a comment appended to the module)
  to the verdict on screen, the worker already warm.
It prints the median of each, the ratio (the goal: at least 5x, and the verdict within 2 s), and
checks that watch's verdicts are the fresh run's.

    python bench/watch_latency.py                         # day1.tensors, 3 saves
    python bench/watch_latency.py --module day3.norm --saves 5
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent


def scratch_kit(dest: Path, short: str) -> Path:
    root = dest / "kit"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".drills")
    for name in ("exercises", "graders", "reference", "datasets"):
        if (KIT / name).exists():
            shutil.copytree(KIT / name, root / name, ignore=ignore)
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(KIT / name, root / name)
    day, mod = short.split(".")
    shutil.copy(KIT / "reference" / day / f"{mod}.py", root / "exercises" / day / f"{mod}.py")
    return root


def fresh(root: Path, short: str, env: dict[str, str]) -> tuple[float, dict[str, str]]:
    """Seconds of a fresh pytest on the module, and its verdicts."""
    report = root / ".bench-report.json"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "pytest", f"exercises/{short.replace('.', '/')}.py", "-q",
                    "-p", "no:cacheprovider", "--tb=no", "--drills-report", str(report)],
                   cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    took = time.monotonic() - start
    table = json.loads(report.read_text())["exercises"]
    return took, {k: v["status"] for k, v in table.items()}


def _read_until(fd: int, needle: str, timeout: float, buf: list[str]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.02)
        if ready:
            try:
                buf.append(os.read(fd, 65536).decode(errors="replace"))
            except OSError:
                return False
            if needle in "".join(buf):
                return True
    return False


def watch(root: Path, short: str, env: dict[str, str], saves: int) -> tuple[list[float], dict[str, str]]:
    """Seconds from each save to the verdict in `drills watch`, and the last verdicts shown."""
    day = short.split(".")[0]
    path = root / "exercises" / day / f"{short.split('.')[1]}.py"
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(root)
        os.execvpe(sys.executable, [sys.executable, "-m", "graders.cli", "watch", day], env)
    buf: list[str] = []
    times: list[float] = []
    try:
        if not _read_until(fd, "Watching", 120, buf):
            raise SystemExit("drills watch did not start:\n" + "".join(buf))
        for i in range(saves + 1):  # the first save warms the worker: not counted
            buf.clear()
            start = time.monotonic()
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"\n# save {i}\n")
            if not _read_until(fd, "overall:", 300, buf):
                raise SystemExit("no verdict after a save:\n" + "".join(buf))
            if i:
                times.append(time.monotonic() - start)
            time.sleep(0.5)
    finally:
        os.kill(pid, 2)
        time.sleep(0.3)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    shown = dict(re.findall(rf"({re.escape(short)}\.\w+)\s+(passed|failed|not started|error)", "".join(buf)))
    return times, shown


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--module", default="day1.tensors")
    p.add_argument("--saves", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="drills-watch-") as tmp:
        root = scratch_kit(Path(tmp), args.module)
        env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1", "COLUMNS": "120",
               "DRILLS_WARM_IDLE": "60"}
        runs = [fresh(root, args.module, env) for _ in range(args.saves)]
        cold = statistics.median(t for t, _ in runs)
        times, shown = watch(root, args.module, env, args.saves)
        hot = statistics.median(times)
        print(f"module {args.module} (reference solution), {args.saves} saves")
        print(f"fresh pytest of the module: median {cold:.2f} s")
        print(f"drills watch, save to verdict: median {hot:.2f} s (max {max(times):.2f} s)")
        print(f"ratio fresh / watch: {cold / hot:.1f}x (goal >= 5x); verdict within 2 s: "
              f"{'yes' if max(times) <= 2 else 'no'}")
        same = shown == runs[-1][1]
        print(f"watch's verdicts equal the fresh run's: {same}")
        if not same:
            print(f"  fresh: {runs[-1][1]}\n  watch: {shown}")
        (root / ".drills" / "warm.sock").unlink(missing_ok=True)  # the worker ends on its own


if __name__ == "__main__":
    main()
