"""``drills grade SUBMISSION... --out DIR``: grade a class, safely, in parallel, with reports.

Examples::

    drills grade submissions/*.zip --out grades/                # every day, hidden checks too
    drills grade subs/* --out grades/ --days 1,3 --workers 4
    drills grade subs/* --out part1/ --shard 1/8                # one task of a job array
    drills grade --merge part1/ part2/ ... --out grades/
    drills grade subs/* --out grades/ --scheduler tcp://10.0.0.5:8786

Heavy modules are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from graders.grading.guard_places import ROLES_FILE
from graders.grading.names import submission_names


def add_grade_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``drills grade``."""
    parser.add_argument("submissions", nargs="*", type=Path, metavar="SUBMISSION",
                        help="a folder or .zip holding exercises/dayN/ (or dayN/ directly)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the reports go")
    parser.add_argument("--days", default="", metavar="1,3", help="grade only these days")
    parser.add_argument("--exercises", default="", metavar="ID,...", help="grade only these exercise ids")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="submissions graded at once")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="grade on the workers of this Dask scheduler")
    parser.add_argument("--shard", default=None, metavar="K/N", help="grade only the K-th of N shares")
    parser.add_argument("--merge", nargs="+", type=Path, default=None, metavar="DIR",
                        help="merge the reports of these folders (from --shard runs) into --out")
    parser.add_argument("--timeout-per-test", type=float, default=60.0, metavar="S")
    parser.add_argument("--timeout-per-submission", type=float, default=900.0, metavar="S")
    parser.add_argument("--memory-limit", type=int, default=12288, metavar="MB",
                        help="address-space limit of a grading process")
    parser.add_argument("--output-limit", type=int, default=32, metavar="MB",
                        help="largest file (captured output included) a grading process may write")
    parser.add_argument("--profile", default="grading", help="hypothesis profile (default: grading)")
    parser.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                        help="where graded submissions are remembered (default: DIR/.cache)")
    parser.add_argument("--no-cache", action="store_true", help="grade everything again")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-fork-server", action="store_true",
                        help="start every grading process from scratch (slower; same grades)")
    parser.add_argument("--no-separate-users", action="store_true",
                        help="as root, grade under root's own user id instead of one user id per "
                        "submission at a time (weaker isolation; same grades)")
    parser.add_argument("--update", action="store_true",
                        help="keep the other submissions already in --out; replace only those graded now")
    from graders.course.cli import add_staff_arguments  # the course's reports (graders.course)

    add_staff_arguments(parser)


class UsageError(ValueError):
    """The command line asks for something that cannot be done (exit status 2)."""


def _days(spec: str) -> list[str]:
    from graders.core import registry

    try:
        return registry.parse_days(spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _shard(items: list, spec: str | None) -> list:
    if not spec:
        return items
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise UsageError("--shard K/N takes two numbers, e.g. 1/8") from None
    if not 1 <= k <= n:
        raise UsageError("--shard K/N needs 1 <= K <= N")
    return [x for i, x in enumerate(items) if i % n == k - 1]


def _cache_key(kit_digest: str, job) -> str:
    from dataclasses import asdict

    doc = {"kit": kit_digest, "files": job.digest, "days": job.days, "exercises": sorted(job.exercises),
           "profile": job.profile, "limits": asdict(job.limits)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def run_grade(args: argparse.Namespace) -> int:
    """Run ``drills grade``; return the exit status."""
    from graders.grading import outputs

    if args.merge:
        results: list[dict] = []
        meta: dict = {}
        isolation: list[str] = []
        for folder in args.merge:
            try:
                part, meta = outputs.load(folder)
            except ValueError as exc:
                print(f"drills grade --merge: {exc}", file=sys.stderr)
                return 2
            results += part
            isolation.append(meta.get("isolation", ""))
        names = [r["submission"] for r in results]
        if len(set(names)) != len(names):
            print("drills grade --merge: a submission appears in two folders", file=sys.stderr)
            return 2
        outputs.write_all(results, args.out, {**meta, "isolation": _isolation(isolation)})
        print(f"merged {len(results)} submissions into {args.out}")
        return _course(args)
    if not args.submissions:
        print("drills grade: give at least one SUBMISSION (or --merge DIR...)", file=sys.stderr)
        return 2
    try:
        status = _grade(args)
    except UsageError as exc:
        print(f"drills grade: {exc}", file=sys.stderr)
        return 2
    return status or _course(args)


def _course(args: argparse.Namespace) -> int:
    """The reports again with the staff's files (roster, deadlines, overrides) and analytics."""
    from graders.course.cli import after_grade

    return after_grade(args)


def _grade(args: argparse.Namespace) -> int:
    from graders.core import registry
    from graders.grading import atomic, executors, intake, kit as kitmod, outputs, procs, slots
    from graders.grading.child import Limits
    from graders.grading.grade import Job, close_servers, expected_checks, prewarm

    # everything the command line says is checked before anything is copied or written
    missing = [str(p) for p in args.submissions if not p.exists()]
    if missing:  # a mistyped path, not a submission to flag
        raise UsageError(f"no such submission: {', '.join(missing)}")
    days = _days(args.days)
    exercises = [e.strip() for e in args.exercises.split(",") if e.strip()]
    unknown = [e for e in exercises if e not in registry.by_id()]
    if unknown:
        raise UsageError(f"no such exercise {', '.join(unknown)}")
    paths = sorted({p.resolve(): p for p in args.submissions}.values(), key=lambda p: str(p))
    pairs = _shard(list(zip(submission_names(paths), paths)), args.shard)
    limits = Limits(per_test=args.timeout_per_test, per_submission=args.timeout_per_submission,
                    memory_mb=args.memory_limit, output_mb=args.output_limit)
    # other students' submissions and the reports are off limits (never a whole top-level folder)
    parents = sorted({p.resolve().parent for p in paths if len(p.resolve().parent.parts) > 2})
    protected = sorted({*parents, args.out.resolve()})
    procs.become_subreaper()  # what a lost fork server's grading process left comes back here
    procs.prctl(procs.PR_SET_DUMPABLE, 0)  # its pipes to the fork servers are not in reach
    work = Path(tempfile.mkdtemp(prefix="drills-grade-"))
    out_mode = None
    try:
        try:
            # what the protected folders are, so that a flag names them ("the reports folder")
            (work / ROLES_FILE).write_text(json.dumps(
                {"submissions": [str(p) for p in parents], "reports": [str(args.out.resolve())]}), encoding="utf-8")
            separate = slots.policy(not args.no_separate_users, work).separate
            kit = kitmod.prepare(work / "kits")
            digest = kit.digest
            jobs: list[Job] = []
            for name, path in pairs:
                sub = intake.read(path, set(days), name=name)
                jobs.append(Job(name, sub.files, days, exercises, args.profile, limits, sub.refused, sub.notes,
                                sub.digest, fork_server=not args.no_fork_server,
                                separate_users=not args.no_separate_users))
            args.out.mkdir(parents=True, exist_ok=True)
            if separate:  # no other user id may read the reports while grading
                out_mode = os.stat(args.out).st_mode & 0o7777
                os.chmod(args.out, 0o700)
            cache = None if args.no_cache else (args.cache_dir or args.out / ".cache")
            results, todo = [], []
            for job in jobs:
                hit = _cached(cache / f"{_cache_key(digest, job)}.json") if cache else None
                if hit is not None:
                    results.append({**hit, "submission": job.name})
                else:
                    todo.append(job)
            if todo and not args.scheduler:
                if not args.no_fork_server:
                    prewarm(kit, work, min(max(1, args.workers), len(todo)), todo[0])
                present = sorted({rel.split("/")[0] for j in todo for rel in j.files} & set(days))
                expected_checks(kit, todo[0], work, present)  # collect once, before the workers start
            if args.scheduler:
                stream = executors.run_dask(todo, args.scheduler, protected, digest)
            else:
                stream = executors.run_local(todo, args.workers, work, protected, kit)
            by_name = {job.name: job for job in todo}
            for record in _progress(stream, len(todo), args.no_progress):
                results.append(record)
                if cache is not None:
                    _cache_folder(cache, explicit=args.cache_dir is not None, private=separate)
                    key = _cache_key(digest, by_name[record["submission"]])
                    atomic.write(cache / f"{key}.json", json.dumps(record))
        finally:
            close_servers()
            kitmod.remove_tree(work)
        meta = {"digest": digest, "days": days, "exercises": exercises, "profile": args.profile,
                "isolation": _isolation([r.pop("isolation", "") for r in results])}
        if args.update:  # the other submissions already in --out keep their rows
            from graders.course.regrade import keep_others

            results, meta = keep_others(args.out, results, meta)
        outputs.write_all(results, args.out, meta)
    finally:
        if out_mode is not None:
            os.chmod(args.out, out_mode)
    flagged = sum(bool(r["flags"]) for r in results)
    print(f"graded {len(todo)} submission(s), {len(results) - len(todo)} from the cache, "
          f"{flagged} flagged: {args.out / 'grades.csv'}, {args.out / 'summary.html'}")
    return 0


def _cache_folder(cache: Path, *, explicit: bool, private: bool) -> None:
    """Make the cache folder: ``--cache-dir`` as given; the default one (inside the reports
    folder) never through a link or over something else. ``private``: only root reads it."""
    from graders.grading import atomic

    if explicit:
        cache.mkdir(parents=True, exist_ok=True)
    else:
        atomic.folder(cache)
    if private:
        os.chmod(cache, 0o700)


def _cached(path: Path) -> dict | None:
    """A result record from the cache: a regular file holding one (never a FIFO, a link, or
    something that is not a record), else None."""
    from graders.grading import atomic

    text = atomic.read_text(path)
    try:
        record = json.loads(text) if text is not None else None
    except ValueError:
        return None
    keys: dict[str, type | tuple[type, ...]] = {"exercises": dict, "flags": list, "days": dict,
                                                "total": (int, float), "max_total": (int, float)}
    if not isinstance(record, dict) or not all(isinstance(record.get(k), t) for k, t in keys.items()):
        return None
    return record


def _isolation(lines: list[str]) -> str:
    """The isolation of a run's submissions in words (several, when they differ: a merge, or
    results from the cache of another run)."""
    return " / ".join(sorted({line for line in lines if line}))


def _progress(stream, total: int, quiet: bool):
    from tqdm import tqdm

    with tqdm(total=total, unit="submission", desc="grading", disable=quiet or total == 0,
              file=sys.stderr, dynamic_ncols=True) as bar:
        for record in stream:
            bar.set_postfix_str(record["submission"][:24])
            bar.update(1)
            yield record
