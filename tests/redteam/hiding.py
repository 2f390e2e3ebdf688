"""Hostile code that hides where it comes from: it runs in a thread or a callback, under another
file's name or a library's globals, from a module it wrote itself, or poses as a library's own
wrapper. The sandbox counts code as the submission's by origin (what it started, compiled or
wrote), so each of these is refused and flagged like the same code run directly.

Every case acts while ``describe``'s own check runs (a thread is joined, a finaliser runs when
the grader drops the tensor it was given), so the flag lands on ``describe``.
"""

from __future__ import annotations

from redteam.snippets import REF_PATH, fn


def once(body: str) -> str:
    """``body`` run on the first call of ``describe`` only (hypothesis calls it many times)."""
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return f"if not globals().get('_drills_done'):\n    globals()['_drills_done'] = True\n{lines}"


#: Where a copy of the reference would go: the submission's own temporary folder, which it may
#: write (reading the copy later is allowed, so the read of the reference is what must fail).
_COPY = "os.path.join(os.path.expanduser('~'), 'stolen-reference.py')"

#: A finaliser's trigger: an object the grader's tensor keeps, which dies when the grader drops
#: the tensor (in the grader's frames, after ``describe`` returned).
_KEEP = "t.__dict__.setdefault('_drills_keep', []).append({obj})"

#: Waits (a few seconds at most) until a thread started with ``_thread`` has ended.
_WAIT = ("import time\nend = time.monotonic() + 5\n"
         "while _thread._count() > before and time.monotonic() < end:\n    time.sleep(0.01)")

CHEATS: dict[str, str] = {
    # threads: a built-in target has no frame of the submission on its stack
    "thread_copies_reference": fn(once(
        f"import shutil, threading\nth = threading.Thread(target=shutil.copyfile, args=({REF_PATH}, {_COPY}))\n"
        "th.start()\nth.join()"
    )),
    "raw_thread_copies_reference": fn(once(
        f"import _thread, shutil\nbefore = _thread._count()\n"
        f"_thread.start_new_thread(shutil.copyfile, ({REF_PATH}, {_COPY}))\n" + _WAIT
    )),
    "thread_pool_copies_reference": fn(once(
        "import shutil\nfrom concurrent.futures import ThreadPoolExecutor\n"
        f"with ThreadPoolExecutor(1) as pool:\n    pool.submit(shutil.copyfile, {REF_PATH}, {_COPY}).result()"
    )),
    "timer_writes_outside": fn(once(
        "import pathlib, threading\n"
        "th = threading.Timer(0, pathlib.Path('/tmp/drills-redteam-was-here').write_text, args=('x',))\n"
        "th.start()\nth.join()"
    )),
    "thread_signals_parent": fn(once(
        "import threading\nth = threading.Thread(target=os.kill, args=(os.getppid(), 0))\nth.start()\nth.join()"
    )),
    # callbacks that run later, in the grader's frames
    "finalizer_copies_reference": fn(
        f"import shutil, weakref\nclass Box:\n    pass\nbox = Box()\n"
        f"weakref.finalize(box, shutil.copyfile, {REF_PATH}, {_COPY})\n" + _KEEP.format(obj="box")
    ),
    "atexit_copies_reference": fn(f"import atexit, shutil\natexit.register(shutil.copyfile, {REF_PATH}, {_COPY})"),
    "timer_signal_copies_reference": fn(once(
        "import shutil, signal\n"
        f"h = eval('lambda s, f: C(R, D)', {{'__name__': 'torch', 'C': shutil.copyfile, 'R': {REF_PATH}, 'D': {_COPY}}})\n"
        "signal.signal(signal.SIGVTALRM, h)\nsignal.setitimer(signal.ITIMER_VIRTUAL, 0.001)"
    )),
    # code that says it is someone else's
    "exec_with_library_globals": fn(
        f"ns = {{'__name__': 'torch', 'P': {REF_PATH}}}\n"
        "exec('class Boom:\\n    def __del__(self):\\n        open(P).read()\\n', ns)\n"
        + _KEEP.format(obj="ns['Boom']()")
    ),
    "function_from_compiled_code": fn(
        "import types\ncode = compile('open(P).read()', '<torch>', 'exec')\n"
        f"f = types.FunctionType(code, {{'__name__': 'torch', 'P': {REF_PATH}}})\n"
        "Boom = type('Boom', (), {'__del__': staticmethod(f), '__module__': 'torch'})\n"
        + _KEEP.format(obj="Boom()")
    ),
    "compile_under_library_name": fn("compile('x = 1', torch.__file__, 'exec')"),
    "code_renamed_to_library_file": fn("_honest.__code__.replace(co_filename=torch.__file__)"),
    "module_written_to_home": fn(once(
        "import importlib, pathlib\nhome = os.path.expanduser('~')\n"
        "pathlib.Path(home, 'drills_helper.py').write_text("
        f"'class Boom:\\n    def __del__(self):\\n        open(%r).read()\\n' % {REF_PATH})\n"
        "sys.path.insert(0, home)\nimportlib.invalidate_caches()\nimport drills_helper\n"
        + _KEEP.format(obj="drills_helper.Boom()")
    )),
    "wrapper_poses_as_torch": fn(
        "_old = torch.allclose\ndef fake(*a, **k):\n    return True\nfake.__module__ = 'torch'\n"
        "fake.__wrapped__ = _old\ntorch.allclose = fake"
    ),
    "fresh_thread_module": fn(once(
        "import _imp, _thread, importlib.machinery, shutil\n"
        "fresh = _imp.create_builtin(importlib.machinery.ModuleSpec('_thread', None))\n"
        f"before = _thread._count()\nfresh.start_new_thread(shutil.copyfile, ({REF_PATH}, {_COPY}))\n" + _WAIT
    )),
}

#: Code that outlives its check: a thread left running would change the grader's torch during the
#: next exercise's check. The grading process ends once such a check is reported (a fresh one
#: goes on), so the honest ``batched_gather`` keeps its points; ``describe`` answers wrongly.
FAULTS: dict[str, str] = {
    "thread_outlives_its_check": (
        "\ndef _later():\n    import time\n    time.sleep(1.0)\n"
        "    torch.Tensor.__getitem__ = lambda *a, **k: torch.zeros(())\n\n"
        "def describe(t):\n    import threading\n"
        "    if not globals().get('_drills_started'):\n        globals()['_drills_started'] = True\n"
        "        threading.Thread(target=_later, daemon=True).start()\n"
        "    return {'shape': ()}\n"
    ),
}


#: An honest ``describe`` (not a case of the tables above): written with libraries that compile
#: code (dataclasses, namedtuple, enum, typing, torch.jit.script, torch.fx), look at frames
#: (logging, traceback.format_exc) or start threads (concurrent.futures). None of that is the
#: submission hiding anything: it must get full marks without a flag.
HONEST_LIBRARIES = '''

# --- describe written with libraries that compile code, look at frames or start threads ------
import collections
import dataclasses
import enum
import logging
import traceback
import typing
from concurrent.futures import ThreadPoolExecutor

import torch.fx

_Shape = collections.namedtuple("_Shape", "dims")
_T = typing.TypeVar("_T")
_Kind = enum.Enum("_Kind", "leaf view")


@dataclasses.dataclass(frozen=True)
class _Meta:
    shape: tuple
    numel: int


class _Numel(torch.nn.Module):
    def forward(self, x):
        return x.numel()


def _numel(x: torch.Tensor) -> int:
    return x.numel()


_scripted = torch.jit.script(_numel)
_traced = torch.fx.symbolic_trace(_Numel())
_log = logging.getLogger("describe")
_reference_describe = describe


def describe(t: torch.Tensor) -> dict:
    meta = _Meta(tuple(t.shape), _Shape(tuple(t.shape)).dims and int(t.numel()) or 0)
    _log.debug("describing %s", meta)
    try:
        raise ValueError("formatted, not raised")
    except ValueError:
        traceback.format_exc()
    with ThreadPoolExecutor(1) as pool:
        out = pool.submit(_reference_describe, t).result()
    assert out["numel"] == meta.numel or meta.numel == 0
    if t.numel() and t.dtype == torch.float32 and not t.requires_grad:
        assert int(_scripted(t)) == t.numel() == int(_traced(t))
    return out
'''
