"""How fast does `drills grade` grade a class?

Generates a class of submissions mixing right, partial and broken code (from the reference
and the stubs), grades it with 1 and then 2 workers, and prints submissions per minute,
submission-days per minute and the per-submission overhead beyond the checks themselves
(process start, imports, collection, sandbox bookkeeping).

    python bench/grade_class.py                       # 40 submissions, day 1, drills profile
    python bench/grade_class.py --count 20 --days 1,2 --profile grading --workers 1,2,4
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent


def _stub_out(source: str, stub: str, name: str) -> str:
    """``source`` with the function ``name`` replaced by the stub's version."""
    pattern = re.compile(rf"^(def|class) {re.escape(name)}\b.*?(?=^\S)", re.S | re.M)
    found = pattern.search(stub + "\n_end = 0\n")
    return pattern.sub(lambda _: found.group(0), source + "\n_end = 0\n", count=1) if found else source


def make_class(dest: Path, count: int, days: list[str], seed: int = 0) -> None:
    """Write ``count`` submissions: 40% right, 40% partial, 20% broken or missing a day."""
    rng = random.Random(seed)
    for i in range(count):
        kind = ("right", "right", "partial", "partial", "broken")[i % 5]
        root = dest / f"student{i:03d}" / "exercises"
        for day in days:
            for ref in sorted((KIT / "reference" / day).glob("*.py")):
                text = ref.read_text(encoding="utf-8")
                stub = (KIT / "exercises" / day / ref.name).read_text(encoding="utf-8")
                if kind == "partial":
                    names = re.findall(r"^(?:def|class) ([A-Za-z_]\w*)", stub, re.M)
                    for name in rng.sample(names, k=len(names) // 2):
                        text = _stub_out(text, stub, name)
                elif kind == "broken" and ref.name != "__init__.py":
                    text = rng.choice([stub, "def oops(:\n", text.replace("return", "return None #", 1)])
                (root / day).mkdir(parents=True, exist_ok=True)
                (root / day / ref.name).write_text(text, encoding="utf-8")


def grade(subs: Path, out: Path, workers: int, days: str, profile: str, extra: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "graders.cli", "grade", *sorted(map(str, subs.iterdir())), "--out", str(out),
         "--workers", str(workers), "--days", days, "--profile", profile, "--no-cache", "--no-progress", *extra],
        cwd=KIT, check=True, stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - start


def overhead(out: Path) -> tuple[float, float]:
    """Median seconds per submission: (wall of its grading, of which spent outside the checks)."""
    timings = json.loads((out / "timings.json").read_text())
    walls = [t["wall_s"] for t in timings.values()]
    extra = [t["wall_s"] - sum(t["checks"].values()) for t in timings.values()]
    return statistics.median(walls), statistics.median(extra)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=40)
    p.add_argument("--days", default="1")
    p.add_argument("--profile", default="drills")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `drills grade` options")
    args = p.parse_args()
    days = [f"day{d.strip()}" for d in args.days.split(",")]
    with tempfile.TemporaryDirectory(prefix="drills-bench-") as tmp:
        subs = Path(tmp) / "class"
        make_class(subs, args.count, days)
        print(f"class: {args.count} submissions x {len(days)} day(s) ({args.days}), profile {args.profile}")
        for workers in (int(w) for w in args.workers.split(",")):
            out = Path(tmp) / f"out{workers}"
            wall = grade(subs, out, workers, args.days, args.profile, args.extra)
            per, extra = overhead(out)
            rate = args.count * 60 / wall
            print(f"workers={workers}: {wall:7.1f} s  {rate:6.1f} submissions/min  "
                  f"{rate * len(days):6.1f} submission-days/min  median per submission {per:5.1f} s "
                  f"(overhead beyond the checks {extra:4.1f} s)")
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
