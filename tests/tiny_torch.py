"""tiny-run-torchvision built in PyTorch the way torchvision's ``models/resnet.py`` builds ResNets.

An oracle for the weights and ``run`` tests: module names (conv1, bn1, layer{1,2}.{i}.conv{1,2,3},
bn{1,2,3}, downsample.0/.1, fc) and the forward pass are torchvision's, written from its source
(torchvision itself is not installable here). It never reads our graph.
"""

from __future__ import annotations

import torch
from torch import nn


class Bottleneck(nn.Module):
    """torchvision's v1.5 Bottleneck: stride on the 3x3, no conv bias, BN eps 1e-5."""

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes * 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class TinyResNet(nn.Module):
    """Stem 7x7/2 (4 channels) + max pool 3/2 pad 1, layer1 = 1 block of width 4, layer2 = 2 blocks
    of width 8 (stride 2), global average pool, fc to 1000 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 4, 7, 2, padding=3, bias=False), nn.BatchNorm2d(4)
        self.relu, self.maxpool = nn.ReLU(), nn.MaxPool2d(3, 2, padding=1)
        self.layer1 = nn.Sequential(Bottleneck(4, 4, 1))
        self.layer2 = nn.Sequential(Bottleneck(16, 8, 2), Bottleneck(32, 8, 1))
        self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(32, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def tiny_resnet(seed: int = 0) -> TinyResNet:
    """Seeded, in eval mode, with BN statistics far from the identity so a wrong BN shows up."""
    torch.manual_seed(seed)
    model = TinyResNet()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            for tensor in (module.weight, module.bias, module.running_mean):
                tensor.data.uniform_(-1, 1)
            module.running_var.data.uniform_(0.5, 1.5)
    return model.eval()


def logits(model: TinyResNet, x_nhwc) -> "torch.Tensor":
    """NHWC NumPy in (our layout), torch's logits out as NumPy."""
    with torch.no_grad():
        return model(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous()).numpy()
