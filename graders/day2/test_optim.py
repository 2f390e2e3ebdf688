"""Graders for day2/optim.py: SGD and Adam against torch.optim, and the cosine schedule."""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from graders import strategies as ds
from graders import student
from graders.checks import DrillsFailure, assert_close, close_values, fail, plain
from graders.day2._optim_rules import diagnose
from graders.forbid import forbidden_calls

mod = student("day2.optim")

OPTIM_FORBIDDEN = ("torch.optim.SGD", "torch.optim.Adam", "torch.optim.AdamW",
                   "torch.optim.sgd.sgd", "torch.optim.adam.adam", "torch.optim.adamw.adamw",
                   "torch._fused_sgd_", "torch._fused_adam_", "torch._fused_adamw_")
TOL = dict(rtol=1e-10, atol=1e-12)
SHAPES = ((3, 2), (4,), (1,), (2, 1, 2))


def _make_params(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=torch.float64) for s in SHAPES]


def _grads(params, step: int, seed: int) -> list[torch.Tensor]:
    """A quadratic-plus-noise gradient: depends on the current parameters, like a real loss."""
    g = torch.Generator().manual_seed(seed * 1000 + step)
    return [0.7 * p.detach() + torch.randn(p.shape, generator=g, dtype=torch.float64)
            for p in params]


def _build(cls, init, group_kw, defaults):
    params = [torch.nn.Parameter(t.clone()) for t in init]
    if group_kw is None:
        groups = params
    else:
        groups = [{"params": params[:2], **group_kw[0]}, {"params": params[2:], **group_kw[1]}]
    return params, cls(groups, **defaults)


def compare_with_torch(name: str, torch_cls, *, defaults: dict, group_kw=None, steps: int = 4,
                       lr_schedule=None, seed: int = 0, frozen: int | None = None,
                       advice: str = "") -> None:
    """Run the student's optimizer and torch's side by side; fail at the first differing step."""
    init = _make_params(seed)
    mine, opt = _build(getattr(mod, name), init, group_kw, defaults)
    ref, ref_opt = _build(torch_cls, init, group_kw, {**defaults, "foreach": False})
    setup = (f"{name}(groups, {', '.join(f'{k}={v!r}' for k, v in defaults.items())})"
             + (f" with param groups overriding {group_kw}" if group_kw else ""))
    played: list[list] = []  # per step, per parameter: (gradient or None, its group's settings)
    for step in range(steps):
        grads = _grads(ref, step, seed)
        for i, (p, q, gr) in enumerate(zip(mine, ref, grads)):
            if i == frozen:  # this parameter never gets a gradient
                p.grad, q.grad = None, None
                continue
            p.grad, q.grad = gr.clone(), gr.clone()
        played.append(_settings(ref_opt, ref))
        opt.step()
        ref_opt.step()
        for i, (p, q) in enumerate(zip(mine, ref)):
            if not close_values(p.detach(), q.detach(), **TOL):
                if i == frozen:
                    fail(f"{setup}: parameter {i} has no gradient (.grad is None) but step() "
                         f"changed it; skip parameters whose grad is None.")
                where = "on the first step" if step == 0 else (
                    f"after step {step + 1} (step 1 matched)" if step == 1 else
                    f"after step {step + 1} (steps 1 to {step} matched)")
                _fail_step(name, init, played, mine, f"{setup}: parameter {i} {where}", p, q,
                           advice=advice, lr_changed=bool(lr_schedule and step > 0))
        if lr_schedule:
            for grp, ref_grp, lr in zip(opt.param_groups, ref_opt.param_groups, lr_schedule(step)):
                grp["lr"], ref_grp["lr"] = lr, lr


def _settings(ref_opt, params) -> list:
    """Each parameter's (gradient, group settings) as torch's optimizer is about to use them."""
    where = {id(p): {k: v for k, v in g.items() if k != "params"}
             for g in ref_opt.param_groups for p in g["params"]}
    return [(None if p.grad is None else p.grad.detach().clone(), where[id(p)]) for p in params]


def _fail_step(name, init, played, mine, what, p, q, *, advice, lr_changed) -> None:
    """Fail on the first parameter that differs: with the one known mistake that reproduces the
    student's parameters when there is one, else with what differs and what the check is about."""
    __tracebackhide__ = True
    got = [plain(t.detach()) for t in mine]
    why = diagnose(name, init, played, got)
    try:
        assert_close(p.detach(), q.detach(), **TOL, what=what)
    except DrillsFailure as exc:
        if why:
            fail(f"{exc} Replaying the same gradients shows the mistake: {why}.")
        note = (" The lr was changed through optimizer.param_groups before this step: read "
                "group['lr'] at every step." if lr_changed else "")
        fail(f"{exc}{note} {advice}")


def _lr_schedule(step: int) -> tuple[float, float]:
    return (0.1 / (step + 2), 0.03 * (step + 1))


def check_own_update(name: str, defaults: dict) -> None:
    """Build the optimizer and take two steps while watching for torch.optim's update code."""
    params = [torch.nn.Parameter(t) for t in _make_params(4)]
    with forbidden_calls(*OPTIM_FORBIDDEN, what=name,
                         why="subclass torch.optim.Optimizer and write the update rule yourself "
                         "in step(); do not wrap or inherit from torch.optim's optimizers."):
        opt = getattr(mod, name)(params, **defaults)
        for step in range(2):
            for p, g in zip(params, _grads(params, step, 4)):
                p.grad = g
            opt.step()


def check_state_round_trip(name: str, torch_cls, defaults: dict) -> None:
    """state_dict -> load_state_dict into a fresh optimizer continues exactly (the state is in self.state)."""
    init = _make_params(3)
    a_params, a = _build(getattr(mod, name), init, None, defaults)
    ref, ref_opt = _build(torch_cls, init, None, {**defaults, "foreach": False})
    played: list[list] = []
    for step in range(3):
        for p, q, gr in zip(a_params, ref, _grads(ref, step, 3)):
            p.grad, q.grad = gr.clone(), gr.clone()
        played.append(_settings(ref_opt, ref))
        a.step()
        ref_opt.step()
    for i, (p, q) in enumerate(zip(a_params, ref)):  # the steps themselves first
        if not close_values(p.detach(), q.detach(), **TOL):
            _fail_step(name, init, played, a_params, f"{name}(params, {defaults}): parameter {i} "
                       f"after 3 steps (before any state_dict round trip)", p, q,
                       advice="The steps differ from torch's before any saving or loading.",
                       lr_changed=False)
    saved = a.state_dict()
    b_params = [torch.nn.Parameter(p.detach().clone()) for p in a_params]
    b = getattr(mod, name)(b_params, **defaults)
    b.load_state_dict(saved)
    for step in range(3, 5):
        for p, q, gr in zip(b_params, ref, _grads(ref, step, 3)):
            p.grad, q.grad = gr.clone(), gr.clone()
        b.step()
        ref_opt.step()
    for i, (p, q) in enumerate(zip(b_params, ref)):
        assert_close(p.detach(), q.detach(), **TOL,
                     what=f"parameter {i} after 3 steps, state_dict() / load_state_dict() into a "
                     f"new {name} and 2 more steps (keep every per-parameter buffer in "
                     f"self.state[p], not in attributes of your own)")
    b.zero_grad()
    if any(p.grad is not None and bool(p.grad.ne(0).any()) for p in b_params):
        fail(f"{name}.zero_grad() left non-zero gradients: do not override zero_grad.")


def check_closure(name: str, defaults: dict) -> None:
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = getattr(mod, name)([w], **defaults)

    def closure():
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        out = opt.step(closure)
    if not isinstance(out, torch.Tensor) or out.item() != 5.0:
        fail(f"{name}.step(closure) returned {out!r}; expected the closure's loss tensor(5.) "
             f"(call it under torch.enable_grad() and return its result).")
    if opt.step() is not None:
        fail(f"{name}.step() without a closure should return None.")


def check_rejects(name: str, bad: list[dict]) -> None:
    for kw in bad:
        try:
            getattr(mod, name)([torch.nn.Parameter(torch.zeros(1))], **kw)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail(f"{name}(params, **{kw}) raised {type(exc).__name__}; expected ValueError.")
        fail(f"{name}(params, **{kw}) was accepted; expected ValueError.")


# --- SGD ------------------------------------------------------------------------------------

@given(lr=st.sampled_from([0.01, 0.1, 0.5]), momentum=st.sampled_from([0.0, 0.5, 0.9]),
       steps=st.integers(1, 5), seed=st.integers(0, 50))
def test_SGD_matches_torch_over_several_steps(lr, momentum, steps, seed):
    """Do your SGD's parameters equal torch.optim.SGD's after every one of several steps?"""
    compare_with_torch("SGD", torch.optim.SGD, defaults=dict(lr=lr, momentum=momentum),
                       steps=steps, seed=seed,
                       advice="With momentum, buf = g on a parameter's first step, then buf = "
                       "momentum * buf + g, kept in self.state[p] between steps.")


@given(momentum=st.sampled_from([0.0, 0.9]), weight_decay=st.sampled_from([0.01, 0.3]),
       seed=st.integers(0, 50))
def test_SGD_with_weight_decay(momentum, weight_decay, seed):
    """Is weight decay added to the gradient before momentum, as torch does?"""
    compare_with_torch("SGD", torch.optim.SGD,
                       defaults=dict(lr=0.1, momentum=momentum, weight_decay=weight_decay),
                       seed=seed, advice="g = p.grad + weight_decay * p comes first; the momentum "
                       "buffer is built from that g.")


@given(momentum=st.sampled_from([0.5, 0.9]), weight_decay=st.sampled_from([0.0, 0.1]),
       seed=st.integers(0, 50))
def test_SGD_with_nesterov(momentum, weight_decay, seed):
    """Does nesterov=True step along g + momentum * buf (buf already updated), as torch does?"""
    compare_with_torch("SGD", torch.optim.SGD,
                       defaults=dict(lr=0.1, momentum=momentum, weight_decay=weight_decay,
                                     nesterov=True),
                       seed=seed, advice="With Nesterov, first update buf = momentum * buf + g, "
                       "then step along g + momentum * buf.")


@given(nesterov=st.booleans(), seed=st.integers(0, 50))
def test_SGD_param_groups_and_lr_changes(nesterov, seed):
    """Are several param groups, a parameter without grad, and lr set through param_groups honoured?"""
    compare_with_torch("SGD", torch.optim.SGD,
                       defaults=dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=nesterov),
                       group_kw=({"lr": 0.2}, {"momentum": 0.5, "weight_decay": 0.0}),
                       steps=4, lr_schedule=_lr_schedule, seed=seed, frozen=3,
                       advice="Read lr, momentum, weight_decay and nesterov from each param group "
                       "at every step, never from values saved in __init__.")


def test_SGD_writes_its_own_update():
    """Does SGD avoid torch.optim's own SGD code (no wrapping or inheriting torch.optim.SGD)?"""
    check_own_update("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True))


def test_SGD_state_closure_and_validation():
    """Do state_dict/load_state_dict resume exactly, step(closure) return the loss, bad values raise?"""
    check_state_round_trip("SGD", torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True))
    check_closure("SGD", dict(lr=0.1, momentum=0.9))
    check_rejects("SGD", [dict(lr=-0.1), dict(lr=0.1, momentum=-0.5),
                          dict(lr=0.1, weight_decay=-1.0), dict(lr=0.1, nesterov=True)])


# --- Adam -----------------------------------------------------------------------------------

@given(lr=st.sampled_from([1e-3, 0.01, 0.1]), betas=st.sampled_from([(0.9, 0.999), (0.5, 0.9),
                                                                     (0.0, 0.99)]),
       eps=st.sampled_from([1e-8, 1e-3, 0.5]), steps=st.integers(1, 5), seed=st.integers(0, 50))
def test_Adam_matches_torch_over_several_steps(lr, betas, eps, steps, seed):
    """Do your Adam's parameters equal torch.optim.Adam's after every one of several steps?"""
    compare_with_torch("Adam", torch.optim.Adam, defaults=dict(lr=lr, betas=betas, eps=eps),
                       steps=steps, seed=seed,
                       advice="Check the bias corrections 1 - b1**t and 1 - b2**t (t counts this "
                       "parameter's steps from 1) and that eps is added after the square root.")


@given(weight_decay=st.sampled_from([0.01, 0.5]), seed=st.integers(0, 50))
def test_Adam_with_weight_decay(weight_decay, seed):
    """Is weight decay an L2 term added to the gradient (torch's Adam, not AdamW)?"""
    compare_with_torch("Adam", torch.optim.Adam,
                       defaults=dict(lr=0.05, weight_decay=weight_decay), seed=seed,
                       advice="torch.optim.Adam adds weight_decay * p to the gradient before the "
                       "moments; decaying p directly is AdamW.")


@given(seed=st.integers(0, 50))
def test_Adam_param_groups_and_lr_changes(seed):
    """Are several param groups, a parameter without grad, and lr set through param_groups honoured?"""
    compare_with_torch("Adam", torch.optim.Adam, defaults=dict(lr=0.05, weight_decay=0.01),
                       group_kw=({"betas": (0.8, 0.99)}, {"lr": 0.2, "eps": 1e-4}),
                       steps=4, lr_schedule=_lr_schedule, seed=seed, frozen=3,
                       advice="Read the hyper-parameters from each group at every step, and keep "
                       "a separate step count per parameter in self.state[p].")


def test_Adam_writes_its_own_update():
    """Does Adam avoid torch.optim's own Adam code (no wrapping or inheriting torch.optim.Adam)?"""
    check_own_update("Adam", dict(lr=0.01, weight_decay=0.01))


def test_Adam_state_closure_and_validation():
    """Do state_dict/load_state_dict resume exactly, step(closure) return the loss, bad values raise?"""
    check_state_round_trip("Adam", torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.9)))
    check_closure("Adam", dict(lr=0.1))
    check_rejects("Adam", [dict(lr=-1.0), dict(betas=(1.0, 0.999)), dict(betas=(0.9, -0.1)),
                           dict(eps=-1e-8), dict(weight_decay=-0.1)])


# --- cosine_with_warmup ---------------------------------------------------------------------

def _cosine(step, total, warmup, base, low):
    if step < warmup:
        return base * step / warmup
    if step > total:
        return low
    return low + (base - low) * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))) / 2


@st.composite
def schedules(draw):
    total = draw(st.integers(1, 2000))
    warmup = draw(st.sampled_from([0, 0, 1]) | st.integers(0, total - 1))
    warmup = min(warmup, total - 1)
    step = draw(st.sampled_from([0, warmup, max(warmup - 1, 0), total, total + 1, total + 500])
                | st.integers(0, total + 10))
    base = draw(ds.floats(1e-5, 10.0))
    low = draw(st.sampled_from([0.0]) | ds.floats(0.0, 1.0)) * base
    return step, total, warmup, base, low


def _call_cosine(step, total, warmup, base, low):
    return mod.cosine_with_warmup(step, total_steps=total, warmup_steps=warmup, base_lr=base,
                                  min_lr=low)


@given(case=schedules())
def test_cosine_with_warmup_matches_formula(case):
    """Does the schedule follow the warm-up / cosine / min_lr formula at every step?"""
    step, total, warmup, base, low = case
    got = _call_cosine(*case)
    what = (f"cosine_with_warmup({step}, total_steps={total}, warmup_steps={warmup}, "
            f"base_lr={base!r}, min_lr={low!r})")
    if not isinstance(got, float):
        fail(f"{what} returned {type(got).__name__}; expected a Python float.")
    expected = _cosine(*case)
    region = ("warm-up: base_lr * step / warmup_steps" if step < warmup else
              "after total_steps the rate stays at min_lr" if step > total else
              "cosine: progress = (step - warmup_steps) / (total_steps - warmup_steps)")
    assert_close(got, expected, rtol=1e-12, atol=1e-15, what=f"{what} [{region}]")


def test_cosine_with_warmup_edges():
    """Is it 0 at step 0, base_lr at the end of warm-up (or at 0 without warm-up), min_lr at and after the end?"""
    cases = [((0, 100, 10, 1.0, 0.1), 0.0), ((10, 100, 10, 1.0, 0.1), 1.0),
             ((0, 100, 0, 2.0, 0.0), 2.0), ((100, 100, 10, 1.0, 0.1), 0.1),
             ((250, 100, 10, 1.0, 0.1), 0.1), ((55, 100, 10, 1.0, 0.0), 0.5)]
    for (step, total, warmup, base, low), expected in cases:
        got = _call_cosine(step, total, warmup, base, low)
        assert_close(got, expected, rtol=1e-12, atol=1e-15,
                     what=f"cosine_with_warmup({step}, total_steps={total}, "
                     f"warmup_steps={warmup}, base_lr={base}, min_lr={low})")


def test_cosine_with_warmup_rejects_bad_arguments():
    """Do step < 0, warmup_steps < 0 and total_steps <= warmup_steps raise ValueError?"""
    for case in [(-1, 10, 2, 1.0, 0.0), (0, 10, -1, 1.0, 0.0), (0, 10, 10, 1.0, 0.0),
                 (0, 5, 8, 1.0, 0.0)]:
        try:
            _call_cosine(*case)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail(f"cosine_with_warmup{case} raised {type(exc).__name__}; expected ValueError.")
        fail(f"cosine_with_warmup(step={case[0]}, total_steps={case[1]}, "
             f"warmup_steps={case[2]}, ...) returned a value; expected ValueError.")
