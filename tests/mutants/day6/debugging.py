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


@mutant("day6.debugging.activation_stats", expect=r"after the forward pass")
def stats_of_kept_outputs_after_forward(model, x):
    """The hooks keep the output tensors (detach shares storage) and the statistics are taken
    after the forward pass: an in-place ReLU has overwritten the Linear's output by then."""
    kept = {}
    handles = [m.register_forward_hook(
        lambda mod, i, o, name=name: kept.__setitem__(name, (o[0] if isinstance(o, tuple) else o).detach()))
        for name, m in _leaves(model)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return {name: _stats(out) for name, out in kept.items()}


@mutant("day6.debugging.activation_stats", expect=r"tuple output counts by its first element")
def stats_of_the_last_hidden_state(model, x):
    """For a tuple output, the last element (an RNN's final hidden state h_n)."""
    stats = {}
    handles = [m.register_forward_hook(
        lambda mod, i, o, name=name: stats.__setitem__(
            name, _stats(o[-1] if isinstance(o, tuple) else o)))
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


@mutant("day6.debugging.grad_norms", expect=r"was None before the call")
def norms_by_backward_restoring_the_old_grads(model, loss):
    """backward, then the saved stale gradients copied back: a .grad that was None is left
    holding the new gradient."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    saved = {n: p.grad.clone() for n, p in named if p.grad is not None}
    for _, p in named:
        if p.grad is not None:
            p.grad.zero_()
    loss.backward(retain_graph=True)
    out = {n: 0.0 if p.grad is None else p.grad.norm().item() for n, p in named}
    for n, p in named:
        if n in saved:
            p.grad.copy_(saved[n])
    return out


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


@mutant("day6.debugging.saliency", expect=r"softmax probability")
def saliency_of_the_probability(model, x, target):
    return _grad_of_logit(model, x, lambda z: z.softmax(1).gather(1, target[:, None])).abs()


@mutant("day6.debugging.saliency", expect=r"log-softmax \(or the cross-entropy loss\)")
def saliency_of_the_loss(model, x, target):
    return _grad_of_logit(
        model, x, lambda z: nn.functional.cross_entropy(z, target, reduction="none")).abs()


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


@mutant("day6.debugging.integrated_gradients", expect=r"right Riemann sum")
def ig_right_riemann(model, x, baseline, target, steps=50):
    return _ig(model, x, baseline, target, steps, [(k + 1) / steps for k in range(steps)])


@mutant("day6.debugging.integrated_gradients", expect=r"absolute value of the attributions")
def ig_absolute(model, x, baseline, target, steps=50):
    return _ig(model, x, baseline, target, steps, _mid(steps)).abs()


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


@mutant("day6.debugging.top_ops", expect=r"only events whose name starts with 'aten::'")
def ops_count_every_event(fn, *args, k=5):
    """record_function labels counted as operators."""
    if k < 1:
        raise ValueError("k")
    counts = Counter(e.name for e in _events(fn, args))
    return sorted(counts.items(), key=lambda t: (-t[1], t[0]))[:k]


@mutant("day6.debugging.top_ops", expect=r"rank by the number of calls")
def ops_ranked_by_time(fn, *args, k=5):
    """The profiler table's default order: total CPU time, not the call count."""
    if k < 1:
        raise ValueError("k")
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn(*args)
    rows = [a for a in prof.key_averages() if a.key.startswith("aten::")]
    rows.sort(key=lambda a: -a.cpu_time_total)
    return [(a.key, int(a.count)) for a in rows[:k]]


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


@alternative("day6.debugging.activation_stats")
def stats_from_a_global_hook(model, x):
    """One global module forward hook (register_module_forward_hook) filtered by the leaves'
    ids, std as the square root of the population variance, zeros from count_nonzero."""
    from torch.nn.modules.module import register_module_forward_hook

    names = {}
    for name, m in model.named_modules():
        if len(m._modules) == 0:
            names.setdefault(id(m), name)
    stats = {}

    def hook(m, inputs, output):
        if id(m) in names:
            out = (output if torch.is_tensor(output) else output[0]).detach().to(torch.float64)
            stats[names[id(m)]] = {
                "mean": out.mean().item(), "std": out.var(unbiased=False).sqrt().item(),
                "frac_zero": 1.0 - out.count_nonzero().item() / out.numel()}

    handle = register_module_forward_hook(hook)
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return stats


@alternative("day6.debugging.activation_stats")
def stats_of_cloned_outputs_in_numpy(model, x):
    """The hooks keep clones, numpy summarises them after the forward pass."""
    import numpy as np

    outs, handles = {}, []
    try:
        for name, m in model.named_modules():
            if not list(m.children()):
                handles.append(m.register_forward_hook(
                    lambda mod, i, o, name=name: outs.__setitem__(
                        name, (o if torch.is_tensor(o) else o[0]).detach().clone())))
        with torch.no_grad():
            model(x)
    finally:
        while handles:
            handles.pop().remove()
    result = {}
    for name, out in outs.items():
        a = out.cpu().numpy().astype(np.float64).ravel()
        result[name] = {"frac_zero": float(np.mean(a == 0)), "std": float(np.std(a)),
                        "mean": float(np.mean(a))}
    return result


@alternative("day6.debugging.grad_norms")
def norms_by_backward_with_grads_put_back(model, loss):
    """backward(inputs=params) into cleared .grad slots, then every old .grad (None included)
    put back; norms as the square root of a float64 sum of squares."""
    import math

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    saved = [p.grad for _, p in named]
    for _, p in named:
        p.grad = None
    try:
        loss.backward(retain_graph=True, inputs=[p for _, p in named])
        return {n: 0.0 if p.grad is None else math.sqrt(float((p.grad.double() ** 2).sum()))
                for n, p in named}
    finally:
        for (_, p), g in zip(named, saved):
            p.grad = g


@alternative("day6.debugging.grad_norms")
def norms_one_parameter_at_a_time(model, loss):
    """One autograd.grad call per parameter, duplicates skipped by id."""
    out, seen = {}, set()
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen or not p.requires_grad:
            continue
        seen.add(id(p))
        (g,) = torch.autograd.grad(loss, p, retain_graph=True, allow_unused=True)
        out[name] = 0.0 if g is None else torch.linalg.norm(g.flatten()).item()
    return out


@alternative("day6.debugging.saliency")
def saliency_one_sample_at_a_time(model, x, target):
    """A loop over the samples (a batch of one each), modes saved by qualified name."""
    modes = {name: m.training for name, m in model.named_modules()}
    model.eval()
    try:
        rows = []
        for i in range(x.shape[0]):
            xi = x[i:i + 1].detach().clone().requires_grad_()
            (g,) = torch.autograd.grad(model(xi)[0, target[i]], xi)
            rows.append(g[0].abs())
        return torch.stack(rows)
    finally:
        for name, m in model.named_modules():
            m.training = modes[name]


@alternative("day6.debugging.saliency")
def saliency_by_vjp(model, x, target):
    """torch.func.vjp with a one-hot cotangent."""
    from torch.func import vjp

    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        out, pullback = vjp(model, x.detach())
        cotangent = torch.zeros_like(out).scatter_(1, target.view(-1, 1), 1.0)
        (g,) = pullback(cotangent)
        return g.abs().detach()
    finally:
        for m, mode in modes:
            m.training = mode


@alternative("day6.debugging.integrated_gradients")
def ig_batched_by_broadcasting(model, x, baseline, target, steps=50):
    """All points in one batch built by broadcasting (steps, 1, ...) alphas from linspace,
    the target logits picked by advanced indexing."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        x0, b0 = x.detach(), baseline.detach()
        alphas = torch.linspace(0.5 / steps, 1 - 0.5 / steps, steps, dtype=x.dtype)
        alphas = alphas.view(steps, *([1] * x.dim()))
        points = (b0 + alphas * (x0 - b0)).reshape(steps * x.shape[0], *x.shape[1:])
        points.requires_grad_(True)
        picked = target.repeat(steps)
        logits = model(points)
        (g,) = torch.autograd.grad(logits[torch.arange(len(picked)), picked].sum(), points)
        return (x0 - b0) * g.view(steps, *x.shape).mean(0)
    finally:
        for m, mode in modes:
            m.training = mode


@alternative("day6.debugging.integrated_gradients")
def ig_sample_major_batch(model, x, baseline, target, steps=50):
    """The batch laid out sample by sample (N * steps rows), repeat_interleave'd targets,
    gradients through one-hot grad_outputs, the mean as a sum over steps divided by steps."""
    if steps < 1:
        raise ValueError("steps")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        n = x.shape[0]
        x0, b0 = x.detach(), baseline.detach()
        points = torch.stack([b0 + (k + 0.5) / steps * (x0 - b0) for k in range(steps)], dim=1)
        points = points.reshape(n * steps, *x.shape[1:]).clone().requires_grad_()
        picked = target.repeat_interleave(steps)
        out = model(points)
        weights = nn.functional.one_hot(picked, out.shape[1]).to(out.dtype)
        (g,) = torch.autograd.grad(out, points, grad_outputs=weights)
        return g.view(n, steps, *x.shape[1:]).sum(1) / steps * (x0 - b0)
    finally:
        for m, mode in modes:
            m.training = mode


@alternative("day6.debugging.top_ops")
def ops_walking_the_event_tree(fn, *args, k=5):
    """Started and stopped by hand; the events walked from the roots through cpu_children;
    two stable sorts (by name, then by count descending)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    from torch.profiler import ProfilerActivity, profile

    prof = profile(activities=[ProfilerActivity.CPU])
    prof.start()
    try:
        fn(*args)
    finally:
        prof.stop()
    counts = Counter()
    stack = [e for e in prof.events() if e.cpu_parent is None]
    while stack:
        event = stack.pop()
        if event.name.startswith("aten::"):
            counts[event.name] += 1
        stack.extend(event.cpu_children)
    items = sorted(counts.items())
    items.sort(key=lambda item: item[1], reverse=True)
    return items[:k]


@alternative("day6.debugging.top_ops")
def ops_heap_of_key_averages(fn, *args, k=5):
    """key_averages with shapes recorded (grouped by name only), heapq.nsmallest on
    (-count, name)."""
    import heapq

    if not k >= 1:
        raise ValueError("k")
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                record_shapes=True) as prof:
        fn(*args)
    rows = {a.key: int(a.count) for a in prof.key_averages() if a.key.startswith("aten::")}
    return heapq.nsmallest(k, rows.items(), key=lambda item: (-item[1], item[0]))
