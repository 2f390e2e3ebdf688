"""``drills export gradescope --day N --out FILE.zip``: a Gradescope autograder for a day (or several:
``--day 1,2``).

The zip holds, at its root, what Gradescope runs:

- ``setup.sh`` (once, when the image is built): a Python 3.11 virtual environment with the kit's
  dependencies, from bundled wheels when the zip has a ``wheels/`` folder (offline), else with
  the CPU build of torch (Gradescope has no GPU; the default build brings GBs of CUDA);
- ``run_autograder`` (per submission): grades ``/autograder/submission`` as ``drills grade``
  does, in its sandbox, with the public and hidden checks (:mod:`graders.export.gradescope_run`)
  and writes ``/autograder/results/results.json``;
- ``kit/``: the grading kit of the days: stubs, every grader test, the grading sandbox, the
  reference and the data (``kit/datasets``, put on ``PYTHONPATH`` by ``run_autograder``).

``DRILLS_AUTOGRADER_ROOT`` moves ``/autograder`` (tests use a temporary folder) and
``DRILLS_PYTHON`` names the interpreter ``run_autograder`` uses.
The archive is reproducible: sorted entries, fixed timestamps and permissions.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from graders.core import runtime
from graders.release import build as release, files

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image: install the kit's dependencies.
set -euo pipefail
ROOT="${{DRILLS_AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
VENV="$ROOT/drills-venv"
if ! command -v python3.11 >/dev/null 2>&1; then
    apt-get update && apt-get install -y python3.11 python3.11-venv
fi
python3.11 -m venv "$VENV"
if [ -d "$SOURCE/wheels" ]; then
    "$VENV/bin/pip" install --no-index --find-links "$SOURCE/wheels" -r "$SOURCE/kit/requirements.txt"
else
    # the CPU build of torch first: the default one pulls several GB of CUDA libraries
    "$VENV/bin/pip" install ${{DRILLS_PIP_ARGS:-}} --index-url "${{DRILLS_TORCH_INDEX:-{torch_index}}}" \\
        {torch_pins}
    "$VENV/bin/pip" install ${{DRILLS_PIP_ARGS:-}} -r "$SOURCE/kit/requirements.txt"
fi
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission: grade it and write results/results.json.
set -uo pipefail
ROOT="${{DRILLS_AUTOGRADER_ROOT:-/autograder}}"
PY="${{DRILLS_PYTHON:-$ROOT/drills-venv/bin/python}}"
KIT="$ROOT/source/kit"
export PYTHONPATH="$KIT:$KIT/datasets"
cd "$KIT" || exit 1
exec "$PY" -m graders.export.gradescope_run --days {days} --root "$ROOT"
"""

TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# The grading kit needs the runner and the sandbox, not the instructor commands that build it.
LEAVE_OUT = ("graders.testing", "graders.release.stubgen", "graders.release", "graders.export.gradescope",
             "graders.export.nbgrader", "graders.grading.cli")
# Modules the runner loads by name (``pytest -p ...``, ``python -m ...``).
SEEDS = ("graders.export.gradescope_run", "graders.grading.engine", "graders.grading.forkserver",
         "graders.grading.sandbox")
_DATE = (1980, 1, 1, 0, 0, 0)


def contents(days: list[str], *, wheels: Path | None = None) -> dict[str, tuple[bytes, int]]:
    """Every entry of the zip: ``{path: (bytes, unix mode)}``."""
    kit, _ = release.collect(days, with_reference=True, with_hidden=True, seeds=SEEDS,
                             leave_out=LEAVE_OUT)
    requirements = files.requirements(runtime.KIT_ROOT / "pyproject.toml",
                                      tf="day5" in days, lm="day4" in days)
    kit["requirements.txt"] = requirements.encode("utf-8")
    torch_pins = " ".join(f"'{line}'" for line in requirements.splitlines()
                          if line.split("=")[0].strip() in ("torch", "torchvision"))
    out = {f"kit/{rel}": (data, 0o644) for rel, data in kit.items()}
    out["setup.sh"] = (SETUP_SH.format(torch_index=TORCH_INDEX, torch_pins=torch_pins).encode("utf-8"),
                       0o755)
    out["run_autograder"] = (RUN_AUTOGRADER.format(days=",".join(days)).encode("utf-8"), 0o755)
    if wheels is not None:
        for path in sorted(wheels.glob("*.whl")):
            out[f"wheels/{path.name}"] = (path.read_bytes(), 0o644)
    return out


def write_zip(path: Path, entries: dict[str, tuple[bytes, int]]) -> None:
    """Write a reproducible zip: sorted names, one fixed date, explicit permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            data, mode = entries[name]
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            zf.writestr(info, data)


def export(out: Path, *, days: list[str], wheels: Path | None = None) -> int:
    """Write the autograder zip of ``days`` to ``out``; return its size in bytes."""
    if not runtime.REFERENCE_DIR.is_dir():
        raise FileNotFoundError("this kit has no reference/: export from the instructor kit")
    write_zip(out, contents(days, wheels=wheels))
    return out.stat().st_size
