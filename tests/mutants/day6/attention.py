"""Wrong solutions for day6/attention.py, each a mistake students really make."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from graders.testing import alternative, mutant


def _attend(q, k, v, mask=None, causal=False, scale=None, causal_diagonal=0, mask_mode="fill"):
    if mask is not None and causal:
        raise ValueError("mask and causal")
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if causal:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool,
                          device=q.device).tril(causal_diagonal)
    if mask is not None and mask.dtype == torch.bool:
        if mask_mode == "inverted":
            scores = scores.masked_fill(mask, float("-inf"))
        elif mask_mode == "added":
            scores = scores + mask.to(scores.dtype)
        elif mask_mode == "after":
            return (torch.softmax(scores, -1) * mask) @ v
        else:
            scores = scores.masked_fill(~mask, float("-inf"))
    elif mask is not None:
        scores = scores + mask
    return torch.softmax(scores, -1) @ v


@mutant("day6.attention.scaled_dot_product_attention", expect=r"divided by E")
def scaled_by_dimension(q, k, v, mask=None, causal=False):
    return _attend(q, k, v, mask, causal, scale=1 / q.shape[-1])


@mutant("day6.attention.scaled_dot_product_attention", expect=r"i \+ 1")
def causal_sees_next(q, k, v, mask=None, causal=False):
    return _attend(q, k, v, mask, causal, causal_diagonal=1)


@mutant("day6.attention.scaled_dot_product_attention", expect=r"before the softmax|forbidden key")
def mask_after_softmax(q, k, v, mask=None, causal=False):
    return _attend(q, k, v, mask, causal, mask_mode="after")


@mutant("day6.attention.scaled_dot_product_attention", expect=r"wrong way round")
def bool_mask_inverted(q, k, v, mask=None, causal=False):
    return _attend(q, k, v, mask, causal, mask_mode="inverted")


@mutant("day6.attention.scaled_dot_product_attention", expect=r"added to the scores as numbers")
def bool_mask_added(q, k, v, mask=None, causal=False):
    return _attend(q, k, v, mask, causal, mask_mode="added")


@mutant("day6.attention.scaled_dot_product_attention", expect=r"overflows")
def softmax_without_shift(q, k, v, mask=None, causal=False):
    """The softmax written as exp / sum with no shift: large scores overflow to inf / inf."""
    if mask is not None and causal:
        raise ValueError("mask and causal")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    weights = scores.exp()
    return weights / weights.sum(-1, keepdim=True) @ v


@mutant("day6.attention.scaled_dot_product_attention", expect=r"not allowed")
def calls_torch(q, k, v, mask=None, causal=False):
    if mask is not None and causal:
        raise ValueError("mask and causal")
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)


class _Base(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError("indivisible")
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)


@mutant("day6.attention.MultiHeadSelfAttention", expect=r"1/sqrt\(E / num_heads\)")
class ScaledByEmbedDim(_Base):
    def forward(self, x, causal=False):
        b, t, e = x.shape
        h, d = self.num_heads, e // self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(b, t, 3, h, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        out = _attend(q, k, v, causal=causal, scale=1 / math.sqrt(e))
        return self.out_proj(out.transpose(1, 2).reshape(b, t, e))


@mutant("day6.attention.MultiHeadSelfAttention", expect=r"state_dict")
class SeparateProjections(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError("indivisible")
        self.num_heads = num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, x, causal=False):
        b, t, e = x.shape
        h, d = self.num_heads, e // self.num_heads
        q, k, v = (p(x).view(b, t, h, d).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        out = _attend(q, k, v, causal=causal)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, e))


@mutant("day6.attention.MultiHeadSelfAttention", expect=r"not allowed")
class WrapsTorch(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError("indivisible")
        self.inner = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.in_proj_weight = self.inner.in_proj_weight
        self.in_proj_bias = self.inner.in_proj_bias
        self.out_proj = self.inner.out_proj

    def state_dict(self, *args, **kwargs):
        return self.inner.state_dict(*args, **kwargs)

    def load_state_dict(self, state, strict=True, assign=False):
        return self.inner.load_state_dict(state, strict, assign)

    def forward(self, x, causal=False):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], dtype=x.dtype,
                                                              device=x.device) if causal else None
        return self.inner(x, x, x, need_weights=False, attn_mask=mask)[0]


@mutant("day6.attention.MultiHeadSelfAttention", expect=r"causal=True")
class IgnoresCausal(_Base):
    def forward(self, x, causal=False):
        b, t, e = x.shape
        h, d = self.num_heads, e // self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(b, t, 3, h, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        out = _attend(q, k, v)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, e))


@alternative("day6.attention.scaled_dot_product_attention")
def softmax_written_out_with_a_shift(q, k, v, mask=None, causal=False):
    """The softmax by hand, each row shifted by its largest allowed score (no overflow)."""
    if mask is not None and causal:
        raise ValueError("give a mask or causal=True, not both")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    shifted = scores - scores.amax(-1, keepdim=True).detach()
    weights = shifted.exp()
    return weights / weights.sum(-1, keepdim=True) @ v
