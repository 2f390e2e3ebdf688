"""Wrong solutions for day3/norm.py, each a mistake students really make."""

import torch
import torch.nn.functional as F

from graders.testing import mutant


def _dims(x):
    return ((1, -1), [0]) if x.dim() == 2 else ((1, -1, 1, 1), [0, 2, 3])


def _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, *, unbiased_store=True,
        flip_momentum=False, update_in_eval=False):
    view, dims = _dims(x)
    if x.numel() // x.shape[1] < 2 and training:
        raise ValueError("one value per channel")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("need running stats")
    mean, var = x.mean(dims), x.var(dims, unbiased=False)
    m = x.numel() // x.shape[1]
    if training or update_in_eval:
        a = (1 - momentum) if not flip_momentum else momentum
        stored = var * m / (m - 1) if unbiased_store else var
        if running_mean is not None:
            with torch.no_grad():
                running_mean.mul_(a).add_((1 - a) * mean.detach())
                running_var.mul_(a).add_((1 - a) * stored.detach())
    if not training:
        mean, var = running_mean, running_var
    y = (x - mean.view(view)) / torch.sqrt(var.view(view) + eps)
    if weight is not None:
        y = y * weight.view(view)
    if bias is not None:
        y = y + bias.view(view)
    return y


@mutant("day3.norm.batch_norm", expect=r"biased batch variance")
def bn_biased_running_var(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, unbiased_store=False)


@mutant("day3.norm.batch_norm", expect=r"momentum the wrong way")
def bn_momentum_reversed(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, flip_momentum=True)


@mutant("day3.norm.batch_norm", expect=r"changed running_mean or running_var")
def bn_updates_in_eval(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    if not training:
        _bn(x, running_mean.clone(), running_var.clone(), None, None, True, momentum, eps) if x.numel() // x.shape[1] >= 2 else None
        out = _bn(x, running_mean, running_var, weight, bias, False, momentum, eps)
        if x.numel() // x.shape[1] >= 2:
            view, dims = _dims(x)
            m = x.numel() // x.shape[1]
            running_mean.mul_(1 - momentum).add_(momentum * x.mean(dims))
            running_var.mul_(1 - momentum).add_(momentum * x.var(dims) )
        return out
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps)


@mutant("day3.norm.batch_norm", expect=r"not allowed")
def bn_calls_torch(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    if not training and (running_mean is None or running_var is None):
        raise ValueError("need running stats")
    return F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)


@mutant("day3.norm.batch_norm", expect=r"not updated in place")
def bn_rebinds_running_stats(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    if training and running_mean is not None:
        rm, rv = running_mean.clone(), running_var.clone()
        return _bn(x, rm, rv, weight, bias, training, momentum, eps)
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps)


def _bwd(dout, x, weight, eps, *, drop_var_term=False, unbiased=False):
    view, dims = _dims(x)
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=unbiased, keepdim=True)
    inv = torch.rsqrt(var + eps)
    xh = (x - mean) * inv
    db = dout.sum(dim=dims)
    dw = (dout * xh).sum(dim=dims)
    inner = dout - dout.mean(dim=dims, keepdim=True)
    if not drop_var_term:
        inner = inner - xh * (dout * xh).mean(dim=dims, keepdim=True)
    return weight.view(view) * inv * inner, dw, db


@mutant("day3.norm.batch_norm_backward", expect=r"dx of batch_norm_backward")
def bn_backward_forgets_variance_term(dout, x, weight, eps=1e-5):
    return _bwd(dout, x, weight, eps, drop_var_term=True)


@mutant("day3.norm.batch_norm_backward", expect=r"dx summed per channel|dx of")
def bn_backward_treats_stats_as_constants(dout, x, weight, eps=1e-5):
    view, dims = _dims(x)
    inv = torch.rsqrt(x.var(dim=dims, unbiased=False, keepdim=True) + eps)
    xh = (x - x.mean(dim=dims, keepdim=True)) * inv
    return weight.view(view) * inv * dout, (dout * xh).sum(dim=dims), dout.sum(dim=dims)


@mutant("day3.norm.batch_norm_backward", expect=r"not allowed")
def bn_backward_with_autograd(dout, x, weight, eps=1e-5):
    xx, ww = x.detach().requires_grad_(True), weight.detach().requires_grad_(True)
    bb = torch.zeros_like(weight, requires_grad=True)
    with torch.enable_grad():
        out = F.batch_norm(xx, None, None, ww, bb, True, 0.1, eps)
        return torch.autograd.grad(out, (xx, ww, bb), dout)


@mutant("day3.norm.dropout", expect=r"1 / \(1 - p\)")
def dropout_without_rescaling(x, p, training, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p")
    if not training:
        return x.clone()
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep


@mutant("day3.norm.dropout", expect=r"generator")
def dropout_ignores_generator(x, p, training, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p")
    if not training or p == 0:
        return x.clone()
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, device=x.device) >= p
    return x * keep / (1 - p)


@mutant("day3.norm.dropout", expect=r"zeroed 0\.\d+ of the entries")
def dropout_keeps_with_probability_p(x, p, training, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p")
    if not training or p == 0:
        return x.clone()
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, generator=generator, device=x.device) < p
    return x * keep / (1 - p)


@mutant("day3.norm.dropout", expect=r"training=False")
def dropout_also_in_eval(x, p, training, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p")
    if p == 0:
        return x.clone()
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep / (1 - p)


@mutant("day3.norm.dropout", expect=r"row|column")
def dropout_per_row(x, p, training, generator=None):
    if not 0 <= p <= 1:
        raise ValueError("p")
    if not training or p == 0:
        return x.clone()
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape[:-1] + (1,), generator=generator, device=x.device) >= p
    return x * keep / (1 - p)
