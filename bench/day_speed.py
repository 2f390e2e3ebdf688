"""How long does `pytest exercises/dayN` take with correct code, as a multiple of the floor?

The floor is what any fresh run pays before a check: ``python -c "import torch, hypothesis,
pytest"`` plus a pytest run that collects nothing. Each day is graded on the reference
(``--drills-target reference``), and its time is printed as a ratio of the floor measured in the
same run (the goal: every day within 3x), with its slowest checks.

    python bench/day_speed.py                 # every day
    python bench/day_speed.py --days 1,3 --repeat 2
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent


def _time(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    return time.monotonic() - start, proc.stdout + proc.stderr


def floor(repeat: int) -> float:
    """Seconds of the imports plus an empty pytest run (median of ``repeat``)."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="drills-floor-") as tmp:
        for _ in range(repeat):
            a, _ = _time([sys.executable, "-c", "import torch, hypothesis, pytest"], KIT)
            b, _ = _time([sys.executable, "-m", "pytest", tmp, "-q", "-p", "no:cacheprovider"], Path(tmp))
            runs.append(a + b)
    return statistics.median(runs)


def day(name: str, repeat: int) -> tuple[float, str, list[str]]:
    """Seconds of the day on the reference (median), its scoreboard total, its slowest checks."""
    runs, out = [], ""
    for _ in range(repeat):
        took, out = _time([sys.executable, "-m", "pytest", f"exercises/{name}", "--drills-target", "reference",
                           "-q", "-p", "no:cacheprovider", "--tb=no", "--durations=3"], KIT)
        runs.append(took)
    total = re.findall(r"total: ([\d.]+ / [\d.]+ points)", out)
    slow = re.findall(r"^(\d+\.\d+s) call\s+\S+::(\S+)", out, re.MULTILINE)
    return statistics.median(runs), (total[-1] if total else "?"), [f"{t} {n}" for t, n in slow]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", default="1,2,3,4,5,6")
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    base = floor(max(args.repeat, 3))  # the floor is short: its noise would sway every ratio
    print(f"floor (imports + empty pytest): {base:.2f} s")
    for d in (f"day{x.strip()}" for x in args.days.split(",")):
        took, total, slow = day(d, args.repeat)
        verdict = "ok" if took <= 3 * base else "over 3x"
        print(f"{d}: {took / base:5.2f}x the floor ({took:.1f} s, {verdict}); reference {total}; "
              f"slowest: {', '.join(slow)}")


if __name__ == "__main__":
    main()
