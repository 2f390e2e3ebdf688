"""Backpropagation by hand: the forward and backward passes of a small MLP, without autograd.

You write each layer's forward pass and the gradient of a scalar loss with respect to its inputs
and parameters, then chain them into a two-layer network. Every function here is run with grad
mode off and must not call autograd (``Tensor.backward``, ``torch.autograd``, ``torch.func``):
the point is to derive and code the chain rule yourself. Gradients are checked against
``torch.autograd`` in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor


def linear_forward(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
    """Affine layer ``y = x @ W.T + b``, with the weight laid out as in ``nn.Linear``.

    Args:
        x: inputs of shape (N, in_features).
        W: weight of shape (out_features, in_features).
        b: bias of shape (out_features,).

    Returns:
        Tensor of shape (N, out_features), same dtype and device as x. N, in_features or
        out_features may be 1 (or N may be 0, giving an empty (0, out_features) result).

    Checked against ``torch.nn.functional.linear`` in float64 (rtol 1e-7, atol 1e-9) and in
    float32 (rtol 1e-5, atol 1e-5). Autograd must not be used (grad mode is off).

    Example:
        >>> x = torch.tensor([[1.0, 2.0]])
        >>> W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> linear_forward(x, W, torch.zeros(3))
        tensor([[1., 2., 3.]])
    """
    return x @ W.T + b


def linear_backward(dout: Tensor, x: Tensor, W: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of the affine layer ``y = x @ W.T + b`` given the upstream gradient.

    ``dout`` is dL/dy for some scalar loss L. Return dL/dx, dL/dW and dL/db.

    Args:
        dout: upstream gradient of shape (N, out_features).
        x: the layer's input, shape (N, in_features).
        W: the weight, shape (out_features, in_features) as in ``nn.Linear``.

    Returns:
        ``(dx, dW, db)`` with the shapes of x (N, in_features), W (out_features, in_features)
        and b (out_features,), in the dtype and device of the inputs. The bias gradient sums
        over the batch (it is a zero vector when N == 0).

    Forbidden: autograd (``.backward``, ``torch.autograd``, ``torch.func``); it runs with grad
    mode off. Checked against autograd in float64 (rtol 1e-7, atol 1e-9; float32 inputs with
    rtol 1e-5, atol 1e-5), including N == 1, in_features == 1 and out_features == 1.

    Example:
        >>> dx, dW, db = linear_backward(torch.ones(2, 3), torch.ones(2, 4), torch.ones(3, 4))
        >>> dx.shape, dW.shape, db.shape
        (torch.Size([2, 4]), torch.Size([3, 4]), torch.Size([3]))
    """
    return dout @ W, dout.T @ x, dout.sum(dim=0)


def relu_backward(dout: Tensor, x: Tensor) -> Tensor:
    """Gradient of ``relu(x) = max(x, 0)`` given the upstream gradient ``dout``.

    Args:
        dout: dL/d relu(x), same shape as x (any shape).
        x: the input of the ReLU.

    Returns:
        dL/dx with x's shape, dout's dtype and device: dout where x > 0 and exactly 0 where
        x <= 0 (the gradient at 0 is 0, as in torch).

    Forbidden: autograd (it runs with grad mode off). Checked exactly against
    ``torch.relu`` + autograd in float64, with exact zeros among the inputs.

    Example:
        >>> relu_backward(torch.tensor([5.0, 5.0, 5.0]), torch.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 5.])
    """
    return torch.where(x > 0, dout, torch.zeros_like(dout))


def softmax_cross_entropy(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Mean softmax cross-entropy loss and its gradient with respect to the logits.

    ``loss = mean_i( -log softmax(logits_i)[targets_i] )`` and ``dlogits = d loss / d logits``,
    which is ``(softmax(logits) - onehot(targets)) / N``.

    Args:
        logits: (N, C) scores, N >= 1, C >= 1, float32 or float64.
        targets: (N,) int64 class indices in [0, C).

    Returns:
        ``(loss, dlogits)``: loss is a 0-dim tensor, dlogits has shape (N, C); both in the
        logits' dtype and device.

    Must be numerically stable: logits as large as +-1e4 (and very different within a row)
    give finite, correct values (subtract each row's max before exponentiating, or use
    log-sum-exp). Forbidden: autograd (it runs with grad mode off). Checked against
    ``F.cross_entropy`` and autograd in float64 (rtol 1e-7, atol 1e-9; float32 inputs with
    rtol 1e-4 and atol 1e-5 times the largest |logit|, at least 1e-5).

    Example:
        >>> loss, d = softmax_cross_entropy(torch.zeros(1, 2), torch.tensor([0]))
        >>> round(loss.item(), 4), d
        (0.6931, tensor([[-0.5000,  0.5000]]))
    """
    n = logits.shape[0]
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    picked = log_probs.gather(1, targets[:, None]).squeeze(1)
    loss = -picked.mean()
    dlogits = log_probs.exp()
    dlogits[torch.arange(n, device=logits.device), targets] -= 1
    return loss, dlogits / n


def mlp_loss_and_grads(
    params: dict[str, Tensor], x: Tensor, y: Tensor
) -> tuple[Tensor, dict[str, Tensor]]:
    """Loss and parameter gradients of Linear -> ReLU -> Linear -> softmax cross-entropy.

    ``h = relu(x @ W1.T + b1)``, ``logits = h @ W2.T + b2``, ``loss = mean cross-entropy``.
    Chain the functions above: forward, keep what the backward pass needs, then go back.

    Args:
        params: dict with "W1" (H, D), "b1" (H,), "W2" (C, H), "b2" (C,) (nn.Linear layout);
            it must not be modified.
        x: (N, D) inputs, N >= 1.
        y: (N,) int64 class indices in [0, C).

    Returns:
        ``(loss, grads)``: loss a 0-dim tensor; grads a dict with exactly the keys "W1", "b1",
        "W2", "b2", each with its parameter's shape, dtype and device.

    Forbidden: autograd (it runs with grad mode off). Checked against autograd in float64
    (rtol 1e-7, atol 1e-9), including N == 1, widths of 1 and large logits.

    Example:
        >>> p = {"W1": torch.ones(3, 2), "b1": torch.zeros(3),
        ...      "W2": torch.ones(2, 3), "b2": torch.zeros(2)}
        >>> loss, g = mlp_loss_and_grads(p, torch.ones(4, 2), torch.zeros(4, dtype=torch.long))
        >>> sorted(g), g["W1"].shape
        (['W1', 'W2', 'b1', 'b2'], torch.Size([3, 2]))
    """
    pre = linear_forward(x, params["W1"], params["b1"])
    h = pre.clamp(min=0)
    logits = linear_forward(h, params["W2"], params["b2"])
    loss, dlogits = softmax_cross_entropy(logits, y)
    dh, dW2, db2 = linear_backward(dlogits, h, params["W2"])
    _, dW1, db1 = linear_backward(relu_backward(dh, pre), x, params["W1"])
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
