"""Hostile submissions, each the reference day1/tensors.py with one exercise (``describe``) made
hostile, so the honest exercises beside it (``batched_gather``) must keep their points.

``CHEATS`` must be flagged and score 0 on ``describe``; ``LIES`` must score 0 on ``describe``
(failed or flagged: what they return or do must not pass a check); ``FAULTS`` must cost
``describe`` its points without stopping the run (a crash is flagged as an incident);
``MODULE_CHEATS`` stop every import of the module, so every exercise in it is flagged. Each
snippet is appended to the reference module: ``_honest`` is the reference ``describe``, so a
cheat that went unnoticed would pass. In every case ``batched_gather`` (honest) keeps its
points, and the honest submissions of the class keep theirs.

The cases come in families, one module each beside this one (:data:`FAMILIES`), each with the
same four tables; this module holds the first family and gathers the others.
"""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path

from redteam.snippets import KIT, REF_PATH as _REF_PATH, fn as _fn

#: The other families of hostile submissions (modules of this package), gathered below.
FAMILIES = ("run_harm", "hiding", "grader_state", "lies", "talk_out")


CHEATS: dict[str, str] = {
    "os_exit": _fn("os._exit(0)"),
    "sys_exit": _fn("sys.exit(0)"),
    "patch_at_import": "torch.allclose = lambda *a, **k: True\n",
    "skip_in_function": _fn("import pytest\npytest.skip('later')"),
    "pytest_exit": _fn("import pytest\npytest.exit('bye', returncode=0)"),
    "keyboard_interrupt": _fn("raise KeyboardInterrupt"),
    "patch_allclose": _fn("torch.allclose = lambda *a, **k: True"),
    "patch_assert_close": _fn("import torch.testing\ntorch.testing.assert_close = lambda *a, **k: None"),
    "patch_numpy_testing": _fn("import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None"),
    "patch_builtins": _fn("import builtins\nbuiltins.isinstance = lambda *a: True"),
    "patch_grader_checks": _fn("import graders.checks\ngraders.checks.fail = lambda *a, **k: None"),
    "patch_tensor_eq": _fn("torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)"),
    "read_reference_by_path": _fn(f"open({_REF_PATH}).read()"),
    "read_reference_copy": _fn("from graders.core import runtime\nos.listdir(runtime.REFERENCE_DIR)"),
    "import_reference": _fn("import reference.day1.tensors"),
    "reference_api": _fn("from graders import reference\nreturn reference('day1.tensors').describe(t)"),
    "edit_grader": _fn("import graders.day1.test_tensors as g\nopen(g.__file__, 'a').write('# mine')"),
    "write_outside": _fn("open('/tmp/drills-redteam-was-here', 'w').write('x')"),
    "read_hidden_checks": _fn("import graders\nopen(os.path.join(os.path.dirname(graders.__file__), 'day1', 'test_tensors.py')).read()"),
    "fork_bomb": _fn("while True:\n    os.fork()"),
    "subprocess_cat": _fn(f"import subprocess\nsubprocess.run(['cat', {_REF_PATH}])"),
    "network": _fn("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)"),
    "ctypes_segfault": _fn("import ctypes\nctypes.string_at(0)"),
    "gc_walk": _fn("import gc\n[o for o in gc.get_objects() if getattr(o, '__name__', '') == '_drills_reference']"),
    "pytest_current_test": _fn("if 'PYTEST_CURRENT_TEST' not in os.environ:\n    return {}"),
    "not_assessed": _fn("from graders.checks import not_assessed\nnot_assessed('no CUDA device')"),
    "raise_limits": _fn("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))"),
    "forge_channel": _fn(
        "import json\nfor fd in range(3, 40):\n    try:\n"
        "        os.write(fd, (json.dumps({'type': 'result', 'id': 'x', 'outcome': 'passed'}) + '\\n').encode())\n"
        "    except OSError:\n        pass"
    ),
}

#: Hostile code at module level that stops every import of the module: every exercise of the
#: module is flagged (the module never imports, so nothing in it can earn points).
MODULE_CHEATS: dict[str, str] = {
    "exit_at_import": "os._exit(0)\n",
    "skip_at_import": "import pytest\npytest.skip('nothing to see', allow_module_level=True)\n",
}

FAULTS: dict[str, str] = {
    "infinite_loop": _fn("while True:\n    pass"),
    "deep_recursion": _fn("sys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1) + 1\nf(0)"),
    "real_segfault": _fn("import faulthandler\nfaulthandler._sigsegv()"),
    "alloc_20gb": _fn("torch.empty(5 * 10**9)"),
    "print_100mb": _fn("print('x' * 100_000_000)"),
    "nan": "def describe(t):\n    return {k: float('nan') for k in ('shape', 'dtype')}\n",
    "wrong_signature": "def describe():\n    return {}\n",
}

#: Code that lies or misleads without touching the sandbox: it must earn nothing on ``describe``.
LIES: dict[str, str] = {}

for _family in FAMILIES:
    try:
        _module = importlib.import_module(f"redteam.{_family}")
    except ModuleNotFoundError:
        continue
    for _table, _mine in ((CHEATS, "CHEATS"), (FAULTS, "FAULTS"), (MODULE_CHEATS, "MODULE_CHEATS"),
                          (LIES, "LIES")):
        _theirs = getattr(_module, _mine, {})
        assert not set(_theirs) & set(_table), f"redteam.{_family} repeats a name"
        _table.update(_theirs)

#: Broken submissions that are not hostile: every exercise of the module scores 0.
BROKEN: dict[str, bytes] = {
    "syntax_error": b"def describe(:\n",
    "non_utf8": b"# \xff\xfe caf\xe9\nimport torch\ndef describe(t):\n    return {}\n",
}


def reference_text() -> str:
    return (KIT / "reference" / "day1" / "tensors.py").read_text(encoding="utf-8")


def build(dest: Path) -> dict[str, str]:
    """Write every submission under ``dest``; return ``{name: "cheat"|"fault"|"broken"|...}``."""
    ref = reference_text()
    header = "\nimport os\nimport sys\nimport torch\n"
    kinds: dict[str, str] = {}
    for kind, table in (("cheat", CHEATS), ("fault", FAULTS), ("module cheat", MODULE_CHEATS),
                        ("lie", LIES)):
        for name, snippet in table.items():
            folder = dest / name / "exercises" / "day1"
            folder.mkdir(parents=True)
            (folder / "tensors.py").write_text(ref + header + snippet, encoding="utf-8")
            kinds[name] = kind
    for name, data in BROKEN.items():
        (dest / name / "day1").mkdir(parents=True)
        (dest / name / "day1" / "tensors.py").write_bytes(data)
        kinds[name] = "broken"
    honest = dest / "honest" / "day1"
    honest.mkdir(parents=True)
    (honest / "tensors.py").write_text(ref, encoding="utf-8")
    kinds["honest"] = "honest"
    _zips(dest, ref, kinds)
    return kinds


def _zips(dest: Path, ref: str, kinds: dict[str, str]) -> None:
    with zipfile.ZipFile(dest / "zipped_honest.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice-final/exercises/day1/tensors.py", ref)
        zf.writestr("alice-final/exercises/day1/notes.txt", "ignored")
    kinds["zipped_honest"] = "honest"
    with zipfile.ZipFile(dest / "zip_slip.zip", "w") as zf:
        zf.writestr("day1/tensors.py", ref)
        zf.writestr("../../graders/day1/test_tensors.py", "def test_nothing():\n    pass\n")
    kinds["zip_slip"] = "refused"
    with zipfile.ZipFile(dest / "zip_bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("day1/tensors.py", ref)
        with zf.open("day1/padding.bin", "w", force_zip64=True) as fh:
            block = bytes(1 << 20)
            for _ in range(300):
                fh.write(block)
    kinds["zip_bomb"] = "refused"
