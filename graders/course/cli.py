"""The course staff's verbs, one ``main(*, ...)`` each, and the staff options of ``drills grade``.

    drills report OUT [--roster R.csv] [--due TIME] [--late-policy 10%/day,cap=50%]
                      [--extensions E.csv] [--timestamps T.csv] [--overrides O.csv]
                      [--feedback public|all]
    drills similar SUBMISSION... --out OUT [--threshold 0.5]

The options of the staff's files are written once here (:func:`add_staff_arguments`) and used
by ``drills grade`` and ``drills report`` alike.
"""

from __future__ import annotations

import argparse
from pathlib import Path

STAFF = ("roster", "due", "late_policy", "extensions", "timestamps", "overrides", "feedback", "assignment")


def add_staff_arguments(parser: argparse.ArgumentParser) -> None:
    """The staff's files and settings (each remembered in OUT/course.json; ``none`` drops one)."""
    g = parser.add_argument_group("course staff (remembered in OUT/course.json; 'none' drops one)")
    g.add_argument("--roster", metavar="CSV", help="class list: submission,student_id,name,email,section[,...]")
    g.add_argument("--due", metavar="TIME", help="due date, ISO 8601 (2025-03-07T23:59, local time without offset)")
    g.add_argument("--late-policy", metavar="POLICY", help="e.g. 10%%/day,cap=50%% or 1pt/hour,grace=15min")
    g.add_argument("--extensions", metavar="CSV", help="submission (or student_id), then days, hours or due")
    g.add_argument("--timestamps", metavar="CSV", help="submission,submitted_at (else the roster's submitted_at)")
    g.add_argument("--overrides", metavar="CSV", help="submission,exercise,points|clear,comment,who")
    g.add_argument("--feedback", metavar="public|all", help="public: feedback files leave out the hidden checks")
    g.add_argument("--assignment", metavar="NAME", help="the gradebook column of the exports")


def staff_options(args: argparse.Namespace) -> dict:
    """The staff options given on the command line (None where not given)."""
    return {name: getattr(args, name, None) for name in STAFF}


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, metavar="OUT", help="a report folder of drills grade")
    parser.add_argument("--quiet", action="store_true", help="print only problems")
    add_staff_arguments(parser)


def run_report(args: argparse.Namespace) -> int:
    from graders.course import report

    return report.main(out=args.out, quiet=args.quiet, **staff_options(args))


def after_grade(args: argparse.Namespace) -> int:
    """The course's step at the end of ``drills grade``: the reports again with the staff's files."""
    from graders.course import report

    return report.main(out=args.out, quiet=True, **staff_options(args))


def add_similar_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION",
                        help="the folders or .zip files that were graded")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="where similarity.html/.csv/.json go (the report folder, to list them in summary.html)")
    parser.add_argument("--days", default="", metavar="1,3", help="compare only these days")
    parser.add_argument("--threshold", type=float, default=0.5, metavar="F",
                        help="list pairs whose shared code is at least this share of either file (0-1)")
    parser.add_argument("--min-tokens", type=int, default=40, metavar="N",
                        help="and at least this many shared tokens (short files alike by necessity are left out)")
    parser.add_argument("--ignore-reference", action="store_true",
                        help="also leave out code the reference solution contains")


def run_similar(args: argparse.Namespace) -> int:
    from graders.course import similarity

    return similarity.main(submissions=args.submissions, out=args.out, days=args.days, threshold=args.threshold,
                           min_tokens=args.min_tokens, ignore_reference=args.ignore_reference)
