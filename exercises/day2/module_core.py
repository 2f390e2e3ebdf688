"""A tour of ``nn.Module``'s source: write the core of it yourself.

Everything ``torch.nn`` builds on is a little bookkeeping in ``Module.__setattr__``: assigning a
``Parameter`` or a ``Module`` to an attribute *registers* it, and the registries are what
``parameters()``, ``state_dict()``, ``train()``/``eval()`` and ``zero_grad()`` walk. Here you
write that core (a ``Module`` that does not use ``torch.nn.Module`` at all; ``torch.nn.Parameter``
is allowed), then a ``Linear`` layer on top of it. Your ``Module`` is graded against a
``torch.nn.Module`` tree built by the same statements: same names, same order, same answers.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.nn import Parameter

#: What ``Module.load_state_dict`` returns (given: use it as ``IncompatibleKeys(missing, unexpected)``).
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """The core of ``torch.nn.Module``: registration by assignment, traversal, modes, state.

    Build it without ``torch.nn.Module`` (neither subclass it nor call any of its methods);
    ``torch.nn.Parameter`` is allowed. Behave exactly as ``torch.nn.Module`` does for
    everything below: the graders run the same statements on a ``torch.nn.Module`` tree and
    compare (names, order, which objects, errors).

    Registration (``__setattr__(name, value)``), every attribute assignment goes through it:

    - a ``Parameter`` is registered as a parameter under ``name``, whatever the name held
      before (a name that was a child or a buffer leaves that registry);
    - a ``Module`` is registered as a child under ``name`` (a name that was a buffer leaves
      the buffers), unless ``name`` is a parameter (see TypeError below);
    - assigning to a name that is already a registered parameter keeps its place in the
      registration order (dicts keep the position of an existing key);
    - ``None`` assigned to a registered parameter or child name keeps the name registered with
      the value None (it is skipped by every listing below);
    - anything but a Parameter or None assigned to a parameter name raises TypeError (a plain
      tensor or a Module included: check "name is a parameter" before "value is a Module",
      as torch does), and anything but a Module, a Parameter or None assigned to a child name
      raises TypeError;
    - a tensor (or None) assigned to a buffer name replaces the buffer and stays a buffer;
      anything else assigned to a buffer name raises TypeError;
    - any other value is a plain attribute, not registered.

    Reading ``m.name`` returns the value last assigned (or registered), registered or not.
    Either keep every value in the instance's ``__dict__`` as well as in your registries, or
    keep registered values only in the registries and add a ``__getattr__`` that finds them
    and raises ``AttributeError`` for any other name (that is torch's way; then registering a
    name that was a plain attribute removes it from ``__dict__``, where it would hide the
    registered value); ``__init__`` must create the registries with
    ``object.__setattr__`` since your ``__setattr__`` needs them.

    Methods (``self`` returned where said; listings are generators or lists):

    - ``__init__()``: empty registries and ``training = True``.
    - ``register_buffer(name, tensor, persistent=True)``: register a tensor (or None) that is
      state but not a parameter (running statistics); only persistent buffers go into the
      state dict. Registering a name that is already a buffer replaces its tensor (the name
      keeps its place) and sets its persistence anew. Registering a name that is already a
      parameter, a child or a plain attribute is not checked.
    - ``__call__(*args, **kwargs)``: returns ``self.forward(*args, **kwargs)`` (subclasses
      define ``forward``).
    - ``named_parameters(prefix="", recurse=True)``: ``(dotted_name, parameter)`` pairs: first
      this module's own parameters in registration order, then each child's, depth first in
      the children's registration order, names joined with "." (``"enc.0.w"``) and starting
      with ``prefix + "."`` when a prefix is given. A Parameter object is listed once, under
      the first name met, and a child module registered under two names is walked once (under
      its first name); None values are skipped. ``recurse=False`` lists only this module's
      own parameters. ``parameters(recurse=True)`` yields the same parameters without names.
    - ``children()``: the direct child modules in registration order, each object once, None
      skipped. ``modules()``: this module first, then every descendant depth first (pre-order),
      each object once.
    - ``train(mode=True)``: set ``training = mode`` on this module and, recursively, every
      descendant; return ``self``. ``eval()``: ``train(False)``. A fresh module has
      ``training == True``.
    - ``zero_grad(set_to_none=True)``: for every parameter of ``parameters()``, set ``.grad``
      to None, or with ``set_to_none=False`` zero each existing ``.grad`` in place (a grad
      that is None stays None; detach it from any graph first as torch does).
    - ``state_dict()``: an ``OrderedDict`` from dotted name to tensor: for this module, its
      parameters then its persistent buffers (each in registration order, None skipped),
      then each child's entries under ``"child_name."``, recursively, in the children's
      registration order. Nothing is de-duplicated here: a child registered under two names
      appears under both, a Parameter under two names appears twice. Values are detached
      (``requires_grad`` False) and share storage with the parameters and buffers
      (``t.detach()``, never a copy).
    - ``load_state_dict(state_dict, strict=True)``: for every key this module's
      ``state_dict()`` would have, copy the given tensor into the parameter or buffer in place
      (``tensor.copy_(value)`` under ``torch.no_grad()``, so the Parameter objects stay the
      same and never alias the source). Returns ``IncompatibleKeys(missing_keys,
      unexpected_keys)`` (a named tuple, given above): lists of the expected keys absent from
      ``state_dict`` and of the keys of ``state_dict`` that match no parameter or persistent
      buffer (their order is free). Raises RuntimeError when a shape differs (whatever
      ``strict`` is) and, when ``strict`` is True, when either list is non-empty.

    Example:
        >>> class Block(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.scale = Parameter(torch.ones(3))
        ...         self.register_buffer("count", torch.zeros(()))
        ...         self.inner = Linear(3, 2)
        ...     def forward(self, x):
        ...         return self.inner(x * self.scale)
        >>> block = Block()
        >>> [name for name, _ in block.named_parameters()]
        ['scale', 'inner.weight', 'inner.bias']
        >>> list(block.state_dict())
        ['scale', 'count', 'inner.weight', 'inner.bias']
        >>> block.eval().inner.training
        False
        >>> block(torch.ones(4, 3)).shape
        torch.Size([4, 2])
    """

    def __init__(self) -> None:
        raise NotImplementedError("day2.module_core.Module")

    def __setattr__(self, name: str, value: Any) -> None:
        raise NotImplementedError("day2.module_core.Module")

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as a buffer (state that is not a parameter)."""
        raise NotImplementedError("day2.module_core.Module")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("day2.module_core.Module")

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter once (see named_parameters)."""
        raise NotImplementedError("day2.module_core.Module")

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, each Parameter once, in registration order."""
        raise NotImplementedError("day2.module_core.Module")

    def children(self) -> Iterator[Module]:
        """The direct child modules, each once, in registration order."""
        raise NotImplementedError("day2.module_core.Module")

    def modules(self) -> Iterator[Module]:
        """This module, then every descendant (pre-order), each once."""
        raise NotImplementedError("day2.module_core.Module")

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant; return self."""
        raise NotImplementedError("day2.module_core.Module")

    def eval(self) -> Module:
        """``train(False)``."""
        raise NotImplementedError("day2.module_core.Module")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter (to None, or zeroed in place)."""
        raise NotImplementedError("day2.module_core.Module")

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, detached, sharing storage."""
        raise NotImplementedError("day2.module_core.Module")

    def load_state_dict(self, state_dict: dict[str, Tensor], strict: bool = True
                        ) -> IncompatibleKeys:
        """Copy values in place; return (missing_keys, unexpected_keys)."""
        raise NotImplementedError("day2.module_core.Module")


class Linear(Module):
    """A fully connected layer ``y = x @ weight.T + bias`` built on your ``Module``.

    Args:
        in_features: size of each input sample (an int >= 1).
        out_features: size of each output sample (an int >= 1).
        bias: whether to learn an additive bias.

    Register, in this order, ``weight``: a ``torch.nn.Parameter`` of shape
    (out_features, in_features) and ``bias``: a Parameter of shape (out_features,); with
    ``bias=False`` set ``self.bias = None`` instead (so ``named_parameters()`` lists only
    ``weight``). Both are float32, initialised as ``nn.Linear`` does: uniform on
    ``[-1/sqrt(in_features), 1/sqrt(in_features)]`` from torch's global random generator (only
    the shapes and these bounds are checked, and that the values fill the range rather than
    sit at 0). Also store ``in_features`` and ``out_features`` as plain attributes.

    ``forward(x)``: x of shape (..., in_features) (any number of leading dimensions, any
    memory layout) -> (..., out_features) equal to ``x @ weight.T + bias`` (no bias term when
    bias is None), differentiable with respect to weight, bias and x; the output has x's dtype
    when the parameters have it (assign float64 Parameters to get a float64 layer).
    Do not use ``torch.nn.Module`` or ``torch.nn.Linear``: inherit from your own ``Module``.

    Checked against ``torch.nn.functional.linear(x, weight, bias)`` with the layer's own
    parameters (rtol 1e-6, atol 1e-6 in float32; 1e-12 in float64) and its gradients.

    Example:
        >>> layer = Linear(3, 2)
        >>> [(name, tuple(p.shape)) for name, p in layer.named_parameters()]
        [('weight', (2, 3)), ('bias', (2,))]
        >>> layer(torch.ones(5, 3)).shape
        torch.Size([5, 2])
        >>> Linear(3, 2, bias=False).bias is None
        True
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        raise NotImplementedError("day2.module_core.Linear")

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError("day2.module_core.Linear")
