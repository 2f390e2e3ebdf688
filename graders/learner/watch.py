"""``drills watch``: grade a module each time it is saved, through the warm worker.

The file system tells us of a save (:mod:`watchfiles`: inotify on Linux, FSEvents on macOS,
polling only where neither exists); the saved module is graded alone, by the warm worker of
:mod:`graders.learner.warm` (a forked child of a process that has imported everything already),
so the verdict follows the save by about the time its checks take. The verdict is the one a
fresh ``pytest exercises/dayN/module.py`` gives: the same run, in a clean child.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from graders.core import paths, runtime
from graders.learner import progress, warm

STYLE = {"passed": "green", "failed": "red", "not started": "yellow", "error": "bold red"}
MARK = {"passed": "✔", "failed": "✘", "not started": "·", "error": "!"}


def module_path(short: str) -> Path:
    return paths.stub_file(short)


def _mtimes(shorts: list[str]) -> dict[str, int]:
    out = {}
    for short in shorts:
        try:
            out[short] = module_path(short).stat().st_mtime_ns
        except OSError:
            out[short] = 0
    return out


def _bar(done: float, total: float, width: int = 50) -> str:
    frac = 0.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
    n = round(frac * width)
    return f"[green]{'█' * n}[/green][dim]{'░' * (width - n)}[/dim] {100 * frac:3.0f}%"


def show_module(short: str, console: Console) -> None:
    """Grade one module and print its exercises, the first failure's feedback and the totals."""
    start = time.monotonic()
    states, _ = progress.collect([short.split(".")[0]], only=[short])
    took = time.monotonic() - start
    mine = [s for s in states if s.id.startswith(short + ".")]
    console.rule(f"{short.replace('.', '/')}.py  {time.strftime('%H:%M:%S')}")
    for s in mine:
        console.print(f"[{STYLE[s.status]}]{MARK[s.status]} {s.id}  {s.status}[/]  {s.points:g}/{s.max_points:g}")
    first = next((s for s in mine if s.status in ("failed", "error") and s.feedback), None)
    if first is not None:
        console.print()
        console.print(first.feedback, markup=False, highlight=False)
    all_states, _ = progress.collect(None, grade=False)
    got, top = sum(s.points for s in all_states), sum(s.max_points for s in all_states)
    console.print()
    console.print(f"overall: {sum(s.status == 'passed' for s in all_states)}/{len(all_states)} passed, "
                  f"{got:g}/{top:g} points  [dim](graded in {took:.1f} s)[/dim]")
    console.print(_bar(got, top))


def _saved(changes: set, shorts: list[str]) -> set[str]:
    """The modules among ``shorts`` that the file events name."""
    by_path = {str(module_path(s).resolve()): s for s in shorts}
    return {by_path[p] for p in (str(Path(path).resolve()) for _, path in changes) if p in by_path}


def run(days: list[str] | None, console: Console, *, interval: float = 0.5) -> int:
    """Watch the exercise files of ``days`` (all when None) until Ctrl-C.

    ``interval`` is how often the files are looked at where the system gives no file events.
    """
    import watchfiles

    shorts = progress.modules(days)
    folders = [runtime.EXERCISES_DIR / d for d in days] if days else [runtime.EXERCISES_DIR]
    warm.ensure()  # the worker imports while the student reads the banner
    before = _mtimes(shorts)
    where = ", ".join(f"exercises/{d}" for d in days) if days else "exercises/"
    console.print(f"Watching {where}: save a file to grade it (Ctrl-C to stop).")
    try:
        # Events wake us; every wake-up (and a quiet timeout, in case a save came before the
        # watcher started) also compares modification times, so no save goes unseen.
        for changes in watchfiles.watch(*folders, watch_filter=lambda _, p: p.endswith(".py"),
                                        step=30, rust_timeout=5000, yield_on_timeout=True,
                                        poll_delay_ms=max(50, int(interval * 1000))):
            now = _mtimes(shorts)
            due = _saved(changes, shorts) | {m for m in shorts if now[m] != before.get(m)}
            before = now
            for short in [m for m in shorts if m in due]:
                show_module(short, console)
    except KeyboardInterrupt:
        console.print("stopped.")
    return 0
