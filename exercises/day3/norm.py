"""Batch normalisation and dropout: layers that behave differently in training and evaluation.

Batch norm normalises with the statistics of the current batch while training and keeps running
averages of them for evaluation; dropout zeroes activations at random while training only. Both
are classic sources of train/eval bugs.
"""

from __future__ import annotations

import torch
from torch import Tensor


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation, equal to ``F.batch_norm`` with the same arguments.

    Statistics are per channel (dim 1), over every other dimension. In training mode the batch
    mean and the **biased** batch variance (divide by the count m) normalise x::

        y = (x - mean) / sqrt(var_biased + eps) * weight + bias

    and the running statistics, when given, are updated **in place** with the **unbiased**
    variance (divide by m - 1)::

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var_unbiased

    In evaluation mode the running statistics normalise x and nothing is updated.

    Args:
        x: (N, C) or (N, C, H, W), float32 or float64, CPU or CUDA, any strides.
        running_mean: (C,) or None (None is allowed only in training).
        running_var: (C,) or None (None is allowed only in training).
        weight: (C,) scale, or None for no scale.
        bias: (C,) shift, or None for no shift.
        training: use batch statistics (and update the running ones) or the running ones.
        momentum: weight of the new batch statistics in the running averages.
        eps: added to the variance inside the square root.

    Returns:
        A new tensor shaped like x, same dtype and device, within rtol 1e-5, atol 1e-5 (float32)
        or 1e-7 (float64) of ``F.batch_norm``; updated running statistics to the same tolerance.
        Gradients through your function (autograd) must match too.

    Raises:
        ValueError: for inputs that are not 2-D or 4-D; in training when a channel has a single
            value (N * H * W == 1); in evaluation when a running statistic is None.

    Forbidden:
        ``F.batch_norm``, ``torch.batch_norm``, ``nn.BatchNorm*`` and ``F.instance_norm``/
        ``F.layer_norm``/``F.group_norm``.

    Example:
        >>> x = torch.tensor([[1.0], [3.0]])
        >>> rm, rv = torch.zeros(1), torch.ones(1)
        >>> batch_norm(x, rm, rv, None, None, training=True)
        tensor([[-1.0000],
                [ 1.0000]])
        >>> rm, rv
        (tensor([0.2000]), tensor([1.1000]))
    """
    raise NotImplementedError("day3.norm.batch_norm")


def batch_norm_backward(
    dout: Tensor,
    x: Tensor,
    weight: Tensor,
    eps: float = 1e-5,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of training-mode batch norm by hand.

    For ``y = x_hat * weight + bias`` with ``x_hat = (x - mean) / sqrt(var_biased + eps)``
    (statistics over every dim but 1, m values per channel)::

        dbias   = sum(dout)
        dweight = sum(dout * x_hat)
        dx      = weight / sqrt(var + eps) * (dout - mean(dout) - x_hat * mean(dout * x_hat))

    where sums and means run over the same dims as the statistics.

    Args:
        dout: upstream gradient shaped like x.
        x: (N, C) or (N, C, H, W) forward input (m = N * H * W >= 2).
        weight: (C,) scale used in the forward pass.
        eps: the forward's eps.

    Returns:
        ``(dx, dweight, dbias)`` shaped like x, (C,) and (C,), x's dtype and device; compared with
        autograd through ``F.batch_norm(training=True)`` in float64 (rtol 1e-7, atol 1e-7).

    Forbidden:
        autograd (the check runs your function with grad mode off and no ``.backward``) and the
        library batch norm functions.

    Example:
        >>> x = torch.tensor([[1.0], [3.0]])
        >>> dx, dw, db = batch_norm_backward(torch.tensor([[1.0], [0.0]]), x, torch.ones(1))
        >>> db, dw
        (tensor([1.]), tensor([-1.0000]))
    """
    raise NotImplementedError("day3.norm.batch_norm_backward")


def dropout(
    x: Tensor,
    p: float,
    training: bool,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Inverted dropout: zero each entry with probability p and scale the rest by 1 / (1 - p).

    In training, each entry is kept independently with probability ``1 - p`` (draw the mask with
    ``torch.rand(..., generator=generator)`` or ``torch.bernoulli(..., generator=generator)`` on
    x's device), so the expected value of every entry is unchanged. With p == 1 everything is
    zeroed (no division by zero); with p == 0 the values come back unchanged. In evaluation
    (``training=False``) x is returned unchanged.

    Args:
        x: float tensor of any shape, dtype and device.
        p: drop probability in [0, 1].
        training: apply dropout (True) or the identity (False).
        generator: the random source (on x's device), or None for the global one.

    Returns:
        A tensor shaped like x with x's dtype and device; each entry is 0 or ``x / (1 - p)``.
        Checked by distribution (the dropped fraction, the mean) and by reproducibility: the same
        generator seed gives the same mask, different seeds give different masks. Gradients flow
        to the kept entries only.

    Raises:
        ValueError: when p is outside [0, 1].

    Forbidden:
        ``F.dropout`` (and its variants), ``nn.Dropout*``, ``torch.dropout``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = dropout(torch.ones(10_000), 0.25, True, g)
        >>> y.unique()
        tensor([0.0000, 1.3333])
    """
    raise NotImplementedError("day3.norm.dropout")
