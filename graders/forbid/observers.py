"""What sees the calls: a torch-function mode, a dispatch mode, and the frames and builtins that
would hide calls from them (threads, the mode-stack switches)."""

from __future__ import annotations

import inspect
import os
import sysconfig
from types import FrameType
from typing import Any

import torch
from torch._ops import OpOverload, OpOverloadPacket
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from graders.forbid.spec import Spec

#: Builtins that take the observers' modes off torch's mode stacks.
MODE_SWITCHES = tuple(
    getattr(torch._C, name) for name in (
        "_pop_torch_dispatch_stack", "_pop_torch_function_stack", "_set_dispatch_mode",
        "_unset_dispatch_mode", "_set_torch_function_mode", "_unset_torch_function_mode",
    ) if hasattr(torch._C, name)
)
#: Python functions that take them off (the context managers of torch's own machinery).
MODE_SWITCH_FUNCTIONS: tuple[Any, ...] = ()
try:
    from torch.utils import _python_dispatch as _pd

    MODE_SWITCH_FUNCTIONS = tuple(
        getattr(_pd, name) for name in ("_disable_current_modes", "_pop_mode_temporarily",
                                        "_pop_mode") if hasattr(_pd, name))
except ImportError:  # pragma: no cover
    pass
MODE_SWITCH_CODES = {inspect.unwrap(f).__code__: f"{f.__module__}.{f.__name__}"
                      for f in MODE_SWITCH_FUNCTIONS if hasattr(inspect.unwrap(f), "__code__")}
THREAD_STARTS = tuple(
    getattr(__import__("_thread"), name) for name in ("start_new_thread", "start_joinable_thread")
    if hasattr(__import__("_thread"), name)
)
OP_CALL_CODES = frozenset(c for c in (getattr(OpOverload.__call__, "__code__", None),
                                       getattr(OpOverloadPacket.__call__, "__code__", None)) if c)
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_LIBRARY_DIRS = tuple(sorted({
    os.path.realpath(p) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")
    if (p := sysconfig.get_paths().get(key))
} | {os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep}))  # and graders/
_current_graph_task_id = getattr(torch._C, "_current_graph_task_id", None)


def library_frame(frame: FrameType | None) -> bool:
    """True for a frame of torch, the standard library, an installed package or the graders."""
    if frame is None:
        return True
    filename = frame.f_code.co_filename
    if filename.startswith(_TORCH_DIR):
        return True
    real = os.path.realpath(filename) if os.path.isabs(filename) else filename
    return real.startswith(_LIBRARY_DIRS)


def called_by_library(frame: FrameType) -> bool:
    """True when the first caller of ``frame`` outside ``contextlib`` is library code."""
    caller = frame.f_back
    while caller is not None and caller.f_code.co_filename.endswith(os.sep + "contextlib.py"):
        caller = caller.f_back
    return library_frame(caller)


class TorchObserver(TorchFunctionMode):
    def __init__(self, spec: Spec, seen: list[str]) -> None:
        super().__init__()
        self.spec, self.seen = spec, seen

    def __torch_function__(self, func, types, args=(), kwargs=None):
        hit = self.spec.match_torch(func)
        if hit and hit not in self.seen:
            self.seen.append(hit)
        return func(*args, **(kwargs or {}))


class AtenObserver(TorchDispatchMode):
    """Sees the dispatcher's operators, whatever called them."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps a mode's __torch_dispatch__ to keep torch.compile out of it, and that
        # wrapper imports torch._dynamo (some 900 modules, seconds) on the first operator. The
        # observers never run under torch.compile: no wrapper, no import.
        return False

    def __init__(self, spec: Spec, seen: list[str]) -> None:
        super().__init__()
        self.spec, self.seen = spec, seen
        self.names: dict[Any, str | None] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        hit = self.names.get(func, _UNSEEN)
        if hit is _UNSEEN:
            hit = self.names[func] = self.spec.match_op(func)
        if hit is None and self.spec.autograd and _current_graph_task_id is not None \
                and _current_graph_task_id() != -1:
            hit = self.spec.autograd
        if hit and hit not in self.seen:
            self.seen.append(hit)
        return func(*args, **(kwargs or {}))


_UNSEEN = object()
#: How hidden calls are named in the message.
HIDDEN_THREAD = "`threading` (code run in another thread is hidden from this check)"
HIDDEN_MODES = "torch's mode-stack switches (they hide calls from this check)"
