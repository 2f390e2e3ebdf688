"""Wrong solutions for day6/gan.py, each a mistake students really make."""

import torch
import torch.nn.functional as F

from graders.testing import mutant


def _bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


@mutant("day6.gan.gan_train_step", expect=r"leaked into its next step")
def never_clears_discriminator(generator, discriminator, real, z, opt_g, opt_d):
    fake = generator(z)
    d_loss = _bce(discriminator(real), 1.0) + _bce(discriminator(fake.detach()), 0.0)
    d_loss.backward()
    opt_d.step()
    g_loss = _bce(discriminator(fake), 1.0)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


@mutant("day6.gan.gan_train_step", expect=r"fake\.detach\(\)")
def fakes_not_detached(generator, discriminator, real, z, opt_g, opt_d):
    fake = generator(z)
    opt_d.zero_grad()
    d_loss = _bce(discriminator(real), 1.0) + _bce(discriminator(fake), 0.0)
    d_loss.backward(retain_graph=True)
    opt_d.step()
    g_loss = _bce(discriminator(fake), 1.0)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


@mutant("day6.gan.gan_train_step", expect=r"exactly one step|changed during the generator step")
def steps_both_after_generator_loss(generator, discriminator, real, z, opt_g, opt_d):
    fake = generator(z)
    opt_d.zero_grad()
    d_loss = _bce(discriminator(real), 1.0) + _bce(discriminator(fake.detach()), 0.0)
    d_loss.backward()
    opt_d.step()
    g_loss = _bce(discriminator(fake), 1.0)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    opt_d.step()
    return d_loss.item(), g_loss.item()


@mutant("day6.gan.gan_train_step", expect=r"saturating")
def saturating_generator_loss(generator, discriminator, real, z, opt_g, opt_d):
    fake = generator(z)
    opt_d.zero_grad()
    d_loss = _bce(discriminator(real), 1.0) + _bce(discriminator(fake.detach()), 0.0)
    d_loss.backward()
    opt_d.step()
    g_loss = -_bce(discriminator(fake), 0.0)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


@mutant("day6.gan.gan_train_step", expect=r"SUM of the\s+two batch means")
def one_mean_over_both(generator, discriminator, real, z, opt_g, opt_d):
    fake = generator(z)
    opt_d.zero_grad()
    logits = torch.cat([discriminator(real), discriminator(fake.detach())])
    labels = torch.cat([torch.ones(len(real), 1), torch.zeros(len(z), 1)]).to(logits)
    d_loss = F.binary_cross_entropy_with_logits(logits, labels)
    d_loss.backward()
    opt_d.step()
    g_loss = _bce(discriminator(fake), 1.0)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()
