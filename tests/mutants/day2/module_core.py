"""Wrong solutions for day2/module_core.py, each one mistake on top of a working Module.

``_Core`` is a correct Module (not a mutant); each wrong Module overrides the one method a
student got wrong, and each wrong Linear is built on ``_Core``.
"""

import math
from collections import OrderedDict, namedtuple
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import Parameter

from graders.testing import alternative, mutant

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _walk(module, prefix, seen):
    if id(module) in seen:
        return
    seen.add(id(module))
    yield prefix, module
    for name, child in module._modules.items():
        if child is not None:
            yield from _walk(child, f"{prefix}.{name}" if prefix else name, seen)


class _Core:
    """A correct Module: values in __dict__ and in the registries."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            buffers.pop(name, None)
            modules.pop(name, None)
            self._non_persistent.discard(name)
            params[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter {name}")
            params[name] = None
        elif isinstance(value, _Core):
            params.pop(name, None)
            buffers.pop(name, None)
            self._non_persistent.discard(name)
            modules[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to child {name}")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name}")
            buffers[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, tensor, persistent=True):
        self._buffers[name] = tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)
        object.__setattr__(self, name, tensor)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        for mp, m in (_walk(self, prefix, set()) if recurse else [(prefix, self)]):
            for name, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mp}.{name}" if mp else name), p

    def children(self):
        seen = set()
        for m in self._modules.values():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield m

    def modules(self):
        for _, m in _walk(self, "", set()):
            yield m

    def train(self, mode=True):
        object.__setattr__(self, "training", mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()

    def _own(self):
        return [(k, v) for k, v in self._parameters.items() if v is not None] + [
            (k, v) for k, v in self._buffers.items()
            if v is not None and k not in self._non_persistent]

    def state_dict(self):
        out = OrderedDict()

        def save(m, prefix):
            for k, v in m._own():
                out[prefix + k] = v.detach()
            for k, c in m._modules.items():
                if c is not None:
                    save(c, f"{prefix}{k}.")

        save(self, "")
        return out

    def load_state_dict(self, state_dict, strict=True):
        missing, unexpected, errors = [], [], []

        def load(m, prefix):
            own = dict(m._own())
            for k, t in own.items():
                if prefix + k not in state_dict:
                    missing.append(prefix + k)
                elif state_dict[prefix + k].shape != t.shape:
                    errors.append(prefix + k)
                else:
                    with torch.no_grad():
                        t.copy_(state_dict[prefix + k])
            for key in state_dict:
                if key.startswith(prefix):
                    head, *rest = key[len(prefix):].split(".", 1)
                    if (rest and head not in m._modules) or (not rest and head not in own):
                        unexpected.append(key)
            for k, c in m._modules.items():
                if c is not None:
                    load(c, f"{prefix}{k}.")

        load(self, "")
        if errors or (strict and (missing or unexpected)):
            raise RuntimeError(f"missing {missing}, unexpected {unexpected}, shapes {errors}")
        return IncompatibleKeys(missing, unexpected)


# --- Module -----------------------------------------------------------------------------------

@mutant("day2.module_core.Module", expect=r"A Parameter appears twice")
class NamedParametersNoDedup(_Core):
    def named_parameters(self, prefix="", recurse=True):
        def walk(m, p):  # every path, shared modules and parameters included
            yield p, m
            for k, c in m._modules.items():
                if c is not None:
                    yield from walk(c, f"{p}.{k}" if p else k)

        for mp, m in (walk(self, prefix) if recurse else [(prefix, self)]):
            for name, p in m._parameters.items():
                if p is not None:
                    yield (f"{mp}.{name}" if mp else name), p


@mutant("day2.module_core.Module", expect=r"leaves the children")
class RebindKeepsOldRegistry(_Core):
    def __setattr__(self, name, value):
        if isinstance(value, Parameter):  # forgets to drop the name from the children
            self._parameters[name] = value
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


@mutant("day2.module_core.Module", expect=r"keeps its place")
class RebindMovesToTheEnd(_Core):
    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._parameters.pop(name, None)  # re-inserted last
        super().__setattr__(name, value)


@mutant("day2.module_core.Module", expect=r"not a\s+copy or clone")
class StateDictClones(_Core):
    def state_dict(self):
        return OrderedDict((k, v.clone()) for k, v in super().state_dict().items())


@mutant("day2.module_core.Module", expect=r"non-persistent buffers")
class StateDictKeepsNonPersistentBuffers(_Core):
    def _own(self):
        return [(k, v) for k, v in self._parameters.items() if v is not None] + [
            (k, v) for k, v in self._buffers.items() if v is not None]

    def load_state_dict(self, state_dict, strict=True):
        return super().load_state_dict(state_dict, strict)


@mutant("day2.module_core.Module", expect=r"Parameter objects were replaced")
class LoadReplacesParameters(_Core):
    def load_state_dict(self, state_dict, strict=True):
        missing, unexpected = [], []
        expected = self.state_dict()
        for key in expected:
            if key not in state_dict:
                missing.append(key)
                continue
            *path, name = key.split(".")
            owner = self
            for part in path:
                owner = owner._modules[part]
            value = state_dict[key].clone()
            if name in owner._parameters:
                setattr(owner, name, Parameter(value))
            else:
                owner.register_buffer(name, value)
        unexpected = [k for k in state_dict if k not in expected]
        if strict and (missing or unexpected):
            raise RuntimeError("keys")
        return IncompatibleKeys(missing, unexpected)


@mutant("day2.module_core.Module", expect=r"torch raises RuntimeError")
class LoadNeverStrict(_Core):
    def load_state_dict(self, state_dict, strict=True):
        return super().load_state_dict(state_dict, strict=False)


@mutant("day2.module_core.Module", expect=r"recursively")
class TrainNotRecursive(_Core):
    def train(self, mode=True):
        object.__setattr__(self, "training", mode)
        return self


@mutant("day2.module_core.Module", expect=r"in place")
class ZeroGradReplaces(_Core):
    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is not None:
                p.grad = None if set_to_none else torch.zeros_like(p.grad)


@mutant("day2.module_core.Module", expect=r"subclasses torch\.nn\.Module")
class TorchModule(nn.Module):
    """torch's own Module: every check but the forbidden one passes."""


@mutant("day2.module_core.Module", expect=r"depth first \(pre-order\)")
class ModulesBreadthFirst(_Core):
    def modules(self):  # a queue instead of a pre-order walk
        seen, queue, out = set(), [self], []
        while queue:
            m = queue.pop(0)
            if id(m) not in seen:
                seen.add(id(m))
                out.append(m)
                queue.extend(c for c in m._modules.values() if c is not None)
        return out


@mutant("day2.module_core.Module", expect=r"must not shadow it")
class PlainAttributeShadowsRegistered(_Core):
    """Registered values read through __getattr__, but a plain value already in __dict__ stays."""

    def __setattr__(self, name, value):
        plain = self.__dict__.get(name, _Core)
        super().__setattr__(name, value)
        if isinstance(value, (Parameter, _Core)) and plain is not _Core:
            object.__setattr__(self, name, plain)


@mutant("day2.module_core.Module", expect=r"raise AttributeError, not KeyError")
class GetattrRaisesKeyError(_Core):
    def __getattr__(self, name):
        return self.__dict__["_parameters"][name]


@mutant("day2.module_core.Module", expect=r"persistence anew")
class ReRegisteredBufferStaysNonPersistent(_Core):
    def register_buffer(self, name, tensor, persistent=True):
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)


@mutant("day2.module_core.Module", expect=r"None keeps the name registered as a child")
class NoneDropsTheChild(_Core):
    def __setattr__(self, name, value):
        if value is None and name in self._modules:
            del self._modules[name]
            object.__setattr__(self, name, None)
        else:
            super().__setattr__(name, value)


@mutant("day2.module_core.Module", expect=r"has new memory")
class LoadReplacesData(_Core):
    def load_state_dict(self, state_dict, strict=True):
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if any(state_dict[k].shape != t.shape for k, t in own.items() if k in state_dict):
            raise RuntimeError("size mismatch")
        if strict and (missing or unexpected):
            raise RuntimeError(f"missing {missing}, unexpected {unexpected}")
        for key in own:
            if key in state_dict:
                *path, name = key.split(".")
                owner = self
                for part in path:
                    owner = owner._modules[part]
                with torch.no_grad():  # same Parameter object, but new storage
                    getattr(owner, name).data = state_dict[key].clone()
        return IncompatibleKeys(missing, unexpected)


@mutant("day2.module_core.Module", expect=r"copy_ broadcasts a smaller tensor")
class LoadLeavesShapesToCopy(_Core):
    def load_state_dict(self, state_dict, strict=True):
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(f"missing {missing}, unexpected {unexpected}")
        with torch.no_grad():
            for k, t in own.items():
                if k in state_dict:
                    t.copy_(state_dict[k])  # raises only when the shapes do not broadcast
        return IncompatibleKeys(missing, unexpected)


# --- Linear -----------------------------------------------------------------------------------

def _uniform(*shape, fan_in):
    bound = 1 / math.sqrt(fan_in)
    return torch.empty(*shape).uniform_(-bound, bound)


@mutant("day2.module_core.Linear", expect=r"register weight \(out_features, in_features\)")
class LinearTransposedWeight(_Core):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_uniform(in_features, out_features, fan_in=in_features))
        self.bias = Parameter(_uniform(out_features, fan_in=in_features)) if bias else None

    def forward(self, x):
        out = x @ self.weight
        return out if self.bias is None else out + self.bias


@mutant("day2.module_core.Linear", expect=r"not \.data")
class LinearDetachedForward(_Core):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_uniform(out_features, in_features, fan_in=in_features))
        self.bias = Parameter(_uniform(out_features, fan_in=in_features)) if bias else None

    def forward(self, x):
        out = x @ self.weight.data.T
        return out if self.bias is None else out + self.bias.data


@mutant("day2.module_core.Linear", expect=r"outside the bound")
class LinearStandardNormalInit(_Core):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(torch.randn(out_features, in_features))
        self.bias = Parameter(torch.randn(out_features)) if bias else None

    def forward(self, x):
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias


@mutant("day2.module_core.Linear", expect=r"weight\s.*first, then bias")
class LinearBiasFirst(_Core):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        if bias:
            self.bias = Parameter(_uniform(out_features, fan_in=in_features))
        else:
            self.bias = None
        self.weight = Parameter(_uniform(out_features, in_features, fan_in=in_features))

    def forward(self, x):
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias


@mutant("day2.module_core.Linear", expect=r"Linear is a torch\.nn\.Module")
class LinearFromTorch(nn.Linear):
    pass


@mutant("day2.module_core.Linear", expect=r"reshape \(not view\)")
class LinearFlattensWithView(_Core):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_uniform(out_features, in_features, fan_in=in_features))
        self.bias = Parameter(_uniform(out_features, fan_in=in_features)) if bias else None

    def forward(self, x):
        out = x.view(-1, self.in_features) @ self.weight.T
        if self.bias is not None:
            out = out + self.bias
        return out.view(*x.shape[:-1], self.out_features)


@mutant("day2.module_core.Linear", expect=r"bias has values in \[0, 0\].*not zeros")
class LinearZeroBias(_Core):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_uniform(out_features, in_features, fan_in=in_features))
        self.bias = Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias


# --- correct alternatives ---------------------------------------------------------------------

@alternative("day2.module_core.Module")
class RegistriesWithGetattr:
    """torch's own layout: registered values live only in the registries, found by __getattr__;
    traversal by explicit stacks instead of recursion."""

    def __init__(self):
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_bufs", OrderedDict())
        object.__setattr__(self, "_kids", OrderedDict())
        object.__setattr__(self, "_transient", set())
        object.__setattr__(self, "training", True)

    def __getattr__(self, name):
        for registry in ("_params", "_bufs", "_kids"):
            table = self.__dict__.get(registry, {})
            if name in table:
                return table[name]
        raise AttributeError(name)

    def __setattr__(self, name, value):
        params, bufs, kids = self._params, self._bufs, self._kids
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            bufs.pop(name, None)
            kids.pop(name, None)
            self._transient.discard(name)
            params[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(name)
            params[name] = None
        elif isinstance(value, RegistriesWithGetattr):
            self.__dict__.pop(name, None)
            params.pop(name, None)
            bufs.pop(name, None)
            self._transient.discard(name)
            kids[name] = value
        elif name in kids:
            if value is not None:
                raise TypeError(name)
            kids[name] = None
        elif name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(name)
            bufs[name] = value
        else:
            object.__setattr__(self, name, value)

    def register_buffer(self, name, tensor, persistent=True):
        self.__dict__.pop(name, None)
        self._bufs[name] = tensor
        if persistent:
            self._transient.discard(name)
        else:
            self._transient.add(name)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _named_modules(self, prefix=""):
        seen, stack, out = set(), [(prefix, self)], []
        while stack:
            path, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            out.append((path, module))
            kids = [(f"{path}.{k}" if path else k, m) for k, m in module._kids.items()
                    if m is not None]
            stack.extend(reversed(kids))
        return out

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        out = []
        for path, module in (self._named_modules(prefix) if recurse else [(prefix, self)]):
            for k, p in module._params.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    out.append((f"{path}.{k}" if path else k, p))
        return out

    def parameters(self, recurse=True):
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def children(self):
        out = []
        for m in self._kids.values():
            if m is not None and all(m is not o for o in out):
                out.append(m)
        return out

    def modules(self):
        return [m for _, m in self._named_modules()]

    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.requires_grad_(False) if p.grad.grad_fn is None else p.grad.detach_()
                p.grad.zero_()

    def _entries(self, prefix=""):
        """(key, tensor) of the state dict, every path (no de-duplication)."""
        stack, out = [(prefix, self)], []
        while stack:
            path, m = stack.pop()
            out += [(path + k, v) for k, v in m._params.items() if v is not None]
            out += [(path + k, v) for k, v in m._bufs.items()
                    if v is not None and k not in m._transient]
            stack.extend(reversed([(f"{path}{k}.", c) for k, c in m._kids.items()
                                   if c is not None]))
        return out

    def state_dict(self):
        return OrderedDict((k, v.detach()) for k, v in self._entries())

    def load_state_dict(self, state_dict, strict=True):
        entries = self._entries()
        own = {k for k, _ in entries}
        missing = [k for k, _ in entries if k not in state_dict]
        bad = [k for k, v in entries if k in state_dict and state_dict[k].shape != v.shape]
        if bad:
            raise RuntimeError(f"size mismatch for {bad}")
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(f"missing {missing}, unexpected {unexpected}")
        with torch.no_grad():
            for k, v in entries:
                if k in state_dict:
                    v.copy_(state_dict[k])
        return IncompatibleKeys(missing, unexpected)


@alternative("day2.module_core.Linear")
class LinearWithAddmm(_Core):
    """Linear through torch.addmm on a flattened batch, initialised with nn.init."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            bound = 1 / math.sqrt(in_features)
            self.bias = Parameter(torch.empty(out_features))
            nn.init.uniform_(self.bias, -bound, bound)
        else:
            self.bias = None

    def forward(self, x):
        flat = x.reshape(-1, self.in_features)
        if self.bias is None:
            out = flat @ self.weight.t()
        else:
            out = torch.addmm(self.bias, flat, self.weight.t())
        return out.reshape(*x.shape[:-1], self.out_features)


@alternative("day2.module_core.Module")
class OneRegistryOfKinds:
    """One ordered dict name -> [kind, value] for all three kinds (a name changing kind is
    popped first, so that it goes to the end of its new kind); values only there, read by
    __getattr__; load_state_dict by set difference, copying before it raises (as torch)."""

    def __init__(self):
        object.__setattr__(self, "_slots", OrderedDict())
        object.__setattr__(self, "_persist", {})
        object.__setattr__(self, "training", True)

    def __getattr__(self, name):
        slots = self.__dict__.get("_slots")
        if slots is not None and name in slots:
            return slots[name][1]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def _kind(self, name):
        entry = self._slots.get(name)
        return None if entry is None else entry[0]

    def _put(self, name, kind, value):
        if self._kind(name) != kind:
            self._slots.pop(name, None)
        self.__dict__.pop(name, None)
        self._slots[name] = [kind, value]

    def __setattr__(self, name, value):
        kind = self._kind(name)
        if isinstance(value, Parameter):
            self._put(name, "param", value)
        elif kind == "param":
            if value is not None:
                raise TypeError(f"cannot assign {type(value)} to parameter {name}")
            self._slots[name][1] = None
        elif isinstance(value, OneRegistryOfKinds):
            self._put(name, "child", value)
        elif kind == "child":
            if value is not None:
                raise TypeError(f"cannot assign {type(value)} to child {name}")
            self._slots[name][1] = None
        elif kind == "buffer":
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value)} to buffer {name}")
            self._slots[name][1] = value
        else:
            object.__setattr__(self, name, value)

    def register_buffer(self, name, tensor, persistent=True):
        self._put(name, "buffer", tensor)
        self._persist[name] = persistent

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _items(self, kind):
        return [(n, v) for n, (k, v) in self._slots.items() if k == kind and v is not None]

    def _named_modules(self, prefix="", memo=None):
        memo = set() if memo is None else memo
        if self in memo:
            return
        memo.add(self)
        yield prefix, self
        for n, child in self._items("child"):
            yield from child._named_modules(prefix + ("." if prefix else "") + n, memo)

    def named_parameters(self, prefix="", recurse=True):
        memo = set()
        for mp, m in (self._named_modules(prefix) if recurse else [(prefix, self)]):
            for n, p in m._items("param"):
                if p not in memo:
                    memo.add(p)
                    yield (mp + "." + n if mp else n), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def children(self):
        memo = set()
        for _, c in self._items("child"):
            if c not in memo:
                memo.add(c)
                yield c

    def modules(self):
        for _, m in self._named_modules():
            yield m

    def train(self, mode=True):
        self.training = mode
        for c in self.children():
            c.train(mode)
        return self

    def eval(self):
        return self.train(mode=False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                p.grad.zero_()

    def _state(self, prefix, out):
        out += [(prefix + n, v) for n, v in self._items("param")]
        out += [(prefix + n, v) for n, v in self._items("buffer") if self._persist[n]]
        for n, c in self._items("child"):
            c._state(prefix + n + ".", out)
        return out

    def state_dict(self):
        return OrderedDict((k, v.detach()) for k, v in self._state("", []))

    def load_state_dict(self, state_dict, strict=True):
        own = self._state("", [])
        keys = {k for k, _ in own}
        missing = [k for k, _ in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in keys]
        errors = []
        for k, t in own:
            if k in state_dict:
                if state_dict[k].shape != t.shape:
                    errors.append(f"size mismatch for {k}")
                    continue
                with torch.no_grad():
                    t.copy_(state_dict[k])
        if strict and (missing or unexpected):
            errors.append(f"missing keys {missing}, unexpected keys {unexpected}")
        if errors:
            raise RuntimeError("; ".join(errors))
        return IncompatibleKeys(missing, unexpected)


class _Keys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


@alternative("day2.module_core.Module")
class NameOnlyRegistries:
    """The registries hold only names (dicts as ordered sets, a dict name -> persistent for the
    buffers); every value lives in __dict__. Walks by an explicit stack, train() through
    modules(), its own typing.NamedTuple, load by p.data.copy_ outside no_grad."""

    def __init__(self):
        d = self.__dict__
        d["_pnames"], d["_cnames"], d["_bnames"] = {}, {}, {}
        d["training"] = True

    def __setattr__(self, name, value):
        d = self.__dict__
        params, kids, bufs = d["_pnames"], d["_cnames"], d["_bnames"]
        if isinstance(value, Parameter):
            kids.pop(name, None)
            bufs.pop(name, None)
            params.setdefault(name, None)
        elif name in params:
            if value is not None:
                raise TypeError(f"parameter {name!r} takes a Parameter or None")
        elif isinstance(value, NameOnlyRegistries):
            params.pop(name, None)
            bufs.pop(name, None)
            kids.setdefault(name, None)
        elif name in kids:
            if value is not None:
                raise TypeError(f"child {name!r} takes a Module or None")
        elif name in bufs:
            if not (value is None or isinstance(value, Tensor)):
                raise TypeError(f"buffer {name!r} takes a tensor or None")
        d[name] = value

    def register_buffer(self, name, tensor, persistent=True):
        self._bnames[name] = bool(persistent)
        self.__dict__[name] = tensor

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _named_modules(self, prefix=""):
        seen, stack = set(), [(prefix, self)]
        while stack:
            path, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield path, m
            kids = [(path + "." + n if path else n, m.__dict__[n]) for n in m._cnames]
            stack.extend(reversed([(p, c) for p, c in kids if c is not None]))

    def named_parameters(self, prefix="", recurse=True):
        out, seen = [], set()
        for path, m in (self._named_modules(prefix) if recurse else [(prefix, self)]):
            for n in m._pnames:
                p = m.__dict__[n]
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    out.append((".".join(filter(None, [path, n])), p))
        return iter(out)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def children(self):
        out = []
        for n in self._cnames:
            c = self.__dict__[n]
            if c is not None and not any(c is o for o in out):
                out.append(c)
        return iter(out)

    def modules(self):
        return [m for _, m in self._named_modules()]

    def train(self, mode=True):
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()

    def _entries(self, prefix=""):
        d = self.__dict__
        for n in self._pnames:
            if d[n] is not None:
                yield prefix + n, d[n]
        for n, keep in self._bnames.items():
            if keep and d[n] is not None:
                yield prefix + n, d[n]
        for n in self._cnames:
            if d[n] is not None:
                yield from d[n]._entries(prefix + n + ".")

    def state_dict(self):
        out = OrderedDict()
        for k, v in self._entries():
            out[k] = v.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        entries = list(self._entries())
        expected = [k for k, _ in entries]
        missing = [k for k in expected if k not in state_dict]
        unexpected = sorted(set(state_dict) - set(expected))
        for k, t in entries:
            if k in state_dict and tuple(state_dict[k].shape) != tuple(t.shape):
                raise RuntimeError(f"size mismatch for {k}")
        if strict and (missing or unexpected):
            raise RuntimeError(f"Missing key(s): {missing}. Unexpected key(s): {unexpected}.")
        for k, t in entries:
            if k in state_dict:
                t.data.copy_(state_dict[k])
        return _Keys(missing, unexpected)


@alternative("day2.module_core.Linear")
class LinearWithEinsum(_Core):
    """nn.init.kaiming_uniform_(a=sqrt(5)) for the weight, torch.distributions.Uniform for the
    bias; forward by einsum, a 0 added when there is no bias."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        weight = torch.empty(out_features, in_features)
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        self.weight = Parameter(weight)
        if bias:
            bound = 1 / math.sqrt(in_features)
            uniform = torch.distributions.Uniform(-bound, bound)
            self.bias = Parameter(uniform.sample((out_features,)))
        else:
            self.bias = None

    def forward(self, x):
        return torch.einsum("...i,oi->...o", x, self.weight) + (
            0 if self.bias is None else self.bias)


@alternative("day2.module_core.Linear")
class LinearBroadcastSum(_Core):
    """(2 * rand - 1) * bound, built transposed; forward as a broadcast product summed over the
    input features (another summation order than a matmul)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        k = math.sqrt(1.0 / in_features)
        self.weight = Parameter(((2 * torch.rand(in_features, out_features) - 1) * k).t())
        self.bias = Parameter((2 * torch.rand(out_features) - 1) * k) if bias else None

    def forward(self, x):
        y = (x.unsqueeze(-2) * self.weight).sum(dim=-1)
        return y if self.bias is None else y + self.bias
