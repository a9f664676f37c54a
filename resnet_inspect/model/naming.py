"""One mapping table: each layer of a graph under the blog's, Caffe's, Keras 3's and torchvision's names.

The graph names its layers as the blog does (``res3a_branch2a``). A layer's *role* is its name with
the block's part replaced by ``{n}`` (``res{n}_branch2a``), or the name itself in the stem and head;
:data:`TABLE` gives each role's template in every scheme. Templates fill in the block as that
framework counts it: ``{n}`` the blog's ``3a`` / ``4b1``; ``{k}`` Keras' ``conv3_block1``
(stages from their number, blocks from 1); ``{t}`` torchvision's ``layer2.0`` (stages from 1,
blocks from 0). ``None`` says the framework has no such layer: torchvision reuses one ``relu``
module and pads inside its convs and pools; Keras folds the softmax into ``predictions``; Caffe
pads inside its layers. A template ``#cls`` is a layer Keras names by counter (it passes no
``name=``): the first is ``cls``, then ``cls_1``, ``cls_2``, ... in the order the layers are made,
as in a fresh Keras session (``input_layer``; V2's shortcut pools ``max_pooling2d``, ``_1``, ``_2``).
Caffe's BatchNorm is two layers (``bn…`` then ``scale…``) and is shown as both.

A weight array is named as its framework names it: each op's ``torch_params`` (:mod:`.ops`) gives
torchvision's parameter for each of our keys (``layer1.0.bn1.running_var``); Keras 3 uses our keys
(``conv2_block1_1_bn/moving_variance``); Caffe keeps a BN's statistics in its ``bn…`` layer and
its gamma/beta in the ``scale…`` layer (:data:`CAFFE_SCALE_KEYS`).

The weight loaders and the CLI both read names from here (``names_in``, :class:`Shown`); there is
no second copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from ..core.records import record
from ..core.errors import InspectError
from ..core.text import to_json
from .graph import Graph, Layer
from .ops import OPS

SCHEMES = ("blog", "caffe", "keras3", "torchvision")
MISSING = "—"  # shown where a framework has no layer of its own for one of ours

# role (blog template) -> (caffe, keras3, torchvision); the blog column is the role itself.
TABLE: dict[str, tuple[str | None, str | None, str | None]] = {
    # stem
    "input": ("data", "#input_layer", None),  # keras.Input(): named by Keras' counter
    "conv1_pad": (None, "conv1_pad", None),
    "conv1": ("conv1", "conv1_conv", "conv1"),
    "bn_conv1": ("bn_conv1 + scale_conv1", "conv1_bn", "bn1"),
    "conv1_relu": ("conv1_relu", "conv1_relu", None),
    "pool1_pad": (None, "pool1_pad", None),
    "pool1": ("pool1", "pool1_pool", "maxpool"),
    # a block
    "bn{n}_preact": ("bn{n}_preact + scale{n}_preact", "{k}_preact_bn", None),
    "res{n}_preact_relu": ("res{n}_preact_relu", "{k}_preact_relu", None),
    "res{n}_branch1": ("res{n}_branch1", "{k}_0_conv", "{t}.downsample.0"),
    "bn{n}_branch1": ("bn{n}_branch1 + scale{n}_branch1", "{k}_0_bn", "{t}.downsample.1"),
    "res{n}_branch1_pool": (None, "#max_pooling2d", None),  # V2's MaxPooling2D(1, strides=2): by counter
    "res{n}_branch2a": ("res{n}_branch2a", "{k}_1_conv", "{t}.conv1"),
    "bn{n}_branch2a": ("bn{n}_branch2a + scale{n}_branch2a", "{k}_1_bn", "{t}.bn1"),
    "res{n}_branch2a_relu": ("res{n}_branch2a_relu", "{k}_1_relu", None),
    "res{n}_branch2b_pad": (None, "{k}_2_pad", None),
    "res{n}_branch2b": ("res{n}_branch2b", "{k}_2_conv", "{t}.conv2"),
    "bn{n}_branch2b": ("bn{n}_branch2b + scale{n}_branch2b", "{k}_2_bn", "{t}.bn2"),
    "res{n}_branch2b_relu": ("res{n}_branch2b_relu", "{k}_2_relu", None),
    "res{n}_branch2c": ("res{n}_branch2c", "{k}_3_conv", "{t}.conv3"),
    "bn{n}_branch2c": ("bn{n}_branch2c + scale{n}_branch2c", "{k}_3_bn", "{t}.bn3"),
    "res{n}": ("res{n}", "{k}_add", None),  # Keras V2 blocks end at the add: {k}_out (see _keras_block_end)
    "res{n}_relu": ("res{n}_relu", "{k}_out", None),
    # head
    "bn_post": ("bn_post + scale_post", "post_bn", None),
    "post_relu": ("post_relu", "post_relu", None),
    "avg_pool": ("pool5", "avg_pool", "avgpool"),
    "flatten": (None, None, None),  # Caffe's InnerProduct, Keras' Dense after a global pool, torch.flatten
    "{dense}": ("{dense}", "predictions", "fc"),
    "{dense}_softmax": ("prob", None, None),  # Keras: Dense(activation="softmax") is one layer
}

# Weighted layers torchvision has no module for (a V2 block's pre-activation BN, the head's BN):
# the module path a PyTorch model needs to hold them. `export --to pytorch` builds these modules and
# `weights convert --names torchvision` writes (and the safetensors reader reads) these keys.
TORCH_EXTRA: dict[str, str] = {"bn{n}_preact": "{t}.preact_bn", "bn_post": "post_bn"}

CAFFE_SCALE_KEYS = ("gamma", "beta")  # Caffe: a BN's scale and shift live in its Scale layer


@record
class LayerNames:
    """One row of ``resnet-inspect names``: a layer and its name in each scheme (None: no such layer)."""

    name: str
    op: str
    blog: str
    caffe: str | None
    keras3: str | None
    torchvision: str | None

    def under(self, scheme: str) -> str | None:
        return getattr(self, scheme)


@record
class _Place:
    """Where a layer sits, in every framework's counting."""

    role: str
    n: str = ""
    k: str = ""
    t: str = ""
    dense: str = ""


@record
class NameTable:
    """What ``resnet-inspect names`` prints: every layer under every scheme, in execution order."""

    spec: str
    rows: tuple[LayerNames, ...]

    @classmethod
    def of(cls, graph: Graph) -> "NameTable":
        return cls(graph.spec.name, tuple(name_table(graph)))

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``names --format json``: null where a framework has no such layer."""
        return {"spec": self.spec, "schemes": list(SCHEMES), "layers": [asdict(row) for row in self.rows]}

    def to_json(self) -> str:
        return to_json(self.to_dict())


def name_table(graph: Graph) -> list[LayerNames]:
    """Every layer of ``graph`` under every scheme, in execution order."""
    places = _places(graph)
    counters: dict[str, int] = {}  # Keras' per-class counter of auto-named layers, in creation order
    rows = []
    for layer in graph:
        place = places[layer.name]
        if place.role not in TABLE:
            raise InspectError(f"layer {layer.name}: no naming rule for role {place.role!r}", layer=layer.name)
        caffe, keras3, torchvision = (_fill(template, place, counters) for template in TABLE[place.role])
        rows.append(LayerNames(layer.name, layer.op.kind, layer.name, caffe, keras3, torchvision))
    return _keras_block_end(rows, places)


def names_in(graph: Graph, scheme: str) -> dict[str, str | None]:
    """Blog name -> the name in ``scheme`` (None where that framework has no such layer).

    The weight loaders use this: ``names_in(graph, "torchvision")`` gives module paths
    (``layer1.0.conv1``), ``names_in(graph, "keras3")`` Keras 3's layer names (``conv2_block1_1_conv``).
    """
    check_scheme(scheme)
    return {row.name: row.under(scheme) for row in name_table(graph)}


def torch_modules(graph: Graph) -> dict[str, str]:
    """Blog name -> PyTorch module path for every weighted layer: torchvision's, else :data:`TORCH_EXTRA`'s."""
    places = _places(graph)
    modules, counters = {}, {}  # torch modules are never counter-named; the counters only keep _fill's contract
    for row in name_table(graph):
        layer_op = OPS[row.op]
        if not layer_op.torch_params:
            continue
        path = row.torchvision if row.torchvision is not None else _fill(TORCH_EXTRA.get(places[row.name].role),
                                                                        places[row.name], counters)
        if path is None:
            raise InspectError(f"layer {row.name}: no PyTorch module name for role {places[row.name].role!r}",
                               layer=row.name)
        modules[row.name] = path
    return modules


@record
class Shown:
    """How a command names layers and weight arrays in what it prints: under one scheme.

    ``run`` and ``weights`` print names only in their errors (a missing array, a NaN, a Dense
    layer the input size does not fit); with ``--names torchvision`` those say
    ``layer1.0.conv1.weight`` instead of ``res2a_branch2a/kernel``. A layer the framework does
    not have keeps our name, marked so, rather than an invented one.
    """

    scheme: str = "blog"
    names: Mapping[str, str | None] | None = None  # blog -> scheme; None: the blog's own
    kinds: Mapping[str, str] | None = None  # blog -> op kind, for torchvision's parameter names

    def layer(self, name: str) -> str:
        if self.names is None or name not in self.names:
            return name
        other = self.names[name]
        return other if other is not None else f"{name} (no {self.scheme} layer)"

    def array(self, layer: str, key: str) -> str:
        if self.names is None or layer not in self.names:
            return f"{layer}/{key}"
        other = self.names[layer]
        if other is None:
            return f"{layer}/{key} (no {self.scheme} layer)"
        return ARRAY_NAMES[self.scheme](other, (self.kinds or {}).get(layer, ""), key)


def _slash(layer: str, kind: str, key: str) -> str:
    """Keras (and our .npz): ``layer/key``."""
    return f"{layer}/{key}"


def _torch_param(module: str, kind: str, key: str) -> str:
    """torchvision's state-dict key: ``module.param``."""
    op = OPS.get(kind)
    return f"{module}.{op.torch_params.get(key, key) if op is not None else key}"


def _caffe_blob(layer: str, kind: str, key: str) -> str:
    """Caffe's BN is ``bn… + scale…``: the statistics in the first, gamma/beta in the second."""
    bn, _, scale = layer.partition(" + ")
    return f"{scale if scale and key in CAFFE_SCALE_KEYS else bn}/{key}"


ARRAY_NAMES: dict[str, Callable[[str, str, str], str]] = {
    "blog": _slash, "caffe": _caffe_blob, "keras3": _slash, "torchvision": _torch_param}


BLOG = Shown()


def shown(graph: Graph, scheme: str | None = None) -> Shown:
    """The :class:`Shown` of ``scheme`` for ``graph`` (None or ``blog``: names as they are)."""
    scheme = scheme or "blog"
    check_scheme(scheme)
    if scheme == "blog":
        return BLOG
    return Shown(scheme, names_in(graph, scheme), {layer.name: layer.op.kind for layer in graph})


def check_scheme(scheme: str) -> None:
    from ..core import numbers

    numbers.choice(scheme, SCHEMES, "names")


def _fill(template: str | None, place: _Place, counters: dict[str, int]) -> str | None:
    if template is None:
        return None
    if template.startswith("#"):  # named by Keras' counter: cls, cls_1, cls_2, ...
        cls = template[1:]
        number = counters.get(cls, 0)
        counters[cls] = number + 1
        return f"{cls}_{number}" if number else cls
    return template.format(n=place.n, k=place.k, t=place.t, dense=place.dense)


def _places(graph: Graph) -> dict[str, _Place]:
    """Each layer's role and its block's name in each counting, read off the graph's stages and
    blocks (a block's layers are contiguous in execution order, a stage's blocks too)."""
    places = {}
    stages, stage, block, index = 0, "", "", -1
    for layer in graph:
        if layer.block in ("stem", "head"):
            places[layer.name] = _head_or_stem(graph, layer)
            continue
        if layer.stage != stage:
            stages, stage, index = stages + 1, layer.stage, -1
        if layer.block != block:
            block, index = layer.block, index + 1
        n, number = layer.block.removeprefix("res"), layer.stage.removeprefix("stage")
        places[layer.name] = _Place(role=_role(layer.name, n), n=n, k=f"conv{number}_block{index + 1}",
                                    t=f"layer{stages}.{index}")
    return places


def _role(name: str, n: str) -> str:
    """``bn3a_branch2a`` with block ``3a`` -> ``bn{n}_branch2a``."""
    for prefix in ("res", "bn"):
        if name.startswith(prefix + n) and not name[len(prefix + n):][:1].isalnum():
            return prefix + "{n}" + name[len(prefix + n):]
    return name


def _head_or_stem(graph: Graph, layer: Layer) -> _Place:
    dense = graph.spec.head.dense_name
    if layer.name == dense:
        return _Place(role="{dense}", dense=dense)
    if layer.name == f"{dense}_softmax":
        return _Place(role="{dense}_softmax", dense=dense)
    return _Place(role=layer.name)


def _keras_block_end(rows: list[LayerNames], places: dict[str, _Place]) -> list[LayerNames]:
    """Keras names a block's last layer ``_out``: the ReLU after the add in v1, the add itself in V2."""
    has_relu = {places[row.name].k for row in rows if places[row.name].role == "res{n}_relu"}
    result = []
    for row in rows:
        place = places[row.name]
        if place.role == "res{n}" and place.k not in has_relu:
            row = LayerNames(row.name, row.op, row.blog, row.caffe, f"{place.k}_out", row.torchvision)
        result.append(row)
    return result


# --------------------------------------------------------------------------- results under a scheme


def shown_name(names: Mapping[str, str | None] | None, name: str) -> str | None:
    """Our layer ``name`` under ``names`` (from :func:`names_in`): the framework's, None where it
    has none; ours when no scheme was chosen (``names`` None)."""
    return name if names is None else names.get(name)


def printed(shown: str | None) -> str:
    """A shown name as printed in tables: MISSING where the framework has none."""
    return MISSING if shown is None else shown


class ShownNames:
    """Display-only renaming for a result (trace, verify): ``shown_names`` is set by the
    ``rename_*`` functions below. The result keeps our names, which are unique, so whatever is
    computed from it by name stays right; only what is shown changes."""

    shown_names: Mapping[str, str | None] | None

    def shown(self, name: str) -> str | None:
        """``name`` as shown: ours, or the framework's (None where it has none)."""
        return shown_name(self.shown_names, name)

    def label(self, name: str) -> str:
        """``name`` as printed: as :meth:`shown`, MISSING where the framework has none."""
        return printed(self.shown(name))


# how each framework counts a block and a stage (from a block layer's _Place); the blog's and
# Caffe's are our own (Caffe's layers are prefixed res2a…, and it has no stages)
GROUP_NAMES: dict[str, Callable[[_Place, str, str], tuple[str, str]]] = {
    "blog": lambda place, block, stage: (block, stage),
    "caffe": lambda place, block, stage: (block, stage),
    "keras3": lambda place, block, stage: (place.k, place.k.partition("_")[0]),  # conv2_block1, conv2
    "torchvision": lambda place, block, stage: (place.t, place.t.partition(".")[0]),  # layer1.0, layer1
}


def group_names(graph: Graph, scheme: str) -> dict[str, str]:
    """Our block and stage names (``res2a``, ``stage2``) -> ``scheme``'s (``conv2_block1``, ``conv2``;
    ``layer1.0``, ``layer1``); the stem and head keep theirs."""
    check_scheme(scheme)
    names: dict[str, str] = {}
    places = _places(graph)
    for layer in graph:
        if layer.block not in ("stem", "head"):
            block, stage = GROUP_NAMES[scheme](places[layer.name], layer.block, layer.stage)
            names[layer.block], names[layer.stage] = block, stage
    return names
