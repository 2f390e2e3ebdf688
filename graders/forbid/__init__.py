"""Forbidden-call detection: what the code under test really calls, seen at run time.

Where an exercise teaches a mechanism (a transpose built from strides, a backward pass by hand,
conv via im2col), calling the library function that does the whole job must fail, and say so.
Three observers run while the student's code runs:

- a ``TorchFunctionMode`` that sees every torch function, Tensor method and property
  (``torch.transpose``, ``Tensor.transpose``, ``Tensor.T``, ``F.conv2d``, ``torch.ops.aten...``);
- a profile hook that sees every Python function and builtin called (``torch.func.jacrev``,
  ``sklearn.metrics.confusion_matrix``, ``nn.Dropout.forward``, a Tensor method or a
  ``torch.ops`` operator called with torch-function handling off, ...), however it was imported;
- a ``TorchDispatchMode`` that sees the operators of torch's dispatcher (``aten::transpose``,
  ``aten::convolution``, ``aten::im2col`` ...) whatever path led there: ``torch.ops.aten``,
  ``torch._C._nn``, code under ``torch._C.DisableTorchFunction()``. Each forbidden name stands
  for the operators only it reaches (:data:`ATEN_FAMILIES`: ``F.conv2d`` for
  ``aten::convolution``, ``torch.softmax`` for ``aten::_softmax``), never for operators that
  honest code reaches too (``F.dropout`` on the CPU is ``bernoulli_`` and ``mul``: it is seen by
  the other two). Where autograd is forbidden, an operator run by autograd's engine is seen too.

Code that hides its calls from the observers fails as well: running them in another thread, or
taking the observers' modes off torch's mode stacks.

Comments and docstrings never matter: only calls that happen do. ``count_torch_calls`` counts
torch operations, which the graders use to tell a vectorised function from a Python loop.

The modules: :mod:`~graders.forbid.tables` (which operators a name stands for, :data:`AUTOGRAD`),
:mod:`~graders.forbid.spec` (the names resolved), :mod:`~graders.forbid.observers` (what sees
the calls), :mod:`~graders.forbid.calls` (``forbidden_calls``, ``by_hand``) and
:mod:`~graders.forbid.counting` (``count_torch_calls``).
"""

from __future__ import annotations

from graders.forbid.calls import by_hand, forbidden_calls
from graders.forbid.counting import count_torch_calls
from graders.forbid.observers import HIDDEN_MODES, HIDDEN_THREAD
from graders.forbid.tables import ATEN_FAMILIES, AUTOGRAD

__all__ = ["AUTOGRAD", "ATEN_FAMILIES", "HIDDEN_MODES", "HIDDEN_THREAD", "by_hand", "count_torch_calls",
           "forbidden_calls"]
