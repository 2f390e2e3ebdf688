"""Student commands: ``drills progress``, ``hint``, ``watch`` and ``solution``.

Output goes through rich: colours in a terminal, plain text when piped (or with NO_COLOR),
and rendered as HTML in a Jupyter output cell.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Literal

from rich.console import Console
from rich.table import Table

from graders.core import registry, sources
from graders.learner import progress

STYLE = {"passed": "green", "failed": "red", "not started": "yellow", "error": "bold red"}
MARK = {"passed": "✔", "failed": "✘", "not started": "·", "error": "!"}
HINTS_FILE = progress.STATE_DIR / "hints.json"


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal and not console.is_jupyter:
        console = Console(highlight=False, width=120)
    return console


def _resolve(query: str, console: Console) -> registry.Exercise | None:
    try:
        return registry.resolve(query)
    except KeyError as exc:
        console.print(f"[red]{exc.args[0]}[/red]")
        return None


# --- progress -------------------------------------------------------------------------------------

def _days(spec: str | list[str] | None, console: Console) -> list[str] | None | Literal[False]:
    """The days named on the command line (None: every day; False: an unknown day, said)."""
    if not spec:
        return None
    try:
        return registry.parse_days(spec)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        return False


def add_progress_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("days", nargs="*", help="days to show, e.g. 1,3 or day1 day3 (default: all)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--refresh", action="store_true", help="re-grade everything, ignoring the cache")


def _bar(done: float, total: float, width: int = 30) -> str:
    """A text progress bar that reads the same with or without colours."""
    frac = 0.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
    n = round(frac * width)
    return f"[green]{'█' * n}[/green][dim]{'░' * (width - n)}[/dim] {100 * frac:3.0f}%"


def render_progress(states: list[progress.ExerciseState], console: Console) -> None:
    by_day: dict[str, list[progress.ExerciseState]] = {}
    for s in states:
        by_day.setdefault(s.id.split(".")[0], []).append(s)
    titles = {e.id: e.title for e in registry.exercises()}
    for day, items in by_day.items():
        table = Table(title=None, show_header=False, box=None, pad_edge=False)
        table.add_column(width=2)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(overflow="ellipsis", no_wrap=True)
        for s in items:
            table.add_row(f"[{STYLE[s.status]}]{MARK[s.status]}[/]", s.id,
                          f"[{STYLE[s.status]}]{s.status}[/]", f"{s.points:g}/{s.max_points:g}",
                          f"[dim]{titles.get(s.id, '')}[/dim]")
        got, top = sum(s.points for s in items), sum(s.max_points for s in items)
        passed = sum(s.status == "passed" for s in items)
        console.print(f"[bold]{day}[/bold]  {passed}/{len(items)} passed, {got:g}/{top:g} points")
        console.print(_bar(got, top))
        console.print(table)
        console.print()
    got, top = sum(s.points for s in states), sum(s.max_points for s in states)
    console.print(f"[bold]overall[/bold]  {sum(s.status == 'passed' for s in states)}/{len(states)} "
                  f"exercises passed, {got:g}/{top:g} points")
    console.print(_bar(got, top, width=50))


def run_progress(args: argparse.Namespace) -> int:
    console = _console()
    days = _days(args.days, console)
    if days is False:
        return 2
    states, graded = progress.collect(days, refresh=args.refresh)
    if args.json:
        data = {
            "exercises": {s.id: {"status": s.status, "points": s.points, "max_points": s.max_points}
                          for s in states},
            "points": round(sum(s.points for s in states), 4),
            "max_points": round(sum(s.max_points for s in states), 4),
            "graded_now": graded,
        }
        print(json.dumps(data, indent=2))
        return 0
    render_progress(states, console)
    if graded:
        console.print(f"[dim]re-graded: {', '.join(graded)}[/dim]")
    return 0


# --- hint -----------------------------------------------------------------------------------------

def add_hint_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("exercise", help="an exercise id or an unambiguous part of it, e.g. conv2d")


def run_hint(args: argparse.Namespace) -> int:
    console = _console()
    ex = _resolve(args.exercise, console)
    if ex is None:
        return 2
    try:
        seen = json.loads(HINTS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        seen = {}
    n = seen.get(ex.id, 0)
    if n >= len(ex.hints):
        console.print(f"No more hints for {ex.id}: you have seen all {len(ex.hints)}.")
        for i, h in enumerate(ex.hints, 1):
            console.print(f"  [dim]{i}. {h}[/dim]")
        return 0
    seen[ex.id] = n + 1
    progress.STATE_DIR.mkdir(exist_ok=True)
    HINTS_FILE.write_text(json.dumps(seen, indent=1, sort_keys=True), encoding="utf-8")
    console.print(f"[bold]Hint {n + 1}/{len(ex.hints)}[/bold] for {ex.id} ({ex.title}):")
    console.print(f"  {ex.hints[n]}")
    return 0


# --- solution -------------------------------------------------------------------------------------

def add_solution_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("exercise", help="an exercise id or an unambiguous part of it")
    p.add_argument("--give-up", action="store_true",
                   help="show the solution although your code does not pass yet (asks to confirm)")
    p.add_argument("--yes", action="store_true", help="confirm --give-up without asking")


def reference_source(ex: registry.Exercise) -> str | None:
    """The reference's definition of ``ex``, with the imports and private helpers it uses."""
    path = ex.reference_file
    if not path.exists():
        return None
    return sources.definition_with_helpers(path.read_text(encoding="utf-8"), ex.name)


def run_solution(args: argparse.Namespace) -> int:
    console = _console()
    ex = _resolve(args.exercise, console)
    if ex is None:
        return 2
    source = reference_source(ex)
    if source is None:
        console.print("Solutions are not part of this kit (there is no reference here).")
        return 1
    states, _ = progress.collect([ex.day])
    state = next(s for s in states if s.id == ex.id)
    if state.status != "passed":
        if not args.give_up:
            console.print(f"{ex.id} is {state.status}: pass it first (the solution is shown once your "
                          f"code passes), or ask for it with --give-up.")
            return 1
        if not args.yes:
            if not sys.stdin.isatty():
                console.print("Confirm with --yes to see the solution without passing.")
                return 1
            answer = console.input(f"Show the solution of {ex.id} before passing it? Type 'yes': ")
            if answer.strip().lower() != "yes":
                return 1
    console.print(f"[bold]Solution of {ex.id}[/bold] ({ex.title}):\n")
    console.print(source, markup=False, highlight=False)
    return 0


# --- watch ----------------------------------------------------------------------------------------

def add_watch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("day", nargs="?", help="watch only these days, e.g. 3 or day3 or 1,3")
    p.add_argument("--interval", type=float, default=0.5,
                   help="seconds between looks at the files where the system gives no file events")


def run_watch(args: argparse.Namespace) -> int:
    from graders.learner import watch

    console = _console()
    days = _days(args.day, console)
    if days is False:
        return 2
    return watch.run(days, console, interval=args.interval)
