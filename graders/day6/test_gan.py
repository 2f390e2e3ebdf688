"""Graders for day6/gan.py: one discriminator step and one generator step, kept apart."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graders import student
from graders.checks import assert_close, close_values, fail

mod = student("day6.gan")

LATENT, FEATURES, N_FAKE, N_REAL = 3, 4, 5, 6


def _nets(seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(LATENT, 8), nn.Tanh(), nn.Linear(8, FEATURES)).double()
    discriminator = nn.Sequential(nn.Linear(FEATURES, 8), nn.LeakyReLU(0.2),
                                  nn.Linear(8, 1)).double()
    return generator, discriminator


def _opts(generator, discriminator, kind):
    if kind == "sgd":
        return (torch.optim.SGD(generator.parameters(), lr=0.1, momentum=0.5),
                torch.optim.SGD(discriminator.parameters(), lr=0.1, momentum=0.5))
    return (torch.optim.Adam(generator.parameters(), lr=0.01),
            torch.optim.Adam(discriminator.parameters(), lr=0.01))


def _data(seed: int):
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(N_REAL, FEATURES, generator=gen, dtype=torch.float64) + 1.0
    z = torch.randn(N_FAKE, LATENT, generator=gen, dtype=torch.float64)
    return real, z


def _bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _params(module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _close(a, b) -> bool:
    return all(close_values(x, y, rtol=1e-6, atol=1e-9) for x, y in zip(a, b))


@pytest.mark.hidden
def test_gan_train_step_matches_the_two_steps():
    """After one and two calls, are both losses and both networks' weights those expected?"""
    def _oracle_step(g, d, real, z, opt_g, opt_d, mistake=None):
        """The correct step, or the step with a named mistake."""
        fake = g(z)
        if mistake != "no_zero_grad_d":
            opt_d.zero_grad()
        d_fake = d(fake.detach())
        if mistake == "mean_of_concat":
            logits = torch.cat([d(real), d_fake])
            targets = torch.cat([torch.ones(N_REAL, 1), torch.zeros(N_FAKE, 1)]).double()
            d_loss = F.binary_cross_entropy_with_logits(logits, targets)
        else:
            d_loss = _bce(d(real), 1.0) + _bce(d_fake, 0.0)
        d_loss.backward()
        opt_d.step()
        g_loss = -_bce(d(fake), 0.0) if mistake == "saturating" else _bce(d(fake), 1.0)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if mistake == "d_steps_twice":
            opt_d.step()
        return d_loss.item(), g_loss.item()


    MISTAKES = {
        "no_zero_grad_d": "the discriminator's gradients from the generator step leaked into its "
                          "next step: call opt_d.zero_grad() before d_loss.backward()",
        "d_steps_twice": "the discriminator's weights changed during the generator step: step "
                         "only opt_g there",
        "saturating": "the generator minimises log(1 - D(G(z))) (the saturating loss); use the "
                      "non-saturating bce(D(G(z)), 1)",
        "mean_of_concat": "d_loss is one mean over real and fake together; it is the SUM of the "
                          "two batch means",
    }


    def _run_oracle(seed, kind, calls, mistake=None):
        g, d = _nets(seed)
        opt_g, opt_d = _opts(g, d, kind)
        real, z = _data(seed)
        losses = [_oracle_step(g, d, real, z, opt_g, opt_d, mistake) for _ in range(calls)]
        return losses, _params(g), _params(d)

    for kind in ("sgd", "adam"):
        g, d = _nets(1)
        opt_g, opt_d = _opts(g, d, kind)
        real, z = _data(1)
        for calls in (1, 2):
            result = mod.gan_train_step(g, d, real, z, opt_g, opt_d)
            what = f"after {calls} call(s) of gan_train_step ({kind})"
            if not isinstance(result, tuple) or len(result) != 2 or not all(
                    isinstance(v, float) for v in result):
                fail(f"gan_train_step returned {result!r}; expected a tuple of two Python "
                     f"floats (d_loss, g_loss).")
            losses, g_exp, d_exp = _run_oracle(1, kind, calls)
            got_g, got_d = _params(g), _params(d)
            if not (_close(got_g, g_exp) and _close(got_d, d_exp)
                    and abs(result[0] - losses[-1][0]) <= 1e-6 * abs(losses[-1][0]) + 1e-9):
                for mistake, why in MISTAKES.items():
                    alt_losses, g_alt, d_alt = _run_oracle(1, kind, calls, mistake)
                    if _close(got_g, g_alt) and _close(got_d, d_alt) and not (
                            _close(g_alt, g_exp) and _close(d_alt, d_exp)
                            and alt_losses[-1] == losses[-1]):
                        fail(f"{what}: {why}.")
            assert_close(result[0], losses[-1][0], rtol=1e-6, atol=1e-9,
                         what=f"d_loss returned {what}")
            assert_close(result[1], losses[-1][1], rtol=1e-6, atol=1e-9,
                         what=f"g_loss returned {what} (computed with the discriminator after "
                         f"its step)")
            for i, (gp, ep) in enumerate(zip(got_d, d_exp)):
                assert_close(gp, ep, rtol=1e-6, atol=1e-9,
                             what=f"discriminator parameter {i} {what}")
            for i, (gp, ep) in enumerate(zip(got_g, g_exp)):
                assert_close(gp, ep, rtol=1e-6, atol=1e-9,
                             what=f"generator parameter {i} {what}")


def test_gan_train_step_returns_both_losses():
    """Is d_loss the sum of the two batch means, and g_loss computed with the updated D?"""
    g, d = _nets(4)
    opt_g, opt_d = _opts(g, d, "sgd")
    real, z = _data(4)
    g0, d0 = copy.deepcopy(g), copy.deepcopy(d)
    with torch.no_grad():
        fake0 = g0(z)
        d_expected = (_bce(d0(real), 1.0) + _bce(d0(fake0), 0.0)).item()
    result = mod.gan_train_step(g, d, real, z, opt_g, opt_d)
    if not isinstance(result, tuple) or len(result) != 2 or not all(
            isinstance(v, float) for v in result):
        fail(f"gan_train_step returned {result!r}; expected a tuple of two Python floats "
             f"(d_loss, g_loss).")
    with torch.no_grad():
        one_mean = F.binary_cross_entropy_with_logits(
            torch.cat([d0(real), d0(fake0)]),
            torch.cat([torch.ones(N_REAL, 1), torch.zeros(N_FAKE, 1)]).double()).item()
        g_expected = _bce(d(fake0), 1.0).item()
        saturating = -_bce(d(fake0), 0.0).item()
        stale = _bce(d0(fake0), 1.0).item()
    if abs(result[0] - one_mean) < 1e-9 and abs(one_mean - d_expected) > 1e-6:
        fail("d_loss is one mean over real and fake together; it is the SUM of the two batch "
             "means: bce(D(real), 1) + bce(D(fake), 0).")
    assert_close(result[0], d_expected, rtol=1e-6, atol=1e-9,
                 what="d_loss = bce(D(real), 1) + bce(D(G(z)), 0), networks before the step")
    if abs(result[1] - saturating) < 1e-9:
        fail("g_loss is -bce(D(G(z)), 0): the saturating loss. Use the non-saturating "
             "bce(D(G(z)), 1).")
    if abs(result[1] - stale) < 1e-9 and abs(stale - g_expected) > 1e-6:
        fail("g_loss was computed with the discriminator as it was BEFORE its step; compute "
             "D(G(z)) again after opt_d.step().")
    assert_close(result[1], g_expected, rtol=1e-6, atol=1e-9,
                 what="g_loss = bce(D(G(z)), 1) with the discriminator after its step")


def test_gan_train_step_keeps_discriminator_out_of_generator_step():
    """Is opt_d stepped once per call, and do D's weights stay put after its step?"""
    g, d = _nets(2)
    opt_g, opt_d = _opts(g, d, "sgd")
    real, z = _data(2)
    record: dict = {"steps": 0, "after": None}
    real_step = opt_d.step

    def counting_step(*args, **kwargs):
        out = real_step(*args, **kwargs)
        record["steps"] += 1
        record["after"] = _params(d)
        return out

    opt_d.step = counting_step  # type: ignore[method-assign]
    for call in (1, 2):
        record["steps"] = 0
        mod.gan_train_step(g, d, real, z, opt_g, opt_d)
        if record["steps"] != 1:
            fail(f"gan_train_step called opt_d.step() {record['steps']} times in one call; the "
                 f"discriminator takes exactly one step, before the generator's.")
        if not _close(_params(d), record["after"]):
            fail("the discriminator's weights changed after opt_d.step(), during the generator "
                 "step: only opt_g may step there (the generator's backward fills D's .grad, "
                 "which is fine, but must not be applied).")


def test_gan_train_step_detaches_the_fakes():
    """Does exactly one backward pass reach the generator per call (fakes detached for D)?"""
    g, d = _nets(3)
    opt_g, opt_d = _opts(g, d, "sgd")
    real, z = _data(3)
    reached = [0]
    first = next(g.parameters())
    handle = first.register_hook(lambda grad: reached.__setitem__(0, reached[0] + 1))
    try:
        for _ in range(2):
            reached[0] = 0
            mod.gan_train_step(g, d, real, z, opt_g, opt_d)
            if reached[0] == 0:
                fail("no gradient reached the generator: g_loss = bce(D(G(z)), 1) must be "
                     "backpropagated through the generator (do not detach the fakes there).")
            if reached[0] > 1:
                fail(f"gradients reached the generator {reached[0]} times in one call: the "
                     f"discriminator's loss was backpropagated into the generator. Train the "
                     f"discriminator on fake.detach().")
    finally:
        handle.remove()
