"""Graders for day6/distributed.py: all-reduce averaging and data-parallel SGD in real processes.

Everything runs real ``torch.distributed`` process groups (gloo, 127.0.0.1). Child processes
never import graded modules by their synthetic names: see ``graders/day6/_helpers.py``.
"""

from __future__ import annotations

import multiprocessing
import time

import pytest
import torch
import torch.distributed as dist

from graders import student
from graders.checks import assert_close, close_values, fail
from graders.day6 import _helpers as h

mod = student("day6.distributed")


# --- average_gradients ----------------------------------------------------------------------------


def test_average_gradients_in_a_group_of_one():
    """With a single process in the group, does average_gradients leave every gradient as it is?"""
    average = mod.average_gradients
    if dist.is_initialized():
        dist.destroy_process_group()
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        model = h.make_average_model(0)
        x, y = h.average_data(0)
        before = h.shard_gradients(model, x, y)
        average(model)
        for name, p in model.named_parameters():
            if before[name] is None:
                if p.grad is not None:
                    fail(f"average_gradients gave `{name}` a gradient although it had none "
                         f"(its .grad was None): leave such parameters alone.")
                continue
            got = p.grad
            if got is not None and close_values(got, before[name] / 2):
                fail("average_gradients halved the gradients in a group of 1 process: divide by "
                     "dist.get_world_size(), never by a hard-coded 2.")
            assert_close(got, before[name], rtol=1e-12, atol=0.0,
                         what=f"the gradient of `{name}` after average_gradients (world size 1)")
    finally:
        dist.destroy_process_group()


@pytest.mark.timeout(240)
def test_average_gradients_across_two_processes():
    """In 2 real processes, does every rank end with the mean of the ranks' gradients?"""
    results = h.run_average_gradients(mod.average_gradients)
    if any(r["not_started"] for r in results):
        raise NotImplementedError("day6.distributed.average_gradients")
    errors = [f"rank {rank}: {r['error']}" for rank, r in enumerate(results) if r["error"]]
    if errors:
        fail("average_gradients failed in the 2-process group (gloo, 127.0.0.1):\n  "
             + "\n  ".join(errors))
    for i, seed in enumerate(h.AVERAGE_SEEDS):
        model = h.make_average_model(seed)
        x, y = h.average_data(seed)
        full = h.shard_gradients(model, x, y)  # one process, both shards together
        shards = [r["scenarios"][i] for r in results]
        for rank, scenario in enumerate(shards):
            for name, expected in full.items():
                got = scenario["after"][name]
                if expected is None:
                    if got is not None:
                        fail(f"average_gradients gave the frozen parameter `{name}` a gradient "
                             f"on rank {rank}; its .grad was None and must stay None.")
                    continue
                if got is None:
                    fail(f"after average_gradients, `{name}` has no gradient on rank {rank}.")
                total = sum(s["before"][name] for s in shards)
                if close_values(got, total, rtol=1e-9, atol=1e-12) and not close_values(
                    total, expected, rtol=1e-6, atol=1e-9
                ):
                    fail(f"on rank {rank}, the gradient of `{name}` is the SUM over the 2 "
                         f"processes, not the mean: divide by dist.get_world_size() after "
                         f"the all_reduce.")
                if close_values(got, scenario["before"][name], rtol=1e-12, atol=0.0):
                    fail(f"on rank {rank}, the gradient of `{name}` is still the rank's own "
                         f"gradient: it was not all-reduced (or the result was not written "
                         f"back into p.grad).")
                assert_close(got, expected, rtol=1e-10, atol=1e-12,
                             what=f"the averaged gradient of `{name}` on rank {rank} (expected: "
                             f"the gradient of one process on both shards)")


# --- train_data_parallel --------------------------------------------------------------------------

N_ROWS, BATCH, STEPS, LR, SEED = 10, 3, 4, 0.2, 7


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(N_ROWS, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(N_ROWS, 2, generator=gen, dtype=torch.float64)
    return x, y


def _run(model_fn) -> tuple[str, object, int, float]:
    train = mod.train_data_parallel
    x, y = _data()
    before = {p.pid for p in multiprocessing.active_children()}
    start = time.monotonic()
    with h.spawnable(train):
        outcome, value = h.call_with_deadline(
            lambda: train(h.WORLD_SIZE, model_fn, x, y, BATCH, STEPS, LR, seed=SEED), timeout=150
        )
    if outcome == "raised" and type(value) is NotImplementedError:
        raise value
    left = [p for p in multiprocessing.active_children() if p.pid not in before and p.is_alive()]
    for proc in left:
        proc.kill()
        proc.join()
    return outcome, value, len(left), time.monotonic() - start


@pytest.mark.timeout(300)
def test_train_data_parallel_matches_one_process():
    """With 2 processes, are the final weights those of one process doing SGD on both shards?"""
    outcome, state, left, _ = _run(h.DataParallelNet)
    if outcome == "timeout":
        fail("train_data_parallel did not return within 150 s (a deadlock?). Every rank must "
             "call the same collectives in the same order, and the parent must join its "
             "processes with a deadline.")
    if outcome == "raised":
        fail(f"train_data_parallel raised {type(state).__name__}: {str(state)[-1500:]}")
    if left:
        fail(f"train_data_parallel returned but left {left} child process(es) running: join "
             f"(or kill) every process you start.")
    x, y = _data()
    kw = dict(world_size=h.WORLD_SIZE, batch_size=BATCH, steps=STEPS, seed=SEED)
    expected = h.sgd_oracle(h.DataParallelNet, x, y, lr=LR, **kw)
    if not isinstance(state, dict) or set(state) != set(expected):
        fail(f"train_data_parallel returned {type(state).__name__} "
             f"{sorted(state) if isinstance(state, dict) else ''}; expected rank 0's state_dict "
             f"with the keys {sorted(expected)}.")
    hints = [
        (h.sgd_oracle(h.DataParallelNet, x, y, lr=LR * h.WORLD_SIZE, **kw),
         "the gradients were summed over the processes, not averaged"),
        (h.sgd_oracle(h.DataParallelNet, x, y, lr=LR, first_shard_only=True, **kw),
         "each process used the same rows (all ranks must take their own shard of the "
         "world_size * batch_size rows of the step)"),
    ]
    for name, value in expected.items():
        got = state[name]
        if isinstance(got, torch.Tensor) and got.shape == value.shape and not close_values(
                got.to(value.dtype), value, rtol=1e-9, atol=1e-12):
            for alt, why in hints:
                if close_values(got.to(value.dtype), alt[name], rtol=1e-9, atol=1e-12):
                    fail(f"train_data_parallel's `{name}` matches training where {why}.")
        assert_close(got, value, rtol=1e-9, atol=1e-12, check_device=True,
                     what=f"`{name}` of the state_dict returned by train_data_parallel (expected: "
                     f"one process, SGD on the combined batches, rows wrapping around)")


@pytest.mark.timeout(300)
def test_train_data_parallel_fails_instead_of_hanging():
    """When one process crashes, does train_data_parallel raise (within 120 s) rather than hang?"""
    outcome, value, left, seconds = _run(h.FailingNet)
    if outcome == "timeout":
        fail("train_data_parallel hung when rank 1 crashed: rank 0 waits forever in its "
             "all_reduce. Join the processes with a deadline and a timeout in "
             "init_process_group (torch.multiprocessing.spawn(..., join=False) and "
             "context.join(timeout) raise when a process failed), then kill the rest.")
    if outcome == "ok":
        fail("train_data_parallel returned normally although rank 1 raised an exception: a "
             "crashed process must end the call with an error.")
    if seconds > 120:
        fail(f"train_data_parallel took {seconds:.0f} s to notice that rank 1 crashed; it must "
             f"raise within 120 s (use a shorter timeout, or watch the processes while joining).")
    if left:
        fail(f"train_data_parallel raised as it should, but left {left} child process(es) "
             f"running: kill the remaining processes before raising.")
