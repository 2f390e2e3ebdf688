"""Attention from scratch: scaled dot-product attention, masks, and a multi-head layer.

You build the core of every Transformer twice: once as a function (scores, scaling, masks,
softmax, weighted sum) and once as an ``nn.Module`` whose weights are laid out exactly as
PyTorch's own ``nn.MultiheadAttention``, so that a trained PyTorch layer loads into yours.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, causal: bool = False
) -> Tensor:
    r"""Scaled dot-product attention, as ``F.scaled_dot_product_attention`` computes it.

    .. math::
        \mathrm{out} = \mathrm{softmax}\!\left(\frac{q k^\top}{\sqrt{E}} + M\right) v

    where ``E`` is the size of the last dimension of ``q`` and ``k`` and ``M`` is 0 where
    attention is allowed and ``-inf`` where it is not (or the float mask itself, see below).
    The masking happens *before* the softmax, so every row of attention weights sums to 1 over
    the allowed keys.

    Args:
        q: queries, shape ``(..., L, E)``.
        k: keys, shape ``(..., S, E)``.
        v: values, shape ``(..., S, Ev)`` (``Ev`` may differ from ``E``). The leading ``...``
            dimensions are the same for ``q``, ``k`` and ``v`` (for example ``(batch, heads)``),
            and there may be none.
        mask: optional, broadcastable to ``(..., L, S)``. Its dtype decides what it means:

            * a **bool** mask is ``True`` where query ``i`` may attend to key ``j`` and
              ``False`` where it may not (this is ``F.scaled_dot_product_attention``'s
              convention; note that ``nn.MultiheadAttention`` uses the opposite one);
            * a **float** mask is *added* to the scaled scores: 0 leaves a score as it is,
              ``-inf`` forbids the pair, any other value biases it (e.g. a relative-position
              bias).
        causal: when True, query ``i`` may attend only to keys ``j <= i`` (the top-left
            aligned lower triangle of the ``(L, S)`` score matrix, also when ``L != S``).

    Returns:
        Tensor of shape ``(..., L, Ev)``, with the dtype and device of ``q``, differentiable
        with respect to ``q``, ``k`` and ``v``.

    Raises:
        ValueError: when both ``mask`` and ``causal=True`` are given.

    Edge cases: a query row with no allowed key at all has no defined output; such rows are
    never checked (neither their outputs nor gradients flowing through them), so return
    whatever your code gives there (NaN is fine).

    Scores may be large (thousands): the softmax must not overflow, so take it with
    ``torch.softmax`` or subtract each row's largest score before exponentiating.

    Forbidden: ``F.scaled_dot_product_attention`` (it does the whole job). Build it from
    matmuls, a mask and a softmax.

    Checked against ``F.scaled_dot_product_attention`` on float32 and float64 inputs with and
    without batch dimensions, bool and float masks and ``causal=True``: outputs within
    rtol = atol = 2e-5 in float32 (1e-10 in float64); the attention weights must be exactly 0
    on forbidden keys and sum to 1 over the allowed ones; gradients with respect to ``q``,
    ``k``, ``v`` compared in float64 (rtol 1e-7, atol 1e-9). GPU parity: CUDA and CPU agree.

    Example:
        >>> q = torch.randn(2, 4, 8); k = torch.randn(2, 6, 8); v = torch.randn(2, 6, 3)
        >>> scaled_dot_product_attention(q, k, v).shape
        torch.Size([2, 4, 3])
        >>> allowed = torch.ones(4, 6, dtype=torch.bool).tril()
        >>> out = scaled_dot_product_attention(q, k, v, mask=allowed)  # same as causal=True
    """
    if mask is not None and causal:
        raise ValueError("give either a mask or causal=True, not both")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        length, source = scores.shape[-2:]
        mask = torch.ones(length, source, dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    return torch.softmax(scores, dim=-1) @ v


class MultiHeadSelfAttention(nn.Module):
    r"""Multi-head self-attention with the parameter layout of ``nn.MultiheadAttention``.

    For an input ``x`` of shape ``(B, T, E)`` and ``H = num_heads`` heads of size
    ``D = E // H``:

    1. one projection gives queries, keys and values together:
       ``x @ in_proj_weight.T + in_proj_bias`` has shape ``(B, T, 3E)``; its first ``E``
       columns are ``q``, the next ``E`` are ``k``, the last ``E`` are ``v``;
    2. each of ``q``, ``k``, ``v`` is split into ``H`` heads of size ``D`` (head ``h`` is columns
       ``h*D : (h+1)*D``), giving ``(B, H, T, D)``;
    3. scaled dot-product attention runs per head (scaled by ``1/sqrt(D)``, the *head* size),
       causal when asked;
    4. the heads are concatenated back to ``(B, T, E)`` (head ``h`` again at columns
       ``h*D : (h+1)*D``) and passed through ``out_proj``.

    Attributes:
        in_proj_weight: ``nn.Parameter`` of shape ``(3E, E)``.
        in_proj_bias: ``nn.Parameter`` of shape ``(3E,)``.
        out_proj: ``nn.Linear(E, E)`` (with bias).

    With exactly these names (and no other parameters or buffers) the ``state_dict`` of an
    ``nn.MultiheadAttention(E, H, batch_first=True)`` loads into this module with
    ``load_state_dict`` (strict), and this module's ``state_dict`` loads into that one.
    Initialise like ``nn.MultiheadAttention``: Xavier-uniform ``in_proj_weight``, zero
    biases (the initial values are not checked, only shapes and names).

    Args:
        embed_dim: ``E``, the size of each token vector.
        num_heads: ``H``; must divide ``embed_dim``.

    Raises:
        ValueError: when ``embed_dim`` is not divisible by ``num_heads``.

    Forbidden: ``nn.MultiheadAttention`` and ``F.multi_head_attention_forward``. You may call
    your own ``scaled_dot_product_attention`` from this module.

    Checked against ``nn.MultiheadAttention(E, H, batch_first=True)`` (dropout 0) holding the
    same ``state_dict`` (every parameter random, biases included): outputs within rtol 1e-4 /
    atol 1e-5 in float32; gradients with respect to ``x`` and every parameter compared in
    float64 (rtol 1e-7, atol 1e-9). GPU parity: CUDA and CPU results agree.

    Example:
        >>> mha = nn.MultiheadAttention(8, 2, batch_first=True)
        >>> mine = MultiHeadSelfAttention(8, 2)
        >>> mine.load_state_dict(mha.state_dict())
        <All keys matched successfully>
        >>> x = torch.randn(3, 5, 8)
        >>> torch.allclose(mine(x), mha(x, x, x, need_weights=False)[0], atol=1e-6)
        True
    """

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor, causal: bool = False) -> Tensor:
        """Self-attention over the tokens of ``x``.

        Args:
            x: ``(B, T, E)``, float32 or float64 (the module's parameters have the same dtype
                and device).
            causal: when True, token ``i`` attends only to tokens ``j <= i``. This equals
                ``nn.MultiheadAttention`` called with
                ``attn_mask=nn.Transformer.generate_square_subsequent_mask(T)`` (a float mask
                of ``-inf`` above the diagonal; in that module a *bool* ``attn_mask`` marks the
                pairs that are *not* allowed).

        Returns:
            ``(B, T, E)``, with the dtype and device of ``x``.
        """
        batch, length, embed = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.view(batch, length, 3, self.num_heads, embed // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, D)
        heads = scaled_dot_product_attention(q, k, v, causal=causal)
        return self.out_proj(heads.transpose(1, 2).reshape(batch, length, embed))
