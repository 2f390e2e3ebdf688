"""Can the checks be lied to or talked out of failing? And do honest returns of other types pass?

One small ``drills grade`` run grades the hostile cases that go for the checks of exercises other
than ``describe`` (``OTHER_EXERCISES`` of tests/redteam/lies.py and tests/redteam/talk_out.py):
tensors that answer comparisons themselves, modes left entered and kernels replaced for the
comparison, forbidden calls made where the observers of ``forbidden_calls`` did not look, a loop
hidden from the call counter, a slow loop that remembers its answers or returns early while
timed. Each is a reference day-1 module with one function made hostile, graded on
``describe``, ``pairwise_sq_dists``, ``batched_gather`` and ``transpose_view``: the hostile
exercise must not get full marks (flagged, or failed with feedback that names the problem) and
the others keep theirs. The honest alternatives (``HONEST_ALTERNATIVES``) get full marks.

The rest are quick checks in this process: what the comparisons accept and say.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redteam import lies, talk_out  # noqa: E402

from graders.checks import DrillsFailure, assert_close, assert_equal, close_values, equal_values, plain  # noqa: E402

KIT = Path(__file__).resolve().parent.parent
EXERCISES = ("day1.tensors.describe", "day1.tensors.pairwise_sq_dists",
             "day1.tensors.batched_gather", "day1.strides.transpose_view")
HEADER = "\nimport os\nimport sys\nimport torch\n"
CASES = {**lies.OTHER_EXERCISES, **talk_out.OTHER_EXERCISES}


def _write(dest: Path, name: str, module: str, snippet: str) -> None:
    folder = dest / name / "exercises" / "day1"
    folder.mkdir(parents=True)
    for stem in ("tensors", "strides"):
        text = (KIT / "reference" / "day1" / f"{stem}.py").read_text(encoding="utf-8")
        (folder / f"{stem}.py").write_text(text + (HEADER + snippet if stem == module else ""),
                                           encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("redteam-checks")
    subs = root / "subs"
    for name, (module, _, snippet, _) in CASES.items():
        _write(subs, name, module, snippet)
    for name, (module, snippet) in lies.HONEST_ALTERNATIVES.items():
        _write(subs, name, module, snippet)
    _write(subs, "honest", "tensors", "")
    out = root / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "graders.cli", "grade", *sorted(str(p) for p in subs.iterdir()),
         "--out", str(out), "--workers", "2", "--exercises", ",".join(EXERCISES),
         "--profile", "drills", "--timeout-per-test", "60", "--timeout-per-submission", "240",
         "--no-progress"],
        cwd=KIT, capture_output=True, text=True, timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grades = json.loads((out / "grades.json").read_text())
    return {s["submission"]: s for s in grades["submissions"]}


def _text(exercise: dict) -> str:
    feedback = exercise.get("feedback") or ""
    return "\n".join(feedback) if isinstance(feedback, list) else str(feedback)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_lie_or_a_talk_out_earns_nothing_and_spares_the_others(graded, name):
    _, exercise, _, expect = CASES[name]
    sub = graded[name]
    got = sub["exercises"][exercise]
    assert got["points"] < got["max_points"], got
    if got["status"] != "flagged":
        assert re.search(expect, _text(got), re.IGNORECASE | re.DOTALL), _text(got)[:3000]
    for other in EXERCISES:
        if other != exercise:
            assert sub["exercises"][other]["points"] == sub["exercises"][other]["max_points"], (
                other, sub["exercises"][other])


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", [*sorted(lies.HONEST_ALTERNATIVES), "honest"])
def test_an_honest_alternative_gets_full_marks(graded, name):
    sub = graded[name]
    assert not sub["flags"], sub["flags"]
    for exercise in EXERCISES:
        got = sub["exercises"][exercise]
        assert got["points"] == got["max_points"], (exercise, got)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_lies_score_zero_where_they_lie(graded):
    """A lie returns wrong values everywhere: every check of its exercise fails."""
    for name, (_, exercise, _, _) in lies.OTHER_EXERCISES.items():
        assert graded[name]["exercises"][exercise]["points"] == 0, name


def test_there_are_twenty_cases_or_more():
    assert len(lies.LIES) + len(talk_out.LIES) + len(CASES) >= 20


# --- the comparisons, in this process -----------------------------------------------------

def _fails(fn, pattern: str) -> None:
    with pytest.raises(DrillsFailure, match=pattern):
        fn()


def test_honest_wrong_answers_keep_their_feedback():
    """Shape, dtype, device, the largest difference and where: as before plain data."""
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    _fails(lambda: assert_close(x[:1], x, what="f(x)"),
           r"f\(x\) returned shape \(1, 2\), expected shape \(2, 2\)")
    _fails(lambda: assert_close(x.double(), x, what="f(x)"),
           r"returned dtype torch.float64, expected torch.float32")
    _fails(lambda: assert_close(x + torch.tensor([[0.0, 0.0], [0.0, 0.5]]), x, rtol=0, atol=0.1,
                                what="f(x)"),
           r"1 of 4 elements differ. The largest difference is 0.5 at index \(1, 1\): got 4.5, "
           r"expected 4 \(allowed: atol=0.1 \+ rtol=0 \* \|expected\|, here 0.1\)")
    _fails(lambda: assert_close(torch.tensor([float("nan"), 1.0]), torch.tensor([0.0, 1.0])),
           r"NaN where it should not, first at index \(0,\)")
    _fails(lambda: assert_equal(torch.tensor([1, 2, 3]), torch.tensor([1, 5, 3]), what="g"),
           r"g differs from the expected values at 1 of 3 positions; first at index \(1,\): "
           r"got 2, expected 5")
    _fails(lambda: assert_close(None, x), r"returned NoneType \(None\), expected a torch.Tensor")
    _fails(lambda: assert_close(2.5, 2.0), r"returned 2.5, expected 2.0")
    _fails(lambda: assert_equal([1, 2], (1, 2)), r"returned a list \[1, 2\], expected a tuple")


def test_honest_returns_of_other_types_pass():
    """torch.Size for a tuple, OrderedDict/defaultdict for a dict, numpy scalars for numbers,
    namedtuples, nn.Parameter and plain tensor subclasses for tensors, numpy str for str."""
    point = collections.namedtuple("point", "x y")

    class Mine(torch.Tensor):
        pass

    t = torch.arange(6.0).reshape(2, 3)
    assert_equal(t.shape, (2, 3))
    assert_equal(collections.OrderedDict(a=1, b=(2, 3)), {"a": 1, "b": (2, 3)})
    assert_equal(collections.defaultdict(int, a=1), {"a": 1})
    assert_equal(np.int64(3), 3)
    assert_equal(np.bool_(True), True)
    assert_equal(np.str_("torch.float32"), "torch.float32")
    assert_equal(point(1, 2), (1, 2))
    assert_equal(torch.nn.Parameter(t.clone()), t)
    assert_equal(t.clone().as_subclass(Mine), t)
    assert_close(np.float32(0.5), 0.5)
    assert_close([np.float64(1.0), t.clone()], [1.0, t])
    assert_close({"w": torch.nn.Parameter(t.clone())}, {"w": t})
    assert plain({"s": t.shape, "n": np.int64(2)}) == {"s": (2, 3), "n": 2}


def test_values_that_lie_are_compared_by_what_they_hold():
    class Anything(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Agreeable(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", "") in ("equal", "allclose"):
                return True
            return super().__torch_function__(func, types, args, kwargs)

    zeros = torch.zeros(3).as_subclass(Agreeable)
    assert torch.equal(zeros, torch.ones(3))  # the lie
    assert not equal_values(zeros, torch.ones(3))
    assert not close_values(zeros, torch.ones(3))
    _fails(lambda: assert_equal(zeros, torch.ones(3)), r"not close enough|differs")
    _fails(lambda: assert_equal(Anything(5), 3), r"returned 5, expected 3")
    _fails(lambda: assert_equal({"k": Anything(5)}, {"k": 3}), r"returned \{'k': 5\}")


def test_a_replaced_aten_kernel_does_not_decide():
    """aten::equal and aten::ne replaced for the CPU (in a child process: it cannot be undone)."""
    code = (
        "import torch\n"
        "from graders.checks import DrillsFailure, assert_equal, equal_values\n"
        "lib = torch.library.Library('aten', 'IMPL')\n"
        "lib.impl('equal', lambda a, b: True, 'CPU')\n"
        "lib.impl('ne.Tensor', lambda a, b: torch.zeros(a.shape, dtype=torch.bool), 'CPU')\n"
        "assert torch.equal(torch.zeros(2), torch.ones(2))\n"
        "assert not equal_values(torch.zeros(2), torch.ones(2))\n"
        "try:\n"
        "    assert_equal(torch.zeros(2), torch.ones(2))\n"
        "except DrillsFailure:\n"
        "    print('caught')\n"
    )
    out = _in_a_fresh_process(code)
    assert out.stdout.strip() == "caught", out.stdout + out.stderr


def test_a_forbidden_package_not_imported_yet_is_seen_without_importing_it():
    """forbidden_calls("sklearn") before anything imported sklearn: the block does not import it
    (it costs a second), yet code that imports it inside the block, to call it, is caught."""
    code = (
        "import sys\n"
        "from graders.checks import DrillsFailure\n"
        "from graders.forbid import forbidden_calls\n"
        "with forbidden_calls('sklearn', what='confusion_matrix'):\n"
        "    pass\n"
        "print('imported' if 'sklearn' in sys.modules else 'not imported')\n"
        "try:\n"
        "    with forbidden_calls('sklearn', what='confusion_matrix'):\n"
        "        from sklearn.metrics import confusion_matrix\n"
        "        confusion_matrix([0, 1], [1, 1])\n"
        "except DrillsFailure as e:\n"
        "    print('caught', 'not allowed' in str(e))\n"
    )
    out = _in_a_fresh_process(code)
    assert out.stdout.split() == ["not", "imported", "caught", "True"], out.stdout + out.stderr


def _in_a_fresh_process(code: str) -> subprocess.CompletedProcess:
    """``python -c code`` in the kit's folder: for what one process cannot undo or must not have
    imported yet."""
    return subprocess.run([sys.executable, "-c", code], cwd=KIT, capture_output=True, text=True,
                          timeout=120)


def test_forbidden_autograd_through_the_engine_is_seen():
    """by_hand: a backward pass run through autograd's engine directly, not through the
    forbidden functions, still counts as autograd."""
    from graders.forbid import by_hand

    a = torch.randn(3, requires_grad=True)

    def engine():
        with torch.autograd.set_grad_enabled(True):
            y = (a * a).sum()
        torch.autograd.Variable._execution_engine.run_backward(
            (y,), (torch.ones(()),), False, False, (a,), False, False)

    _fails(lambda: _run(by_hand("linear_backward"), engine), r"not allowed")
    _run(by_hand("linear_backward"), lambda: a.detach() * 2)  # by hand: fine


def _run(context, fn) -> None:
    with context:
        fn()
