"""Building blocks of hostile submissions."""

from __future__ import annotations

from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
#: An expression for the path of the kit's reference day1/tensors.py, from inside the venv.
REF_PATH = 'os.path.join(os.path.dirname(sys.executable), "..", "..", "reference", "day1", "tensors.py")'


def fn(body: str, head: str = "") -> str:
    """A hostile ``describe`` that runs ``body`` and then answers correctly (``head`` goes at
    module level before it)."""
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return f"{head}\n_honest = describe\n\ndef describe(t):\n{lines}\n    return _honest(t)\n"
