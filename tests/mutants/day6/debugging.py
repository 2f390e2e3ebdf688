"""Wrong solutions for day6/debugging.py, each a mistake students really make."""

from collections import Counter

import torch
from torch import nn

from graders.testing import alternative, mutant


# --- activation_stats -------------------------------------------------------------------------

def _stats(out, correction=0):
    out = out[0] if isinstance(out, (tuple, list)) else out
    out = out.detach()
    return {"mean": out.mean().item(), "std": out.std(correction=correction).item(),
            "frac_zero": (out == 0).double().mean().item()}


def _leaves(model):
    return [(n, m) for n, m in model.named_modules() if not list(m.children())]


@mutant("day6.debugging.activation_stats", expect=r"left hooks on")
def stats_never_remove_hooks(model, x):
    stats = {}
    for name, m in _leaves(model):
        m.register_forward_hook(lambda mod, i, o, name=name: stats.__setitem__(name, _stats(o)))
    with torch.no_grad():
        model(x)
    return stats


@mutant("day6.debugging.activation_stats", expect=r"remove them in a finally")
def stats_remove_hooks_only_on_success(model, x):
    stats = {}
    handles = [m.register_forward_hook(lambda mod, i, o, name=name: stats.__setitem__(name, _stats(o)))
               for name, m in _leaves(model)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return stats


@mutant("day6.debugging.activation_stats", expect=r"should not be there: only leaf modules")
def stats_hook_every_module(model, x):
    stats = {}
    handles = [m.register_forward_hook(lambda mod, i, o, name=name: stats.__setitem__(name, _stats(o)))
               for name, m in model.named_modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return stats


@mutant("day6.debugging.activation_stats", expect=r"population std")
def stats_unbiased_std(model, x):
    stats = {}
    handles = [m.register_forward_hook(
        lambda mod, i, o, name=name: stats.__setitem__(name, _stats(o, correction=1)))
        for name, m in _leaves(model)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return stats


@mutant("day6.debugging.activation_stats", expect=r"autograd recording")
def stats_with_grad(model, x):
    stats = {}
    handles = [m.register_forward_hook(lambda mod, i, o, name=name: stats.__setitem__(name, _stats(o)))
               for name, m in _leaves(model)]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return stats


@mutant("day6.debugging.activation_stats", expect=r"changed the mode")
def stats_in_eval_mode(model, x):
    model.eval()
    stats = {}
    handles = [m.register_forward_hook(lambda mod, i, o, name=name: stats.__setitem__(name, _stats(o)))
               for name, m in _leaves(model)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return stats


# --- grad_norms -------------------------------------------------------------------------------

@mutant("day6.debugging.grad_norms", expect=r"changed .*\.grad")
def norms_by_backward(model, loss):
    loss.backward(retain_graph=True)
    return {n: p.grad.norm().item() if p.grad is not None else 0.0
            for n, p in model.named_parameters() if p.requires_grad}


@mutant("day6.debugging.grad_norms", expect=r"retain_graph=True")
def norms_free_the_graph(model, loss):
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    return {n: 0.0 if g is None else g.norm().item() for (n, _), g in zip(named, grads)}


@mutant("day6.debugging.grad_norms", expect=r"does not depend on is listed with 0\.0")
def norms_skip_unused(model, loss):
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [p for _, p in named], retain_graph=True, allow_unused=True)
    return {n: g.norm().item() for (n, _), g in zip(named, grads) if g is not None}


@mutant("day6.debugging.grad_norms", expect=r"requires_grad False")
def norms_of_frozen_too(model, loss):
    named = list(model.named_parameters())
    grads = torch.autograd.grad(loss, [p for _, p in named if p.requires_grad],
                                retain_graph=True, allow_unused=True)
    it = iter(grads)
    out = {}
    for n, p in named:
        g = next(it) if p.requires_grad else None
        out[n] = 0.0 if g is None else g.norm().item()
    return out


@mutant("day6.debugging.grad_norms", expect=r"squared norm")
def norms_squared(model, loss):
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [p for _, p in named], retain_graph=True, allow_unused=True)
    return {n: 0.0 if g is None else (g * g).sum().item() for (n, _), g in zip(named, grads)}


# --- saliency ---------------------------------------------------------------------------------

def _grad_of_logit(model, x, pick, *, eval_mode=True, restore=True):
    modes = [(m, m.training) for m in model.modules()]
    if eval_mode:
        model.eval()
    xr = x.detach().requires_grad_(True)
    logits = model(xr)
    (g,) = torch.autograd.grad(pick(logits).sum(), xr)
    if restore:
        for m, mode in modes:
            m.training = mode
    return g


@mutant("day6.debugging.saliency", expect=r"signed gradient")
def saliency_without_abs(model, x, target):
    return _grad_of_logit(model, x, lambda z: z.gather(1, target[:, None]))


@mutant("day6.debugging.saliency", expect=r"largest logit")
def saliency_of_the_top_class(model, x, target):
    return _grad_of_logit(model, x, lambda z: z.max(1).values).abs()


@mutant("day6.debugging.saliency", expect=r"eval mode")
def saliency_in_train_mode(model, x, target):
    return _grad_of_logit(model, x, lambda z: z.gather(1, target[:, None]),
                          eval_mode=False).abs()


@mutant("day6.debugging.saliency", expect=r"changed the mode")
def saliency_leaves_eval_mode(model, x, target):
    return _grad_of_logit(model, x, lambda z: z.gather(1, target[:, None]), restore=False).abs()


@mutant("day6.debugging.saliency", expect=r"changed .*\.grad|gradient on x")
def saliency_by_backward(model, x, target):
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    x.requires_grad_(True)
    model(x).gather(1, target[:, None]).sum().backward()
    for m, mode in modes:
        m.training = mode
    return x.grad.abs()


# --- integrated_gradients ---------------------------------------------------------------------

def _ig(model, x, baseline, target, steps, alphas, *, scale=True, mean=True):
    if steps < 1:
        raise ValueError("steps")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        total = torch.zeros_like(x)
        for alpha in alphas:
            point = (baseline + alpha * (x - baseline)).detach().requires_grad_(True)
            (g,) = torch.autograd.grad(model(point).gather(1, target[:, None]).sum(), point)
            total = total + g
        if mean:
            total = total / steps
        return total * (x - baseline) if scale else total
    finally:
        for m, mode in modes:
            m.training = mode


def _mid(steps):
    return [(k + 0.5) / steps for k in range(steps)]


@mutant("day6.debugging.integrated_gradients", expect=r"left Riemann sum")
def ig_left_riemann(model, x, baseline, target, steps=50):
    return _ig(model, x, baseline, target, steps, [k / steps for k in range(steps)])


@mutant("day6.debugging.integrated_gradients", expect=r"without the factor \(x - baseline\)")
def ig_forgets_the_difference(model, x, baseline, target, steps=50):
    return _ig(model, x, baseline, target, steps, _mid(steps), scale=False)


@mutant("day6.debugging.integrated_gradients", expect=r"not their mean")
def ig_sums_the_gradients(model, x, baseline, target, steps=50):
    return _ig(model, x, baseline, target, steps, _mid(steps), mean=False)


@mutant("day6.debugging.integrated_gradients", expect=r"expected ValueError")
def ig_accepts_zero_steps(model, x, baseline, target, steps=50):
    if steps < 1:
        return torch.zeros_like(x)
    return _ig(model, x, baseline, target, steps, _mid(steps))


@mutant("day6.debugging.integrated_gradients", expect=r"eval mode")
def ig_in_train_mode(model, x, baseline, target, steps=50):
    if steps < 1:
        raise ValueError("steps")
    total = torch.zeros_like(x)
    for alpha in _mid(steps):
        point = (baseline + alpha * (x - baseline)).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(model(point).gather(1, target[:, None]).sum(), point)
        total = total + g
    return total / steps * (x - baseline)


# --- top_ops ----------------------------------------------------------------------------------

def _events(fn, args):
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn(*args)
    return prof.events()


@mutant("day6.debugging.top_ops", expect=r"nested calls included")
def ops_top_level_only(fn, *args, k=5):
    if k < 1:
        raise ValueError("k")
    counts = Counter(e.name for e in _events(fn, args)
                     if e.name.startswith("aten::") and e.cpu_parent is None)
    return sorted(counts.items(), key=lambda t: (-t[1], t[0]))[:k]


@mutant("day6.debugging.top_ops", expect=r"ties by name")
def ops_ties_in_order_of_appearance(fn, *args, k=5):
    if k < 1:
        raise ValueError("k")
    counts = Counter(e.name for e in _events(fn, args) if e.name.startswith("aten::"))
    return counts.most_common(k)


@mutant("day6.debugging.top_ops", expect=r"keep that prefix")
def ops_strip_the_prefix(fn, *args, k=5):
    if k < 1:
        raise ValueError("k")
    counts = Counter(e.name.removeprefix("aten::") for e in _events(fn, args)
                     if e.name.startswith("aten::"))
    return sorted(counts.items(), key=lambda t: (-t[1], t[0]))[:k]


@mutant("day6.debugging.top_ops", expect=r"expected ValueError")
def ops_accept_any_k(fn, *args, k=5):
    counts = Counter(e.name for e in _events(fn, args) if e.name.startswith("aten::"))
    return sorted(counts.items(), key=lambda t: (-t[1], t[0]))[:max(k, 0)]


# --- correct alternatives ---------------------------------------------------------------------

@alternative("day6.debugging.activation_stats")
def stats_with_an_exit_stack(model, x):
    """Hooks registered in an ExitStack (closed on the way out), stats in float64 by hand."""
    import contextlib

    stats = {}

    def hook(name):
        def record(module, inputs, output):
            out = (output[0] if isinstance(output, tuple) else output).detach().double().flatten()
            mean = out.sum() / out.numel()
            stats[name] = {"mean": float(mean), "std": float(((out - mean) ** 2).mean().sqrt()),
                           "frac_zero": float((out == 0).sum()) / out.numel()}
        return record

    with contextlib.ExitStack() as stack, torch.inference_mode():
        for name, module in model.named_modules():
            if not any(True for _ in module.children()):
                handle = module.register_forward_hook(hook(name))
                stack.callback(handle.remove)
        model(x)
    return stats


@alternative("day6.debugging.grad_norms")
def norms_from_vector_norms(model, loss):
    """torch.linalg.vector_norm over a materialised zero gradient for unused parameters."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [p for _, p in named], retain_graph=True,
                                allow_unused=True, materialize_grads=True)
    return {n: float(torch.linalg.vector_norm(g)) for (n, _), g in zip(named, grads)}


@alternative("day6.debugging.saliency")
def saliency_one_hot(model, x, target):
    """The gradient of <logits, one_hot(target)>, modes restored with a dict."""
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        xr = x.clone().requires_grad_(True)
        logits = model(xr)
        weights = nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)
        (g,) = torch.autograd.grad(logits, xr, grad_outputs=weights)
        return g.detach().abs()
    finally:
        for m, mode in modes.items():
            m.train(mode) if not list(m.children()) else setattr(m, "training", mode)


@alternative("day6.debugging.integrated_gradients")
def ig_one_alpha_at_a_time(model, x, baseline, target, steps=50):
    """A loop over the alphas (no big batch), the mean by a running sum."""
    return _ig(model, x, baseline, target, steps, _mid(steps))


@alternative("day6.debugging.top_ops")
def ops_from_key_averages(fn, *args, k=5):
    """The profiler's own aggregation (key_averages counts every event, nested included)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn(*args)
    rows = [(a.key, int(a.count)) for a in prof.key_averages() if a.key.startswith("aten::")]
    rows.sort(key=lambda row: row[0])
    rows.sort(key=lambda row: row[1], reverse=True)
    return rows[:k]
