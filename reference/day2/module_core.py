"""A tour of ``nn.Module``'s source: write the core of it yourself.

Everything ``torch.nn`` builds on is a little bookkeeping in ``Module.__setattr__``: assigning a
``Parameter`` or a ``Module`` to an attribute *registers* it, and the registries are what
``parameters()``, ``state_dict()``, ``train()``/``eval()`` and ``zero_grad()`` walk. Here you
write that core (a ``Module`` that does not use ``torch.nn.Module`` at all; ``torch.nn.Parameter``
is allowed), then a ``Linear`` layer on top of it. Your ``Module`` is graded against a
``torch.nn.Module`` tree built by the same statements: same names, same order, same answers.
"""

from __future__ import annotations

import math
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
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        params, buffers, modules = _registries(self)
        if isinstance(value, Parameter):
            _forget(self, name, buffers, modules)
            params[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                f"(torch.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            _forget(self, name, params, buffers)
            modules[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module '{name}' "
                                f"(Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' "
                                f"(torch.Tensor or None expected)")
            buffers[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as a buffer (state that is not a parameter)."""
        _, buffers, _ = _registries(self)
        buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter once (see named_parameters)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, each Parameter once, in registration order."""
        seen: set[int] = set()
        walk = _named_modules(self, prefix, set()) if recurse else [(prefix, self)]
        for module_prefix, module in walk:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield _join(module_prefix, name), param

    def children(self) -> Iterator[Module]:
        """The direct child modules, each once, in registration order."""
        seen: set[int] = set()
        for module in self._modules.values():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield module

    def modules(self) -> Iterator[Module]:
        """This module, then every descendant (pre-order), each once."""
        for _, module in _named_modules(self, "", set()):
            yield module

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant; return self."""
        object.__setattr__(self, "training", mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter (to None, or zeroed in place)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                if param.grad.grad_fn is not None:
                    param.grad.detach_()
                else:
                    param.grad.requires_grad_(False)
                param.grad.zero_()

    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, detached, sharing storage."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        _save(self, "", out)
        return out

    def load_state_dict(self, state_dict: dict[str, Tensor], strict: bool = True
                        ) -> IncompatibleKeys:
        """Copy values in place; return (missing_keys, unexpected_keys)."""
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []
        _load(self, state_dict, "", missing, unexpected, errors)
        if strict and (missing or unexpected):
            errors.insert(0, f"missing keys {missing}, unexpected keys {unexpected}")
        if errors:
            raise RuntimeError("error(s) in load_state_dict: " + "; ".join(errors))
        return IncompatibleKeys(missing, unexpected)


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
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        if bias:
            self.bias = Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.bias = None

    def forward(self, x: Tensor) -> Tensor:
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias


# --- helpers ---------------------------------------------------------------------------------

def _registries(module: Module) -> tuple[dict, dict, dict]:
    try:
        d = module.__dict__
        return d["_parameters"], d["_buffers"], d["_modules"]
    except KeyError:
        raise AttributeError("call Module.__init__() before assigning attributes") from None


def _forget(module: Module, name: str, *registries: dict) -> None:
    """Remove ``name`` from the given registries (a rebound name leaves its old registry)."""
    for registry in registries:
        registry.pop(name, None)
    module._non_persistent.discard(name)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _named_modules(module: Module, prefix: str, seen: set[int]
                   ) -> Iterator[tuple[str, Module]]:
    """(dotted prefix, module) pairs, pre-order, each module object once."""
    if id(module) in seen:
        return
    seen.add(id(module))
    yield prefix, module
    for name, child in module._modules.items():
        if child is not None:
            yield from _named_modules(child, _join(prefix, name), seen)


def _own_state(module: Module) -> list[tuple[str, Tensor]]:
    """This module's parameters, then its persistent buffers (None skipped)."""
    params = [(k, v) for k, v in module._parameters.items() if v is not None]
    buffers = [(k, v) for k, v in module._buffers.items()
               if v is not None and k not in module._non_persistent]
    return params + buffers


def _save(module: Module, prefix: str, out: OrderedDict[str, Tensor]) -> None:
    for name, value in _own_state(module):
        out[prefix + name] = value.detach()
    for name, child in module._modules.items():
        if child is not None:
            _save(child, f"{prefix}{name}.", out)


def _load(module: Module, state: dict[str, Tensor], prefix: str, missing: list[str],
          unexpected: list[str], errors: list[str]) -> None:
    own = dict(_own_state(module))
    for name, target in own.items():
        key = prefix + name
        if key not in state:
            missing.append(key)
            continue
        value = state[key]
        if tuple(value.shape) != tuple(target.shape):
            errors.append(f"size mismatch for {key}: the state dict has shape "
                          f"{tuple(value.shape)}, the module {tuple(target.shape)}")
            continue
        with torch.no_grad():
            target.copy_(value)
    for key in state:
        if not key.startswith(prefix):
            continue
        head, *rest = key[len(prefix):].split(".", 1)
        if (rest and head not in module._modules) or (not rest and head not in own):
            unexpected.append(key)
    for name, child in module._modules.items():
        if child is not None:
            _load(child, state, f"{prefix}{name}.", missing, unexpected, errors)
