"""Building networks with ``torch.nn``: a configurable MLP and counting what it learns.

An ``nn.Module`` registers its sub-layers and parameters when they are assigned as attributes
(or held in ``nn.Sequential``/``nn.ModuleList``); that registration is what makes
``parameters()``, ``state_dict()``, ``.to(device)`` and ``train()``/``eval()`` work.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class MLP(nn.Module):
    """A multi-layer perceptron: (Linear, ReLU[, Dropout]) per hidden size, then a final Linear.

    For ``MLP(64, [32, 16], 10, dropout=0.1)`` the layers, in this order, are
    ``Linear(64, 32), ReLU, Dropout(0.1), Linear(32, 16), ReLU, Dropout(0.1), Linear(16, 10)``.
    Use ``nn.Linear`` (with bias), ``nn.ReLU`` and ``nn.Dropout(dropout)`` modules, registered so
    that ``model.modules()`` lists the Linear layers in the order data flows through them; no
    Dropout module at all when ``dropout == 0``; nothing after the last Linear (it gives
    logits). ``hidden_sizes`` may be empty: then the model is a single Linear.

    Args:
        in_features: size of each input sample (after flattening).
        hidden_sizes: widths of the hidden layers, in order (a list or tuple of ints >= 1).
        out_features: size of each output.
        dropout: dropout probability in [0, 1).

    Raises:
        ValueError: when dropout is outside [0, 1).

    ``forward(x)`` takes x of shape (N, in_features), or (N, d1, d2, ...) with
    d1 * d2 * ... == in_features, which it flattens from dim 1 (so (N, 1, 8, 8) images work with
    in_features=64), and returns (N, out_features) in x's dtype. Dropout is active in train
    mode only, as nn.Dropout does.

    Checked by copying the weights of the reference's Linear layers into yours, Linear by Linear
    in ``modules()`` order, and comparing outputs (float64, rtol 1e-7, atol 1e-9) in eval mode
    and, with the same seed, in train mode.

    Example:
        >>> model = MLP(4, [8], 3, dropout=0.5)
        >>> model(torch.randn(2, 4)).shape
        torch.Size([2, 3])
        >>> [type(m).__name__ for m in model.modules() if not list(m.children())]
        ['Linear', 'ReLU', 'Dropout', 'Linear']
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int],
        out_features: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Flatten x from dim 1 and return the logits (N, out_features)."""
        return self.net(x.flatten(1))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters (elements) in a model.

    Args:
        model: any ``nn.Module``.
        trainable_only: count only parameters with ``requires_grad=True`` (frozen ones are
            skipped); with False, count every parameter.

    Returns:
        An int. A parameter shared by several submodules (tied weights) counts once; buffers
        (BatchNorm's running statistics) are not parameters and do not count; a model without
        parameters gives 0.

    Example:
        >>> count_parameters(torch.nn.Linear(3, 2))
        8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
