"""Spec -> Python source: a PyTorch module in torchvision's style and Keras 3 functional code.

Pure Python: the source is text made from the graph, so writing it needs neither torch nor Keras
(``export --to pytorch|keras``). Each generated file has one entry point, ``build_model()``.

PyTorch: one block class per block kind (:data:`TORCH_BLOCKS`, a row per row of
``graph.BLOCKS``, written as torchvision's ``BasicBlock``/``Bottleneck``) and a ``ResNet`` class
whose ``__init__`` and ``forward`` list the stem, the stages and the head top to bottom. The
module paths are :func:`..model.naming.torch_modules`' (torchvision's), so a torchvision
checkpoint loads unchanged into a torchvision-layout spec's module. The conventions the blocks
vary by (bias, BN epsilon, where the stride sits, which block strides) are constants at the top.

Keras: one line per layer of the graph (:data:`KERAS_LINES`, a row per op kind), in execution
order, named as the spec's Keras layout names them (``keras3``: keras.applications' names such as
``conv2_block1_1_conv``; ``blog``: the blog's ``res2a_branch2a``), the residual add taking its
inputs in that layout's order. So Keras orders the layers as ``model.keras`` predicts and the
``.weights.h5`` files this tool writes load by position.
"""

from __future__ import annotations

from collections.abc import Callable

from .._version import __version__
from ..core.errors import InspectError
from ..core.usertext import visible
from ..model.graph import Graph, Layer, load_graph
from ..model.keras import LAYOUTS, check_layout
from ..model.naming import group_names, names_in
from ..model.weights import weight_shapes

# --------------------------------------------------------------------------- PyTorch

_SHORTCUT = '''
def shortcut(kind, inplanes, planes, stride, bn=True):
    """The block's shortcut: None (identity), a 1x1 conv (then BN unless bn=False), or V2's 1x1
    max pool that only strides."""
    if kind == "conv":
        layers = [nn.Conv2d(inplanes, planes, 1, stride, bias=CONV_BIAS)]
        return nn.Sequential(*layers, nn.BatchNorm2d(planes, eps=BN_EPS)) if bn else nn.Sequential(*layers)
    if kind == "max_pool" and stride > 1:
        return nn.MaxPool2d(1, stride)
    return None
'''

_BASIC = '''
class BasicBlock(nn.Module):
    """3x3 -> 3x3 plus the shortcut, ReLU after the add (ResNet-18/34); the first 3x3 strides."""

    def __init__(self, inplanes, filters, stride=1, shortcut_kind="identity", groups=1):
        super().__init__()
        width, planes = filters
        self.conv1 = nn.Conv2d(inplanes, width, 3, stride, padding=1, bias=CONV_BIAS)
        self.bn1 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.conv2 = nn.Conv2d(width, planes, 3, padding=1, bias=CONV_BIAS)
        self.bn2 = nn.BatchNorm2d(planes, eps=BN_EPS)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(shortcut_kind, inplanes, planes, stride)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)
'''

_BOTTLENECK = '''
class Bottleneck(nn.Module):
    """1x1 -> 3x3 (grouped in ResNeXt) -> 1x1 plus the shortcut, ReLU after the add.
    STRIDE_ON_3X3 (ResNet v1.5, torchvision) puts the stride on the 3x3, else on the first 1x1 (v1)."""

    def __init__(self, inplanes, filters, stride=1, shortcut_kind="identity", groups=1):
        super().__init__()
        width, mid, planes = filters
        s1, s3 = (1, stride) if STRIDE_ON_3X3 else (stride, 1)
        self.conv1 = nn.Conv2d(inplanes, width, 1, s1, bias=CONV_BIAS)
        self.bn1 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.conv2 = nn.Conv2d(width, mid, 3, s3, padding=1, groups=groups, bias=CONV_BIAS)
        self.bn2 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self.conv3 = nn.Conv2d(mid, planes, 1, bias=CONV_BIAS)
        self.bn3 = nn.BatchNorm2d(planes, eps=BN_EPS)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(shortcut_kind, inplanes, planes, stride)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)
'''

_PREACT = '''
class PreActBottleneck(nn.Module):
    """Keras' residual_block_v2: BN -> ReLU first, then 1x1 -> 3x3 -> 1x1 with no BN after the last
    conv and no ReLU after the add. The two convs a BN follows have no bias. A conv shortcut reads
    the pre-activated input (no BN after it), a max-pool or identity shortcut the raw input."""

    def __init__(self, inplanes, filters, stride=1, shortcut_kind="identity", groups=1):
        super().__init__()
        width, mid, planes = filters
        s1, s3 = (1, stride) if STRIDE_ON_3X3 else (stride, 1)
        self.preact_bn = nn.BatchNorm2d(inplanes, eps=BN_EPS)
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(inplanes, width, 1, s1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.conv2 = nn.Conv2d(width, mid, 3, s3, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self.conv3 = nn.Conv2d(mid, planes, 1, bias=CONV_BIAS)
        self.downsample = shortcut(shortcut_kind, inplanes, planes, stride, bn=False)
        self.shortcut_reads_preact = shortcut_kind == "conv"

    def forward(self, x):
        pre = self.relu(self.preact_bn(x))
        identity = pre if self.shortcut_reads_preact else x
        if self.downsample is not None:
            identity = self.downsample(identity)
        out = self.relu(self.bn1(self.conv1(pre)))
        out = self.relu(self.bn2(self.conv2(out)))
        return identity + self.conv3(out)
'''

# graph.BLOCKS' key -> (the class's name, its source)
TORCH_BLOCKS: dict[str, tuple[str, str]] = {
    "basic": ("BasicBlock", _BASIC),
    "bottleneck": ("Bottleneck", _BOTTLENECK),
    "preact_bottleneck": ("PreActBottleneck", _PREACT),
}


def pytorch_source(spec: "Graph | str") -> str:
    """A standalone PyTorch module for ``spec`` (needs only torch); ``build_model()`` returns it."""
    graph = load_graph(spec)
    s = graph.spec
    if s.block not in TORCH_BLOCKS:
        raise InspectError(f"no PyTorch block for block kind {s.block!r}", field="block")
    block, block_source = TORCH_BLOCKS[s.block]
    preact = s.block == "preact_bottleneck"
    c = s.conventions
    dense = graph.spec.head.dense_name
    fc_in = weight_shapes(graph)[dense]["kernel"][0]
    stem_pad = s.stem.pad
    channels = s.input_shape[2]
    lines = [
        f'"""{_text(s.name)} as a PyTorch module, written by resnet-inspect {__version__} from the spec.',
        "",
        (f"Input: NCHW float32 batches of {channels}x{s.input_shape[0]}x{s.input_shape[1]} "
         "(the spec's input; the module paths and"),
        "shapes are torchvision's, so a torchvision checkpoint of the same network loads unchanged).",
        "Needs only torch. The one entry point: build_model().",
        '"""',
        "",
        "import torch",
        "from torch import nn",
        "",
        "# the spec's conventions",
        f"CONV_BIAS = {c.conv_bias!r}  # conventions.conv_bias",
        f"BN_EPS = {c.bn_epsilon!r}  # conventions.bn_epsilon",
        f"STRIDE_ON_3X3 = {c.stride_on == '3x3'!r}  # conventions.stride_on: {c.stride_on}",
        f"STRIDE_BLOCK = {c.stride_block!r}  # conventions.stride_block: which block of a stage strides",
        f"STRIDED_SHORTCUT = {c.strided_shortcut!r}  # conventions.strided_shortcut: a later block's strided shortcut",
        "",
        _SHORTCUT.strip("\n"),
        "",
        "",
        block_source.strip("\n"),
        "",
        "",
        "class ResNet(nn.Module):",
        f'    """{_text(s.name)}: the stem, {len(s.stages)} stages of {block}s and the head, top to bottom."""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
        (f"        self.conv1 = nn.Conv2d({channels}, {s.stem.conv.filters}, {s.stem.conv.kernel}, "
         f"{s.stem.conv.stride}, padding={stem_pad}, bias=CONV_BIAS)"),
    ]
    forward = ["    def forward(self, x):", "        x = self.conv1(x)"]
    if not preact:
        lines += [f"        self.bn1 = nn.BatchNorm2d({s.stem.conv.filters}, eps=BN_EPS)",
                  "        self.relu = nn.ReLU(inplace=True)"]
        forward += ["        x = self.relu(self.bn1(x))"]
    if s.stem.pool is not None:
        lines.append(f"        self.maxpool = {_torch_pool(s.stem.pool.size, s.stem.pool.stride, c.pool_padding, preact)}")
        forward.append("        x = self.maxpool(x)")
    inplanes = s.stem.conv.filters
    for number, stage in enumerate(s.stages, 1):
        lines.append(f"        self.layer{number} = self._make_layer({inplanes}, {tuple(stage.filters)!r}, {stage.blocks}, "
                     f"{stage.stride}, {stage.first_block!r}, {stage.groups})  # stage {stage.number}")
        forward.append(f"        x = self.layer{number}(x)")
        inplanes = stage.filters[-1]
    if preact:
        lines += [f"        self.post_bn = nn.BatchNorm2d({inplanes}, eps=BN_EPS)", "        self.post_relu = nn.ReLU()"]
        forward.append("        x = self.post_relu(self.post_bn(x))")
    if s.head.pool == "avg":
        lines.append(f"        self.avgpool = nn.AvgPool2d({s.head.pool_size}, {s.head.pool_size})")
        forward += ["        x = self.avgpool(x)",
                    "        x = torch.flatten(x.permute(0, 2, 3, 1), 1)  # H, W, C order: the spec's (Keras') flatten"]
    else:
        lines.append("        self.avgpool = nn.AdaptiveAvgPool2d(1)")
        forward += ["        x = torch.flatten(self.avgpool(x), 1)"]
    lines.append(f"        self.fc = nn.Linear({fc_in}, {s.head.units})")
    forward.append("        x = self.fc(x)")
    forward.append("        return x.softmax(dim=1)" if s.head.activation == "softmax" else "        return x")
    lines += [
        "",
        "    def _make_layer(self, inplanes, filters, blocks, stride, first_shortcut, groups):",
        '        """One stage: its first block takes the stage\'s shortcut; STRIDE_BLOCK says which block strides."""',
        '        strided = 0 if STRIDE_BLOCK == "first" else blocks - 1',
        "        layers = []",
        "        for index in range(blocks):",
        "            stride_here = stride if index == strided else 1",
        '            kind = first_shortcut if index == 0 else (STRIDED_SHORTCUT if stride_here > 1 else "identity")',
        f"            layers.append({block}(inplanes, filters, stride_here, kind, groups))",
        "            inplanes = filters[-1]",
        "        return nn.Sequential(*layers)",
        "",
        *forward,
        "",
        "",
        "def build_model():",
        f'    """The network of spec {_text(s.name)}, in eval mode (BatchNorm uses its running statistics)."""',
        "    return ResNet().eval()",
        "",
    ]
    return "\n".join(lines)


def _text(text: str) -> str:
    """User text (a spec's name) inside a generated docstring: control characters made visible,
    backslashes and quotes escaped, so it can never end the string early."""
    return visible(text).replace("\\", "\\\\").replace('"', '\\"')


def _torch_pool(size: int, stride: int, padding: int, preact: bool) -> str:
    """PyTorch pads a max pool with -inf, the spec with zeros: the same after a ReLU (no value is
    below 0), not in a V2 stem (no ReLU before the pool), where the zero pad stays a layer."""
    if padding == 0:
        return f"nn.MaxPool2d({size}, {stride})"
    if not preact and padding <= size // 2:
        return f"nn.MaxPool2d({size}, {stride}, padding={padding})"
    return f"nn.Sequential(nn.ZeroPad2d({padding}), nn.MaxPool2d({size}, {stride}))"


# --------------------------------------------------------------------------- Keras


def _conv_line(layer: Layer, name: str) -> str:
    op = layer.op
    same = op.padding > 0 and _keras_same(layer)
    groups = f", groups={op.groups}" if op.groups != 1 else ""
    padding = ', padding="same"' if same else ""
    return (f"layers.Conv2D({op.filters}, {op.kernel}, strides={op.stride}{padding}, use_bias={op.bias}{groups}"
            f"{name})")


KERAS_LINES: dict[str, Callable[[Layer, str], str]] = {
    "zero_pad": lambda layer, name: f"layers.ZeroPadding2D({layer.op.pad}{name})",
    "conv": _conv_line,
    "batch_norm": lambda layer, name: f"layers.BatchNormalization(epsilon={layer.op.epsilon!r}{name})",
    "relu": lambda layer, name: f'layers.Activation("relu"{name})',
    "max_pool": lambda layer, name: f"layers.MaxPooling2D({layer.op.size}, strides={layer.op.stride}{name})",
    "avg_pool": lambda layer, name: f"layers.AveragePooling2D({layer.op.size}, strides={layer.op.stride}{name})",
    "global_avg_pool": lambda layer, name: f"layers.GlobalAveragePooling2D({name.lstrip(', ')})",
    "global_avg_pool_flat": lambda layer, name: f"layers.GlobalAveragePooling2D({name.lstrip(', ')})",
    "add": lambda layer, name: f"layers.Add({name.lstrip(', ')})",
    "flatten": lambda layer, name: f"layers.Flatten({name.lstrip(', ')})",
    "dense": lambda layer, name: f"layers.Dense({layer.op.units}{name})",
    "softmax": lambda layer, name: f'layers.Activation("softmax"{name})',
}


def keras_names(graph: Graph, layout: str) -> dict[str, str | None]:
    """Our layer -> its Keras name in ``layout``'s code: keras.applications' or the blog's (ours)."""
    return names_in(graph, "keras3") if layout == "keras3" else {layer.name: layer.name for layer in graph}


def keras_source(spec: "Graph | str", layout: str | None = None) -> str:
    """Keras 3 functional code for ``spec`` under its Keras layout; ``build_model()`` returns the model.

    A value flows through ``x`` while only the next line reads it; one read later (a block's
    input, the end of its main path) keeps a variable named after the layer.
    """
    graph = load_graph(spec)
    layout = check_layout(layout, graph)
    names = keras_names(graph, layout)
    s = graph.spec
    h, w, c = s.input_shape
    steps = _keras_steps(graph, layout, names)
    producer = {step[0]: index for index, step in enumerate(steps)}
    late = {source for index, (_, _, sources, _) in enumerate(steps) for source in sources
            if producer[source] != index - 1}
    var = {value: ("x_input" if index == 0 else _identifier(names.get(value) or value) if value in late else "x")
           for value, index in producer.items()}
    body: list[str] = []
    for value, line, sources, comment in steps[1:]:
        if comment:
            body.append(f"    # {comment}")
        args = [var[source] for source in sources]
        body.append(f"    {var[value]} = {line}({args[0] if len(args) == 1 else '[' + ', '.join(args) + ']'})")
    return "\n".join([
        f'"""{_text(s.name)} as Keras 3 functional code ({layout} layout: {LAYOUTS[layout].source}),',
        f"written by resnet-inspect {__version__} from the spec.",
        "",
        (f"Input: NHWC batches of {h}x{w}x{c}. Layer names are "
         f"{'keras.applications' if layout == 'keras3' else 'the blog'}'s; the layers come in the order"),
        "Keras saves them, so the .weights.h5 files resnet-inspect writes",
        f"(`weights init/convert --keras-layout {layout}`) load with model.load_weights(). Entry point: build_model().",
        '"""',
        "",
        "import keras",
        "from keras import layers",
        "",
        "",
        "def build_model():",
        f'    """The network of spec {_text(s.name)} as a keras.Model."""',
        "    x_input = layers.Input(shape=(" + f"{h}, {w}, {c}))",
        *body,
        f"    return keras.Model(x_input, {var[steps[-1][0]]}, name={s.name.replace('/', '_')!r})",  # Keras refuses "/" in names
        "",
    ])


def _keras_steps(graph: Graph, layout: str, names: dict[str, str | None]) -> list[tuple[str, str, list[str], str]]:
    """(value, layer call, the values it reads, a comment before it) per line, in execution order."""
    height: dict[str, int] = {}
    for layer in graph:
        height[layer.name] = 1 + max((height[source] for source in layer.inputs), default=-1)
    folded = _folds(graph)
    groups = group_names(graph, "keras3") if layout == "keras3" else {}
    alias = {}
    steps: list[tuple[str, str, list[str], str]] = [(graph.layers[0].name, "", [], "")]
    block = "stem"
    for layer in graph.layers[1:]:
        comment = ""
        if layer.block != block:
            block = layer.block
            kind = graph.block_kind(block)
            shown = groups.get(block, block)
            comment = block if block in ("stem", "head") else f"{shown} ({kind.replace('_', ' ')})"
        sources = [alias.get(source, source) for source in layer.inputs]
        if layer.name in folded:  # no Keras layer of its own
            alias[layer.name] = sources[0]
            continue
        name = names.get(layer.name)
        named = f", name={name!r}" if name else ""
        if layer.op.kind == "conv" and layer.op.padding and not _keras_same(layer):
            steps.append((layer.name + "_zero_pad", f"layers.ZeroPadding2D({layer.op.padding})", sources,
                          comment or "Keras pads 'same' unevenly when it strides; the spec pads both sides"))
            sources, comment = [layer.name + "_zero_pad"], ""
        if layer.op.kind == "add":
            sources.sort(key=lambda source: height[source], reverse=not LAYOUTS[layout].shortcut_first)
        line = KERAS_LINES[layer.op.kind](layer, named)
        if layer.op.kind == "dense" and _next_softmax(graph, layer) in folded:
            line = line[:-1] + ', activation="softmax")'
        steps.append((layer.name, line, sources, comment))
    return steps


def _identifier(name: str) -> str:
    text = "".join(ch if ch.isalnum() else "_" for ch in name)
    return text if text[:1].isalpha() else "v_" + text


def _keras_same(layer: Layer) -> bool:
    """Keras' ``padding="same"`` is the spec's symmetric padding only at stride 1 with an odd kernel."""
    op = layer.op
    return op.stride == 1 and op.kernel % 2 == 1 and op.padding == op.kernel // 2


def _next_softmax(graph: Graph, layer: Layer) -> str:
    for other in graph:
        if other.op.kind == "softmax" and other.inputs == (layer.name,):
            return other.name
    return ""


def _folds(graph: Graph) -> dict[str, str]:
    """Layers Keras has no layer for: a flatten after a global pool (which flattens already), a
    softmax right after its Dense (``Dense(..., activation="softmax")``, as both Keras codes write it)."""
    kinds = {layer.name: layer.op.kind for layer in graph}
    folded = {}
    for layer in graph:
        source = layer.inputs[0] if layer.inputs else ""
        if layer.op.kind == "flatten" and kinds.get(source) == "global_avg_pool":
            folded[layer.name] = source
        if layer.op.kind == "softmax" and kinds.get(source) == "dense":
            folded[layer.name] = source
    return folded
