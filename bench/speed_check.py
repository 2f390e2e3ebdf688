"""How the numeric-speed check separates vectorised code from Python loops, idle and loaded.

Prints, for pairwise_sq_dists on the grader's inputs, the ratio of each implementation to the
reference (best round of interleaved rounds, as the check measures it), first on an idle machine
and then with every core kept busy by other processes. The check fails above 10x.

    python bench/speed_check.py
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

from graders import reference  # noqa: E402
from graders.speed import measure_ratio  # noqa: E402

ref = reference("day1.tensors").pairwise_sq_dists


def broadcast(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def cdist_squared(x, y):
    return torch.cdist(x, y) ** 2


def row_loop(x, y):
    return torch.stack([((x[i] - y) ** 2).sum(-1) for i in range(x.shape[0])])


def double_loop(x, y):
    out = torch.zeros(x.shape[0], y.shape[0])
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            out[i, j] = ((x[i] - y[j]) ** 2).sum()
    return out


def _burn(stop: float) -> None:
    while time.time() < stop:
        sum(i * i for i in range(10_000))


def table(title: str) -> None:
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 16, generator=g), torch.randn(64, 16, generator=g)
    print(f"\n{title}")
    for name, fn in [("reference", ref), ("broadcast", broadcast), ("cdist**2", cdist_squared),
                     ("loop over rows", row_loop), ("double loop", double_loop)]:
        ratios = [measure_ratio(fn, ref, (x, y)) for _ in range(3)]
        verdict = "passes" if min(ratios) <= 10 else "fails"
        print(f"  {name:<16} best {min(ratios):8.2f}x  worst {max(ratios):8.2f}x  -> {verdict}")


if __name__ == "__main__":
    table("idle machine")
    n = os.cpu_count() or 2
    stop = time.time() + 120
    burners = [mp.Process(target=_burn, args=(stop,), daemon=True) for _ in range(n)]
    for p in burners:
        p.start()
    try:
        table(f"loaded machine ({n} busy processes)")
    finally:
        for p in burners:
            p.terminate()
