"""Wrong solutions for day6/distributed.py, each a mistake students really make."""

import datetime
import os
import socket
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from graders.testing import mutant


@mutant("day6.distributed.average_gradients", expect=r"SUM over the 2 processes")
def sum_not_average(model):
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)


@mutant("day6.distributed.average_gradients", expect=r"hard-coded 2")
def divide_by_two(model):
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= 2


@mutant("day6.distributed.average_gradients", expect=r"not all-reduced|written back")
def reduce_a_copy(model):
    for p in model.parameters():
        if p.grad is not None:
            g = p.grad.clone()
            dist.all_reduce(g)  # the result never reaches p.grad
            p.grad = p.grad / 1.0


# --- train_data_parallel: one worker, with the mistake selected by name ---------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, model_fn, x, y, batch, steps, lr, seed, out, mistake):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=30))
    try:
        torch.manual_seed(seed)
        model = model_fn()
        for step in range(steps):
            offset = 0 if mistake == "same_rows" else rank * batch
            rows = (step * world * batch + offset + torch.arange(batch)) % len(x)
            model.zero_grad()
            F.mse_loss(model(x[rows]), y[rows]).backward()
            for p in model.parameters():
                dist.all_reduce(p.grad)
                if mistake != "summed":
                    p.grad /= world
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
        if rank == 0:
            torch.save(model.state_dict(), out)
    finally:
        dist.destroy_process_group()


def _train(mistake, world_size, model_fn, inputs, targets, batch_size, steps, lr, seed):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "state.pt")
        args = (world_size, _free_port(), model_fn, inputs, targets, batch_size, steps, lr, seed,
                out, mistake)
        ctx = mp.spawn(_worker, args=args, nprocs=world_size, join=False)
        deadline = time.monotonic() + 100
        while not ctx.join(timeout=1):
            if time.monotonic() > deadline:
                raise RuntimeError("timed out")
        return torch.load(out)


@mutant("day6.distributed.train_data_parallel", expect=r"summed over the processes")
def summed_gradients(world_size, model_fn, inputs, targets, batch_size, steps, lr, seed=0):
    return _train("summed", world_size, model_fn, inputs, targets, batch_size, steps, lr, seed)


@mutant("day6.distributed.train_data_parallel", expect=r"same rows")
def every_rank_same_rows(world_size, model_fn, inputs, targets, batch_size, steps, lr, seed=0):
    return _train("same_rows", world_size, model_fn, inputs, targets, batch_size, steps, lr, seed)
