"""Recurrent networks from their equations: cells, unrolling, backpropagation through time.

You write the Elman RNN, LSTM and GRU cells in PyTorch's own weight layout and gate order (so
that weights copied from ``nn.RNNCell``, ``nn.LSTMCell`` and ``nn.GRUCell`` give the same
numbers), unroll a cell over a sequence, derive its gradients through time by hand, and train a
model on long sequences with truncated backpropagation and global gradient clipping.

Shapes follow torch: x (B, D) for one step, (T, B, D) for a time-first sequence; hidden states
(B, H); ``W_ih`` (G*H, D), ``W_hh`` (G*H, H), biases (G*H,) with G = 1 (RNN), 4 (LSTM), 3 (GRU).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn


def rnn_cell(
    x: Tensor, h: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None
) -> Tensor:
    """One step of the Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        x: input (B, D).
        h: previous hidden state (B, H).
        W_ih: (H, D). W_hh: (H, H).
        b_ih, b_hh: (H,) each, or None for no bias (both None for ``nn.RNNCell(bias=False)``).

    Returns:
        The new hidden state (B, H), same dtype and device as x. Differentiable (autograd flows
        through it to every input).

    Forbidden: ``nn.RNNCell``/``nn.RNN`` and torch's fused cell functions (``torch.rnn_tanh_cell``
    and the like). Checked against ``nn.RNNCell`` with copied weights: float64 with rtol 1e-7,
    atol 1e-7; float32 with rtol 1e-5, atol 1e-5.

    Example:
        >>> cell = nn.RNNCell(3, 2)
        >>> x, h = torch.randn(4, 3), torch.randn(4, 2)
        >>> out = rnn_cell(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        >>> torch.allclose(out, cell(x, h))
        True
    """
    raise NotImplementedError("day4.rnn.rnn_cell")


def rnn_forward(
    x: Tensor, h0: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Unroll ``rnn_cell`` over a time-first sequence.

    Args:
        x: inputs (T, B, D), T >= 0.
        h0: initial hidden state (B, H).
        W_ih, W_hh, b_ih, b_hh: as for ``rnn_cell``.

    Returns:
        ``(hs, h_last)``: every state h_1..h_T stacked as (T, B, H), and h_T (B, H). For T = 0,
        hs is an empty (0, B, H) tensor and h_last is h0. Equal to ``nn.RNN``'s output with the
        same weights (tolerances as for ``rnn_cell``); differentiable.

    Forbidden: ``nn.RNN`` and ``torch.rnn_tanh`` (unroll your own cell).

    Example:
        >>> hs, h = rnn_forward(torch.randn(5, 2, 3), torch.zeros(2, 4), torch.randn(4, 3),
        ...                     torch.randn(4, 4), None, None)
        >>> hs.shape, torch.equal(hs[-1], h)
        (torch.Size([5, 2, 4]), True)
    """
    raise NotImplementedError("day4.rnn.rnn_forward")


def rnn_backward(
    dhs: Tensor, x: Tensor, h0: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor
) -> dict[str, Tensor]:
    """Backpropagation through time for ``rnn_forward``, by hand.

    The loss L is unknown; you are given ``dhs[t] = dL/dh_{t+1}``, the gradient that reaches
    each output state *directly* (for example from a per-step output layer). The gradient of
    h_t in total is that plus what flows back from h_{t+1} through ``W_hh``. Recompute the
    forward pass, then walk back from t = T to 1.

    Args:
        dhs: (T, B, H), T >= 0.
        x: (T, B, D). h0: (B, H). W_ih: (H, D). W_hh: (H, H). b_ih, b_hh: (H,) (never None).

    Returns:
        A dict with the keys "x", "h0", "W_ih", "W_hh", "b_ih", "b_hh", each the gradient of L
        with the shape, dtype and device of that input (all zeros when T = 0; "h0" is the
        gradient that flows all the way back to the initial state).

    Forbidden: autograd (``.backward()``, ``torch.autograd.grad``); the check runs your function
    with grad mode off. Checked against autograd in float64 for T from 1 to 12 (rtol 1e-7,
    atol 1e-7).

    Example:
        >>> T, B, D, H = 4, 2, 3, 5
        >>> g = rnn_backward(torch.randn(T, B, H), torch.randn(T, B, D), torch.zeros(B, H),
        ...                  torch.randn(H, D), torch.randn(H, H), torch.zeros(H), torch.zeros(H))
        >>> g["W_hh"].shape, g["h0"].shape
        (torch.Size([5, 5]), torch.Size([2, 5]))
    """
    raise NotImplementedError("day4.rnn.rnn_backward")


def lstm_cell(
    x: Tensor,
    state: tuple[Tensor, Tensor],
    W_ih: Tensor,
    W_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """One LSTM step in torch's layout, gates stacked in the order i, f, g, o.

    With ``a = x W_ih^T + b_ih + h W_hh^T + b_hh`` split into four (B, H) blocks i, f, g, o:
    ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`` and ``h' = sigmoid(o) * tanh(c')``.

    Args:
        x: (B, D). state: ``(h, c)``, each (B, H).
        W_ih: (4H, D). W_hh: (4H, H). b_ih, b_hh: (4H,) each, or None for no bias.

    Returns:
        ``(h', c')``, each (B, H), differentiable.

    Forbidden: ``nn.LSTMCell``/``nn.LSTM`` and ``torch.lstm_cell``. Checked against
    ``nn.LSTMCell`` with copied weights (tolerances as for ``rnn_cell``); a gate order other than
    i, f, g, o fails.

    Example:
        >>> cell = nn.LSTMCell(3, 2)
        >>> x, h, c = torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 2)
        >>> out = lstm_cell(x, (h, c), cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        >>> all(torch.allclose(a, b) for a, b in zip(out, cell(x, (h, c))))
        True
    """
    raise NotImplementedError("day4.rnn.lstm_cell")


def gru_cell(
    x: Tensor, h: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None
) -> Tensor:
    """One GRU step in torch's layout, gates stacked in the order r, z, n.

    With ``gi = x W_ih^T + b_ih`` and ``gh = h W_hh^T + b_hh``, each split into r, z, n blocks:
    ``r = sigmoid(gi_r + gh_r)``, ``z = sigmoid(gi_z + gh_z)``,
    ``n = tanh(gi_n + r * gh_n)`` (the reset gate multiplies ``h W_hn^T + b_hn``, bias
    included) and ``h' = (1 - z) * n + z * h``.

    Args:
        x: (B, D). h: (B, H).
        W_ih: (3H, D). W_hh: (3H, H). b_ih, b_hh: (3H,) each, or None for no bias.

    Returns:
        h' (B, H), differentiable.

    Forbidden: ``nn.GRUCell``/``nn.GRU`` and ``torch.gru_cell``. Checked against ``nn.GRUCell``
    with copied weights (tolerances as for ``rnn_cell``).

    Example:
        >>> cell = nn.GRUCell(3, 2)
        >>> x, h = torch.randn(4, 3), torch.randn(4, 2)
        >>> out = gru_cell(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        >>> torch.allclose(out, cell(x, h))
        True
    """
    raise NotImplementedError("day4.rnn.gru_cell")


def detach_state(state: Any) -> Any:
    """Cut a recurrent state loose from the graph that produced it.

    Args:
        state: a tensor, None, or a tuple or list nesting these (for example an LSTM's
            ``(h, c)``); other leaves are allowed and returned as they are.

    Returns:
        The same structure (tuples stay tuples, lists stay lists) with every tensor replaced by
        ``tensor.detach()``: same values, sharing memory, ``requires_grad`` False, no
        ``grad_fn``. The input itself is left unchanged (its tensors keep their graph).

    Example:
        >>> h = torch.ones(2, requires_grad=True) * 2
        >>> out = detach_state((h, [h, None]))
        >>> out[0].requires_grad, out[1][0].grad_fn, out[1][1], h.requires_grad
        (False, None, None, True)
    """
    raise NotImplementedError("day4.rnn.detach_state")


def tbptt_train(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    k: int,
) -> list[float]:
    """One pass of truncated backpropagation through time over a long sequence.

    The sequence is cut into consecutive chunks of k steps (the last may be shorter). For each
    chunk, in order: zero the gradients (``optimizer.zero_grad()``), run
    ``output, state = model(x_chunk, state)`` (state is None for the first chunk and the previous
    chunk's returned state afterwards), compute ``loss_fn(output, target_chunk)``, backpropagate
    it, take one optimizer step, and detach the state (``detach_state``) so that the next chunk's
    backward pass stops at the chunk boundary. Gradients still flow through every step inside a
    chunk, and the state's *values* carry over from chunk to chunk.

    Args:
        model: called as ``model(x_chunk, state) -> (output, new_state)`` with x_chunk
            (k', B, D); state may be a tensor or a tuple/list of tensors. Its mode is not changed.
        inputs: (T, B, D), time-first. targets: (T, B, ...), time-first, cut like inputs.
        loss_fn: called as ``loss_fn(output, target_chunk)``, returns a scalar tensor.
        optimizer: an optimizer over the model's parameters.
        k: the chunk length, k >= 1.

    Returns:
        Each chunk's loss as a Python float, in order (ceil(T / k) of them; [] when T = 0).

    Raises:
        ValueError: k < 1.

    Checked against the same loop run in float64 on a copy of the model: every loss and the
    final parameters agree to rtol 1e-7, atol 1e-7.

    Example:
        >>> class Wrap(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.rnn, self.out = nn.RNN(3, 8), nn.Linear(8, 1)
        ...     def forward(self, x, h):
        ...         ys, h = self.rnn(x, h)
        ...         return self.out(ys), h
        >>> m = Wrap()
        >>> losses = tbptt_train(m, torch.randn(10, 2, 3), torch.randn(10, 2, 1),
        ...                      nn.functional.mse_loss, torch.optim.SGD(m.parameters(), 0.1), k=4)
        >>> len(losses)
        3
    """
    raise NotImplementedError("day4.rnn.tbptt_train")


def clip_grad_norm(parameters: Iterable[Tensor] | Tensor, max_norm: float) -> float:
    """Clip gradients by their global L2 norm, in place, as ``nn.utils.clip_grad_norm_`` does.

    The total norm is the L2 norm of all gradients taken together (as if concatenated into one
    vector), not of each tensor on its own. When ``max_norm / (total + 1e-6)`` is below 1, every
    gradient is multiplied by it in place; otherwise the gradients are left as they are (never
    scaled up).

    Args:
        parameters: an iterable of tensors (it may be a generator such as
            ``model.parameters()``, which can be read only once) or a single tensor; tensors
            whose ``.grad`` is None are skipped.
        max_norm: the largest allowed total norm (> 0).

    Returns:
        The total norm *before* clipping, as a Python float (0.0 when no tensor has a gradient).
        Gradients with inf or NaN entries are not checked.

    Forbidden: ``nn.utils.clip_grad_norm_`` and torch's other clipping and total-norm helpers.
    Checked against ``nn.utils.clip_grad_norm_`` in float64 with rtol 1e-5 (so leaving out the
    1e-6 is tolerated) on norms from 0.1 to 1e3.

    Example:
        >>> p = torch.zeros(2, requires_grad=True)
        >>> p.grad = torch.tensor([3.0, 4.0])
        >>> clip_grad_norm([p], max_norm=1.0), p.grad
        (5.0, tensor([0.6000, 0.8000]))
    """
    raise NotImplementedError("day4.rnn.clip_grad_norm")
