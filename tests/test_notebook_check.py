"""Does `check()` grade a function defined outside the exercise files, as in a notebook?"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(300)


def test_check_grades_a_notebook_function():
    """Does check() pass a right answer and fail a wrong one with the same feedback as pytest,
    quickly enough for a notebook?"""
    code = textwrap.dedent('''
        import time, torch
        from graders import check
        def masked_mean(x, mask, dim):
            m = mask.expand_as(x)
            total = torch.where(m, x, torch.zeros((), dtype=x.dtype)).sum(dim)
            count = m.sum(dim).to(x.dtype)
            return torch.where(count > 0, total / count.clamp_min(1), torch.zeros((), dtype=x.dtype))
        t0 = time.perf_counter()
        good = check("day1.tensors.masked_mean", masked_mean)
        t1 = time.perf_counter()
        def wrong(x, mask, dim):
            m = mask.expand_as(x).to(x.dtype)
            return (x * m).sum(dim) / m.sum(dim)
        bad = check("masked_mean", wrong)
        print("STATUS", good.status, bad.status, round(t1 - t0, 2))
    ''')
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=280)
    assert "STATUS passed failed" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Exercise day1.tensors.masked_mean: Mean over a mask" in out.stdout
    assert "What went wrong:" in out.stdout and "Hint:" in out.stdout
    seconds = float(out.stdout.split("STATUS passed failed")[1].split()[0])
    assert seconds < 30, f"check() took {seconds} s"
