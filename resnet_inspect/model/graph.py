"""Spec -> layer graph: the block expansion, read top to bottom like torchvision's resnet.py.

The graph is the one structure everything else reads: the engine propagates shapes over it, the
executor runs it, weight loaders map names onto it, ``check`` and ``diff`` compare it. It knows
nothing of input sizes; layers are listed in execution order and refer to their inputs by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Callable

from ..core.records import record
from ..core.errors import Location, SpecError
from .ops import (Add, AvgPool, BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool, GlobalAvgPoolFlat, Input, MaxPool, Op, ReLU,
                  Softmax, ZeroPad)
from .layouts import LAYOUTS
from ..language.spec import HeadSpec, Spec, StageSpec, load_spec

INPUT = "input"
# The largest graph built. ResNet-1001 (3 stages of 111 bottlenecks) has 3,345 layers here and
# ResNet-1202 (3 × 200 basic blocks) 4,215 (tests/test_hostile_specs.py builds both); a spec
# beyond 20,000 is a mistake or an attack, and every command's time and memory grow with it.
MAX_LAYERS = 20_000


@record
class Layer:
    """One node: what it computes (``op``), from which layers, and where it sits in the network."""

    name: str
    op: Op
    inputs: tuple[str, ...]
    stage: str  # "stem", "stage2", ..., "head"
    block: str  # "stem", "res2a", ..., "head"
    where: Location  # the spec line that made this layer


@record
class Graph:
    spec: Spec
    layers: tuple[Layer, ...]
    # block name -> its kind ("conv_block", "identity_block", "shortcut_block"), decided where the
    # block was built (by its shortcut: see SHORTCUTS); read by `trace --depth block` and `diagram`
    block_kinds: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __repr__(self) -> str:  # the dataclass repr prints every layer: ~38,000 characters
        return f"Graph(spec={self.spec.name!r}, layers={len(self.layers)}, output={self.output!r})"

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def output(self) -> str:
        return self.layers[-1].name

    def block_kind(self, block: str) -> str:
        """The kind of block ``block``: as built, or "stem"/"head", or "block" in a hand-built graph."""
        return block if block in ("stem", "head") else self.block_kinds.get(block, "block")


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
        self.block_kinds: dict[str, str] = {}
        self.layout = LAYOUTS[spec.conventions.keras_layout]  # the Keras code whose add order we follow

    def residual(self, n: str, main: str, shortcut: str) -> str:
        """The block's add ``res{n}``, its inputs in the order of the spec's Keras code, so a
        trace's inputs read as Keras' "Connected to" (torchvision's ``out += identity`` has no layer)."""
        return self.add(f"res{n}", Add(), *self.layout.add_inputs(main, shortcut))

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

    def shortcut(self, x: str, b: "BlockArgs", bn: bool) -> str:
        """Build the block's shortcut and record the block's kind by what was built: a shortcut
        that adds no layer (identity, or a pool at stride 1) makes an identity block."""
        out = SHORTCUTS[b.shortcut].build(self, x, b, bn)
        self.block_kinds[self.block] = SHORTCUTS["identity" if out == x else b.shortcut].block_kind
        return out

    def conv_bn(self, x: str, conv: str, bn: str, filters: int, kernel: int, stride: int = 1, groups: int = 1,
                bias: bool | None = None) -> str:
        bias = self.bias if bias is None else bias
        x = self.add(conv, Conv2D(filters, kernel, stride, kernel // 2, bias, groups), x)
        return self.add(bn, BatchNorm(self.epsilon), x)

    def conv_bn_relu(self, x: str, conv: str, bn: str, filters: int, kernel: int, stride: int = 1,
                     groups: int = 1, bias: bool | None = None) -> str:
        return self.add(f"{conv}_relu", ReLU(), self.conv_bn(x, conv, bn, filters, kernel, stride, groups, bias))


@record
class BlockArgs:
    """What varies between the blocks of a network (Keras' filters, stride, conv_shortcut)."""

    name: str  # "2a": the block's part of every layer name
    filters: tuple[int, ...]
    stride: int
    shortcut: str  # a key of SHORTCUTS
    groups: int = 1


def build_graph(spec: "str | Path | Spec") -> Graph:
    """Expand a spec (a :class:`Spec`, a bundled spec's name or a path) into its layers."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    g = _Builder(spec)
    kind = BLOCKS[spec.block]
    x = _stem(g, spec, kind)
    for position, stage in enumerate(spec.stages):
        g.stage, g.where, g.field = f"stage{stage.number}", stage.where, f"stages[{position}].blocks"
        letters = block_letters(stage.blocks, stage.block_naming, stage)
        strided = 0 if spec.conventions.stride_block == "first" else len(letters) - 1
        for index, letter in enumerate(letters):
            g.block = f"res{stage.number}{letter}"
            stride = stage.stride if index == strided else 1
            x = kind.build(g, x, BlockArgs(f"{stage.number}{letter}", stage.filters, stride,
                                           _shortcut_kind(spec, stage, index, stride), stage.groups))
    _head(g, spec, kind, x)
    return Graph(spec, tuple(g.layers), g.block_kinds)


def _shortcut_kind(spec: Spec, stage: StageSpec, index: int, stride: int) -> str:
    """The first block's shortcut is the stage's ``first_block``; a later one is the identity,
    unless it carries the stride (``stride_block: last``): then ``strided_shortcut``."""
    if index == 0:
        return stage.first_block
    return spec.conventions.strided_shortcut if stride > 1 else "identity"


def load_graph(spec: "str | Path | Spec | Graph") -> Graph:
    """The graph of a bundled spec's name, a spec file's path, a :class:`Spec`, or a graph as is.

    Every API function that needs a graph goes through here, so each takes what ``trace`` takes.
    """
    return spec if isinstance(spec, Graph) else build_graph(spec)


def _stem(g: _Builder, spec: Spec, kind: BlockKind) -> str:
    """Pad, 7×7/2 conv (+ BN, ReLU unless the blocks pre-activate), pad, max pool."""
    stem = spec.stem
    x = g.add(INPUT, Input(spec.input_shape))
    if stem.pad:
        x = g.add("conv1_pad", ZeroPad(stem.pad), x)
    x = g.add("conv1", Conv2D(stem.conv.filters, stem.conv.kernel, stem.conv.stride, 0, g.bias), x)
    if not kind.preact:
        x = g.add("bn_conv1", BatchNorm(g.epsilon), x)
        x = g.add("conv1_relu", ReLU(), x)
    if stem.pool is not None:
        if spec.conventions.pool_padding:
            x = g.add("pool1_pad", ZeroPad(spec.conventions.pool_padding), x)
        x = g.add("pool1", MaxPool(stem.pool.size, stem.pool.stride), x)
    return x


# --------------------------------------------------------------------------- shortcuts


def _projection(g: _Builder, x: str, b: BlockArgs, bn: bool) -> str:
    """1×1 conv with the block's stride to its output width; followed by BN except in a V2 block."""
    conv = g.add(f"res{b.name}_branch1", Conv2D(b.filters[-1], 1, b.stride, 0, g.bias), x)
    return g.add(f"bn{b.name}_branch1", BatchNorm(g.epsilon), conv) if bn else conv


def _identity(g: _Builder, x: str, b: BlockArgs, bn: bool) -> str:
    return x


def _max_pool(g: _Builder, x: str, b: BlockArgs, bn: bool) -> str:
    """Keras V2's ``MaxPooling2D(1, strides=stride)``: every s-th pixel, no weights."""
    return g.add(f"res{b.name}_branch1_pool", MaxPool(1, b.stride), x) if b.stride > 1 else x


@record
class Shortcut:
    """A row of the shortcut table: how it is built, and what a block with it is called."""

    build: Callable[[_Builder, str, BlockArgs, bool], str]
    block_kind: str  # `trace --depth block`'s kind and the diagram's style
    words: str  # the diagram's name for such a block


SHORTCUTS: dict[str, Shortcut] = {
    "conv": Shortcut(_projection, "conv_block", "conv block"),
    "identity": Shortcut(_identity, "identity_block", "identity block"),
    "max_pool": Shortcut(_max_pool, "shortcut_block", "MaxPool shortcut block"),
}
BLOCK_WORDS = {row.block_kind: row.words for row in SHORTCUTS.values()}


# --------------------------------------------------------------------------- blocks


def _bottleneck(g: _Builder, x: str, b: BlockArgs) -> str:
    """1×1 → 3×3 (grouped in ResNeXt) → 1×1 plus shortcut. v1 strides the first 1×1; v1.5 (torchvision) the 3×3."""
    (f1, f2, f3), n = b.filters, b.name
    s1, s3 = (b.stride, 1) if g.spec.conventions.stride_on == "1x1" else (1, b.stride)
    y = g.conv_bn_relu(x, f"res{n}_branch2a", f"bn{n}_branch2a", f1, 1, s1)
    y = g.conv_bn_relu(y, f"res{n}_branch2b", f"bn{n}_branch2b", f2, 3, s3, b.groups)
    y = g.conv_bn(y, f"res{n}_branch2c", f"bn{n}_branch2c", f3, 1)
    shortcut = g.shortcut(x, b, True)
    return g.add(f"res{n}_relu", ReLU(), g.residual(n, y, shortcut))


def _basic(g: _Builder, x: str, b: BlockArgs) -> str:
    """3×3 → 3×3 plus shortcut (ResNet-18/34); the first 3×3 carries the stride."""
    (f1, f2), n = b.filters, b.name
    y = g.conv_bn_relu(x, f"res{n}_branch2a", f"bn{n}_branch2a", f1, 3, b.stride)
    y = g.conv_bn(y, f"res{n}_branch2b", f"bn{n}_branch2b", f2, 3)
    shortcut = g.shortcut(x, b, True)
    return g.add(f"res{n}_relu", ReLU(), g.residual(n, y, shortcut))


def _preact_bottleneck(g: _Builder, x: str, b: BlockArgs) -> str:
    """Keras' ``residual_block_v2``: BN → ReLU, then 1×1 → pad → 3×3 → 1×1 with no BN after the
    last conv and no ReLU after the add. The two convs that a BN follows have no bias; a projection
    shortcut reads the pre-activated input, a pool or identity shortcut the block's raw input."""
    (f1, f2, f3), n = b.filters, b.name
    s1, s3 = (b.stride, 1) if g.spec.conventions.stride_on == "1x1" else (1, b.stride)
    pre = g.add(f"res{n}_preact_relu", ReLU(), g.add(f"bn{n}_preact", BatchNorm(g.epsilon), x))
    shortcut = g.shortcut(pre if b.shortcut == "conv" else x, b, False)
    y = g.conv_bn_relu(pre, f"res{n}_branch2a", f"bn{n}_branch2a", f1, 1, s1, bias=False)
    y = g.add(f"res{n}_branch2b_pad", ZeroPad(1), y)
    y = g.add(f"res{n}_branch2b", Conv2D(f2, 3, s3, 0, False, b.groups), y)
    y = g.add(f"res{n}_branch2b_relu", ReLU(), g.add(f"bn{n}_branch2b", BatchNorm(g.epsilon), y))
    y = g.add(f"res{n}_branch2c", Conv2D(f3, 1, 1, 0, g.bias), y)
    return g.residual(n, y, shortcut)


@record
class BlockKind:
    """A row of the block table: the function that builds one block, and whether the network
    pre-activates (then the stem stops at its conv and the head starts with BN → ReLU)."""

    build: Callable[[_Builder, str, BlockArgs], str]
    preact: bool = False


BLOCKS: dict[str, BlockKind] = {
    "bottleneck": BlockKind(_bottleneck),
    "basic": BlockKind(_basic),
    "preact_bottleneck": BlockKind(_preact_bottleneck, preact=True),
}


@record
class HeadPool:
    """A row of the head-pool table (the spec's ``head.pool``): the op ``avg_pool`` is, and
    whether a ``flatten`` layer turns its map into the dense layer's vector."""

    make: Callable[[HeadSpec], Op]
    flatten: bool
    source: str  # the framework code it reproduces


HEAD_POOLS: dict[str, HeadPool] = {
    "avg": HeadPool(lambda head: AvgPool(head.pool_size, head.pool_size), True,
                    "the blog's AveragePooling2D((7, 7), name='avg_pool') + Flatten()"),
    "global": HeadPool(lambda head: GlobalAvgPool(), True, "torchvision's AdaptiveAvgPool2d((1, 1)) + torch.flatten"),
    "global_flat": HeadPool(lambda head: GlobalAvgPoolFlat(), False,
                            "keras.applications' GlobalAveragePooling2D(name='avg_pool'): a vector, no Flatten"),
}


def _head(g: _Builder, spec: Spec, kind: BlockKind, x: str) -> None:
    head = spec.head
    g.stage, g.block, g.where, g.field = "head", "head", head.where, "head"
    if kind.preact:
        x = g.add("post_relu", ReLU(), g.add("bn_post", BatchNorm(g.epsilon), x))
    pool = HEAD_POOLS[head.pool]
    x = g.add("avg_pool", pool.make(head), x)
    if pool.flatten:
        x = g.add("flatten", Flatten(), x)
    x = g.add(head.dense_name, Dense(head.units), x)
    if head.activation == "softmax":
        g.add(f"{head.dense_name}_softmax", Softmax(), x)


def block_letters(blocks: int, naming: str, stage: StageSpec) -> list[str]:
    """a, b, c, …; or Caffe's a, b1, b2, … (ResNet-101/152), used by 'auto' once letters run out."""
    letters = "abcdefghijklmnopqrstuvwxyz"  # string.ascii_lowercase (the module costs start-up)
    if naming == "letters" and blocks > len(letters):
        raise SpecError(f"{blocks} blocks but letter names stop at {len(letters)}; use block_naming: numbered",
                        where=stage.where, field="conventions.block_naming")
    if naming == "letters" or (naming == "auto" and blocks <= len(letters)):
        return list(letters[:blocks])
    return ["a"] + [f"b{i}" for i in range(1, blocks)]
