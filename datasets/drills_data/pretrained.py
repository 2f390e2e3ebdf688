"""A small CNN pretrained on the digits 0-4 of the kit's split, shipped as a tiny checkpoint.

The checkpoint ``digits_cnn_0to4.pt`` (a state_dict, about 60 KB) is produced by
``datasets/scripts/build_pretrained.py`` from the training images of the digits 0 to 4 only (the
fixed split of :mod:`drills_data.digits`), so that adapting it to the digits 5 to 9 is a real
transfer-learning task that runs offline. Loading uses ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

CHECKPOINT = Path(__file__).with_name("digits_cnn_0to4.pt")
PRETRAINED_CLASSES = (0, 1, 2, 3, 4)
"""The digits the checkpoint was trained on; its output j is the score of digit j."""


class DigitsCNN(nn.Module):
    """Conv-BN-ReLU feature extractor for (N, 1, 8, 8) digits and a linear head ``fc``.

    ``features`` maps (N, 1, 8, 8) to (N, 128) (32 channels of 2x2 after two max-pools);
    ``fc`` is ``nn.Linear(128, num_classes)``.
    """

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(
            *block(1, 16),
            *block(16, 32),
            nn.MaxPool2d(2),
            *block(32, 32),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def load_pretrained_cnn(path: str | Path | None = None) -> DigitsCNN:
    """Return a fresh DigitsCNN with the bundled weights, in eval mode, on the CPU.

    Args:
        path: another checkpoint to load instead of the bundled one.

    Example:
        >>> model = load_pretrained_cnn()
        >>> model(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 5])
    """
    model = DigitsCNN(num_classes=len(PRETRAINED_CLASSES))
    state = torch.load(CHECKPOINT if path is None else path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()
