"""The guard's vault: the guard kept in the frame of a suspended generator, the door that asks
it (the only way to the guard's state), and the gc callback that tells the frames gc interrupted
from the code that asked for something.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from graders.grading.guard_code import _gc_disable, _gc_enable, _gc_isenabled, _local_busy
from graders.grading.guard_rules import SandboxViolation

#: A :class:`graders.grading.guard.Guard` (which imports this module).
GuardT = Any


def _vault(guard: GuardT):
    """The guard, kept in the frame of a suspended generator.

    Only this generator's frame refers to the guard (and the audit hook, which nothing can
    read). Reading a generator's frame is an audited event the guard refuses to the
    submission, so what is hidden here (the real functions behind the sandbox's wrappers, the
    violations, the rules) cannot be reached or changed. Closing the generator or throwing
    into it is noted as tampering, and it keeps serving.
    """
    box: list = [(True, None)]  # what the door takes out (nothing stays here after a request)
    while True:
        try:
            request = yield box
        except GeneratorExit:
            if sys.is_finalizing():
                return
            guard.violations.append("tampered with the grading sandbox")
            box = [(False, SandboxViolation("not allowed while grading: the code tampered with the grading sandbox"))]
            continue
        except BaseException:  # noqa: BLE001 - thrown in from outside
            guard.violations.append("tampered with the grading sandbox")
            box = [(False, SandboxViolation("not allowed while grading: the code tampered with the grading sandbox"))]
            continue
        try:
            local = guard._local
            busy = _local_busy(local)
            local.busy = True  # the guard's own look at the stack
            try:
                door: Any = sys._getframe(1)
            finally:
                local.busy = busy
            requester = door.f_back if door.f_code is guard._door_code else None
            collecting = _gc_isenabled()
            if collecting:
                _gc_disable()  # no finaliser runs in here
            try:
                box = [(True, guard._serve(request, requester))]
            finally:
                if collecting:
                    _gc_enable()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box = [(False, exc)]
        # let go of the caller's objects while the caller still holds them: none of them may
        # end (and run a finaliser) in this frame
        door = requester = request = None


def _gc_watcher(marks) -> Callable[[str, dict], None]:
    """A ``gc`` callback: while gc collects, ``marks.frame`` is the frame it interrupted (the
    finalisers gc runs are not that frame's doing)."""

    def watch(phase: str, info: dict) -> None:
        try:
            marks.frame = sys._getframe(1) if phase == "start" else None
        except ValueError:  # gc started by no Python code
            marks.frame = None

    return watch


#: Vaults over the same guard: a request made while another one is being answered in the same
#: thread (a finaliser that runs meanwhile, an import it needs) goes to the next one.
_VAULTS = 4


def _door(sends: tuple, vaults: tuple, lock) -> Callable[..., object]:
    def ask(*request):
        """Ask the grading sandbox (see :func:`_vault`)."""
        with lock:
            for send, vault in zip(sends, vaults):
                if not vault.gi_running:
                    ok, value = send(request).pop()
                    break
            else:
                raise RuntimeError("the grading sandbox is busy")
        if ok:
            return value
        raise value

    return ask
