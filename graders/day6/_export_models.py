"""The models the export checks hand to ``export_torchscript`` and ``export_program``.

They live in a module of their own because exporting reads their source: TorchScript compiles
a class from it, torch.export names its lines. The checks read this file before they call the
submission (:func:`read_source`), so that the export finds it already read and the submission's
code reads none of the graders' files (a read of them is flagged while grading); what it could
see this way is this file, nothing else of the graders.
"""

from __future__ import annotations

import linecache

import torch
from torch import Tensor, nn


def read_source() -> None:
    """Read this module's source into :mod:`linecache`, where ``inspect`` looks first."""
    linecache.getlines(__file__)


class BranchyNet(nn.Module):
    """Takes one of two branches depending on the sign of the input's sum."""

    def __init__(self) -> None:
        super().__init__()
        self.pos = nn.Linear(3, 4)
        self.neg = nn.Linear(3, 4)

    def forward(self, x: Tensor) -> Tensor:
        if bool(x.sum() > 0):
            return torch.tanh(self.pos(x))
        return self.neg(x) * 2.0 - 1.0


class RowLoopNet(nn.Module):
    """A running sum over the rows of the batch, written as a Python loop over its size."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 3)

    def forward(self, x: Tensor) -> Tensor:
        h = self.proj(x)
        rows = [h[0]]
        for i in range(1, h.shape[0]):
            rows.append(rows[i - 1] + h[i])
        return torch.stack(rows)


class FlattenNet(nn.Module):
    """Flattens (B, 2, 4) inputs to (B, 8) with a size taken from the input, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        return self.fc(flat) - flat.mean(dim=0, keepdim=True)[:, :3]
