"""Checks that code tries to talk out of failing: hypothesis told to skip the inputs the code
gets wrong, forbidden calls made where the forbidden-call observers do not look, a loop hidden
from the counter of torch calls, and a slow loop that remembers its answers (or returns early)
while the speed check times it.

``LIES`` are graded on ``describe`` in the one run of ``tests/test_grade_redteam.py``. Each is a
``describe`` that is wrong on some inputs (:data:`_WRONG_SOMETIMES`: every tensor of more than
one element, drawn by both of its checks) and tells hypothesis to skip exactly those: ``assume``, ``reject``,
hypothesis' own exceptions, its internals, its settings. A rejected input must count as an
input got wrong: each earns nothing.

``OTHER_EXERCISES`` go for the forbidden-call check of ``transpose_view``, the loop counter of
``batched_gather`` and the speed check of ``pairwise_sq_dists``; each is ``(module, exercise,
snippet, expect)`` and ``tests/test_grade_redteam_checks.py`` grades them in a second run (the
exercise must not get full marks; a failing check's feedback matches ``expect``).
"""

from __future__ import annotations

#: A describe that is wrong on the inputs ``_skip(t)`` names, and right elsewhere.
_WRONG_SOMETIMES = '''
_honest = describe


def _skip(t):
    return t.numel() > 1


def _sometimes_wrong(t):
    d = _honest(t)
    if _skip(t):
        d["numel"] += 1
    return d
'''


def _skipping(how: str, head: str = "") -> str:
    body = "\n".join("        " + line for line in how.strip().splitlines())
    return _WRONG_SOMETIMES + head + f'''

def describe(t):
    if _skip(t):
{body}
    return _sometimes_wrong(t)
'''


LIES: dict[str, str] = {
    "hypothesis_reject": _skipping("import hypothesis\nhypothesis.reject()"),
    "hypothesis_assume": _skipping("import hypothesis\nhypothesis.assume(False)"),
    "raise_unsatisfied_assumption": _skipping(
        "from hypothesis.errors import UnsatisfiedAssumption\nraise UnsatisfiedAssumption()"),
    # An exception of the code's own that hypothesis takes for a rejection.
    "own_subclass_of_unsatisfied_assumption": _skipping("raise _Skip()", head='''
from hypothesis.errors import UnsatisfiedAssumption as _UA


class _Skip(_UA):
    pass
'''),
    # hypothesis' internal signal that a test case is over, with the right counter.
    "raise_stop_test": _skipping(
        "from hypothesis.control import current_build_context\n"
        "from hypothesis.errors import StopTest\n"
        "raise StopTest(current_build_context().data.testcounter)"),
    # The test case concluded as valid from inside, through hypothesis' internals.
    "conclude_test_case_as_valid": _skipping(
        "from hypothesis.control import current_build_context\n"
        "from hypothesis.internal.conjecture.data import Status\n"
        "current_build_context().data.conclude_test(Status.VALID)"),
    "mark_test_case_invalid": _skipping(
        "from hypothesis.control import current_build_context\n"
        "current_build_context().data.mark_invalid('not mine')"),
    # Every input rejected: hypothesis' "too many rejections" must not become a pass.
    "reject_every_input": _WRONG_SOMETIMES + '''

def describe(t):
    import hypothesis
    hypothesis.reject()
''',
    # One example per check from now on: a profile loaded when the module is imported.
    "one_example_profile": _WRONG_SOMETIMES + '''
from hypothesis import settings as _settings

_settings.register_profile("drills", max_examples=1, derandomize=True, database=None)
_settings.register_profile("grading", max_examples=1, derandomize=True, database=None)
_settings.load_profile("grading")


def describe(t):
    return _sometimes_wrong(t)
''',
}

#: A slow ``pairwise_sq_dists``: a Python loop over every pair of points (thousands of times
#: slower than the reference on the speed check's input), exact on the correctness checks. Each
#: cheat below is right wherever it is not timed, so only the speed check can catch it.
_SLOW_PAIRWISE = '''
def _slow(x, y):
    out = torch.empty(x.shape[0], y.shape[0], dtype=x.dtype, device=x.device)
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            out[i, j] = ((x[i] - y[j]) ** 2).sum()
    return out
'''
_TIMED = r"slower than|timed call"

OTHER_EXERCISES: dict[str, tuple[str, str, str, str]] = {
    # transpose_view through the operator itself, which the torch-function layer names
    # aten.transpose.int, not torch.transpose.
    "forbidden_call_through_torch_ops": ("strides", "day1.strides.transpose_view", '''
def transpose_view(t, dim0, dim1):
    return torch.ops.aten.transpose.int(t, dim0, dim1)
''', r"not allowed"),
    # ... with torch-function handling off: no TorchFunctionMode sees it.
    "forbidden_call_with_torch_function_off": ("strides", "day1.strides.transpose_view", '''
def transpose_view(t, dim0, dim1):
    with torch._C.DisableTorchFunction():
        return t.transpose(dim0, dim1)
''', r"not allowed"),
    # ... an alias of the forbidden function, with torch-function handling off.
    "forbidden_alias_with_torch_function_off": ("strides", "day1.strides.transpose_view", '''
def transpose_view(t, dim0, dim1):
    with torch._C.DisableTorchFunction():
        return torch.swapaxes(t, dim0, dim1)
''', r"not allowed"),
    # ... the operator of a permute, with torch-function handling off.
    "forbidden_operator_with_torch_function_off": ("strides", "day1.strides.transpose_view", '''
def transpose_view(t, dim0, dim1):
    perm = list(range(t.dim()))
    perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    with torch._C.DisableTorchFunction():
        return torch.ops.aten.permute.default(t, perm)
''', r"not allowed"),
    # ... in another thread, where the observers of this one do not look.
    "forbidden_call_in_a_thread": ("strides", "day1.strides.transpose_view", '''
import threading as _threading


def transpose_view(t, dim0, dim1):
    out = []
    worker = _threading.Thread(target=lambda: out.append(t.transpose(dim0, dim1)))
    worker.start()
    worker.join()
    return out[0]
''', r"not allowed"),
    # ... with torch-function handling off and every dispatch mode taken off its stack.
    "forbidden_call_with_the_modes_off": ("strides", "day1.strides.transpose_view", '''
from torch.utils._python_dispatch import _disable_current_modes as _off


def transpose_view(t, dim0, dim1):
    with torch._C.DisableTorchFunction(), _off():
        return t.transpose(dim0, dim1)
''', r"not allowed"),
    # A loop over the batch that the counter of torch calls cannot see.
    "loop_hidden_from_the_call_counter": ("tensors", "day1.tensors.batched_gather", '''
def batched_gather(x, idx):
    with torch._C.DisableTorchFunction():
        rows = [x[b].index_select(0, idx[b]) for b in range(x.shape[0])]
        if not rows:
            return x[:, :0]
        return torch.stack(rows)
''', r"loops over the batch"),
    # A slow loop that remembers its results by the inputs' memory addresses ...
    "slow_loop_remembers_by_data_ptr": ("tensors", "day1.tensors.pairwise_sq_dists", _SLOW_PAIRWISE + '''
_seen = {}


def pairwise_sq_dists(x, y):
    key = (x.data_ptr(), y.data_ptr(), tuple(x.shape), tuple(y.shape))
    if x.shape[0] < 32:  # the small inputs of the other checks: computed every time
        return _slow(x, y)
    if key not in _seen:
        _seen[key] = _slow(x, y)
    return _seen[key]
''', _TIMED),
    # ... by the inputs' ids ...
    "slow_loop_remembers_by_id": ("tensors", "day1.tensors.pairwise_sq_dists", _SLOW_PAIRWISE + '''
_seen = {}


def pairwise_sq_dists(x, y):
    key = (id(x), id(y))
    if key not in _seen:
        _seen[key] = (x, y, _slow(x, y))
    return _seen[key][2]
''', _TIMED),
    # ... by a hash of the inputs' values ...
    "slow_loop_remembers_by_value": ("tensors", "day1.tensors.pairwise_sq_dists", _SLOW_PAIRWISE + '''
import hashlib as _hashlib

_seen = {}


def pairwise_sq_dists(x, y):
    key = (tuple(x.shape), tuple(y.shape), str(x.dtype), _hashlib.sha1(
        x.detach().cpu().numpy().tobytes() + y.detach().cpu().numpy().tobytes()).hexdigest())
    if key not in _seen:
        _seen[key] = _slow(x, y)
    return _seen[key]
''', _TIMED),
    # ... or by the shapes only: the last answer for inputs of that shape.
    "slow_loop_remembers_by_shape": ("tensors", "day1.tensors.pairwise_sq_dists", _SLOW_PAIRWISE + '''
_seen = {}


def pairwise_sq_dists(x, y):
    key = (tuple(x.shape), tuple(y.shape), x.dtype)
    if key not in _seen or x.shape[0] < 32:
        _seen[key] = _slow(x, y)
    return _seen[key]
''', _TIMED),
    # A slow loop that returns at once when the speed check is its caller.
    "slow_loop_returns_early_when_timed": ("tensors", "day1.tensors.pairwise_sq_dists", _SLOW_PAIRWISE + '''
_last = []


def pairwise_sq_dists(x, y):
    caller = sys._getframe(1).f_code.co_filename
    if caller.endswith("speed.py") and _last:
        return _last[-1]
    _last.append(_slow(x, y))
    return _last[-1]
''', _TIMED),
}
