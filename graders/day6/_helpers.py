"""Day-6 grading helpers: process harnesses for ``torch.distributed`` and small models.

Graded modules are loaded under synthetic package names (``_drills_student.day6.distributed``)
or, for wrong solutions and notebooks, under names missing from ``sys.modules``: child
processes started with the ``spawn`` method cannot import them by name. So:

- ``run_average_gradients`` forks (Linux) children that run a function of this importable
  module and call the graded function object they inherited; elsewhere it spawns them inside
  ``spawnable``;
- ``spawnable(fn)`` makes ``fn``'s module importable by name in spawned children (a mirror of
  its files under the same dotted name in a temporary directory on ``sys.path``), so a graded
  ``train_data_parallel`` that spawns its own module-level worker works however it was loaded;
- the models handed to child processes are classes of this module, picklable by name.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

WORLD_SIZE = 2
AVERAGE_SEEDS = (0, 1, 2)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- models (picklable by name)


class DataParallelNet(nn.Module):
    """A small float64 regression net: 3 inputs to 2 outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
        self.double()

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class FailingNet(DataParallelNet):
    """Raises in the forward pass of rank 1, so that rank 0 waits for it in vain."""

    def forward(self, x: Tensor) -> Tensor:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_rank() == 1:
            raise RuntimeError("rank 1 crashed on purpose")
        return super().forward(x)


def make_average_model(seed: int) -> nn.Module:
    """The model of one average_gradients scenario; one parameter is frozen (grad None)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), nn.Linear(3, 2)).double()
    model[3].bias.requires_grad_(False)
    return model


def average_data(seed: int) -> tuple[Tensor, Tensor]:
    """Inputs and targets (WORLD_SIZE shards of 3 rows, concatenated) of a scenario."""
    gen = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(3 * WORLD_SIZE, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(3 * WORLD_SIZE, 2, generator=gen, dtype=torch.float64) * (seed + 1)
    return x, y


def shard_gradients(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, Tensor | None]:
    """Gradients of the mean squared error of `model` on (x, y), by parameter name."""
    model.zero_grad(set_to_none=True)
    nn.functional.mse_loss(model(x), y).backward()
    return {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}


# ---------------------------------------------------------------- making code spawnable


@contextmanager
def spawnable(fn: Callable[..., Any]) -> Iterator[None]:
    """Make ``fn``'s module importable by name in processes spawned while the block runs.

    Graded modules live under synthetic names (``_drills_student.day6.distributed``) or none
    at all in ``sys.modules`` (wrong solutions loaded from a file), so a spawned child could not
    unpickle a module-level function of theirs. Inside the block, the module is registered in
    ``sys.modules`` (for pickling here) and mirrored as real files under its dotted name in a
    temporary directory at the front of ``sys.path`` (which spawned children inherit), its
    sibling files included so that relative imports keep working.
    """
    name = getattr(fn, "__module__", None)
    namespace = getattr(fn, "__globals__", None)
    path = namespace.get("__file__") if namespace else None
    if not name or not path or name == "__main__" or not os.path.exists(path):
        yield  # nothing to mirror: pickling will say what is wrong
        return
    added: str | None = None
    if name not in sys.modules or vars(sys.modules[name]) is not namespace:
        shell = ModuleType(name)
        vars(shell).update(namespace)
        saved = sys.modules.get(name)
        sys.modules[name] = shell
        added = name
    tmp = tempfile.mkdtemp(prefix="drills_day6_")
    parts = name.split(".")
    folder = Path(tmp).joinpath(*parts[:-1])
    folder.mkdir(parents=True, exist_ok=True)
    for depth in range(1, len(parts)):
        Path(tmp).joinpath(*parts[:depth], "__init__.py").touch()
    if len(parts) > 1:  # inside a package: relative imports of sibling modules keep working
        for sibling in Path(path).parent.glob("*.py"):
            if sibling.name != "__init__.py":
                shutil.copyfile(sibling, folder / sibling.name)
    shutil.copyfile(path, folder / f"{parts[-1]}.py")
    sys.path.insert(0, tmp)
    try:
        yield
    finally:
        if tmp in sys.path:
            sys.path.remove(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        if added is not None:
            if saved is None:
                sys.modules.pop(added, None)
            else:
                sys.modules[added] = saved


# ---------------------------------------------------------------- average_gradients harness


def harness_context() -> multiprocessing.context.BaseContext:
    """Fork on Linux (fast: the children inherit torch and the graded function), else spawn."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _average_child(
    rank: int, port: int, average: Callable[[nn.Module], None], out_dir: str
) -> None:
    """One rank: run every scenario through the graded average_gradients, save what came back."""
    import torch.distributed as dist

    torch.set_num_threads(1)  # a forked child must not reuse the parent's OpenMP pool
    result: dict[str, Any] = {"error": None, "not_started": False, "scenarios": []}
    try:
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=WORLD_SIZE,
            timeout=datetime.timedelta(seconds=30),
        )
        try:
            for seed in AVERAGE_SEEDS:
                model = make_average_model(seed)
                x, y = average_data(seed)
                rows = slice(3 * rank, 3 * rank + 3)
                before = shard_gradients(model, x[rows], y[rows])
                average(model)
                after = {
                    n: None if p.grad is None else p.grad.detach().clone()
                    for n, p in model.named_parameters()
                }
                result["scenarios"].append({"before": before, "after": after})
        finally:
            dist.destroy_process_group()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        result["not_started"] = type(exc) is NotImplementedError
        result["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))


def run_average_gradients(
    average: Callable[[nn.Module], None], timeout: float = 90.0
) -> list[dict]:
    """Run ``average`` (the graded average_gradients) in WORLD_SIZE real processes.

    Returns one result per rank: ``{"error": message or None, "not_started": bool,
    "scenarios": [...]}`` where each scenario holds the rank's gradients before and after the
    call. A rank that did not finish within `timeout` seconds gets an error saying so.
    """
    ctx = harness_context()
    port = free_port()
    guard = spawnable(average) if ctx.get_start_method() == "spawn" else _nothing()
    with tempfile.TemporaryDirectory(prefix="drills_day6_") as out_dir, guard:
        procs = [
            ctx.Process(target=_average_child, args=(rank, port, average, out_dir), daemon=True)
            for rank in range(WORLD_SIZE)
        ]
        for proc in procs:
            proc.start()
        deadline = time.monotonic() + timeout
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
        results = []
        for rank, proc in enumerate(procs):
            path = os.path.join(out_dir, f"rank{rank}.pt")
            if os.path.exists(path):
                results.append(torch.load(path, weights_only=False))
                continue
            why = f"did not finish within {timeout:.0f} s (a deadlock?)"
            if proc.exitcode not in (None, -9):
                why = f"died with exit code {proc.exitcode}"
            results.append({"error": f"the process of rank {rank} {why}", "not_started": False,
                            "scenarios": []})
    return results


@contextmanager
def _nothing() -> Iterator[None]:
    yield


# ---------------------------------------------------------------- train_data_parallel harness


def call_with_deadline(fn: Callable[[], Any], timeout: float) -> tuple[str, Any]:
    """Run ``fn()`` in a thread; ``("ok", value)``, ``("raised", exc)`` or ``("timeout", None)``.

    On a timeout, every child process started meanwhile is killed, so a deadlocked run leaves
    nothing behind.
    """
    before = {p.pid for p in multiprocessing.active_children()}
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="drills-day6-deadline")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        for proc in multiprocessing.active_children():
            if proc.pid not in before:
                proc.kill()
                proc.join()
        thread.join(5.0)
        return "timeout", None
    if "error" in outcome:
        return "raised", outcome["error"]
    return "ok", outcome["value"]


def sgd_oracle(
    model_fn: Callable[[], nn.Module],
    inputs: Tensor,
    targets: Tensor,
    *,
    world_size: int,
    batch_size: int,
    steps: int,
    lr: float,
    seed: int,
    first_shard_only: bool = False,
) -> dict[str, Tensor]:
    """One process doing plain SGD on the combined batches of every step.

    With ``first_shard_only``, each step uses only rank 0's shard (what training computes when
    every rank takes the same rows).
    """
    torch.manual_seed(seed)
    model = model_fn()
    per_step = world_size * batch_size
    for step in range(steps):
        used = batch_size if first_shard_only else per_step
        rows = (step * per_step + torch.arange(used)) % len(inputs)
        model.zero_grad(set_to_none=True)
        nn.functional.mse_loss(model(inputs[rows]), targets[rows]).backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p -= lr * p.grad
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
