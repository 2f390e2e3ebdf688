"""``drills export gradescope --day N --out FILE.zip``: a Gradescope autograder for one day.

The zip holds, at its root, what Gradescope runs:

- ``setup.sh`` (once, when the image is built): a Python 3.11 virtual environment with the kit's
  dependencies, from bundled wheels when the zip has a ``wheels/`` folder (offline);
- ``run_autograder`` (per submission): grades ``/autograder/submission`` with the public and
  hidden checks (:mod:`graders.export.gradescope_run`) and writes
  ``/autograder/results/results.json``;
- ``kit/``: the grading kit of the day: stubs, every grader test, the reference, the data.

``DRILLS_AUTOGRADER_ROOT`` moves ``/autograder`` (tests use a temporary folder) and
``DRILLS_PYTHON`` names the interpreter ``run_autograder`` uses.
The archive is reproducible: sorted entries, fixed timestamps and permissions.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from graders import _runtime, release
from graders import release_files as files

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image: install the kit's dependencies.
set -euo pipefail
ROOT="${DRILLS_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/drills-venv"
if ! command -v python3.11 >/dev/null 2>&1; then
    apt-get update && apt-get install -y python3.11 python3.11-venv
fi
python3.11 -m venv "$VENV"
if [ -d "$SOURCE/wheels" ]; then
    "$VENV/bin/pip" install --no-index --find-links "$SOURCE/wheels" -r "$SOURCE/kit/requirements.txt"
else
    "$VENV/bin/pip" install ${DRILLS_PIP_ARGS:-} -r "$SOURCE/kit/requirements.txt"
fi
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission: grade it and write results/results.json.
set -uo pipefail
ROOT="${{DRILLS_AUTOGRADER_ROOT:-/autograder}}"
PY="${{DRILLS_PYTHON:-$ROOT/drills-venv/bin/python}}"
cd "$ROOT/source/kit" || exit 1
exec "$PY" -m graders.export.gradescope_run --day {day} --root "$ROOT"
"""

# The grading kit needs the runner, not the instructor commands that build it.
LEAVE_OUT = ("graders.testing", "graders.stubgen", "graders.release", "graders.export.gradescope",
             "graders.export.nbgrader", "graders.grading")
SEEDS = ("graders.export.gradescope_run", "graders.export.checks_report")
_DATE = (1980, 1, 1, 0, 0, 0)


def contents(day: str, *, wheels: Path | None = None) -> dict[str, tuple[bytes, int]]:
    """Every entry of the zip: ``{path: (bytes, unix mode)}``."""
    kit, _ = release.collect([day], with_reference=True, with_hidden=True, seeds=SEEDS,
                             leave_out=LEAVE_OUT)
    kit["requirements.txt"] = files.requirements(
        _runtime.KIT_ROOT / "pyproject.toml", tf=day == "day5").encode("utf-8")
    out = {f"kit/{rel}": (data, 0o644) for rel, data in kit.items()}
    out["setup.sh"] = (SETUP_SH.encode("utf-8"), 0o755)
    out["run_autograder"] = (RUN_AUTOGRADER.format(day=day).encode("utf-8"), 0o755)
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


def export(out: Path, *, day: str, wheels: Path | None = None) -> int:
    """Write the autograder zip of ``day`` to ``out``; return its size in bytes."""
    if not _runtime.REFERENCE_DIR.is_dir():
        raise FileNotFoundError("this kit has no reference/: export from the instructor kit")
    write_zip(out, contents(day, wheels=wheels))
    return out.stat().st_size
