"""Graders for day2/modules.py: the MLP's structure and outputs, and parameter counting."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from graders import student
from graders.checks import assert_close, assert_equal, equal_values, fail
from graders.profiles import examples

mod = student("day2.modules")


def _leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


def _expected_layers(in_f, hidden, out_f, dropout) -> list[str]:
    names, width = [], in_f
    for h in hidden:
        names += [f"Linear({width}, {h})", "ReLU"] + ([f"Dropout({dropout})"] if dropout else [])
        width = h
    return names + [f"Linear({width}, {out_f})"]


def _describe(model: nn.Module) -> list[str]:
    out = []
    for m in _leaves(model):
        if isinstance(m, nn.Linear):
            out.append(f"Linear({m.in_features}, {m.out_features})")
        elif isinstance(m, nn.Dropout):
            out.append(f"Dropout({m.p})")
        else:
            out.append(type(m).__name__)
    return out


def _linears(model: nn.Module, what: str) -> list[nn.Linear]:
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        fail(f"{what} has no registered nn.Linear: layers kept in a plain Python list are "
             f"invisible to PyTorch. Use nn.Sequential or nn.ModuleList.")
    return layers


@st.composite
def mlp_configs(draw):
    in_f = draw(st.integers(1, 6))
    hidden = draw(st.lists(st.integers(1, 5), min_size=0, max_size=3))
    out_f = draw(st.integers(1, 4))
    dropout = draw(st.sampled_from([0.0, 0.0, 0.25, 0.5]))
    return in_f, hidden, out_f, dropout


@given(config=mlp_configs())
def test_MLP_has_the_layers_in_order(config):
    """Are the layers Linear, ReLU[, Dropout] per hidden size and a final Linear, in modules() order?"""
    in_f, hidden, out_f, dropout = config
    model = mod.MLP(in_f, list(hidden), out_f, dropout=dropout)
    got, expected = _describe(model), _expected_layers(in_f, hidden, out_f, dropout)
    what = f"MLP({in_f}, {hidden}, {out_f}, dropout={dropout})"
    if not _linears(model, what):
        return
    if not equal_values(got, expected):
        note = ""
        if dropout == 0 and any(g.startswith("Dropout") for g in got):
            note = " With dropout=0 there is no Dropout module at all."
        elif got[-1:] != expected[-1:]:
            note = " Nothing comes after the last Linear: it returns logits."
        fail(f"{what} has the layers {got}; expected {expected}.{note}")


def _described_mlp(in_f: int, hidden, out_f: int, dropout: float) -> nn.Module:
    """The layers the docstring lists, in order, after flattening from dim 1."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_f
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        width = size
    return nn.Sequential(*layers, nn.Linear(width, out_f))


def _copy_linears(src: nn.Module, dst: nn.Module, what: str) -> None:
    a, b = _linears(src, "the MLP the docstring describes"), _linears(dst, what)
    if len(a) != len(b):
        fail(f"{what} has {len(b)} Linear layers; expected {len(a)}.")
    with torch.no_grad():
        for la, lb in zip(a, b):
            if lb.weight.shape != la.weight.shape or lb.bias is None:
                fail(f"{what}: a Linear layer has weight {tuple(lb.weight.shape)} (bias "
                     f"{lb.bias is not None}); expected {tuple(la.weight.shape)} with a bias.")
            lb.weight.copy_(la.weight)
            lb.bias.copy_(la.bias)


@settings(max_examples=examples(15))
@given(config=mlp_configs(), n=st.integers(1, 4), seed=st.integers(0, 100),
       image=st.booleans())
def test_MLP_matches_its_description_with_copied_weights(config, n, seed, image):
    """With the described MLP's weights copied in, are the outputs equal in eval mode and, seeded, in train mode?"""
    in_f, hidden, out_f, dropout = config
    what = f"MLP({in_f}, {hidden}, {out_f}, dropout={dropout})"
    torch.manual_seed(seed)
    expected_model = _described_mlp(in_f, hidden, out_f, dropout).double()
    model = mod.MLP(in_f, list(hidden), out_f, dropout=dropout).double()
    _copy_linears(expected_model, model, what)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, in_f, generator=g, dtype=torch.float64)
    if image:  # (N, in_f, 1): forward flattens from dim 1
        x = x[:, :, None]
    model.eval()
    expected_model.eval()
    assert_close(model(x), expected_model(x), rtol=1e-7, atol=1e-9,
                 what=f"{what}(x of shape {tuple(x.shape)}) in eval mode")
    model.train()
    expected_model.train()
    torch.manual_seed(seed + 1)
    got = model(x)
    torch.manual_seed(seed + 1)
    expected = expected_model(x)
    assert_close(got, expected, rtol=1e-7, atol=1e-9,
                 what=f"{what}(x) in train mode with the same seed (nn.Dropout after each ReLU "
                 f"draws the same mask)")


def test_MLP_flattens_images_and_keeps_dtype():
    """Does MLP(64, [32], 10) take (N, 1, 8, 8) images, give (N, 10), and keep float64?"""
    model = mod.MLP(64, [32], 10)
    x = torch.rand(5, 1, 8, 8)
    out = model(x)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (5, 10):
        fail(f"MLP(64, [32], 10) on images (5, 1, 8, 8) returned "
             f"{getattr(out, 'shape', type(out).__name__)}; expected (5, 10). Flatten x from "
             f"dim 1 (x.flatten(1)) in forward.")
    out64 = model.double()(x.double())
    assert_equal(out64.dtype, torch.float64, what="the output dtype of a float64 MLP")


def test_MLP_rejects_bad_dropout():
    """Does a dropout outside [0, 1) raise ValueError?"""
    for bad in (-0.1, 1.0, 1.5):
        try:
            mod.MLP(4, [3], 2, dropout=bad)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail(f"MLP(4, [3], 2, dropout={bad}) raised {type(exc).__name__}; expected ValueError.")
        fail(f"MLP(4, [3], 2, dropout={bad}) was accepted; expected ValueError.")


# --- count_parameters -----------------------------------------------------------------------

def _frozen_model() -> tuple[nn.Module, int, int]:
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3), nn.Linear(3, 2))
    for p in model[0].parameters():
        p.requires_grad_(False)
    model[2].bias.requires_grad_(False)
    total = 5 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2
    trainable = total - (5 * 4 + 4) - 3
    return model, total, trainable


def _check_count(model, trainable_only, expected, what):
    got = mod.count_parameters(model, trainable_only=trainable_only)
    if type(got) is not int:
        fail(f"count_parameters({what}, trainable_only={trainable_only}) returned "
             f"{type(got).__name__} {got!r}; expected the int {expected}.")
    assert_equal(got, expected, what=f"count_parameters({what}, trainable_only={trainable_only})")


@given(trainable_only=st.booleans())
def test_count_parameters_with_frozen_layers(trainable_only):
    """Does count_parameters skip frozen parameters only when trainable_only is True?"""
    model, total, trainable = _frozen_model()
    _check_count(model, trainable_only, trainable if trainable_only else total,
                 "a model whose first Linear and one bias are frozen")


@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4))
def test_count_parameters_nested_and_tied(sizes):
    """Are nested modules counted once, and a weight shared by two layers counted once?"""
    layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])]
    inner = nn.Sequential(*layers)
    model = nn.Sequential(inner, nn.Sequential(nn.ReLU(), nn.Sequential(nn.Identity())))
    expected = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    _check_count(model, True, expected, f"nested Sequentials of Linear layers {sizes}")
    emb = nn.Embedding(7, 3)
    head = nn.Linear(3, 7, bias=False)
    head.weight = emb.weight  # tied weights
    tied = nn.ModuleDict({"emb": emb, "head": head})
    _check_count(tied, False, 21, "an Embedding(7, 3) whose weight is tied to a Linear head")


def test_count_parameters_ignores_buffers():
    """Are buffers (BatchNorm's running statistics) left out, and a model without parameters 0?"""
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    _check_count(model, False, 3 * 4 + 4 + 4 + 4, "Linear(3, 4) + BatchNorm1d(4)")
    _check_count(nn.ReLU(), True, 0, "nn.ReLU()")
