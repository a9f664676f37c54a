"""Spec -> layer graph: the block expansion, read top to bottom like torchvision's resnet.py.

The graph is the one structure everything else reads: the engine propagates shapes over it, the
executor runs it, weight loaders map names onto it, ``check`` and ``diff`` compare it. It knows
nothing of input sizes; layers are listed in execution order and refer to their inputs by name.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from .errors import Location, SpecError
from .ops import (Add, AvgPool, BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool, Input, MaxPool, Op, ReLU,
                  Softmax, ZeroPad)
from .spec import Spec, StageSpec, load_spec

INPUT = "input"
# The largest graph built. ResNet-1001 (3 stages of 111 bottlenecks) has 3,345 layers here and
# ResNet-1202 (3 × 200 basic blocks) 4,215 (tests/test_hostile_specs.py builds both); a spec
# beyond 20,000 is a mistake or an attack, and every command's time and memory grow with it.
MAX_LAYERS = 20_000


@dataclass(frozen=True)
class Layer:
    """One node: what it computes (``op``), from which layers, and where it sits in the network."""

    name: str
    op: Op
    inputs: tuple[str, ...]
    stage: str  # "stem", "stage2", ..., "head"
    block: str  # "stem", "res2a", ..., "head"
    where: Location  # the spec line that made this layer


@dataclass(frozen=True)
class Graph:
    spec: Spec
    layers: tuple[Layer, ...]

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def output(self) -> str:
        return self.layers[-1].name


class _Builder:
    """Appends layers, refusing duplicate names (the blog's res2a-for-res2b trap)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.bias = spec.conventions.conv_bias
        self.epsilon = spec.conventions.bn_epsilon
        self.layers: list[Layer] = []
        self.names: dict[str, Location] = {}
        self.stage, self.block, self.where = "stem", "stem", spec.where("stem")
        self.field = "stem"  # the spec field that made the layers being added (for errors)

    def add(self, name: str, op: Op, *inputs: str) -> str:
        if name in self.names:
            first = self.names[name]
            raise SpecError(f"duplicate layer name {name!r} (first made by line {first.line})",
                            where=self.where, layer=name)
        if len(self.layers) >= MAX_LAYERS:
            raise SpecError(f"the network has more than {MAX_LAYERS:,} layers (ResNet-1001 has 3,345); "
                            "fewer blocks, please", where=self.where, field=self.field)
        self.names[name] = self.where
        self.layers.append(Layer(name, op, inputs, self.stage, self.block, self.where))
        return name

    def conv_bn(self, x: str, conv: str, bn: str, filters: int, kernel: int, stride: int = 1) -> str:
        x = self.add(conv, Conv2D(filters, kernel, stride, kernel // 2, self.bias), x)
        return self.add(bn, BatchNorm(self.epsilon), x)

    def conv_bn_relu(self, x: str, conv: str, bn: str, filters: int, kernel: int, stride: int = 1) -> str:
        return self.add(f"{conv}_relu", ReLU(), self.conv_bn(x, conv, bn, filters, kernel, stride))


def build_graph(spec: Spec) -> Graph:
    """Expand a spec into its layers: stem, every block of every stage, head."""
    g = _Builder(spec)
    x = _stem(g, spec)
    for position, stage in enumerate(spec.stages):
        g.stage, g.where, g.field = f"stage{stage.number}", stage.where, f"stages[{position}].blocks"
        for index, letter in enumerate(block_letters(stage.blocks, stage.block_naming, stage)):
            g.block = f"res{stage.number}{letter}"
            conv_block = index == 0 and stage.first_block == "conv"
            stride = stage.stride if index == 0 else 1
            block = _bottleneck if spec.block == "bottleneck" else _basic
            x = block(g, x, f"{stage.number}{letter}", stage.filters, stride, conv_block)
    _head(g, spec, x)
    return Graph(spec, tuple(g.layers))


def load_graph(spec: str | Path | Spec) -> Graph:
    """The graph of a bundled spec's name, a spec file's path, or an already loaded :class:`Spec`."""
    return build_graph(spec if isinstance(spec, Spec) else load_spec(spec))


def _stem(g: _Builder, spec: Spec) -> str:
    stem = spec.stem
    x = g.add(INPUT, Input(spec.input_shape))
    if stem.pad:
        x = g.add("conv1_pad", ZeroPad(stem.pad), x)
    x = g.add("conv1", Conv2D(stem.conv.filters, stem.conv.kernel, stem.conv.stride, 0, g.bias), x)
    x = g.add("bn_conv1", BatchNorm(g.epsilon), x)
    x = g.add("conv1_relu", ReLU(), x)
    if stem.pool is not None:
        if spec.conventions.pool_padding:
            x = g.add("pool1_pad", ZeroPad(spec.conventions.pool_padding), x)
        x = g.add("pool1", MaxPool(stem.pool.size, stem.pool.stride), x)
    return x


def _bottleneck(g: _Builder, x: str, name: str, filters: tuple[int, ...], stride: int, conv_block: bool) -> str:
    """1×1 → 3×3 → 1×1 plus shortcut. v1 strides the first 1×1; v1.5 (torchvision) the 3×3."""
    f1, f2, f3 = filters
    s1, s3 = (stride, 1) if g.spec.conventions.stride_on == "1x1" else (1, stride)
    y = g.conv_bn_relu(x, f"res{name}_branch2a", f"bn{name}_branch2a", f1, 1, s1)
    y = g.conv_bn_relu(y, f"res{name}_branch2b", f"bn{name}_branch2b", f2, 3, s3)
    y = g.conv_bn(y, f"res{name}_branch2c", f"bn{name}_branch2c", f3, 1)
    shortcut = g.conv_bn(x, f"res{name}_branch1", f"bn{name}_branch1", f3, 1, stride) if conv_block else x
    return g.add(f"res{name}_relu", ReLU(), g.add(f"res{name}", Add(), y, shortcut))


def _basic(g: _Builder, x: str, name: str, filters: tuple[int, ...], stride: int, conv_block: bool) -> str:
    """3×3 → 3×3 plus shortcut (ResNet-18/34)."""
    f1, f2 = filters
    y = g.conv_bn_relu(x, f"res{name}_branch2a", f"bn{name}_branch2a", f1, 3, stride)
    y = g.conv_bn(y, f"res{name}_branch2b", f"bn{name}_branch2b", f2, 3)
    shortcut = g.conv_bn(x, f"res{name}_branch1", f"bn{name}_branch1", f2, 1, stride) if conv_block else x
    return g.add(f"res{name}_relu", ReLU(), g.add(f"res{name}", Add(), y, shortcut))


def _head(g: _Builder, spec: Spec, x: str) -> None:
    head = spec.head
    g.stage, g.block, g.where, g.field = "head", "head", head.where, "head"
    pool = AvgPool(head.pool_size, head.pool_size) if head.pool == "avg" else GlobalAvgPool()
    x = g.add("flatten", Flatten(), g.add("avg_pool", pool, x))
    x = g.add(head.dense_name, Dense(head.units), x)
    if head.activation == "softmax":
        g.add(f"{head.dense_name}_softmax", Softmax(), x)


def block_letters(blocks: int, naming: str, stage: StageSpec) -> list[str]:
    """a, b, c, …; or Caffe's a, b1, b2, … (ResNet-101/152), used by 'auto' once letters run out."""
    letters = string.ascii_lowercase
    if naming == "letters" and blocks > len(letters):
        raise SpecError(f"{blocks} blocks but letter names stop at {len(letters)}; use block_naming: numbered",
                        where=stage.where, field="conventions.block_naming")
    if naming == "letters" or (naming == "auto" and blocks <= len(letters)):
        return list(letters[:blocks])
    return ["a"] + [f"b{i}" for i in range(1, blocks)]
