"""Graders for day6/debugging.py: forward hooks, gradient norms, attributions, the profiler.

Oracles: the grader's own forward hooks for ``activation_stats``; ``torch.autograd.grad`` for
``grad_norms`` and ``saliency``; a reproduction of Captum's ``IntegratedGradients`` with
``method="riemann_middle"`` (Captum itself is not a dependency) for ``integrated_gradients``;
``torch.profiler`` itself for ``top_ops``. The test models draw their submodule names from a
pool, so code that hard-codes names fails, and arrive with mixed modes and stale gradients.
"""

from __future__ import annotations

from collections import Counter

import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn

from graders import strategies as ds
from graders import student
from graders.checks import assert_close, assert_equal, close_values, equal_values, fail
from graders.forbid import forbidden_calls
from graders.profiles import examples

mod = student("day6.debugging")

NAMES = ("enc", "body", "act", "head", "proj", "rnn", "gate", "spare", "alias", "mlp")
NO_CAPTUM = "compute the gradients yourself with torch.autograd.grad"


# --- test models ------------------------------------------------------------------------------

class Recorder(nn.Module):
    """A leaf that records, at each call, whether autograd was recording."""

    def __init__(self) -> None:
        super().__init__()
        self.grad_modes: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.grad_modes.append(torch.is_grad_enabled())
        return x


class StatsNet(nn.Module):
    """Submodules under drawn names: a block (whose in-place ReLU overwrites the Linear's output
    after the Linear's hook ran), a shared leaf called twice (and registered under a second name),
    a head, a GRU over two steps (a tuple output whose second element, the last hidden state,
    differs from the first), a recorder, and a leaf never called."""

    def __init__(self, names: list[str], dropout: float) -> None:
        super().__init__()
        self.names = names
        block = nn.Sequential(nn.Linear(4, 6), nn.ReLU(inplace=True), nn.Dropout(dropout))
        shared = nn.Tanh()
        for name, module in zip(names, (block, shared, nn.Linear(6, 3),
                                        nn.GRU(3, 2, batch_first=True), Recorder(),
                                        nn.Linear(5, 5), shared)):
            setattr(self, name, module)

    def part(self, i: int) -> nn.Module:
        return getattr(self, self.names[i])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.part(1)(self.part(0)(x))
        h = self.part(1)(h * 0.5 - 0.2)  # the shared leaf again: its last call counts
        y = self.part(2)(self.part(4)(h))
        out, _ = self.part(3)(torch.stack([y, -y], dim=1))
        return out[:, -1]


@st.composite
def stats_nets(draw):
    names = draw(st.permutations(NAMES))[:7]
    dropout = draw(st.sampled_from([0.0, 0.5]))
    torch.manual_seed(draw(st.integers(0, 100)))
    model = StatsNet(list(names), dropout).double()
    modes = draw(st.sampled_from(["train", "eval", "mixed"]))
    model.train(modes != "eval")
    if modes == "mixed":
        model.part(0).eval()
    return model


def _stale(model: nn.Module) -> dict[str, torch.Tensor | None]:
    """Give every other parameter a stale .grad and leave the rest with None; return copies to
    compare with afterwards (None must stay None: a backward pass would fill it)."""
    out: dict[str, torch.Tensor | None] = {}
    for i, (name, p) in enumerate(model.named_parameters()):
        p.grad = torch.full_like(p, 0.25 * (i + 1)) if i % 2 == 0 else None
        out[name] = None if p.grad is None else p.grad.clone()
    return out


def _check_untouched(model, modes, grads, what: str) -> None:
    now = [m.training for m in model.modules()]
    if now != modes:
        changed = [name or "the model" for (name, _), a, b in
                   zip(model.named_modules(), modes, now) if a != b]
        fail(f"{what} changed the mode of {changed}: leave every submodule in the mode it had "
             f"(save each one's `training` flag and restore it, not model.train()).")
    for name, p in model.named_parameters():
        before = grads[name]
        if before is not None and (p.grad is None or not equal_values(p.grad, before)):
            fail(f"{what} changed {name}.grad (it held a stale gradient that must stay as it "
                 f"was): use torch.autograd.grad, never loss.backward(), and no zero_grad.")
    for name, p in model.named_parameters():
        if grads[name] is None and p.grad is not None:
            fail(f"{what} set {name}.grad, which was None before the call and must stay None: "
                 f"use torch.autograd.grad, never loss.backward() (restoring only the .grad "
                 f"values that existed leaves the new ones behind).")


def _hooks_left(model: nn.Module) -> list[str]:
    from torch.nn.modules import module as module_mod

    left = [name or "the model" for name, m in model.named_modules()
            if m._forward_hooks or m._forward_pre_hooks]
    if module_mod._global_forward_hooks or module_mod._global_forward_pre_hooks:
        left.append("the global hooks (register_module_forward_hook)")
    return left


# --- activation_stats -------------------------------------------------------------------------

def _summary(out: torch.Tensor) -> dict[str, float]:
    out = out.detach().double()
    return {"mean": out.mean().item(), "std": out.std(correction=0).item(),
            "frac_zero": (out == 0).double().mean().item()}


def _stats_oracle(model: nn.Module, x: torch.Tensor, *,
                  late: bool = False) -> dict[str, dict[str, float]]:
    """The stats taken in each leaf's hook; ``late``: the mistake of keeping the output tensors
    and summarising them after the forward pass (in-place operations have changed them)."""
    stats: dict[str, dict[str, float]] = {}
    kept: dict[str, torch.Tensor] = {}

    def hook_for(name):
        def hook(module, inputs, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            if late:
                kept[name] = out
            else:
                stats[name] = _summary(out)
        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in model.named_modules()
               if not list(m.children())]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return {name: _summary(out) for name, out in kept.items()} if late else stats


def _stats_close(got, expected) -> bool:
    return (isinstance(got, dict) and set(got) == set(expected) and
            all(isinstance(got[n], dict) and set(got[n]) == set(e) and
                all(isinstance(got[n][k], float) and
                    abs(got[n][k] - v) <= 1e-6 + 1e-5 * abs(v) for k, v in e.items())
                for n, e in expected.items()))


def _compare_stats(got, expected, what: str) -> None:
    if not isinstance(got, dict):
        fail(f"{what} returned {type(got).__name__}; expected a dict by leaf name.")
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or extra:
        advice = []
        if extra:
            advice.append(f"{extra} should not be there: only leaf modules (no children) whose "
                          f"forward ran, each under its first name in named_modules()")
        if missing:
            advice.append(f"{missing} are missing: hook every leaf of named_modules() (the "
                          f"model itself when it has no children, under '')")
        fail(f"{what} has the keys {sorted(got)}; expected {sorted(expected)}. "
             + "; ".join(advice) + ".")
    for name, exp in expected.items():
        entry = got[name]
        if not isinstance(entry, dict) or set(entry) != {"mean", "std", "frac_zero"}:
            fail(f"{what}[{name!r}] is {entry!r}; expected a dict with mean, std, frac_zero.")
        for key in ("mean", "std", "frac_zero"):
            value = entry[key]
            if not isinstance(value, float):
                fail(f"{what}[{name!r}][{key!r}] is {type(value).__name__}; expected a Python "
                     f"float (.item()).")
            if key == "std" and abs(value - exp["std"]) > 1e-6 + 1e-5 * exp["std"]:
                advice = "the population std (unbiased=False) of the leaf's last output"
                fail(f"{what}[{name!r}]['std'] is {value:.6g}; expected {exp['std']:.6g}: "
                     f"{advice}.")
            assert_close(value, exp[key], rtol=1e-5, atol=1e-6,
                         what=f"{what}[{name!r}][{key!r}] (the leaf's last call counts; a "
                              f"tuple output counts by its first element)")


@settings(max_examples=examples(15))
@given(model=stats_nets(), seed=st.integers(0, 100), n=st.integers(1, 5), data=st.data())
def test_activation_stats_match_forward_hooks(model, seed, n, data):
    """Are mean, population std and frac_zero those of each leaf's last output, by its name?"""
    x = data.draw(ds.layout(torch.randn(n, 4, generator=torch.Generator().manual_seed(seed),
                                        dtype=torch.float64)), label="x")
    grads = _stale(model)
    modes = [m.training for m in model.modules()]
    recorder = model.part(4)
    torch.manual_seed(seed)
    got = mod.activation_stats(model, x)
    what = f"activation_stats(model with submodules {model.names[:6]}, x {tuple(x.shape)})"
    left = _hooks_left(model)
    if left:
        fail(f"{what} left hooks on {left}: keep each handle returned by "
             f"register_forward_hook and call handle.remove() in a finally block.")
    if any(recorder.grad_modes):
        fail(f"{what} ran the forward pass with autograd recording: use torch.no_grad().")
    _check_untouched(model, modes, grads, what)
    torch.manual_seed(seed)
    expected = _stats_oracle(model, x)
    if not _stats_close(got, expected):
        torch.manual_seed(seed)
        late = _stats_oracle(model, x, late=True)
        changed = [n for n in expected if n in late and late[n] != expected[n]]
        if changed and _stats_close(got, late):
            fail(f"{what} gives {changed} the statistics of their output tensors as they are "
                 f"after the forward pass, not as the leaves returned them: a later in-place "
                 f"operation (nn.ReLU(inplace=True)) overwrote them. Compute the statistics "
                 f"inside the hook (or keep a .clone()).")
    _compare_stats(got, expected, what)


def test_activation_stats_of_a_single_layer_model():
    """Is a model without children reported under the name ''?"""
    model = nn.Linear(3, 4).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    got = mod.activation_stats(model, x)
    _compare_stats(got, _stats_oracle(model, x), "activation_stats(nn.Linear(3, 4), x)")


class _Boom(Exception):
    """Raised by a test model's forward pass."""


class Exploding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(2, 2)
        self.second = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.second(self.first(x))
        raise _Boom("forward failed on purpose")


def test_activation_stats_removes_hooks_when_forward_raises():
    """When forward raises, does the same exception propagate with every hook removed?"""
    model = Exploding()
    try:
        mod.activation_stats(model, torch.randn(3, 2))
    except _Boom:
        pass
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"activation_stats on a model whose forward raises _Boom raised "
             f"{type(exc).__name__}: {exc}; let the model's own exception propagate.")
    else:
        fail("activation_stats on a model whose forward raises returned normally; let the "
             "exception propagate (no except clause that swallows it).")
    left = _hooks_left(model)
    if left:
        fail(f"after forward raised, hooks are still on {left}: remove them in a finally "
             f"block so that they go away whatever happens.")


# --- grad_norms -------------------------------------------------------------------------------

class TiedNet(nn.Module):
    """A tied (shared) weight under two names, a frozen layer, an unused parameter."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names
        embed = nn.Linear(4, 4, bias=False)
        decode = nn.Linear(4, 4)
        decode.weight = embed.weight  # tied: named_parameters lists it once
        frozen = nn.Linear(4, 4)
        frozen.requires_grad_(False)
        for name, module in zip(names, (embed, decode, frozen)):
            setattr(self, name, module)
        self.register_parameter(names[3], nn.Parameter(torch.ones(2)))  # unused by forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b, c = (getattr(self, n) for n in self.names[:3])
        return b(torch.tanh(c(a(x))))


@settings(max_examples=examples(10))
@given(names=st.permutations(NAMES).map(lambda p: p[:4]), seed=st.integers(0, 100),
       scale=st.sampled_from([1.0, 1e3]))
def test_grad_norms_match_autograd(names, seed, scale):
    """Is each trainable parameter's entry the L2 norm of d loss / d p (0.0 if unused), once?"""
    torch.manual_seed(seed)
    model = TiedNet(list(names[:4])).double()
    x = torch.randn(3, 4, dtype=torch.float64)
    loss = (model(x) ** 2).sum() * scale
    grads = _stale(model)
    what = f"grad_norms(model with parameters {[n for n, _ in model.named_parameters()]}, loss)"
    got = mod.grad_norms(model, loss)
    _check_untouched(model, [m.training for m in model.modules()], grads, what)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    try:
        expected_grads = torch.autograd.grad(loss, [p for _, p in named], retain_graph=True,
                                             allow_unused=True)
    except RuntimeError as exc:
        fail(f"after {what}, the graph of loss can no longer be used ({exc}): pass "
             f"retain_graph=True to torch.autograd.grad.")
    expected = {n: 0.0 if g is None else g.norm().item() for (n, _), g in
                zip(named, expected_grads)}
    if not isinstance(got, dict):
        fail(f"{what} returned {type(got).__name__}; expected a dict by parameter name.")
    if list(got) != list(expected):
        advice = ""
        frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
        if set(frozen) & set(got):
            advice = " Leave out parameters with requires_grad False."
        elif set(expected) - set(got):
            advice = (" A parameter the loss does not depend on is listed with 0.0 "
                      "(allow_unused=True gives None for it).")
        fail(f"{what} has the keys {list(got)}; expected {list(expected)} (named_parameters() "
             f"order, trainable only, a shared parameter once).{advice}")
    for name, value in expected.items():
        if not isinstance(got[name], float):
            fail(f"{what}[{name!r}] is {type(got[name]).__name__}; expected a Python float.")
        if value > 0 and abs(got[name] - value ** 2) <= 1e-6 * value ** 2 and abs(value - 1) > 1e-3:
            fail(f"{what}[{name!r}] is {got[name]:.6g}, the squared norm; take the square "
                 f"root (g.norm()).")
        assert_close(got[name], value, rtol=1e-6, atol=1e-12,
                     what=f"{what}[{name!r}] (the L2 norm of d loss / d {name})")


# --- saliency ---------------------------------------------------------------------------------

class Classifier(nn.Module):
    """BatchNorm and Dropout (so the mode matters), submodules under drawn names."""

    def __init__(self, names: list[str], features: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.names = names
        layers = (nn.Linear(features, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Dropout(0.5),
                  nn.Linear(8, classes))
        for name, module in zip(names, layers):
            setattr(self, name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for name in self.names[:5]:
            h = getattr(self, name)(h)
        return h


@st.composite
def classification_cases(draw):
    names = list(draw(st.permutations(NAMES))[:5])
    image = draw(st.booleans())
    n = draw(st.integers(1, 4))
    shape = (n, 2, 2) if image else (n, 4)
    torch.manual_seed(draw(st.integers(0, 100)))
    model = Classifier(names).double()
    with torch.no_grad():  # running statistics that differ from the batch's
        bn = getattr(model, names[1])
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    model.train()
    getattr(model, names[4]).eval()  # mixed modes on entry
    x = draw(ds.tensors(shape, torch.float64, min_value=-2, max_value=2), label="x")
    target = torch.tensor(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    return model, x, target


def _target_grads(model, x, target, transform=None):
    """d logits[i, target[i]] / d x[i] in eval mode; every mode restored after. ``transform``
    (a mistake to diagnose) is applied to the logits before the target column is taken."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        x2 = x.detach().clone().requires_grad_(True)
        logits = model(x2)
        scores = logits if transform is None else transform(logits)
        return torch.autograd.grad(scores.gather(1, target[:, None]).sum(), x2)[0], logits
    finally:
        for m, mode in modes:
            m.training = mode


def _run_attribution(call, model, x, what: str):
    """Run ``call()`` (the graded function on model and x) and check what it must not change."""
    grads = _stale(model)
    modes = [m.training for m in model.modules()]
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    x.requires_grad_(False)
    with forbidden_calls("captum", what=what.split("(")[0], why=NO_CAPTUM):
        got = call()
    _check_untouched(model, modes, grads, what)
    now = dict(model.named_buffers())
    for key, value in buffers.items():
        if not equal_values(now[key], value):
            fail(f"{what} changed the buffer {key} (BatchNorm's running statistics move in "
                 f"train mode): run every submodule in eval mode during the call.")
    if x.grad is not None or x.requires_grad:
        fail(f"{what} left a gradient on x (x.requires_grad={x.requires_grad}, x.grad "
             f"{'set' if x.grad is not None else 'None'}): differentiate with respect to a "
             f"detached copy, x.detach().requires_grad_(True).")
    if isinstance(got, torch.Tensor) and got.requires_grad:
        fail(f"{what} returned a tensor that requires grad; return plain values "
             f"(torch.autograd.grad without create_graph, or .detach()).")
    return got


@given(case=classification_cases())
def test_saliency_is_the_abs_gradient_of_the_target_logit(case):
    """Is saliency |d logits[i, target[i]] / d x[i]| in eval mode, with x, modes, .grad untouched?"""
    model, x, target = case
    what = f"saliency(model, x {tuple(x.shape)}, target {target.tolist()})"
    got = _run_attribution(lambda: mod.saliency(model, x, target), model, x, what)
    grad, logits = _target_grads(model, x, target)
    expected = grad.abs()
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and \
            not close_values(got, expected, rtol=1e-6, atol=1e-9):
        if close_values(got, grad, rtol=1e-6, atol=1e-9):
            fail(f"{what} returned the signed gradient; saliency is its absolute value.")
        best = logits.argmax(1)
        alt, _ = _target_grads(model, x, best)
        if close_values(got, alt.abs(), rtol=1e-6, atol=1e-9) and not equal_values(best, target):
            fail(f"{what} differentiates the largest logit; use the logit of each sample's "
                 f"target class, logits[i, target[i]].")
        for transform, mistake in ((lambda z: z.softmax(1), "the softmax probability"),
                                   (lambda z: z.log_softmax(1),
                                    "the log-softmax (or the cross-entropy loss)")):
            alt = _target_grads(model, x, target, transform)[0].abs()
            if close_values(got, alt, rtol=1e-6, atol=1e-9) and \
                    not close_values(alt, expected, rtol=1e-6, atol=1e-9):
                fail(f"{what} differentiates {mistake} of the target class; saliency uses the "
                     f"raw logit, model(x)[i, target[i]], with no softmax or loss after it.")
    assert_close(got, expected, rtol=1e-6, atol=1e-9,
                 what=f"{what} (|gradient of the target logit| with every submodule in eval "
                      f"mode: dropout off, batch norm on running statistics)")


def test_saliency_leaves_an_input_that_requires_grad_alone():
    """Does an x that requires grad keep requires_grad True and get no .grad?"""
    torch.manual_seed(0)
    model = Classifier(list(NAMES[:5])).double().eval()
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    out = mod.saliency(model, x, torch.tensor([0, 1, 2]))
    if x.grad is not None or not x.requires_grad:
        fail("saliency(model, x, target) with x.requires_grad True changed x (its .grad or "
             "requires_grad): differentiate a detached copy of x.")
    assert_equal(tuple(out.shape), (3, 4), what="the shape of saliency(model, x (3, 4), target)")


# --- integrated_gradients ---------------------------------------------------------------------

def captum_riemann_middle(model, x, baseline, target, steps, *, multiply: bool = True):
    """Captum's IntegratedGradients(model).attribute(x, baseline, target, n_steps=steps,
    method="riemann_middle") step by step (captum/attr/_core/integrated_gradients.py and
    captum/attr/_utils/approximation_methods.py), every submodule in eval mode: alphas from
    torch.linspace (float32), step sizes 1/steps as a float32 tensor, one batch of
    steps * N scaled inputs, gradients scaled and summed per step, times (x - baseline)."""
    step_sizes = [1 / steps] * steps
    alphas = torch.linspace(1 / (2 * steps), 1 - 1 / (2 * steps), steps).tolist()
    x, baseline = x.detach(), baseline.detach()
    scaled = torch.cat([baseline + alpha * (x - baseline) for alpha in alphas], dim=0)
    grads, _ = _target_grads(model, scaled, target.repeat(steps))
    scaled_grads = grads.contiguous().view(steps, -1) * torch.tensor(step_sizes).view(steps, 1)
    total = scaled_grads.reshape((steps, x.shape[0]) + tuple(x.shape[1:])).sum(dim=0)
    return total * (x - baseline) if multiply else total


def _with_alphas(model, x, baseline, target, alphas):
    """(x - baseline) times the mean gradient at the given alphas (the mistakes' sums)."""
    grads = [_target_grads(model, baseline + a * (x - baseline), target)[0] for a in alphas]
    return torch.stack(grads).mean(0) * (x - baseline)


@settings(max_examples=examples(15))
@given(case=classification_cases(), steps=st.sampled_from([1, 2, 3, 7, 50]),
       zero=st.booleans(), data=st.data())
def test_integrated_gradients_reproduces_captum_riemann_middle(case, steps, zero, data):
    """Are the attributions Captum's riemann_middle ones, (x - baseline) * mean gradient?"""
    model, x, target = case
    baseline = torch.zeros_like(x) if zero else data.draw(
        ds.tensors(tuple(x.shape), torch.float64, min_value=-1, max_value=1), label="baseline")
    what = (f"integrated_gradients(model, x {tuple(x.shape)}, "
            f"{'zeros' if zero else 'a random baseline'}, target {target.tolist()}, "
            f"steps={steps})")
    got = _run_attribution(
        lambda: mod.integrated_gradients(model, x, baseline, target, steps), model, x, what)
    expected = captum_riemann_middle(model, x, baseline, target, steps)
    tol = dict(rtol=1e-5, atol=1e-7)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and \
            not close_values(got, expected, **tol):
        hints = [
            (captum_riemann_middle(model, x, baseline, target, steps, multiply=False),
             "the mean gradient without the factor (x - baseline)"),
            (expected * steps, "the sum of the gradients, not their mean (divide by steps)"),
            (_with_alphas(model, x, baseline, target, [k / steps for k in range(steps)]),
             "alphas that start at 0, alpha = k / steps (the left Riemann sum, or "
             "linspace(0, 1, steps)); use the midpoints (k + 0.5) / steps"),
            (_with_alphas(model, x, baseline, target, [(k + 1) / steps for k in range(steps)]),
             "alpha = (k + 1) / steps (the right Riemann sum); use the midpoints "
             "(k + 0.5) / steps"),
            (_with_alphas(model, x, baseline, target,
                          torch.linspace(0, 1, steps, dtype=torch.float64).tolist()),
             "alphas from linspace(0, 1, steps), which include both ends; use the midpoints "
             "(k + 0.5) / steps, k = 0..steps-1"),
            (expected.abs(), "the absolute value of the attributions; integrated gradients "
                             "keep their sign (they sum to f(x) - f(baseline))"),
        ]
        for value, mistake in hints:
            if close_values(got, value, **tol) and not close_values(value, expected, **tol):
                fail(f"{what} returned {mistake}.")
    assert_close(got, expected, **tol,
                 what=f"{what} against Captum's riemann_middle (alpha_k = (k + 0.5) / steps, "
                      f"every submodule in eval mode)")


def test_integrated_gradients_is_complete():
    """With 500 steps, do each sample's attributions sum to f(x) - f(baseline)?"""
    torch.manual_seed(3)
    model = Classifier(list(NAMES[5:]) + ["x0"]).double()
    model.eval()
    x = torch.randn(4, 4, dtype=torch.float64)
    baseline = torch.full_like(x, 0.1)
    target = torch.tensor([2, 0, 1, 2])
    got = mod.integrated_gradients(model, x, baseline, target, steps=500)
    with torch.no_grad():
        f = lambda z: model(z).gather(1, target[:, None]).squeeze(1)  # noqa: E731
        delta = f(x) - f(baseline)
    sums = got.sum(dim=1)
    if not close_values(sums, delta, rtol=1e-5, atol=1e-6):
        fail(f"the attributions of integrated_gradients(..., steps=500) sum per sample to "
             f"{sums.tolist()}; completeness requires f(x) - f(baseline) = {delta.tolist()}. "
             f"Multiply the mean gradient by (x - baseline), and evaluate f at "
             f"baseline + alpha * (x - baseline).")


def test_integrated_gradients_rejects_bad_steps():
    """Do steps = 0 and steps = -1 raise ValueError?"""
    model = nn.Linear(3, 2)
    x = torch.randn(2, 3)
    for steps in (0, -1):
        try:
            mod.integrated_gradients(model, x, torch.zeros_like(x), torch.tensor([0, 1]), steps)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001
            fail(f"integrated_gradients(..., steps={steps}) raised {type(exc).__name__}: {exc}; "
                 f"expected ValueError.")
        fail(f"integrated_gradients(..., steps={steps}) returned; expected ValueError.")


# --- top_ops ----------------------------------------------------------------------------------

def _mlp_step(x, layer):
    return torch.relu(layer(x)).sum()


def _loop(x, n):
    for _ in range(n):
        x = x * 2.0
        x = x.add(1.0)
    return x.sum()


def _labelled(a, b):
    """Labels that are no aten:: operators: "add_b" ties with aten::add at the top of the
    counts and sorts before it, so counting every event puts a label first."""
    with torch.profiler.record_function("my_block"):
        c = torch.mm(a, b)
    for _ in range(4):
        with torch.profiler.record_function("add_b"):
            c = c + b
    return (c.exp() * c).mean()


def _tiny(a):
    return torch.neg(a)


def _profile_ops(fn, args) -> list[tuple[str, int]]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn(*args)
    counts = Counter(e.name for e in prof.events() if e.name.startswith("aten::"))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _top_case(kind: str):
    g = torch.Generator().manual_seed(0)
    if kind == "mlp":
        return _mlp_step, (torch.randn(4, 3, generator=g), nn.Linear(3, 2))
    if kind == "loop":
        return _loop, (torch.randn(5, generator=g), 4)
    if kind == "labelled":
        return _labelled, (torch.randn(3, 3, generator=g), torch.randn(3, 3, generator=g))
    return _tiny, (torch.randn(2, generator=g),)


@settings(max_examples=examples(12))
@given(kind=st.sampled_from(["mlp", "loop", "labelled", "tiny"]), k=st.integers(1, 8))
@example(kind="loop", k=3)
@example(kind="labelled", k=2)
@example(kind="tiny", k=5)
def test_top_ops_matches_the_profiler(kind, k):
    """Are the k most called aten:: ops (nested included) and counts the profiler's, ties by name?"""
    fn, args = _top_case(kind)
    _profile_ops(fn, args)  # warm up: the first profiled call may record set-up operators
    calls = []

    def counted(*a):
        calls.append(a)
        return fn(*a)

    got = mod.top_ops(counted, *args, k=k)
    expected = _profile_ops(fn, args)[:k]
    what = f"top_ops({fn.__name__}, ..., k={k})"
    if len(calls) != 1 or calls[0] != args:
        fail(f"{what} called fn {len(calls)} times (with {[len(c) for c in calls]} arguments); "
             f"expected exactly one call fn(*args).")
    if not isinstance(got, list) or not all(isinstance(t, tuple) and len(t) == 2 and
                                            isinstance(t[0], str) and type(t[1]) is int
                                            for t in got):
        fail(f"{what} returned {got!r}; expected a list of (name, count) tuples, count an int.")
    if got != expected:
        full = _profile_ops(fn, args)
        names = [n for n, _ in got]
        if any(not n.startswith("aten::") for n in names):
            advice = ("count only events whose name starts with 'aten::' and keep that prefix "
                      "in the names")
        elif sorted(got, key=lambda t: (-t[1], t[0])) == expected or (
                [c for _, c in got] == [c for _, c in expected] and set(got) <= set(full)):
            advice = "most frequent first, and ties by name (alphabetical)"
        elif set(got) <= set(full) and any(a[1] < b[1] for a, b in zip(got, got[1:])):
            advice = ("rank by the number of calls (each event's count), most frequent first, "
                      "not by time or order of appearance")
        elif all(c <= dict(full).get(n, 0) for n, c in got):
            advice = ("count every aten:: event of prof.events(), nested calls included "
                      "(aten::linear's aten::t and aten::addmm count too)")
        else:
            advice = "run fn(*args) once inside torch.profiler.profile and count events by name"
        fail(f"{what} returned {got}; the profiler gives {expected}: {advice}.")


def test_top_ops_rejects_k_below_one():
    """Does k < 1 raise ValueError?"""
    for k in (0, -3):
        calls = []
        try:
            mod.top_ops(lambda: calls.append(1), k=k)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001
            fail(f"top_ops(fn, k={k}) raised {type(exc).__name__}: {exc}; expected ValueError.")
        fail(f"top_ops(fn, k={k}) returned; expected ValueError.")
