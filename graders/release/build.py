"""``drills release --out DIR``: write the student kit, with the reference truly left out.

The release is an allow-list copy driven by the registry (:mod:`graders.release.tree`): the stubs,
the public grader tests (hidden checks cut out), the grader modules they import, the data, a
student README and pyproject (:mod:`graders.release.files`). Where a public check calls the
reference, the release serves answers recorded from the reference on the same derandomised
inputs (:mod:`graders.checks.golden`). The output is reproducible: the same kit gives the same bytes.

    drills release --out ../drills-student              # every day of the registry
    drills release --out ../drills-day1 --days 1        # day 1 only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from graders.core import paths, registry, runtime
from graders.release import files, tree

FIXED_MTIME = 315532800  # 1980-01-01, the earliest time a zip archive can hold
#: Left out of every student kit besides the instructor verbs of the command.
INSTRUCTOR_MODULES = ("graders.testing", "graders.release")


def _instructor_modules() -> list[str]:
    verbs = [m for v, m in tree.verbs(runtime.KIT_ROOT).items() if v not in tree.STUDENT_VERBS]
    packages = [".".join(m.split(".")[:2]) for m in verbs]  # graders.grading.cli: all of grading
    return sorted(set(packages) | set(INSTRUCTOR_MODULES))


def _student_verbs() -> list[str]:
    return sorted({m for v, m in tree.verbs(runtime.KIT_ROOT).items() if v in tree.STUDENT_VERBS})


def collect(days: list[str], *, with_reference: bool, with_hidden: bool,
            seeds: tuple[str, ...] = (), leave_out: tuple[str, ...] | None = None,
            ) -> tuple[dict[str, bytes], list[str]]:
    """Every shipped file as ``{relative path: bytes}``, and remarks (hidden checks cut out)."""
    root = runtime.KIT_ROOT
    out: dict[str, bytes] = {}
    notes: list[str] = []
    modules = sorted({e.module for e in registry.exercises() if e.day in days})
    for day in days:
        for folder in ("exercises",) + (("reference",) if with_reference else ()):
            for path in tree.day_files(root, folder, day):
                out[path.relative_to(root).as_posix()] = path.read_bytes()
    grader_seeds = ["graders", "graders.plugin", "graders.learner.notebook", tree.command(root),
                    *_student_verbs(), *seeds]
    grader_seeds += [paths.grader_module(m) for m in modules]
    skip = _instructor_modules() if leave_out is None else list(leave_out)
    for path in tree.grader_modules(root, grader_seeds, leave_out=skip):
        rel = path.relative_to(root).as_posix()
        text = path.read_text("utf-8")
        day = path.parent.name
        if not with_hidden and day in days and path.name.startswith("test_"):
            kept, cut = tree.strip_hidden(text, tree.hidden_patterns(day, path.stem[5:]))
            notes += [f"left out the hidden check {rel}::{name}" for name in cut]
            if kept is None:
                continue
            text = kept
        out[rel] = text.encode("utf-8")
    registry_text = registry.REGISTRY_FILE.read_text("utf-8")
    out["graders/registry.toml"] = tree.filter_registry(registry_text, days).encode("utf-8")
    for path in tree.data_files(root):
        out[path.relative_to(root).as_posix()] = path.read_bytes()
    out["conftest.py"] = (root / "conftest.py").read_bytes()
    packages = sorted({str(Path(p).parent).replace("/", ".") for p in out
                       if p.startswith("graders/") and p.endswith("/__init__.py")} | {"graders"})
    packages.append("drills_data")
    out["pyproject.toml"] = files.student_pyproject(
        root / "pyproject.toml", packages, tf="day5" in days).encode("utf-8")
    out[".gitignore"] = files.GITIGNORE.encode("utf-8")
    return out, notes


def record_golden(days: list[str], dest: Path, *, profiles: list[str]) -> list[str]:
    """Run the public checks that call the reference, against it, recording into ``dest``."""
    root = runtime.KIT_ROOT
    targets: list[str] = []
    deselect: list[str] = []  # hidden checks, also those the registry names, record nothing
    for module in sorted({e.module for e in registry.exercises() if e.day in days}):
        day, name = module.split(".")
        helpers = [p.read_text("utf-8") for p in (root / "graders" / day).glob("_*.py")]
        grader = paths.grader_file(module, root / "graders")
        if grader.exists() and any("reference(" in t for t in [grader.read_text("utf-8"), *helpers]):
            public, cut = tree.strip_hidden(grader.read_text("utf-8"), tree.hidden_patterns(day, name))
            if public is not None:
                targets.append(f"exercises/{day}/{name}.py")
                deselect += [f"--deselect=exercises/{day}/{name}.py::{test}" for test in cut]
    if not targets:
        return []
    env = {**os.environ, "DRILLS_RECORD_GOLDEN": str(dest)}
    notes: list[str] = []
    for profile in profiles:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", *targets, *deselect, "--drills-target", "reference",
             "--drills-public-only", "--hypothesis-profile", profile, "-p", "no:cacheprovider",
             "-q", "--no-header"],
            cwd=root, env=env, capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            notes.append(f"the reference does not pass every public check ({profile}):\n"
                         + proc.stdout[-2000:])
    notes_file = dest / "_notes.json"
    if notes_file.exists():
        notes += json.loads(notes_file.read_text("utf-8"))
        notes_file.unlink()
    return notes


def write_tree(out: Path, contents: dict[str, bytes]) -> None:
    """Write ``contents`` under ``out`` in sorted order, every file with the same fixed mtime."""
    for rel in sorted(contents):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(contents[rel])
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))


def release(out: Path, *, days: list[str], profiles: list[str] | None = None) -> list[str]:
    """Write the student kit of ``days`` into ``out`` (which must be empty); return remarks."""
    if not runtime.REFERENCE_DIR.is_dir():
        raise FileNotFoundError("this kit has no reference/: run drills release in the instructor kit")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: choose a new folder")
    contents, notes = collect(days, with_reference=False, with_hidden=False)
    contents["README.md"] = files.student_readme(days).encode("utf-8")
    with tempfile.TemporaryDirectory(prefix="drills-golden-") as tmp:
        notes += record_golden(days, Path(tmp), profiles=profiles or ["drills"])
        for path in sorted(Path(tmp).rglob("*.json")):
            rel = path.relative_to(tmp)
            if rel.parts[0] in days:
                contents[f"graders/golden/{rel.as_posix()}"] = path.read_bytes()
    out.mkdir(parents=True, exist_ok=True)
    write_tree(out, contents)
    return notes


def add_release_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``drills release``."""
    parser.add_argument("--out", required=True, type=Path, help="an empty or new folder")
    parser.add_argument("--days", default=None, help="days to release, e.g. 1,3 (default: all)")
    parser.add_argument("--profiles", default="drills",
                        help="hypothesis profiles to record golden outputs for (default: drills)")


def run_release(args: argparse.Namespace) -> int:
    """Run ``drills release``; print what was written and every remark."""
    try:
        days = registry.parse_days(args.days)
        notes = release(args.out, days=days, profiles=args.profiles.split(","))
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"drills release: {exc}", file=sys.stderr)
        return 2
    shipped = [p for p in args.out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in shipped)
    print(f"wrote the student kit of {', '.join(days)} to {args.out}: {len(shipped)} files, "
          f"{size / 1024:.0f} KiB")
    for line in notes:
        print(f"  note: {line}")
    return 0

