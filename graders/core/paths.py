"""Where everything lives: the kit's folders, the files of a module of exercises, and which
source files are the student's.

A module of exercises has a short name, ``day1.tensors`` (an exercise id without its last part):
its stub is ``exercises/day1/tensors.py``, its reference ``reference/day1/tensors.py``, its
graders ``graders/day1/test_tensors.py`` (module ``graders.day1.test_tensors``) and, in a
student release, the reference's recorded answers ``graders/golden/day1/tensors.json``.
:class:`graders.core.registry.Exercise` has the same as properties.

Nothing here imports torch or pytest.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent.parent
GRADERS_DIR = KIT_ROOT / "graders"
EXERCISES_DIR = KIT_ROOT / "exercises"
REFERENCE_DIR = KIT_ROOT / "reference"
REGISTRY_FILE = GRADERS_DIR / "registry.toml"
GOLDEN_DIR = GRADERS_DIR / "golden"

_LIB_DIRS = tuple(
    str(Path(p).resolve())
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}
    if p
)


def _split(short: str) -> tuple[str, str]:
    """``("day1", "tensors")`` for ``day1.tensors`` or an exercise id ``day1.tensors.describe``."""
    day, module = short.split(".")[:2]
    return day, module


def module_file(root: Path, short: str) -> Path:
    """The source of module ``short`` (``day1.tensors``) in the tree ``root``: ``root/day1/tensors.py``."""
    day, module = _split(short)
    return root / day / f"{module}.py"


def stub_file(short: str) -> Path:
    """The stub students edit: ``exercises/day1/tensors.py``."""
    return module_file(EXERCISES_DIR, short)


def reference_file(short: str) -> Path:
    """The solution: ``reference/day1/tensors.py``."""
    return module_file(REFERENCE_DIR, short)


def grader_file(short: str, graders: Path = GRADERS_DIR) -> Path:
    """The grader tests: ``graders/day1/test_tensors.py`` (under another ``graders`` folder if given)."""
    day, module = _split(short)
    return graders / day / f"test_{module}.py"


def grader_module(short: str) -> str:
    """The grader tests' module name: ``graders.day1.test_tensors``."""
    day, module = _split(short)
    return f"graders.{day}.test_{module}"


def golden_file(short: str, root: Path = GOLDEN_DIR) -> Path:
    """The reference's recorded answers: ``graders/golden/day1/tensors.json`` (under ``root`` if given)."""
    day, module = _split(short)
    return root / day / f"{module}.json"


def is_student_path(path: str) -> bool:
    """True for a source file of the code under test: not the kit's graders, not the standard
    library, not an installed package."""
    if not path or path.startswith("<frozen"):
        return False
    try:
        resolved = str(Path(path).resolve())
    except OSError:
        return True
    if resolved.startswith(str(GRADERS_DIR)):
        return False
    if "site-packages" in resolved or "dist-packages" in resolved:
        return False
    return not any(resolved.startswith(d + os.sep + "lib") for d in _LIB_DIRS)
