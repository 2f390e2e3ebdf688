"""Data-parallel training with real processes and ``torch.distributed``.

Several processes each hold a copy of the model, compute gradients on their own shard of the
batch, average those gradients with an all-reduce, and take the same SGD step, so that they
stay identical and together do what one process would do on the whole batch. Everything runs
on this machine: the ``gloo`` backend over TCP on ``127.0.0.1``.

Keep this module self-contained (import torch and the standard library, not the other exercise
modules): the processes you spawn import it on their own, and the graders may load it under
another module name. Functions that run in child processes must be defined at module level.
"""

from __future__ import annotations

import datetime
import os
import socket
import tempfile
import time
from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import Tensor, nn


def average_gradients(model: nn.Module) -> None:
    """Replace every parameter's gradient by its mean over all processes of the group.

    Called in each process of an initialised default process group (``dist.init_process_group``
    has run) after ``loss.backward()``: every rank holds the same parameters, each with a
    ``.grad`` of its own. After the call, on every rank, each ``p.grad`` holds
    ``sum over ranks of p.grad / world_size`` (reducing into the gradient tensor in place is
    the natural way). Parameters whose ``.grad`` is None (the same ones on every rank) are
    left as None.

    Note that the ``gloo`` backend has no ``ReduceOp.AVG``: sum, then divide by
    ``dist.get_world_size()`` (never a hard-coded 2).

    Args:
        model: the local replica, with gradients.

    Checked in 2 real processes (gloo, 127.0.0.1) on float64 models: the averaged gradients
    equal the gradient of one process on the two shards together (rtol 1e-10), on every rank.

    Example:
        >>> # in each process, after dist.init_process_group("gloo", ...):
        >>> loss = nn.functional.mse_loss(model(x_shard), y_shard)
        >>> loss.backward()
        >>> average_gradients(model)  # now every rank holds the same, averaged gradients
    """
    raise NotImplementedError("day6.distributed.average_gradients")


def train_data_parallel(
    world_size: int,
    model_fn: Callable[[], nn.Module],
    inputs: Tensor,
    targets: Tensor,
    batch_size: int,
    steps: int,
    lr: float,
    seed: int = 0,
) -> dict[str, Tensor]:
    """Train with ``world_size`` processes doing data-parallel SGD and return the weights.

    Spawn ``world_size`` processes (``torch.multiprocessing.spawn`` or the ``spawn`` start
    method of ``multiprocessing``). Each joins a ``gloo`` process group over TCP at
    ``127.0.0.1`` on a free port (bind a socket to port 0 to find one, so that two runs at the
    same time do not collide) and then:

    1. calls ``torch.manual_seed(seed)`` and builds ``model = model_fn()``, so every rank starts
       from the same weights;
    2. for ``step`` in ``range(steps)``: takes the ``world_size * batch_size`` rows of
       ``inputs``/``targets`` at positions ``(step * world_size * batch_size + i) % N`` for
       ``i = 0, 1, ...`` (``N = len(inputs)``: the data wraps around), of which rank ``r`` uses
       the consecutive shard ``r * batch_size : (r + 1) * batch_size``; computes the MSE loss
       (``nn.functional.mse_loss``, mean reduction) of its shard, backpropagates, averages the
       gradients over the ranks (``average_gradients``), and does a plain SGD update
       ``p -= lr * p.grad`` (no momentum, no weight decay), gradients cleared every step.

    The result is therefore the same as one process doing SGD on the combined
    ``world_size * batch_size`` rows per step.

    Args:
        world_size: the number of processes (>= 1).
        model_fn: builds the model; picklable (a module-level function or class), so the
            child processes can receive it. Its dtype is the model's.
        inputs: ``(N, ...)`` tensor on the CPU.
        targets: ``(N, ...)`` tensor on the CPU, matching the model's outputs.
        batch_size: rows per process per step.
        steps: the number of SGD steps.
        lr: the learning rate.
        seed: passed to ``torch.manual_seed`` before ``model_fn()`` in every process.

    Returns:
        Rank 0's final ``state_dict``: names to CPU tensors (send it back to the parent through
        a file, e.g. ``torch.save`` into a temporary directory, or a queue).

    Raises:
        RuntimeError (or another exception): when a process crashes, raises or hangs. The call
        must end with an error within 120 s and leave no process behind, never hang: give
        ``init_process_group`` a ``timeout`` and join the processes with a deadline
        (``torch.multiprocessing.spawn(..., join=False)`` returns a context whose
        ``join(timeout)`` raises when a process failed).

    Checked with ``world_size=2`` on a float64 model against one process doing SGD on the
    combined batches (rtol 1e-9), with data that wraps around; and with a model whose forward
    pass raises in one process, which must end in an exception, not a hang.

    Example:
        >>> # model_fn must be importable by the child processes, e.g. a class of a real module
        >>> state = train_data_parallel(2, MyNet, x, y, batch_size=4, steps=10, lr=0.1)
        >>> sorted(state) == sorted(MyNet().state_dict())
        True
    """
    raise NotImplementedError("day6.distributed.train_data_parallel")
