"""Wrong solutions for day1/autograd.py, each a mistake students really make."""

import torch

from graders.testing import mutant


@mutant("day1.autograd.gradient", expect=r"\.grad|requires_grad")
def backward_on_x(f, x):
    x.requires_grad_(True)
    f(x).backward()
    return x.grad.detach().clone()


@mutant("day1.autograd.gradient", expect=r"no_grad|does not require grad|raised")
def no_enable_grad(f, x):
    xx = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xx), xx)
    return g


@mutant("day1.autograd.numerical_gradient", expect=r"not close")
def one_sided(f, x, h=1e-6):
    base = x.detach().clone()
    g = torch.zeros_like(base)
    f0 = f(base)
    for i in range(base.numel()):
        p = base.clone()
        p.view(-1)[i] += h
        g.view(-1)[i] = (f(p) - f0) / h
    return g


@mutant("day1.autograd.numerical_gradient", expect=r"changed the values of x|not close")
def perturbs_x_in_place(f, x, h=1e-6):
    flat = x.detach().view(-1)
    g = torch.zeros_like(flat)
    for i in range(flat.numel()):
        flat[i] += h
        fp = f(x.detach())
        flat[i] -= 2 * h
        fm = f(x.detach())
        flat[i] += h * 0.999999
        g[i] = (fp - fm) / (2 * h)
    return g.view(x.shape)


@mutant("day1.autograd.jacobian", expect=r"not allowed")
def uses_functional(f, x):
    return torch.autograd.functional.jacobian(f, x.detach())


@mutant("day1.autograd.jacobian", expect=r"shape")
def transposed(f, x):
    xx = x.detach().requires_grad_(True)
    y = f(xx).reshape(-1)
    rows = []
    for i in range(y.numel()):
        (g,) = torch.autograd.grad(y[i], xx, retain_graph=True, allow_unused=True)
        rows.append(torch.zeros_like(x) if g is None else g.reshape(-1))
    return torch.stack(rows).T.reshape(tuple(x.shape) + tuple(f(x.detach()).shape))


@mutant("day1.autograd.jacobian", expect=r"raised|error")
def crashes_on_constant_outputs(f, x):
    xx = x.detach().requires_grad_(True)
    y = f(xx)
    rows = [torch.autograd.grad(v, xx, retain_graph=True)[0] for v in y.reshape(-1)]
    return torch.stack(rows).reshape(tuple(y.shape) + tuple(x.shape))


@mutant("day1.autograd.LogSumExp", expect=r"not close|inf|NaN")
class NaiveLogSumExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        out = torch.log(torch.exp(x).sum(dim))
        ctx.save_for_backward(x, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return g.unsqueeze(ctx.dim) * torch.exp(x - out.unsqueeze(ctx.dim)), None


@mutant("day1.autograd.LogSumExp", expect=r"not allowed")
class UsesTorchLogsumexp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.save_for_backward(x)
        ctx.dim = dim
        return torch.logsumexp(x, dim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g.unsqueeze(ctx.dim) * torch.softmax(x, ctx.dim), None


@mutant("day1.autograd.LogSumExp", expect=r"gradient|gradcheck")
class ForgetsUpstream(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        m = x.amax(dim, keepdim=True)
        out = (m + torch.log(torch.exp(x - m).sum(dim, keepdim=True))).squeeze(dim)
        ctx.save_for_backward(x, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return torch.exp(x - out.unsqueeze(ctx.dim)), None


@mutant("day1.autograd.StraightThroughRound", expect=r"StraightThroughRound\.apply\(x\)")
class RoundsHalfUp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.floor(x + 0.5)

    @staticmethod
    def backward(ctx, g):
        return g


@mutant("day1.autograd.StraightThroughRound", expect=r"gradient|None")
class ZeroGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return torch.zeros_like(g)


@mutant("day1.autograd.gradient_descent", expect=r"accumulate|zeroed")
def forgets_zero_grad(f, x0, lr, steps):
    x = x0.detach().clone().requires_grad_(True)
    for _ in range(steps):
        f(x).backward()
        with torch.no_grad():
            x -= lr * x.grad
    return x.detach()


@mutant("day1.autograd.gradient_descent", expect=r"requires grad|grad_fn|raised")
def updates_with_tracking(f, x0, lr, steps):
    x = x0.detach().clone().requires_grad_(True)
    for _ in range(steps):
        (g,) = torch.autograd.grad(f(x), x, create_graph=True)
        x = x - lr * g
    return x


@mutant("day1.autograd.gradient_descent", expect=r"changed x0")
def modifies_x0(f, x0, lr, steps):
    x = x0.requires_grad_(True) if not x0.requires_grad else x0
    for _ in range(steps):
        f(x).backward()
        with torch.no_grad():
            x -= lr * x.grad
        x.grad.zero_()
    return x.detach().clone()
