"""Check helpers shared by every grader, with messages written for students.

- :func:`assert_close` / :func:`assert_equal`: compare what came back with what was expected
  (type, shape, dtype, device, then values: the largest difference and where it is).
- :func:`equal_values` / :func:`close_values`: the same comparisons as a yes/no answer, for
  graders that decide something themselves (in place of ``torch.equal`` / ``torch.allclose``).
- :func:`plain`: what the code under test returned, as plain data.
- :func:`chi_square_pvalue`: whether random draws fit the probabilities they should have.
- :func:`forbidden_calls`: fail when the code under test calls a library function that does
  the whole job (seen at run time, and in the function's syntax tree; never in comments).
- :func:`speed_check` (in :mod:`graders.speed`) and :func:`gpu_parity` (in :mod:`graders.gpu`).
- :func:`not_assessed`: a check that cannot run here (no GPU) and so costs no points.

Every comparison works on plain data. What the code under test returns is first turned into
exact built-in values (``int``, ``float``, ``str``, ``tuple``, ``list``, ``dict``...) and into
copies of the numbers of its tensors, read straight from their memory: with torch-function
handling off, no torch-function or dispatch mode active and no kernel of torch run, so a tensor
subclass, an object whose ``__eq__`` always agrees, a mode left entered or a kernel replaced
through ``torch.library`` has no say in the verdict. The values are then compared with numpy
and plain Python, on functions taken when the checks were imported.

The package's modules: :mod:`~graders.checks.failures` (how a check ends: :func:`fail`,
:func:`not_assessed`), :mod:`~graders.checks.bound` (what the values are read through),
:mod:`~graders.checks.plain_data` (returned values as plain data), :mod:`~graders.checks.describe`
(plain data in a message), :mod:`~graders.checks.values` (yes/no comparisons),
:mod:`~graders.checks.compare` (the comparisons that fail a check),
:mod:`~graders.checks.hypothesis_guard` (hypothesis' control flow stays the graders'),
:mod:`~graders.checks.stats` (goodness of fit) and :mod:`~graders.checks.golden` (the
reference's recorded answers, in a student release).
"""


from __future__ import annotations

from graders.checks.compare import assert_close, assert_equal
from graders.checks.describe import describe_tensor
from graders.checks.failures import DrillsFailure, fail, not_assessed
from graders.checks.hypothesis_guard import guard_hypothesis, take_hypothesis_problems
from graders.checks.plain_data import Opaque, PlainTensor, plain
from graders.checks.stats import chi_square_pvalue
from graders.checks.values import close_values, equal_values
from graders.forbid import forbidden_calls

__all__ = [
    "DrillsFailure",
    "Opaque",
    "PlainTensor",
    "assert_close",
    "assert_equal",
    "chi_square_pvalue",
    "close_values",
    "describe_tensor",
    "equal_values",
    "fail",
    "forbidden_calls",
    "guard_hypothesis",
    "not_assessed",
    "plain",
    "take_hypothesis_problems",
]
