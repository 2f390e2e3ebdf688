"""Convolutional networks: a small CNN for digits, and the residual block of ResNet.

A residual block adds its input back to its output (``out = F(x) + x``), which lets very deep
networks train. When the block changes the number of channels or the resolution, the shortcut
needs a 1x1 convolution (and batch norm) to match shapes: the ``downsample`` branch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drills_data.digits import load_digits_tensors


class SmallCNN(nn.Module):
    """A small convolutional classifier for 8x8 images.

    Any design of your choice (convolutions, batch norm, pooling, a linear head) with at most
    100,000 parameters. ``forward`` maps (N, in_channels, 8, 8) float32 images to logits
    (N, num_classes), any N >= 1. In eval mode the output is deterministic (no dropout noise)
    and each sample's output does not depend on the other samples of the batch.

    Args:
        in_channels: channels of the input images.
        num_classes: number of logits.

    Example:
        >>> SmallCNN(in_channels=3, num_classes=4).eval()(torch.zeros(2, 3, 8, 8)).shape
        torch.Size([2, 4])
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(
            *block(in_channels, 16), *block(16, 32), nn.MaxPool2d(2),  # 4x4
            *block(32, 32), nn.MaxPool2d(2),  # 2x2
            nn.Flatten(),
        )
        self.head = nn.Linear(32 * 4, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) for images (N, in_channels, 8, 8)."""
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """The basic residual block of ResNet-18/34, laid out exactly as torchvision's.

    Submodules (names matter: torchvision's ``BasicBlock`` state_dict must load into yours with
    ``strict=True`` and give the same output, in train and eval mode):

    - ``conv1``: 3x3 conv, ``in_planes -> planes``, stride ``stride``, padding 1, no bias;
      ``bn1``: BatchNorm2d(planes); then ReLU.
    - ``conv2``: 3x3 conv, ``planes -> planes``, stride 1, padding 1, no bias; ``bn2``.
    - ``downsample``: when the shortcut must change shape, i.e. ``stride != 1`` **or**
      ``in_planes != planes``, an ``nn.Sequential`` of a 1x1 conv (``in_planes -> planes``,
      stride ``stride``, no bias) and a BatchNorm2d(planes) (keys ``downsample.0.*`` and
      ``downsample.1.*``); otherwise None (no parameters, the identity shortcut).

    ``forward(x) = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` for x of shape
    (N, in_planes, H, W), giving (N, planes, ceil(H / stride), ceil(W / stride)).

    Args:
        in_planes: input channels.
        planes: output channels.
        stride: stride of conv1 and of the shortcut.

    Example:
        >>> BasicBlock(16, 32, stride=2)(torch.zeros(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
    """

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_planes, H, W) -> (N, planes, ceil(H / stride), ceil(W / stride))."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def train_digits_cnn(seed: int = 0) -> nn.Module:
    """Train a ``SmallCNN`` on the bundled digits and return it in eval mode.

    Use the training images of ``drills_data.digits.load_digits_tensors()`` only (float32 (N, 1, 8, 8)
    in [0, 1], labels 0-9); the test images are for the check. Make training deterministic for a
    given seed (``torch.manual_seed(seed)`` and a seeded generator for the batch order) and do not
    change the number of threads.

    Args:
        seed: seeds initialisation and batch order.

    Returns:
        The trained model in eval mode, taking (N, 1, 8, 8) and returning (N, 10) logits.
        The check (``train``): at least 97% accuracy on the kit's 359 test digits, with training
        finished within 120 s of CPU time on a 2-core machine.

    Example:
        >>> model = train_digits_cnn(seed=0)  # doctest: +SKIP
        >>> model.training
        False
    """
    torch.manual_seed(seed)
    x_train, y_train, _, _ = load_digits_tensors()
    model = SmallCNN()
    epochs, batch, lr = 8, 64, 1e-2
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * ((len(x_train) + batch - 1) // batch)
    )
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x_train), generator=order).split(batch):
            opt.zero_grad()
            F.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
            sched.step()
    return model.eval()
