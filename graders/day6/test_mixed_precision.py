"""Graders for day6/mixed_precision.py: autocast, GradScaler, clipping and skipped steps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graders import student
from graders.checks import assert_close, close_values, equal_values, fail
from graders.gpu import gpu_parity

mod = student("day6.mixed_precision")

INIT_SCALE = 2.0**10


class Probe(nn.Module):
    """A small MLP that records, at every forward pass, the autocast state and its mode."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        self.calls: list[dict] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        device = x.device.type
        self.calls.append({
            "autocast": torch.is_autocast_enabled(device),
            "dtype": torch.get_autocast_dtype(device),
            "training": self.training,
            "out_dtype": out.dtype,
        })
        return out


class LossProbe:
    """MSE loss that records whether it ran under autocast."""

    def __init__(self) -> None:
        self.autocast: list[bool] = []

    def __call__(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.autocast.append(torch.is_autocast_enabled(out.device.type))
        return F.mse_loss(out, target)


def _make(seed: int, opt_kind: str, enabled: bool, device: str = "cpu"):
    torch.manual_seed(seed)
    model = Probe().to(device)
    if opt_kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler(device, init_scale=INIT_SCALE, growth_interval=1,
                                  enabled=enabled)
    return model, opt, scaler


def _batch(seed: int, device: str = "cpu"):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(8, 4, generator=gen).to(device),
            (torch.randn(8, 3, generator=gen) * 3).to(device))


def _state_tensors(opt) -> list[tuple[str, torch.Tensor]]:
    out = []
    for i, state in enumerate(opt.state.values()):
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                out.append((f"optimizer.state[param {i}]['{key}']", value))
    return out


CONFIGS = [  # (seed, optimizer, scaler enabled, max_grad_norm)
    (6, "sgd", False, None), (0, "sgd", True, 0.05), (1, "adam", True, None),
    (2, "sgd", False, 0.05),
    (3, "adam", False, 100.0), (4, "sgd", True, 100.0), (5, "adam", True, 0.05),
]


@pytest.mark.hidden
def test_amp_train_step_matches_a_correct_step():
    """After two steps, are the weights, optimizer state and scale those of a correct AMP step?"""
    def _oracle_step(model, batch, loss_fn, opt, scaler, max_norm, mistake=None):
        """The correct step, or one with a named mistake."""
        x, y = batch
        model.train()
        if mistake != "no_zero_grad":
            opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = loss_fn(model(x), y)
        if mistake == "unscaled_backward":
            loss.backward()
        else:
            scaler.scale(loss).backward()
        if max_norm is not None:
            if mistake == "clip_before_unscale":
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
                scaler.unscale_(opt)
            else:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        finite = all(bool(torch.isfinite(p.grad).all()) for p in model.parameters()
                     if p.grad is not None)
        if scaler.is_enabled() or finite:
            scaler.step(opt)
        scaler.update()
        return loss.item()


    MISTAKES = {
        "clip_before_unscale": "the gradients were clipped while still scaled: call "
                               "scaler.unscale_(optimizer) BEFORE clip_grad_norm_",
        "no_zero_grad": "the gradients of the previous step were not cleared: they accumulate "
                        "(call optimizer.zero_grad() at the start of the step)",
        "unscaled_backward": "the plain loss was backpropagated, so scaler.step divides gradients "
                             "that were never scaled: backpropagate scaler.scale(loss)",
    }

    def _check_two_steps(seed: int, opt_kind: str, enabled: bool, max_norm: float | None) -> None:
        __tracebackhide__ = True
        model, opt, scaler = _make(seed, opt_kind, enabled)
        ref_model, ref_opt, ref_scaler = _make(seed, opt_kind, enabled)
        batches = [_batch(seed + 1), _batch(seed + 2)]
        for batch in batches:
            mod.amp_train_step(model, batch, F.mse_loss, opt, scaler, "cpu", torch.bfloat16,
                               max_norm)
            _oracle_step(ref_model, batch, F.mse_loss, ref_opt, ref_scaler, max_norm)
        what = (f"after 2 calls of amp_train_step ({opt_kind}, scaler "
                f"{'enabled' if enabled else 'disabled'}, max_grad_norm={max_norm})")
        start = _make(seed, opt_kind, enabled)[0]
        got = dict(model.named_parameters())
        expected = dict(ref_model.named_parameters())
        for name, p in expected.items():
            initial = dict(start.named_parameters())[name]
            step = (p - initial).detach().abs().max().item()
            tol = 1e-3 * step + 1e-7
            if not close_values(got[name].detach(), p.detach(), rtol=0, atol=tol):
                for mistake, why in MISTAKES.items():
                    alt_model, alt_opt, alt_scaler = _make(seed, opt_kind, enabled)
                    for batch in batches:
                        _oracle_step(alt_model, batch, F.mse_loss, alt_opt, alt_scaler, max_norm,
                                     mistake)
                    alt = dict(alt_model.named_parameters())[name].detach()
                    if not close_values(alt, p.detach(), rtol=0, atol=tol) and close_values(
                            got[name].detach(), alt, rtol=0, atol=tol):
                        fail(f"{what}, `{name}` is wrong: {why}.")
                if equal_values(got[name].detach(), initial.detach()):
                    fail(f"{what}, `{name}` has not changed at all: the optimizer step never ran "
                         f"(step through scaler.step(optimizer)).")
            assert_close(got[name], p, rtol=0, atol=tol, what=f"`{name}` {what}")
        for (label, g), (_, e) in zip(_state_tensors(opt), _state_tensors(ref_opt)):
            assert_close(g, e, rtol=1e-3, atol=1e-6, what=f"{label} {what}")
        if enabled and scaler.get_scale() != ref_scaler.get_scale():
            fail(f"{what}, the scaler's scale is {scaler.get_scale()}, expected "
                 f"{ref_scaler.get_scale()}: call scaler.update() once after every step.")

    for config in CONFIGS:
        _check_two_steps(*config)


def test_amp_train_step_runs_forward_and_loss_under_autocast():
    """Do the forward pass and the loss run under autocast(bfloat16), in train mode?"""
    model, opt, scaler = _make(3, "sgd", True)
    model.eval()
    loss_fn = LossProbe()
    mod.amp_train_step(model, _batch(4), loss_fn, opt, scaler, "cpu", torch.bfloat16, None)
    if not model.calls:
        fail("amp_train_step never called the model.")
    call = model.calls[-1]
    if not call["training"]:
        fail("the model ran in eval mode: call model.train() at the start of the step.")
    if not call["autocast"]:
        fail("the forward pass did not run under autocast: wrap `model(inputs)` in "
             "`with torch.autocast(device_type, dtype=dtype):`.")
    if call["dtype"] != torch.bfloat16 or call["out_dtype"] != torch.bfloat16:
        fail(f"under autocast the model's linear layers gave {call['out_dtype']} (autocast "
             f"dtype {call['dtype']}); expected torch.bfloat16: pass dtype=dtype to autocast.")
    if not loss_fn.autocast or not loss_fn.autocast[-1]:
        fail("the loss was computed outside autocast: compute loss_fn(outputs, targets) inside "
             "the same `with torch.autocast(...)` block as the forward pass.")


def _poison(model, kind):
    """Make the next backward pass give a non-finite gradient to the first layer's weight."""
    value = float("inf") if kind == "inf" else float("nan")
    return model.net[0].weight.register_hook(lambda g: torch.full_like(g, value))


@pytest.mark.parametrize("enabled", [True, False], ids=["scaler", "disabled_scaler"])
@pytest.mark.parametrize("kind", ["inf", "nan_input"])
def test_amp_train_step_skips_non_finite_steps(enabled, kind):
    """Is a step with inf/NaN gradients skipped (weights, optimizer state kept), scaler or not?"""
    model, opt, scaler = _make(5, "adam", enabled)
    good = _batch(6)
    mod.amp_train_step(model, good, F.mse_loss, opt, scaler, "cpu", torch.bfloat16, 1.0)
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    state = [(n, t.clone()) for n, t in _state_tensors(opt)]
    scale = scaler.get_scale()
    if kind == "inf":
        handle, batch = _poison(model, "inf"), good
    else:
        handle, batch = None, (good[0].clone().index_fill_(0, torch.tensor([0]), float("nan")),
                               good[1])
    for max_norm in (None, 1.0):
        mod.amp_train_step(model, batch, F.mse_loss, opt, scaler, "cpu", torch.bfloat16,
                           max_norm)
        what = (f"a step with {'an inf gradient' if kind == 'inf' else 'a NaN input'} "
                f"(scaler {'enabled' if enabled else 'disabled'}, max_grad_norm={max_norm})")
        for name, p in model.named_parameters():
            if not equal_values(p.detach(), weights[name]):
                advice = ("a disabled GradScaler's step() calls optimizer.step() without "
                          "looking at the gradients: check torch.isfinite on every gradient "
                          "yourself and skip the step" if not enabled else
                          "step through scaler.step(optimizer), which skips it")
                fail(f"{what} changed `{name}`: the step must be skipped; {advice}.")
        for (label, before), (_, after) in zip(state, _state_tensors(opt)):
            if not equal_values(before, after):
                fail(f"{what} changed {label}: a skipped step must not touch the optimizer.")
        if enabled:
            scale /= 2
            if scaler.get_scale() != scale:
                fail(f"after {what} the scale is {scaler.get_scale()}, expected {scale} (it "
                     f"halves after a skipped step): call scaler.update() after every step.")
    if handle is not None:
        handle.remove()
    mod.amp_train_step(model, good, F.mse_loss, opt, scaler, "cpu", torch.bfloat16, 1.0)
    if all(equal_values(p.detach(), weights[n]) for n, p in model.named_parameters()):
        fail("after the skipped steps, a step with finite gradients did not change the weights: "
             "are the non-finite gradients of the skipped step still there? Clear the "
             "gradients at the start of every step (optimizer.zero_grad()).")


def test_amp_train_step_returns_the_loss():
    """Does amp_train_step return the unscaled loss as a Python float?"""
    for enabled in (True, False):
        model, opt, scaler = _make(7, "sgd", enabled)
        start = _make(7, "sgd", enabled)[0].train()
        batch = _batch(8)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            expected = F.mse_loss(start(batch[0]), batch[1]).item()
        got = mod.amp_train_step(model, batch, F.mse_loss, opt, scaler, "cpu", torch.bfloat16,
                                 None)
        if not isinstance(got, float):
            fail(f"amp_train_step returned {type(got).__name__} {got!r}; expected a Python "
                 f"float (loss.item()).")
        if enabled and abs(got - expected * INIT_SCALE) < 1e-2 * expected * INIT_SCALE:
            fail(f"amp_train_step returned the scaled loss {got:.6g}; return the loss itself "
                 f"({expected:.6g}), not scaler.scale(loss).")
        assert_close(got, expected, rtol=1e-3, atol=1e-6,
                     what=f"the loss returned by amp_train_step (scaler "
                     f"{'enabled' if enabled else 'disabled'})")


def test_amp_train_step_clips_the_unscaled_gradients():
    """With max_grad_norm, is the step that of the unscaled gradients clipped to that norm?"""
    limit = 0.01
    for enabled in (True, False):
        model, _, scaler = _make(11, "sgd", enabled)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)  # the update is minus the gradient
        before = [p.detach().clone() for p in model.parameters()]
        mod.amp_train_step(model, _batch(12), F.mse_loss, opt, scaler, "cpu", torch.bfloat16,
                           limit)
        update = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])
        norm = update.norm().item()
        what = f"scaler {'enabled' if enabled else 'disabled'}, max_grad_norm={limit}"
        if enabled and norm < limit / 100:
            fail(f"with SGD(lr=1) the step has norm {norm:.3g} ({what}), about {limit} / "
                 f"{INIT_SCALE:g}: the gradients were clipped while still scaled. Call "
                 f"scaler.unscale_(optimizer) BEFORE nn.utils.clip_grad_norm_.")
        if norm > limit * 1.01:
            fail(f"with SGD(lr=1) the step has norm {norm:.3g} ({what}); clipped gradients "
                 f"give a step of norm {limit}: clip the unscaled gradients to max_grad_norm.")
        assert_close(norm, limit, rtol=1e-3, atol=0.0,
                     what=f"the norm of the SGD(lr=1) step ({what}, the clipped gradient norm)")


def test_amp_train_step_on_gpu():
    """On CUDA with float16 and a GradScaler, does the step agree with the CPU bfloat16 one?"""

    def make(device):
        model, opt, scaler = _make(9, "sgd", True, device.type)
        dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        return (model, _batch(10, device.type), opt, scaler, device.type, dtype), {}

    def run(model, batch, opt, scaler, device_type, dtype):
        mod.amp_train_step(model, batch, F.mse_loss, opt, scaler, device_type, dtype, 1.0)
        return [p.detach() for p in model.parameters()]

    gpu_parity(run, make, what="amp_train_step (the weights after one step)", rtol=1e-2,
               atol=1e-2)
