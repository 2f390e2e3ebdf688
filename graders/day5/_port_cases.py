"""Hypothesis strategies for the day-5 port graders: torch layers and small models to port.

Every strategy returns the torch object with its inputs and a readable description of how it
was built, so that a failing example reads as code (``nn.Sequential(nn.Conv2d(1, 2, 3), ...)``).
Models are drawn in train or eval mode at random (a port must not change the mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

__all__ = ["Snapshot", "bn_cases", "cnn_case", "cnn_cases", "mlp_cases", "nchw", "randomise_bn", "state_of"]


def nchw(x: np.ndarray, *, to: str) -> np.ndarray:
    """Move channels last (``to="nhwc"``) or first (``to="nchw"``); 2-D arrays pass through."""
    x = np.asarray(x)
    if x.ndim != 4:
        return x
    return np.ascontiguousarray(x.transpose((0, 2, 3, 1) if to == "nhwc" else (0, 3, 1, 2)))


@dataclass
class Snapshot:
    """Every tensor of a module's state_dict and every submodule's train/eval flag."""

    training: bool
    modes: tuple[bool, ...]
    arrays: dict[str, np.ndarray]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Snapshot)
            and self.modes == other.modes
            and self.arrays.keys() == other.arrays.keys()
            and all(np.array_equal(a, other.arrays[k]) for k, a in self.arrays.items())
        )


def state_of(module: nn.Module) -> Snapshot:
    return Snapshot(
        training=module.training,
        modes=tuple(m.training for m in module.modules()),
        arrays={k: v.detach().clone().numpy() for k, v in module.state_dict().items()},
    )


def randomise_bn(bn: nn.modules.batchnorm._BatchNorm, rng: np.random.Generator) -> None:
    """Non-trivial running statistics (some variances small, so epsilon matters) and affine values."""
    c = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.from_numpy(rng.normal(size=c).astype(np.float32)))
        var = rng.uniform(0.002, 2.0, size=c)
        var[0] = 0.002
        bn.running_var.copy_(torch.from_numpy(var.astype(np.float32)))
        if bn.affine:
            bn.weight.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, size=c).astype(np.float32)))
            bn.bias.copy_(torch.from_numpy(rng.normal(size=c).astype(np.float32)))


@st.composite
def bn_cases(draw):
    """(bn, x, description): a BatchNorm1d with x (N, C) or a BatchNorm2d with x (N, C, H, W)."""
    two_d = draw(st.booleans())
    c = draw(st.integers(1, 4))
    eps = draw(st.sampled_from([1e-5, 1e-4, 1e-2]))
    momentum = draw(st.sampled_from([0.1, 0.05, 0.3, 0.01]))
    affine = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 999)))
    cls = nn.BatchNorm2d if two_d else nn.BatchNorm1d
    bn = cls(c, eps=eps, momentum=momentum, affine=affine)
    randomise_bn(bn, rng)
    bn.train(draw(st.booleans()))
    n = draw(st.integers(2, 4))
    shape = (n, c, draw(st.integers(1, 3)), draw(st.integers(1, 3))) if two_d else (n, c)
    x = (rng.normal(size=shape) * 2 + 0.5).astype(np.float32)
    text = f"batchnorm_layer(nn.{cls.__name__}({c}, eps={eps}, momentum={momentum}, affine={affine}))"
    return bn, x, text


def _activation(draw) -> tuple[str, nn.Module] | None:
    kind = draw(st.sampled_from(["relu", "tanh", "sigmoid", "dropout", "none"]))
    if kind == "none":
        return None
    if kind == "dropout":
        p = draw(st.sampled_from([0.2, 0.5]))
        return f"nn.Dropout({p})", nn.Dropout(p)
    return {"relu": ("nn.ReLU()", nn.ReLU()), "tanh": ("nn.Tanh()", nn.Tanh()),
            "sigmoid": ("nn.Sigmoid()", nn.Sigmoid())}[kind]


def _sequential(layers: list[tuple[str, nn.Module]]) -> tuple[nn.Sequential, str]:
    text = "nn.Sequential(" + ", ".join(t for t, _ in layers) + ")"
    return nn.Sequential(*[m for _, m in layers]), text


@st.composite
def mlp_cases(draw):
    """(model, x, description) for an MLP, sometimes starting with Flatten on (N, A, B) input."""
    seed = draw(st.integers(0, 999))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    layers: list[tuple[str, nn.Module]] = []
    if draw(st.booleans()):
        a, b = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        x_shape: tuple[int, ...] = (3, a, b)
        width = a * b
        layers.append(("nn.Flatten()", nn.Flatten()))
    else:
        width = draw(st.integers(1, 6))
        x_shape = (3, width)
    for _ in range(draw(st.integers(1, 3))):
        out, bias = draw(st.integers(1, 6)), draw(st.booleans())
        layers.append((f"nn.Linear({width}, {out}, bias={bias})", nn.Linear(width, out, bias=bias)))
        width = out
        act = _activation(draw)
        if act is not None:
            layers.append(act)
    model, text = _sequential(layers)
    model.train(draw(st.booleans()))
    return model, rng.normal(size=x_shape).astype(np.float32), text


def _conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _np_activation(rng: np.random.Generator) -> tuple[str, nn.Module] | None:
    kind = rng.choice(["relu", "tanh", "sigmoid", "dropout", "none"])
    if kind == "none":
        return None
    if kind == "dropout":
        return "nn.Dropout(0.5)", nn.Dropout(0.5)
    return {"relu": ("nn.ReLU()", nn.ReLU()), "tanh": ("nn.Tanh()", nn.Tanh()),
            "sigmoid": ("nn.Sigmoid()", nn.Sigmoid())}[str(kind)]


def cnn_case(seed: int) -> tuple[nn.Sequential, tuple[int, int, int], str]:
    """A small CNN drawn from ``seed``: (model, (C, H, W), description).

    Convolutions with non-square kernels, stride 1 or 2, padding up to k // 2 + 1 and dilation;
    batch norm with non-trivial statistics; max pooling; odd and even sizes; usually a Flatten
    and one or two Linear layers after it. The architecture comes from one integer so that a
    failing example shrinks in few steps (each step builds a Keras model).
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(4, 10)), int(rng.integers(4, 10))
    shape = (c, h, w)
    layers: list[tuple[str, nn.Module]] = []
    for _ in range(int(rng.integers(1, 3))):
        out = int(rng.integers(1, 5))
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        d = (1, 1) if max(s) > 1 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        p = (int(rng.integers(0, k[0] // 2 + 2)), int(rng.integers(0, k[1] // 2 + 2)))
        oh, ow = _conv_out(h, k[0], s[0], p[0], d[0]), _conv_out(w, k[1], s[1], p[1], d[1])
        if oh < 1 or ow < 1:
            k, s, d, p, oh, ow = (1, 1), (1, 1), (1, 1), (0, 0), h, w
        bias = bool(rng.integers(0, 2))
        layers.append((f"nn.Conv2d({c}, {out}, {k}, stride={s}, padding={p}, dilation={d}, "
                       f"bias={bias})", nn.Conv2d(c, out, k, stride=s, padding=p, dilation=d, bias=bias)))
        c, h, w = out, oh, ow
        if rng.random() < 0.5:
            bn = nn.BatchNorm2d(c, eps=float(rng.choice([1e-5, 1e-3])))
            randomise_bn(bn, rng)
            layers.append((f"nn.BatchNorm2d({c}, eps={bn.eps})", bn))
        act = _np_activation(rng)
        if act is not None:
            layers.append(act)
        pk = int(rng.integers(2, 4))
        if rng.random() < 0.5 and min(h, w) >= pk:
            ps = [None, 1, 2][int(rng.integers(0, 3))]
            layers.append((f"nn.MaxPool2d({pk}, stride={ps})", nn.MaxPool2d(pk, stride=ps)))
            step = pk if ps is None else ps
            h, w = (h - pk) // step + 1, (w - pk) // step + 1
    if rng.random() < 0.8:
        width, out = c * h * w, int(rng.integers(1, 6))
        layers += [("nn.Flatten()", nn.Flatten()), (f"nn.Linear({width}, {out})", nn.Linear(width, out))]
        act = _np_activation(rng)
        if act is not None:
            out2 = int(rng.integers(1, 5))
            layers += [act, (f"nn.Linear({out}, {out2})", nn.Linear(out, out2))]
    model, text = _sequential(layers)
    model.train(bool(rng.integers(0, 2)))
    return model, shape, text


def cnn_cases() -> st.SearchStrategy[tuple[nn.Sequential, tuple[int, int, int], str]]:
    """``cnn_case`` of a drawn seed."""
    return st.integers(0, 10**6).map(cnn_case)
