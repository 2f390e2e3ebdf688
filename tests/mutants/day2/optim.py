"""Wrong solutions for day2/optim.py, each a mistake students really make."""

import math

import torch

from graders.testing import mutant




def _sgd_init(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    if lr < 0 or momentum < 0 or weight_decay < 0 or (nesterov and momentum <= 0):
        raise ValueError("bad hyper-parameter")
    torch.optim.Optimizer.__init__(self, params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                                       nesterov=nesterov))


@mutant("day2.optim.SGD", expect=r"after step 2")
class SGDForgetsBuffer(torch.optim.Optimizer):
    """Builds the momentum buffer afresh every step: right on the first step only."""

    __init__ = _sgd_init

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                buf = g.clone()  # never kept between steps
                d = g + group["momentum"] * buf if group["nesterov"] else buf
                p.add_(d, alpha=-group["lr"])
        return loss


@mutant("day2.optim.SGD", expect=r"weight_decay \* p comes first|weight decay")
class SGDDecayAfterMomentum(torch.optim.Optimizer):
    """Adds weight decay to the step instead of to the gradient: right only without decay."""

    __init__ = _sgd_init

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if mu:
                    st = self.state[p]
                    st["buf"] = g.clone() if "buf" not in st else st["buf"].mul_(mu).add_(g)
                    g = g + mu * st["buf"] if group["nesterov"] else st["buf"]
                p.add_(g + group["weight_decay"] * p, alpha=-group["lr"])
        return closure() if closure is not None else None


@mutant("day2.optim.SGD", expect=r"shows the mistake: the buffer is updated as momentum \* buf \+ \(1 - momentum\)")
class SGDDampenedMomentum(torch.optim.Optimizer):
    """An exponential moving average as the momentum buffer (dampening = momentum)."""

    __init__ = _sgd_init

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                if mu:
                    st = self.state[p]
                    st["buf"] = g.clone() if "buf" not in st else mu * st["buf"] + (1 - mu) * g
                    g = g + mu * st["buf"] if group["nesterov"] else st["buf"]
                p.add_(g, alpha=-group["lr"])
        return loss


@mutant("day2.optim.SGD", expect=r"Nesterov")
class SGDWrongNesterov(torch.optim.Optimizer):
    """Nesterov look-ahead built from the old buffer."""

    __init__ = _sgd_init

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                if mu:
                    st = self.state[p]
                    old = st.get("buf", torch.zeros_like(p))
                    new = g.clone() if "buf" not in st else mu * old + g
                    st["buf"] = new
                    g = g + mu * old if group["nesterov"] else new
                p.add_(g, alpha=-group["lr"])
        return closure() if closure is not None else None


@mutant("day2.optim.SGD", expect=r"param_groups|each param group")
class SGDKerasConvention(torch.optim.Optimizer):
    """Keras' convention v = mu v - lr g; p += v, with lr saved in __init__."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        if lr < 0 or momentum < 0 or weight_decay < 0 or (nesterov and momentum <= 0):
            raise ValueError("bad hyper-parameter")
        self.lr = lr
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      nesterov=nesterov))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                st = self.state[p]
                if "v" not in st:
                    st["v"] = -self.lr * g
                else:
                    st["v"] = mu * st["v"] - self.lr * g
                if group["nesterov"]:
                    p.add_(mu * st["v"] - self.lr * g)
                else:
                    p.add_(st["v"])
        return closure() if closure is not None else None


def _adam_init(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
        raise ValueError("bad hyper-parameter")
    torch.optim.Optimizer.__init__(self, params, dict(lr=lr, betas=betas, eps=eps,
                                                       weight_decay=weight_decay))


@mutant("day2.optim.Adam", expect=r"bias correction|not close")
class AdamNoBiasCorrection(torch.optim.Optimizer):
    __init__ = _adam_init

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                st = self.state[p]
                if not st:
                    st["m"], st["v"] = torch.zeros_like(p), torch.zeros_like(p)
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                p.addcdiv_(st["m"], st["v"].sqrt() + group["eps"], value=-group["lr"])
        return closure() if closure is not None else None


@mutant("day2.optim.Adam", expect=r"eps is added after the square root|not close")
class AdamEpsInsideSqrt(torch.optim.Optimizer):
    __init__ = _adam_init

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                st = self.state[p]
                if not st:
                    st["t"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                st["t"] += 1
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                mh = st["m"] / (1 - b1 ** st["t"])
                vh = st["v"] / (1 - b2 ** st["t"])
                p.sub_(group["lr"] * mh / torch.sqrt(vh + group["eps"]))
        return closure() if closure is not None else None


@mutant("day2.optim.Adam", expect=r"AdamW")
class AdamDecoupledDecay(torch.optim.Optimizer):
    __init__ = _adam_init

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                st = self.state[p]
                if not st:
                    st["t"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                st["t"] += 1
                p.mul_(1 - group["lr"] * group["weight_decay"])
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (st["v"] / (1 - b2 ** st["t"])).sqrt() + group["eps"]
                p.addcdiv_(st["m"], denom, value=-group["lr"] / (1 - b1 ** st["t"]))
        return closure() if closure is not None else None


@mutant("day2.optim.Adam", expect=r"separate step count|after step|first step")
class AdamSharedStepCount(torch.optim.Optimizer):
    """One step counter for the whole optimizer, incremented per parameter."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _adam_init(self, params, lr, betas, eps, weight_decay)
        self.t = 0

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.t += 1
                g = p.grad + group["weight_decay"] * p
                st = self.state[p]
                if not st:
                    st["m"], st["v"] = torch.zeros_like(p), torch.zeros_like(p)
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (st["v"] / (1 - b2 ** self.t)).sqrt() + group["eps"]
                p.addcdiv_(st["m"], denom, value=-group["lr"] / (1 - b1 ** self.t))
        return closure() if closure is not None else None


@mutant("day2.optim.Adam", expect=r"not allowed")
class AdamWrapsTorch(torch.optim.Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


@mutant("day2.optim.cosine_with_warmup", expect=r"cosine: progress")
def cosine_over_total_steps(step, *, total_steps, warmup_steps, base_lr, min_lr=0.0):
    if step < 0 or warmup_steps < 0 or total_steps <= warmup_steps:
        raise ValueError("bad schedule")
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    if step > total_steps:
        return float(min_lr)
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * step / total_steps)) / 2


@mutant("day2.optim.cosine_with_warmup", expect=r"stays at min_lr")
def cosine_without_clamp(step, *, total_steps, warmup_steps, base_lr, min_lr=0.0):
    if step < 0 or warmup_steps < 0 or total_steps <= warmup_steps:
        raise ValueError("bad schedule")
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2


@mutant("day2.optim.cosine_with_warmup", expect=r"warm-up")
def cosine_warmup_off_by_one(step, *, total_steps, warmup_steps, base_lr, min_lr=0.0):
    if step < 0 or warmup_steps < 0 or total_steps <= warmup_steps:
        raise ValueError("bad schedule")
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if step > total_steps:
        return float(min_lr)
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2
