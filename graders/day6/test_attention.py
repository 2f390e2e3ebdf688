"""Graders for day6/attention.py: scaled dot-product attention and multi-head self-attention."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from graders import student
from graders import strategies as ds
from graders.checks import assert_close, close_values, equal_values, fail
from graders.forbid import forbidden_calls
from graders.gpu import gpu_parity
from graders.profiles import examples

mod = student("day6.attention")

NEG_INF = float("-inf")
# a few exact values: quick to shrink, and still every mistake changes the result
VALUES = st.sampled_from([0.0, 1.0, -1.0, 0.5, -2.0, 1.5, 3.0, -0.25])


# --- inputs ---------------------------------------------------------------------------------------


def _ensure_rows_allowed(allowed: torch.Tensor, length: int, source: int) -> torch.Tensor:
    """Give every query row at least one allowed key (rows with none are never checked)."""
    fallback = torch.zeros(length, source, dtype=torch.bool)
    fallback[torch.arange(length), torch.arange(length) % source] = True
    empty = ~allowed.any(-1, keepdim=True)
    return allowed | (empty & fallback)


@st.composite
def attention_inputs(draw, dtype=None, kinds=("none", "causal", "bool", "float")):
    """(q, k, v, kwargs) with leading dims (), (B,) or (B, H) and a drawn kind of mask."""
    dtype = draw(ds.dtypes()) if dtype is None else dtype
    lead = draw(st.sampled_from([(), (2,), (2, 3)]))
    length, source = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    embed, value_dim = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    q = draw(ds.tensors(lead + (length, embed), dtype, elements=VALUES))
    k = draw(ds.tensors(lead + (source, embed), dtype, elements=VALUES))
    v = draw(ds.tensors(lead + (source, value_dim), dtype, elements=VALUES))
    kind = draw(st.sampled_from(kinds))
    kwargs: dict = {}
    if kind == "causal":
        kwargs["causal"] = True
    elif kind in ("bool", "float"):
        # the mask broadcasts: (L, S), or with the leading dims, sometimes of size 1
        mlead = tuple(draw(st.sampled_from([1, n])) for n in lead[len(lead) - draw(
            st.integers(0, len(lead))):])
        allowed = draw(ds.tensors(mlead + (length, source), torch.bool, layouts=("contiguous",)))
        allowed = _ensure_rows_allowed(allowed, length, source)
        if kind == "bool":
            kwargs["mask"] = allowed
        else:
            bias = draw(ds.tensors(mlead + (length, source), dtype, elements=VALUES))
            kwargs["mask"] = torch.where(allowed, bias, torch.full_like(bias, NEG_INF))
    return q, k, v, kwargs


def _oracle(q, k, v, kwargs):
    """F.scaled_dot_product_attention in float64."""
    mask = kwargs.get("mask")
    if mask is not None and mask.is_floating_point():
        mask = mask.double()
    out = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=mask,
                                         is_causal=kwargs.get("causal", False))
    return out


def _by_hand(q, k, v, allowed, scale):
    """F.scaled_dot_product_attention in float64 with a given bool mask and scale."""
    return F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=allowed,
                                          scale=scale)


def _diagnose(got, q, k, v, kwargs) -> None:
    """Name the usual mistakes when `got` matches one of them."""
    __tracebackhide__ = True
    embed, (length, source) = q.shape[-1], (q.shape[-2], k.shape[-2])
    mask = kwargs.get("mask")
    causal_allowed = torch.ones(length, source, dtype=torch.bool).tril()
    allowed = causal_allowed if kwargs.get("causal") else (
        mask if mask is not None and mask.dtype == torch.bool else None)
    scale = 1 / math.sqrt(embed)
    candidates = []  # (wrong result, rows to compare, explanation)
    if embed > 1 and (mask is None or mask.dtype == torch.bool):
        candidates.append((_by_hand(q, k, v, allowed, 1 / embed), None,
                           "the scores are divided by E (the feature size); divide by sqrt(E)"))
        candidates.append((_by_hand(q, k, v, allowed, 1.0), None,
                           "the scores are not scaled; divide them by sqrt(E)"))
    if kwargs.get("causal"):
        leaky = torch.ones(length, source, dtype=torch.bool).tril(1)
        candidates.append((_by_hand(q, k, v, leaky, scale), None,
                           "with causal=True, query i also sees key i + 1: allow keys j <= i "
                           "only (tril with diagonal 0)"))
    if allowed is not None:  # a bool mask, given or built for causal=True
        nan_rows = got.detach().isnan().any(-1)
        full_rows = allowed.all(-1).expand(got.shape[:-1])
        if bool(nan_rows.any()) and bool((nan_rows <= full_rows).all()):
            fail("scaled_dot_product_attention gives NaN exactly for the queries that may see "
                 "every key: the bool mask is read the wrong way round. True means the pair is "
                 "ALLOWED (F.scaled_dot_product_attention's convention).")
        inverted = ~allowed
        rows = inverted.any(-1).expand(got.shape[:-1])  # rows that still have a key
        if bool(rows.any()):
            candidates.append((_by_hand(q, k, v, inverted, scale), rows,
                               "the bool mask is read the wrong way round: True means the pair "
                               "is ALLOWED (F.scaled_dot_product_attention's convention)"))
        added = F.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                               attn_mask=allowed.double())
        candidates.append((added, None, "the bool mask was added to the scores as numbers (0/1): "
                           "a bool mask must forbid the pairs where it is False (set them to "
                           "-inf)"))
    for wrong, rows, why in candidates:
        if wrong.shape != got.shape:
            continue
        g, w = got.double(), wrong
        if rows is not None:
            g, w = g[rows], w[rows]
        if close_values(g, w, rtol=1e-4, atol=1e-5):
            fail(f"scaled_dot_product_attention gives the wrong result: {why}.")


def _describe(q, k, v, kwargs) -> str:
    extra = ", causal=True" if kwargs.get("causal") else ""
    mask = kwargs.get("mask")
    if mask is not None:
        extra = f", a {'bool' if mask.dtype == torch.bool else 'float'} mask of shape " \
                f"{tuple(mask.shape)}"
    return (f"scaled_dot_product_attention(q {tuple(q.shape)}, k {tuple(k.shape)}, "
            f"v {tuple(v.shape)}{extra}) in {str(q.dtype).replace('torch.', '')}")


# --- scaled_dot_product_attention -----------------------------------------------------------------


@settings(max_examples=examples(15))
@given(inputs=attention_inputs())
def test_scaled_dot_product_attention_matches_torch(inputs):
    """Does it match F.scaled_dot_product_attention with no mask, bool/float masks and causal?"""
    q, k, v, kwargs = inputs
    got = mod.scaled_dot_product_attention(q, k, v, **kwargs)
    expected = _oracle(q, k, v, kwargs).to(q.dtype)
    tol = 2e-5 if q.dtype == torch.float32 else 1e-10
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and not close_values(
            got.double(), expected.double(), rtol=tol, atol=tol):
        _diagnose(got, q, k, v, kwargs)
    assert_close(got, expected, rtol=tol, atol=tol, what=_describe(q, k, v, kwargs))


@settings(max_examples=examples(12))
@given(inputs=attention_inputs(dtype=torch.float64, kinds=("causal", "bool", "float")))
def test_scaled_dot_product_attention_masks_before_the_softmax(inputs):
    """Are the attention weights 0 on forbidden keys and do they sum to 1 over the allowed ones?"""
    q, k, _, kwargs = inputs
    source = k.shape[-2]
    # with v = identity, the output rows are the attention weights themselves
    eye = torch.eye(source, dtype=q.dtype).expand(*k.shape[:-1], source)
    weights = mod.scaled_dot_product_attention(q, k, eye, **kwargs)
    expected = _oracle(q, k, eye, kwargs)
    if not isinstance(weights, torch.Tensor) or weights.shape != expected.shape:
        assert_close(weights, expected, what=_describe(q, k, eye, kwargs))
    sums = weights.detach().sum(-1)
    forbidden = expected == 0
    leaked = weights.detach().abs().masked_fill(~forbidden, 0).amax().item()
    if leaked > 1e-9:
        fail(f"with v = identity (so that the output shows the attention weights), a forbidden "
             f"key gets weight {leaked:.3g} in {_describe(q, k, eye, kwargs)}: forbidden pairs "
             f"must get -inf scores before the softmax, so that their weight is exactly 0.")
    if not close_values(sums, torch.ones_like(sums), atol=1e-9):
        nan_rows = torch.isnan(sums)
        if bool(nan_rows.any()):
            first = tuple(nan_rows.nonzero()[0].tolist())
            fail(f"the attention weights of {int(nan_rows.sum())} of {sums.numel()} queries are "
                 f"NaN (the first at index {first} of the weights' leading dimensions) in "
                 f"{_describe(q, k, eye, kwargs)}: look for 0/0 or inf - inf, for example a "
                 f"softmax over scores that are all -inf.")
        worst = (sums - 1).abs().amax().item()
        fail(f"the attention weights of a query do not sum to 1 (off by up to {worst:.3g}) in "
             f"{_describe(q, k, eye, kwargs)}: mask the scores BEFORE the softmax; zeroing "
             f"weights after it leaves rows that no longer sum to 1.")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scaled_dot_product_attention_survives_large_scores(dtype):
    """With scores in the thousands, is the output still finite and right (no overflow)?"""
    gen = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(2, 4, 8, generator=gen, dtype=torch.float64) * s for s in (40, 40, 1))
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    got = mod.scaled_dot_product_attention(q, k, v)
    expected = _oracle(q, k, v, {}).to(dtype)
    what = f"{_describe(q, k, v, {})}, scores up to {float((q @ k.mT).abs().max() / 8 ** 0.5):.0f}"
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and not bool(
            got.detach().isfinite().all()):
        fail(f"{what} gives NaN or inf: exp of a score that large overflows. Take the softmax "
             f"with torch.softmax, or subtract each row's largest score before exponentiating.")
    tol = 2e-5 if dtype == torch.float32 else 1e-10
    assert_close(got, expected, rtol=tol, atol=tol, what=what)


def _gradient_cases():
    """Fixed float64 cases: no mask, causal with L != S, a bool and a float mask."""
    gen = torch.Generator().manual_seed(5)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    allowed = _ensure_rows_allowed(torch.rand(4, 6, generator=gen) > 0.5, 4, 6)
    bias = rand(4, 6).masked_fill(~allowed, NEG_INF)
    return [
        (rand(2, 4, 3), rand(2, 6, 3), rand(2, 6, 2), {}),
        (rand(2, 3, 4, 5), rand(2, 3, 6, 5), rand(2, 3, 6, 4), {"causal": True}),
        (rand(3, 4, 2), rand(3, 6, 2), rand(3, 6, 3), {"mask": allowed}),
        (rand(4, 3), rand(6, 3), rand(6, 5), {"mask": bias}),
    ]


def test_scaled_dot_product_attention_gradients_match_torch():
    """Are the gradients with respect to q, k and v those of F.scaled_dot_product_attention?"""
    for q, k, v, kwargs in _gradient_cases():
        leaves = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
        out = mod.scaled_dot_product_attention(*leaves, **kwargs)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            fail("scaled_dot_product_attention's output is not attached to the autograd graph "
                 "of q, k and v (did you detach, or leave torch for numpy?).")
        upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(0),
                               dtype=torch.float64)
        got = torch.autograd.grad(out, leaves, upstream, allow_unused=True)
        oracle_leaves = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
        expected = torch.autograd.grad(_oracle(*oracle_leaves, kwargs), oracle_leaves, upstream)
        for name, g, e in zip("qkv", got, expected):
            if g is None:
                fail(f"scaled_dot_product_attention's output does not depend on {name}.")
            assert_close(g, e, rtol=1e-7, atol=1e-9, what=f"the gradient with respect to "
                         f"{name} of {_describe(q, k, v, kwargs)}")


def test_scaled_dot_product_attention_rejects_mask_with_causal():
    """Does giving both a mask and causal=True raise ValueError?"""
    q = torch.randn(2, 3, 4)
    mask = torch.ones(3, 3, dtype=torch.bool)
    try:
        mod.scaled_dot_product_attention(q, q, q, mask=mask, causal=True)
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"scaled_dot_product_attention(q, k, v, mask=..., causal=True) raised "
             f"{type(exc).__name__}; expected ValueError.")
    fail("scaled_dot_product_attention(q, k, v, mask=..., causal=True) returned a result; it must "
         "raise ValueError when both a mask and causal=True are given.")


def test_scaled_dot_product_attention_builds_it_itself():
    """Is attention computed without F.scaled_dot_product_attention?"""
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, 4, generator=gen) for _ in range(3))
    with forbidden_calls("torch.nn.functional.scaled_dot_product_attention",
                         what="scaled_dot_product_attention",
                         why="build it from a matmul, the scaling, the mask and a softmax."):
        mod.scaled_dot_product_attention(q, k, v, causal=True)
        mod.scaled_dot_product_attention(q, k, v, mask=torch.ones(3, 3, dtype=torch.bool).tril())


def test_scaled_dot_product_attention_on_gpu():
    """Does it agree on CUDA and CPU and keep outputs on the input's device?"""
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=gen) for _ in range(3))
    bias = torch.randn(5, 5, generator=gen).masked_fill(
        ~torch.ones(5, 5, dtype=torch.bool).tril(), NEG_INF)

    def make(device):
        return (q.to(device), k.to(device), v.to(device)), {"mask": bias.to(device)}

    gpu_parity(mod.scaled_dot_product_attention, make, what="scaled_dot_product_attention",
               rtol=1e-4, atol=1e-5)


# --- MultiHeadSelfAttention -----------------------------------------------------------------------


def _torch_mha(embed: int, heads: int, seed: int) -> nn.MultiheadAttention:
    """nn.MultiheadAttention with every parameter random (biases included)."""
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(embed, heads, batch_first=True)
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return mha.eval()


def _student_mha(embed: int, heads: int, state: dict) -> nn.Module:
    layer = mod.MultiHeadSelfAttention(embed, heads)
    try:
        layer.load_state_dict(state)
    except RuntimeError as exc:
        fail(f"an nn.MultiheadAttention({embed}, {heads}, batch_first=True) state_dict does not "
             f"load into MultiHeadSelfAttention({embed}, {heads}): {str(exc)[:600]}")
    return layer


def _torch_forward(mha: nn.MultiheadAttention, x: torch.Tensor, causal: bool) -> torch.Tensor:
    mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], dtype=x.dtype) \
        if causal else None
    return mha(x, x, x, need_weights=False, attn_mask=mask)[0]


@st.composite
def mha_cases(draw):
    embed, heads = draw(st.sampled_from([(2, 1), (4, 2), (6, 3), (6, 2), (8, 4), (8, 1)]))
    batch, length = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    return embed, heads, batch, length, draw(st.booleans()), draw(st.integers(0, 50))


def test_MultiHeadSelfAttention_has_the_layout_of_torch():
    """Does the layer have exactly nn.MultiheadAttention's parameter names and shapes?"""
    for embed, heads in [(8, 2), (6, 3)]:
        mha = nn.MultiheadAttention(embed, heads, batch_first=True)
        layer = mod.MultiHeadSelfAttention(embed, heads)
        got = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
        expected = {k: tuple(v.shape) for k, v in mha.state_dict().items()}
        if not equal_values(got, expected):
            fail(f"MultiHeadSelfAttention({embed}, {heads}).state_dict() has {got}; expected "
                 f"{expected} (the names and shapes of nn.MultiheadAttention({embed}, {heads}, "
                 f"batch_first=True)).")
        _student_mha(embed, heads, mha.state_dict())
        mha.load_state_dict(layer.state_dict())
    try:
        mod.MultiHeadSelfAttention(6, 4)
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"MultiHeadSelfAttention(6, 4) raised {type(exc).__name__}; expected ValueError "
             f"(6 is not divisible by 4).")
    fail("MultiHeadSelfAttention(6, 4) did not raise: num_heads must divide embed_dim "
         "(raise ValueError).")


@settings(max_examples=examples(10))
@given(case=mha_cases())
def test_MultiHeadSelfAttention_matches_torch(case):
    """Does the forward pass equal nn.MultiheadAttention's (causal too) with the same weights?"""
    embed, heads, batch, length, causal, seed = case
    mha = _torch_mha(embed, heads, seed)
    layer = _student_mha(embed, heads, mha.state_dict())
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, embed, generator=gen)
    with torch.no_grad():
        got = layer(x, causal=causal)
        mha64 = copy.deepcopy(mha).double()
        expected = _torch_forward(mha64, x.double(), causal).float()
    what = (f"MultiHeadSelfAttention({embed}, {heads})(x of shape {tuple(x.shape)}, "
            f"causal={causal})")
    if heads > 1 and isinstance(got, torch.Tensor) and got.shape == expected.shape and \
            not close_values(got, expected, rtol=1e-4, atol=1e-4):
        wrong_scale = _scaled_by_embed(mha64, x.double(), heads, causal).float()
        if close_values(got, wrong_scale, rtol=1e-4, atol=1e-4):
            fail(f"{what} scales the scores by 1/sqrt(E) = 1/sqrt({embed}); each head uses its "
                 f"own size: 1/sqrt(E / num_heads) = 1/sqrt({embed // heads}).")
    assert_close(got, expected, rtol=1e-4, atol=1e-5, what=what)


def _scaled_by_embed(mha, x, heads, causal):
    """nn.MultiheadAttention with the scores scaled by 1/sqrt(E) instead of 1/sqrt(E/H)."""
    wrong = copy.deepcopy(mha)
    embed = x.shape[-1]
    with torch.no_grad():  # scaling the queries by 1/sqrt(H) scales every score by it
        wrong.in_proj_weight[:embed] /= math.sqrt(heads)
        wrong.in_proj_bias[:embed] /= math.sqrt(heads)
    return _torch_forward(wrong, x, causal)


@pytest.mark.parametrize("case", [(8, 2, 2, 5, False, 1), (6, 3, 1, 4, True, 2)],
                         ids=["plain", "causal"])
def test_MultiHeadSelfAttention_gradients_match_torch(case):
    """In float64, are the gradients for x and every parameter those of nn.MultiheadAttention?"""
    embed, heads, batch, length, causal, seed = case
    mha = _torch_mha(embed, heads, seed).double()
    layer = _student_mha(embed, heads, mha.state_dict()).double()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, embed, generator=gen, dtype=torch.float64)
    upstream = torch.randn(batch, length, embed, generator=gen, dtype=torch.float64)
    xs = x.clone().requires_grad_(True)
    out = layer(xs, causal=causal)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        fail("MultiHeadSelfAttention's output is not attached to the autograd graph.")
    out.backward(upstream)
    xr = x.clone().requires_grad_(True)
    _torch_forward(mha, xr, causal).backward(upstream)
    what = f"MultiHeadSelfAttention({embed}, {heads}), causal={causal}"
    assert_close(xs.grad, xr.grad, rtol=1e-7, atol=1e-9, what=f"the gradient for x of {what}")
    theirs = dict(mha.named_parameters())
    for name, p in layer.named_parameters():
        if p.grad is None:
            fail(f"the parameter `{name}` of {what} got no gradient: is it used in forward?")
        assert_close(p.grad, theirs[name].grad, rtol=1e-7, atol=1e-9,
                     what=f"the gradient of `{name}` of {what}")


def test_MultiHeadSelfAttention_builds_it_itself():
    """Is the layer built without nn.MultiheadAttention and F.multi_head_attention_forward?"""
    x = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(3))
    with forbidden_calls("torch.nn.MultiheadAttention",
                         "torch.nn.functional.multi_head_attention_forward",
                         what="MultiHeadSelfAttention",
                         why="project, split into heads and attend with your own code."):
        layer = mod.MultiHeadSelfAttention(8, 2)
        layer(x)
        layer(x, causal=True)


def test_MultiHeadSelfAttention_on_gpu():
    """Does the layer agree on CUDA and CPU and keep outputs on the input's device?"""
    mha = _torch_mha(8, 2, 4)
    layer = _student_mha(8, 2, mha.state_dict())
    x = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(4))

    def make(device):
        return (copy.deepcopy(layer).to(device), x.to(device)), {}

    gpu_parity(lambda m, inp: m(inp, causal=True), make, what="MultiHeadSelfAttention",
               rtol=1e-4, atol=1e-5)
