"""Wrong solutions for day3/models.py, each a mistake students really make."""

import torch
import torch.nn.functional as F
from torch import nn

from graders.testing import mutant


@mutant("day3.models.SmallCNN", expect=r"no dropout noise in eval")
class CNNWithFunctionalDropout(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 16, num_classes)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.conv(x)), 2).flatten(1)
        return self.fc(F.dropout(h, 0.3, training=True))


@mutant("day3.models.SmallCNN", expect=r"running statistics")
class CNNWithBatchStatsInEval(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.gamma = nn.Parameter(torch.ones(16))
        self.beta = nn.Parameter(torch.zeros(16))
        self.fc = nn.Linear(16 * 16, num_classes)

    def forward(self, x):
        h = F.batch_norm(self.conv(x), None, None, self.gamma, self.beta, training=True)
        return self.fc(F.max_pool2d(F.relu(h), 2).flatten(1))


@mutant("day3.models.SmallCNN", expect=r"returned shape")
class CNNIgnoresNumClasses(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 64, 10)

    def forward(self, x):
        return self.fc(F.relu(self.conv(x)).flatten(1))


class _Block(nn.Module):
    def __init__(self, in_planes, planes, stride=1, *, need=None, relu_after_add=True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu_after_add = relu_after_add
        self.downsample = None
        if need(in_planes, planes, stride):
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + idt) if self.relu_after_add else F.relu(out) + idt


@mutant("day3.models.BasicBlock", expect=r"channel count changes|project 4 channels")
class BlockDownsampleOnlyForStride(_Block):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__(in_planes, planes, stride, need=lambda i, p, s: s != 1)

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if idt.shape[1] != out.shape[1]:  # "fix" the channel mismatch by padding with zeros
            idt = F.pad(idt, (0, 0, 0, 0, 0, out.shape[1] - idt.shape[1])) if out.shape[1] > idt.shape[1] else idt[:, :out.shape[1]]
        return F.relu(out + idt)


@mutant("day3.models.BasicBlock", expect=r"identity shortcut needs none|keep downsample = None")
class BlockAlwaysDownsamples(_Block):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__(in_planes, planes, stride, need=lambda i, p, s: True)


@mutant("day3.models.BasicBlock", expect=r"with torchvision's weights")
class BlockReluBeforeAdd(_Block):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__(in_planes, planes, stride, need=lambda i, p, s: s != 1 or i != p,
                         relu_after_add=False)


@mutant("day3.models.BasicBlock", expect=r"`shortcut` where torchvision has `downsample`")
class BlockNamesItsProjectionShortcut(nn.Module):
    """Right in every way but one: the projection branch is called `shortcut`."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        idt = x if self.shortcut is None else self.shortcut(x)
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + idt)


def _train(seed, epochs, lr, eval_mode=True):
    from drills_data.digits import load_digits_tensors

    torch.manual_seed(seed)
    x, y, _, _ = load_digits_tensors()
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(64):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval() if eval_mode else model


@mutant("day3.models.train_digits_cnn", expect=r"train mode")
def train_forgets_eval(seed=0):
    return _train(seed, 6, 1e-2, eval_mode=False)


@mutant("day3.models.train_digits_cnn", expect=r"needed: 97%")
def train_too_briefly(seed=0):
    return _train(seed, 1, 1e-4)
