"""Wrong solutions for day2/module_core.py, each one mistake on top of a working Module.

``_Core`` is a correct Module (not a mutant); each wrong Module overrides the one method a
student got wrong, and each wrong Linear is built on ``_Core``.
"""

import math
from collections import OrderedDict, namedtuple

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
