"""Wrong solutions for day2/backprop.py, each a mistake students really make."""

import torch

from graders.testing import mutant


@mutant("day2.backprop.linear_forward", expect=r"shape|not close")
def linear_forward_untransposed(x, W, b):
    return x @ W + b


@mutant("day2.backprop.linear_forward", expect=r"not allowed|autograd|not close")
def linear_forward_drops_bias(x, W, b):
    return x @ W.T


@mutant("day2.backprop.linear_backward", expect=r"db is the mean")
def linear_backward_mean_bias(dout, x, W):
    return dout @ W, dout.T @ x, dout.mean(dim=0)


@mutant("day2.backprop.linear_backward", expect=r"not allowed")
def linear_backward_with_autograd(dout, x, W):
    with torch.enable_grad():
        xx = x.detach().requires_grad_(True)
        WW = W.detach().requires_grad_(True)
        bb = torch.zeros(W.shape[0], dtype=W.dtype, requires_grad=True)
        (xx @ WW.T + bb).backward(dout)
    return xx.grad, WW.grad, bb.grad


@mutant("day2.backprop.relu_backward", expect=r"x == 0")
def relu_backward_ge(dout, x):
    return dout * (x >= 0)


@mutant("day2.backprop.relu_backward", expect=r"differs|not close|dtype")
def relu_backward_uses_dout_sign(dout, x):
    return torch.where(dout > 0, dout, torch.zeros_like(dout))


@mutant("day2.backprop.softmax_cross_entropy", expect=r"inf or NaN")
def softmax_ce_naive_exp(logits, targets):
    e = logits.exp()
    p = e / e.sum(dim=1, keepdim=True)
    n = logits.shape[0]
    loss = -p[torch.arange(n), targets].log().mean()
    d = p.clone()
    d[torch.arange(n), targets] -= 1
    return loss, d / n


@mutant("day2.backprop.softmax_cross_entropy", expect=r"N times too large")
def softmax_ce_gradient_not_divided(logits, targets):
    z = logits - logits.max(dim=1, keepdim=True).values
    logp = z - z.exp().sum(dim=1, keepdim=True).log()
    n = logits.shape[0]
    d = logp.exp()
    d[torch.arange(n), targets] -= 1
    return -logp[torch.arange(n), targets].mean(), d


def _ce(logits, targets):
    z = logits - logits.max(dim=1, keepdim=True).values
    logp = z - z.exp().sum(dim=1, keepdim=True).log()
    n = logits.shape[0]
    d = logp.exp()
    d[torch.arange(n), targets] -= 1
    return -logp[torch.arange(n), targets].mean(), d / n


@mutant("day2.backprop.mlp_loss_and_grads", expect=r"dead|grads\['W1'\]|grads\['b1'\]")
def mlp_forgets_relu_mask(params, x, y):
    pre = x @ params["W1"].T + params["b1"]
    h = pre.clamp(min=0)
    loss, dlogits = _ce(h @ params["W2"].T + params["b2"], y)
    dh = dlogits @ params["W2"]
    return loss, {"W1": dh.T @ x, "b1": dh.sum(0), "W2": dlogits.T @ h, "b2": dlogits.sum(0)}


@mutant("day2.backprop.mlp_loss_and_grads", expect=r"not allowed")
def mlp_with_autograd(params, x, y):
    with torch.enable_grad():
        p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        logits = torch.relu(x @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"]
        loss = torch.nn.functional.cross_entropy(logits, y)
        grads = torch.autograd.grad(loss, list(p.values()))
    return loss.detach(), dict(zip(p, grads))
