"""Where everything lives: the kit's folders, and which source files are the student's.

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

_LIB_DIRS = tuple(
    str(Path(p).resolve())
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}
    if p
)


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
