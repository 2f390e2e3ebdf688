"""Prove the GPU-parity checks on a machine with CUDA, in about a minute.

Runs every grader test that calls :func:`graders.gpu.gpu_parity` for the registry's
``gpu``-tagged exercises (on the reference by default), and prints for each call: the largest
CPU-vs-CUDA difference, how much of the check's tolerance it used, the time of one call on each
device (after a first, untimed call that pays CUDA's start-up and kernel loading), and the
check's outcome. Without CUDA it still runs the checks (their CPU side and the meta-device
check), prints "no CUDA device" and exits 0.

    python bench/gpu_parity.py                      # the reference
    python bench/gpu_parity.py --target exercises   # the student's code
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from pathlib import Path
from typing import Any

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))

import pytest  # noqa: E402 - after the kit's folder is on the path
import torch  # noqa: E402

from graders import gpu  # noqa: E402
from graders.core import registry  # noqa: E402

ROWS: list[dict[str, Any]] = []
_CURRENT: dict[str, str] = {"nodeid": ""}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn: Any, make_inputs: Any, device: torch.device) -> tuple[Any, float]:
    """One untimed call, then the output and seconds of a timed one."""
    args, kwargs = make_inputs(device)
    fn(*args, **kwargs)
    _sync(device)
    args, kwargs = make_inputs(device)
    _sync(device)
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    _sync(device)
    return out, time.perf_counter() - start


def _values(out: Any, what: str) -> list[torch.Tensor]:
    return [gpu._cpu(t).double() for t in gpu._tensors(gpu._plain(out, what))]


def recording_parity(fn: Any, make_inputs: Any, *, what: str, rtol: float, atol: float) -> None:
    """Measure the call on each device, then run the real check (whose verdict counts)."""
    row: dict[str, Any] = {"nodeid": _CURRENT["nodeid"], "what": what, "rtol": rtol, "atol": atol}
    ROWS.append(row)
    try:
        cpu_out, row["cpu_s"] = _timed(fn, make_inputs, torch.device("cpu"))
        if gpu.cuda_available():
            gpu.deterministic_cuda()
            cuda_out, row["cuda_s"] = _timed(fn, make_inputs, torch.device("cuda"))
            got, expected = _values(cuda_out, what), _values(cpu_out, what)
            if len(got) == len(expected) and all(g.shape == e.shape for g, e in zip(got, expected)):
                diffs = [(g - e).abs() for g, e in zip(got, expected)]
                row["diff"] = max((d.max().item() for d in diffs if d.numel()), default=0.0)
                row["used"] = max(((d / (atol + rtol * e.abs())).max().item()
                                   for d, e in zip(diffs, expected) if d.numel()), default=0.0)
            else:
                row["diff"] = "shapes differ"
    except Exception as exc:  # noqa: BLE001 - the real check below says what went wrong
        row["error"] = f"{type(exc).__name__}: {exc}"[:80]
    _ORIGINAL(fn, make_inputs, what=what, rtol=rtol, atol=atol)


_ORIGINAL = gpu.gpu_parity


class Recorder:
    """Keeps only the tests that call gpu_parity; notes which test is running and its outcome."""

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            fn = getattr(item, "function", None)
            try:
                calls = fn is not None and "gpu_parity(" in inspect.getsource(fn)
            except (OSError, TypeError):
                calls = False
            (keep if calls else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        _CURRENT["nodeid"] = item.nodeid
        return (yield)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            for row in ROWS:
                if row["nodeid"] == report.nodeid:
                    row["outcome"] = report.outcome
            self.outcomes[report.nodeid] = report.outcome

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}


def _fmt_s(v: Any) -> str:
    return f"{1000 * v:9.2f} ms" if isinstance(v, float) else f"{'-':>12}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="reference", help="the tree to grade (default: reference)")
    p.add_argument("--profile", default="drills", help="hypothesis profile")
    args = p.parse_args()
    exercises = [e for e in registry.exercises() if "gpu" in e.tags]
    files = sorted({f"exercises/{e.module.replace('.', '/')}.py" for e in exercises})
    has_cuda = gpu.cuda_available()
    name = torch.cuda.get_device_name(0) if has_cuda else "no CUDA device"
    print(f"GPU parity of {len(exercises)} gpu-tagged exercises on {args.target}: {name}")
    gpu.gpu_parity = recording_parity  # before the grader modules import it
    recorder = Recorder()
    pytest_args = [*files, "--drills-target", args.target, "-q", "-p", "no:cacheprovider",
                   "--tb=line", "--no-header", "--hypothesis-profile", args.profile,
                   "--rootdir", str(KIT), "-W", "ignore"]
    for e in exercises:
        pytest_args += ["--drills-exercise", e.id]
    os.chdir(KIT)
    start = time.monotonic()
    rc = pytest.main(pytest_args, plugins=[recorder])
    took = time.monotonic() - start
    print()
    print(f"{'check':<66} {'max |cpu-cuda|':>14} {'tol used':>9} {'cpu':>12} {'cuda':>12}  outcome")
    for row in ROWS:
        check = f"{row['nodeid'].split('::')[-1]} ({row['what']})"[:66]
        diff = row.get("diff", "no CUDA device" if not has_cuda else "-")
        diff = f"{diff:14.3g}" if isinstance(diff, float) else f"{diff:>14}"
        used = f"{100 * row['used']:8.1f}%" if "used" in row else f"{'-':>9}"
        cuda = _fmt_s(row.get("cuda_s")) if has_cuda else f"{'no CUDA':>12}"
        print(f"{check:<66} {diff} {used} {_fmt_s(row.get('cpu_s'))} {cuda}  "
              f"{row.get('outcome', '?')}{'  ' + row['error'] if 'error' in row else ''}")
    called = {r["nodeid"].split("::")[0] for r in ROWS}
    for e in exercises:
        if f"exercises/{e.module.replace('.', '/')}.py" not in called:
            print(f"  {e.id}: tagged gpu, but no grader test of it calls gpu_parity")
    print(f"\n{len(ROWS)} gpu_parity calls in {took:.1f} s (pytest exit status {int(rc)})")
    if not has_cuda:
        print("no CUDA device: the CPU-vs-CUDA comparison was not made (the checks are 'not "
              "assessed' here); run this on a machine with a GPU to prove them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
