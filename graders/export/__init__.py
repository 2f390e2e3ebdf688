"""``drills export``: autograders for other engines, built from the same registry and graders.

    drills export gradescope --day 1 --out day1-autograder.zip
    drills export nbgrader --out course/

- :mod:`graders.export.gradescope`: a Gradescope autograder zip (``setup.sh``, ``run_autograder``
  and a grading kit with the reference and the hidden checks); at grading time
  :mod:`graders.export.gradescope_run` grades the submission and writes ``results.json``.
- :mod:`graders.export.nbgrader`: an nbgrader course source, one notebook per day, with solution
  regions and autograder cells (:mod:`graders.export.nbgrader_cell`).

Both grade through :mod:`graders.grading.engine`, as ``drills grade`` does: the same sandbox,
checks and points.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_export_arguments", "run_export"]


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``drills export gradescope|nbgrader``."""
    sub = parser.add_subparsers(dest="engine", metavar="ENGINE", required=True)
    gs = sub.add_parser("gradescope", help="a Gradescope autograder zip for one day (or several)")
    gs.add_argument("--day", required=True, help="the day(s) to grade, e.g. 1, day1 or 1,2")
    gs.add_argument("--out", required=True, type=Path, help="the zip file to write")
    gs.add_argument("--wheels", type=Path, default=None,
                    help="a folder of wheels to bundle, so that setup.sh installs offline")
    nb = sub.add_parser("nbgrader", help="an nbgrader course source, one notebook per day")
    nb.add_argument("--out", required=True, type=Path, help="the course folder to write")
    nb.add_argument("--days", default=None, help="days to export, e.g. 1,3 (default: all)")
    nb.add_argument("--exercises", default=None,
                    help="only these exercise ids, comma-separated (default: every exercise)")


def run_export(args: argparse.Namespace) -> int:
    """Run ``drills export``; print what was written."""
    from graders.core import registry
    from graders.core.registry import parse_days

    try:
        if args.engine == "gradescope":
            from graders.export import gradescope

            days = parse_days(str(args.day))
            size = gradescope.export(args.out, days=days, wheels=args.wheels)
            print(f"wrote the Gradescope autograder of {', '.join(days)} to {args.out} "
                  f"({size / 1024:.0f} KiB)")
        else:
            from graders.export import nbgrader

            days = parse_days(args.days)
            only = {registry.resolve(q).id for q in args.exercises.split(",")} if args.exercises else None
            written = nbgrader.export(args.out, days=days, only=only)
            print(f"wrote the nbgrader course source to {args.out}: {len(written)} notebooks")
    except (KeyError, ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"drills export: {exc}", file=sys.stderr)
        return 2
    return 0
