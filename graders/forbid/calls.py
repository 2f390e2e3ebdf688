"""``forbidden_calls`` and ``by_hand``: fail a check whose code calls what the exercise forbids."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from graders.forbid import tables
from graders.forbid.observers import (
    HIDDEN_MODES,
    HIDDEN_THREAD,
    MODE_SWITCH_CODES,
    MODE_SWITCHES,
    OP_CALL_CODES,
    THREAD_STARTS,
    AtenObserver,
    TorchObserver,
    called_by_library,
    library_frame,
)
from graders.forbid.spec import Spec


@contextmanager
def forbidden_calls(*names: str, what: str, why: str = "") -> Iterator[None]:
    """Fail the check if the code run inside the block calls any of ``names``.

    Args:
        names: dotted names of functions, Tensor methods or properties, classes (their methods
            count), whole modules or operators: ``"torch.Tensor.transpose"``,
            ``"torch.nn.functional.unfold"``, ``"torch.Tensor.T"``, ``"torch.func"``,
            ``"sklearn"``, ``"torch.nn.Dropout"``, ``"torch.ops.aten.embedding_dense_backward"``.
            Each also stands for the aten operators only it reaches (:data:`ATEN_FAMILIES`),
            however they are called.
        what: the exercise's function, as the student knows it (``"transpose_view"``).
        why: one sentence on what the exercise wants the student to build instead.

    Code run inside the block that starts a thread, or takes torch's modes off their stacks,
    fails too: the observers could not see what it calls.

    Example:
        >>> with forbidden_calls("torch.Tensor.transpose", what="transpose_view"):
        ...     out = mod.transpose_view(t, 0, 1)
    """
    __tracebackhide__ = True
    spec = Spec(names)
    seen: list[str] = []

    def note(hit: str | None) -> None:
        if hit and hit not in seen:
            seen.append(hit)

    def profiler(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code in OP_CALL_CODES:
                note(spec.match_op(frame.f_locals.get("self")))
                return
            hit = spec.match_code(code)
            if hit is None and code in MODE_SWITCH_CODES and not called_by_library(frame):
                hit = HIDDEN_MODES
        elif event == "c_call":
            hit = spec.match_object(arg)
            if hit is None:
                if any(arg is t for t in THREAD_STARTS):
                    hit = HIDDEN_THREAD
                elif any(arg is m for m in MODE_SWITCHES) and not library_frame(frame):
                    hit = HIDDEN_MODES
        else:
            return
        note(hit)

    previous = sys.getprofile()
    observer = TorchObserver(spec, seen)
    aten = AtenObserver(spec, seen)
    with observer, aten:
        sys.setprofile(profiler)
        try:
            yield
        finally:
            sys.setprofile(previous)
    if seen:
        from graders.checks.failures import fail

        calls = ", ".join(f"`{s.replace('torch.nn.functional.', 'F.')}`"
                          if s not in (HIDDEN_THREAD, HIDDEN_MODES) else s for s in seen)
        fail(
            f"{what} calls {calls}, which is not allowed in this exercise"
            + (f": {why}" if why else ".")
        )


@contextmanager
def by_hand(what: str, *extra: str, why: str = "") -> Iterator[None]:
    """Run the block with grad mode off and fail if it uses autograd (or any of ``extra``).

    For exercises whose point is a backward pass written by hand (``linear_backward``,
    ``conv2d_backward``, ``rnn_backward`` ...). An operator run by autograd's engine counts as
    autograd, however the backward pass was started.
    """
    __tracebackhide__ = True
    why = why or ("this exercise is the backward pass by hand: derive each gradient with the "
                  "chain rule and compute it with tensor operations.")
    with forbidden_calls(*tables.AUTOGRAD, *extra, what=what, why=why), torch.no_grad():
        yield
