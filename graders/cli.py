"""The ``drills`` command: one thin subcommand per verb, each forwarding to a ``run(args)``.

    drills progress [--json] [dayN ...]     status, points and progress bars
    drills hint ID                          the next hint of an exercise
    drills watch [dayN]                     re-grade a module each time it is saved
    drills solution ID [--give-up]          the reference solution, once you pass
    drills grade SUBMISSION... --out DIR    grade a class (instructors)
    drills report DIR [--roster ...]        the reports again from the results and staff files
    drills similar SUBMISSION... --out DIR  similar code between submissions (instructors)
    drills release --out DIR                write the student kit (instructors)
    drills export gradescope|nbgrader ...   autograders for other engines (instructors)

Each verb lives in its own module; nothing heavy is imported until a verb runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

VERBS = {
    "progress": ("graders.learner.cli", "progress", "every exercise's status, with progress bars"),
    "hint": ("graders.learner.cli", "hint", "reveal the next hint of an exercise"),
    "watch": ("graders.learner.cli", "watch", "re-run the graders of a module each time it is saved"),
    "solution": ("graders.learner.cli", "solution", "show the reference solution of an exercise you pass"),
    "grade": ("graders.grading.cli", "grade", "grade many submissions (instructors)"),
    "report": ("graders.course.cli", "report", "the reports again with roster, deadlines, overrides (instructors)"),
    "similar": ("graders.course.cli", "similar", "pairs of submissions with similar code (instructors)"),
    "release": ("graders.release.build", "release", "write the student kit without the reference (instructors)"),
    "export": ("graders.export", "export", "export autograders for Gradescope or nbgrader (instructors)"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drills", description="Deep Learning Drills")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (module_name, prefix, help_text) in VERBS.items():
        sp = sub.add_parser(verb, help=help_text, description=help_text)
        if only is not None and verb != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            sp.set_defaults(unavailable=module_name)
            continue
        getattr(module, f"add_{prefix}_arguments")(sp)
        sp.set_defaults(func=getattr(module, f"run_{prefix}"))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verb = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(verb if verb in VERBS else None)
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 2
    if getattr(args, "unavailable", None):
        print(f"drills {args.verb} is not available in this kit ({args.unavailable} is missing).",
              file=sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
