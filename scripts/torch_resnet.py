"""An independent PyTorch ResNet, written by hand like torchvision's ``models/resnet.py``.

This is the oracle the NumPy executor is checked against (golden files and the live parity
test), so it deliberately does NOT read our layer graph: it is built from a handful of numbers
(width, blocks per stage, block kind, groups, width per group) and two layout switches, the way
torchvision builds resnet50 from ``Bottleneck, [3, 4, 6, 3]`` and resnext50_32x4d from
``groups=32, width_per_group=4``. Only the weights are shared, mapped by module path with
``weights.torchvision_names``. torchvision itself cannot be installed here, so this file stands in.

Layouts:
* ``torchvision`` (ResNet v1.5): no conv bias, stride on the 3×3, BN eps 1e-5, max pool with
  padding=1, global average pool, logits.
* ``keras`` (the blog's v1): conv bias, stride on the first 1×1, BN eps 1e-3, ZeroPad(1) then
  max pool (torch pads with -inf, Keras with zeros; after ReLU both give the same maximum),
  a 7×7 average pool, dense and softmax.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Layout:
    """The choices torchvision and Keras make differently; nothing else differs."""

    bias: bool
    stride_on_3x3: bool
    eps: float
    pool_size: int | None  # None: global average pool
    softmax: bool


TORCHVISION = Layout(bias=False, stride_on_3x3=True, eps=1e-5, pool_size=None, softmax=False)
KERAS = Layout(bias=True, stride_on_3x3=False, eps=1e-3, pool_size=7, softmax=True)


class BasicBlock(nn.Module):
    """torchvision's BasicBlock (ResNet-18/34): 3×3 (strided) → 3×3, downsample where shapes change."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int, layout: Layout, groups: int = 1,
                 width_per_group: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=1, bias=layout.bias)
        self.bn1 = nn.BatchNorm2d(planes, eps=layout.eps)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=1, bias=layout.bias)
        self.bn2 = nn.BatchNorm2d(planes, eps=layout.eps)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=layout.bias),
                                            nn.BatchNorm2d(planes, eps=layout.eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    """torchvision's Bottleneck; ``groups``/``width_per_group`` make ResNeXt and the wide nets."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, layout: Layout, groups: int = 1,
                 width_per_group: int = 64) -> None:
        super().__init__()
        width = int(planes * (width_per_group / 64.0)) * groups  # torchvision's formula
        s1, s3 = (1, stride) if layout.stride_on_3x3 else (stride, 1)  # v1.5 vs v1
        self.conv1 = nn.Conv2d(inplanes, width, 1, s1, bias=layout.bias)
        self.bn1 = nn.BatchNorm2d(width, eps=layout.eps)
        self.conv2 = nn.Conv2d(width, width, 3, s3, padding=1, groups=groups, bias=layout.bias)
        self.bn2 = nn.BatchNorm2d(width, eps=layout.eps)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=layout.bias)
        self.bn3 = nn.BatchNorm2d(planes * 4, eps=layout.eps)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=layout.bias),
                                            nn.BatchNorm2d(planes * 4, eps=layout.eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


BLOCKS = {"bottleneck": Bottleneck, "basic": BasicBlock}


class ResNet(nn.Module):
    def __init__(self, layers: list[int], layout: Layout, width: int = 64, num_classes: int = 1000,
                 block: str = "bottleneck", groups: int = 1, width_per_group: int = 64) -> None:
        super().__init__()
        self.layout = layout
        self.conv1 = nn.Conv2d(3, width, 7, 2, padding=3, bias=layout.bias)
        self.bn1 = nn.BatchNorm2d(width, eps=layout.eps)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, padding=1)
        inplanes, stages = width, []
        for index, blocks in enumerate(layers):
            planes, stride = width * 2 ** index, 1 if index == 0 else 2
            kind = BLOCKS[block]
            stage = [kind(inplanes, planes, stride, layout, groups, width_per_group)]
            inplanes = planes * kind.expansion
            stage += [kind(inplanes, planes, 1, layout, groups, width_per_group) for _ in range(1, blocks)]
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1) if layout.pool_size is None else nn.AvgPool2d(layout.pool_size)
        self.fc = nn.Linear(inplanes, num_classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.fc(torch.flatten(self.avgpool(x), 1))
        return torch.softmax(x, dim=1) if self.layout.softmax else x


def state_dict_from(weights: dict, names: dict[str, str], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Our Keras-layout weights -> a torch state dict: HWIO -> OIHW, dense (in, out) -> (out, in)."""
    state = {}
    for blog, module in names.items():
        arrays = weights[blog]
        if "moving_mean" in arrays:
            for ours, theirs in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                                 ("moving_variance", "running_var")):
                state[f"{module}.{theirs}"] = torch.tensor(arrays[ours], dtype=dtype)
            continue
        kernel = torch.tensor(arrays["kernel"], dtype=dtype)
        state[f"{module}.weight"] = kernel.permute(3, 2, 0, 1) if kernel.ndim == 4 else kernel.T
        if "bias" in arrays:
            state[f"{module}.bias"] = torch.tensor(arrays["bias"], dtype=dtype)
    return state


def build(layers: list[int], layout: Layout, weights: dict, names: dict[str, str], width: int = 64,
          num_classes: int = 1000, dtype: torch.dtype = torch.float32, *, block: str = "bottleneck",
          groups: int = 1, width_per_group: int = 64) -> ResNet:
    """A ResNet in eval mode carrying exactly ``weights`` (strict: every tensor must be mapped)."""
    model = ResNet(layers, layout, width, num_classes, block, groups, width_per_group).to(dtype).eval()
    state = state_dict_from(weights, names, dtype)
    expected = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    if expected != set(state):
        raise ValueError(f"weights do not fit: missing {sorted(expected - set(state))[:5]}, "
                         f"extra {sorted(set(state) - expected)[:5]}")
    model.load_state_dict(state, strict=False)
    return model


def run(model: ResNet, x_nhwc, dtype: torch.dtype = torch.float32):
    """NHWC NumPy in, NumPy out (the executor's convention)."""
    with torch.no_grad():
        x = torch.tensor(x_nhwc, dtype=dtype).permute(0, 3, 1, 2).contiguous()
        return model(x).numpy()
