"""The GPU-parity check: the same function on CUDA and on CPU, same inputs, same answer.

With CUDA present, inputs are built on the CPU (float64 draws, then cast), moved to CUDA, and
the function runs on both devices with TF32 off and deterministic algorithms; results must agree
within the stated tolerance and every output must stay on its input's device.

Without CUDA the comparison is "not assessed: no CUDA device" (no points lost), but a CPU-side
device check still runs: the function is called on tensors of the ``meta`` device, and an output
that comes back on another device (a hard-coded ``.cpu()``, a new tensor made without
``device=``) fails the check.

Outputs are read as plain data (:func:`graders.checks.plain`) before their devices and values
are looked at: a tensor subclass cannot claim a device or values it does not have.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from graders.checks import assert_close, fail, not_assessed
from graders.checks.plain_data import PlainTensor, _plain


def _tensors(obj: Any) -> list[PlainTensor]:
    """The tensors of plain data (see :func:`_plain`), in order."""
    if type(obj) is PlainTensor:
        return [obj]
    if type(obj) is dict:
        return [t for v in obj.values() for t in _tensors(v)]
    if type(obj) in (list, tuple):
        return [t for v in obj for t in _tensors(v)]
    return []


def _cpu(record: PlainTensor) -> torch.Tensor:
    """A CPU tensor of the record's values (bfloat16 and float8 as float32)."""
    return torch.from_numpy(record.values.copy())


def cuda_available() -> bool:
    return torch.cuda.is_available()


def deterministic_cuda() -> None:
    """TF32 off, deterministic algorithms: CPU and CUDA results comparable at fp32 tolerances."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def _check_devices(out: Any, device: torch.device, what: str) -> None:
    __tracebackhide__ = True
    for t in _tensors(_plain(out, what)):
        if t.device.type != device.type:
            fail(
                f"{what} returned a tensor on {t.device} for inputs on {device}: results must "
                f"stay on the input's device (no hard-coded .cpu() or .cuda(); create new "
                f"tensors with device=x.device)."
            )


def gpu_parity(
    fn: Callable[..., Any],
    make_inputs: Callable[[torch.device], tuple[tuple, dict]],
    *,
    what: str,
    rtol: float,
    atol: float,
) -> None:
    """Run ``fn(*args, **kwargs)`` on CPU and CUDA inputs from ``make_inputs(device)`` and compare.

    ``make_inputs`` must build the same values for every device (draw on the CPU, then move).
    """
    __tracebackhide__ = True
    cpu = torch.device("cpu")
    args, kwargs = make_inputs(cpu)
    cpu_out = fn(*args, **kwargs)
    _check_devices(cpu_out, cpu, what)
    if cuda_available():
        deterministic_cuda()
        cuda = torch.device("cuda")
        args, kwargs = make_inputs(cuda)
        cuda_out = fn(*args, **kwargs)
        torch.cuda.synchronize()
        _check_devices(cuda_out, cuda, what)
        got = [_cpu(t) for t in _tensors(_plain(cuda_out, what))]
        expected = [_cpu(t) for t in _tensors(_plain(cpu_out, what))]
        assert_close(got, expected, rtol=rtol, atol=atol, what=f"{what} on CUDA (vs on CPU)")
        return
    meta = torch.device("meta")
    try:
        args, kwargs = make_inputs(meta)
        meta_out = fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - data-dependent code cannot run on meta: nothing to learn
        meta_out = None
    if meta_out is not None:
        _check_devices(meta_out, meta, what)
    not_assessed("no CUDA device (outputs were checked to stay on the input's device)")
