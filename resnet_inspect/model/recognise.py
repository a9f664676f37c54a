"""From a framework's graph back to a spec: one neutral graph record, one recogniser.

Every importer (:mod:`..io.importers`: a ``.keras`` archive's ``config.json``, an ONNX graph, a
torchvision state dict) turns its file into a :class:`NetGraph`: nodes whose ``op`` is one of our
own op records (:mod:`.ops`), the file's name for each, and their inputs. Nothing here knows which
format a graph came from. :func:`recognise` then reads it the way a person reads a ResNet: the
stem, then one residual block after another (each block cut at its ``Add``: a main branch and a
shortcut), then the head. A block's kind is looked up among the kinds :data:`.graph.BLOCKS` builds
(their signatures are *learnt* by building one small network per kind, so a new row there is
recognised with no change here), its shortcut among :data:`.graph.SHORTCUTS`. Last, the spec so
recovered is built again and compared with the file's graph op by op; the first node that differs
is named. A graph the spec language cannot express is one :class:`RecogniseError` naming its first
node that does not fit.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any

from ..core.errors import InspectError, Location
from ..core.records import record
from ..core.usertext import excerpt, visible
from ..language.spec import Conventions, Framework, HeadSpec
from .layouts import DEFAULT_LAYOUT, LAYOUTS
from .ops import Add, AvgPool, BatchNorm, Conv2D, Dense, Flatten, Input, MaxPool, Op, ReLU, Softmax, ZeroPad


class RecogniseError(InspectError):
    """The file's graph is not a network the spec language can express (one line, naming the node)."""


@record
class Node:
    """One node of a framework's graph: the file's own name, our op, and its inputs (by name)."""

    name: str
    op: Op
    inputs: tuple[str, ...] = ()


@record
class Assumed:
    """Something the file cannot tell: the spec field, what was chosen, and what else it could be."""

    field: str  # "conventions.stride_on", "conventions.bn_epsilon", ...
    chosen: str
    alternatives: tuple[str, ...]
    why: str

    def line(self) -> str:
        others = f"; also possible: {', '.join(self.alternatives)}" if self.alternatives else ""
        return f"{self.field}: {self.why}; chose {self.chosen}{others}"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "chosen": self.chosen, "alternatives": list(self.alternatives), "why": self.why}


@record
class NetGraph:
    """A framework's graph in neutral form: what every importer hands the recogniser."""

    source: str  # what the file was: "ONNX model", "Keras archive", "torchvision state dict"
    framework: str  # a key of SOURCES ("torch", "keras", "onnx"): whose defaults fill what the file does not say
    nodes: tuple[Node, ...]
    assumed: tuple[Assumed, ...] = ()
    bn_folded: bool = False  # an exporter folded each BatchNorm into its conv (torch.onnx in eval mode)
    dense_name: str | None = None  # the head's dense layer as the file names it, when that is a spec name
    constructor: Framework | None = None  # the framework constructor the file names (a .keras: "resnet50")


@record
class Source:
    """What a framework would have used where its file is silent (torchvision / keras.applications),
    and which of the spec's framework-facing fields its file does tell."""

    conv_bias: bool
    bn_epsilon: float
    preprocessing: Mapping[str, str]  # block kind -> preprocessing ("*": any other kind)
    dense_name: str
    activation: str
    param_count: str | None  # conventions.param_count: the framework's own count; None: the file does not say whose
    # the residual Add's input order, shortcut first or not -> conventions.keras_layout; empty: the order
    # is not a Keras code's (torch's ``out += identity`` is no layer), so the spec's default layout stays
    layouts: Mapping[bool, str]


KERAS_ORDERS = {layout.shortcut_first: name for name, layout in LAYOUTS.items()}
TORCH = Source(False, 1e-5, {"*": "torch"}, "fc1000", "none", "torch", {})
SOURCES: dict[str, Source] = {
    "torch": TORCH,  # a torchvision state dict; an ONNX file torch.onnx wrote (producer "pytorch")
    "keras": Source(True, 1.001e-5, {"*": "caffe", "preact_bottleneck": "tf"}, "predictions", "softmax", "keras",
                    KERAS_ORDERS),
    # an ONNX file of another or no producer: torch's defaults (most published ONNX ResNets are torch
    # exports), but whose parameter count it follows is not known
    "onnx": replace(TORCH, param_count=None),
}
SPEC_DEFAULTS = {f.name: f.default for f in fields(Conventions)}
# A shortcut branch as the recogniser sees it (its op tokens) -> the key of graph.SHORTCUTS
SHORTCUT_TOKENS = {(): "identity", ("conv1",): "conv", ("max_pool",): "max_pool"}
MAX_NODES = 100_000  # a graph beyond this is refused before it is walked (ResNet-1001: ~3,400 here)


# --------------------------------------------------------------------------- the walk


@dataclass
class Block:
    """One residual block as found: the nodes of its main branch (a pre-activation included),
    its shortcut's, the Add, and the ReLU after it (None in a pre-activation network)."""

    main: list[Node]
    shortcut: list[Node]
    add: Node
    post: Node | None
    main_first: bool  # the Add lists the main branch first (Keras' "blog" layout; torch's ``out += identity``)

    @property
    def output(self) -> Node:
        return self.post or self.add

    def convs(self) -> list[Conv2D]:
        return [n.op for n in self.main if isinstance(n.op, Conv2D)]

    def signature(self) -> tuple[str, ...]:
        return tuple(_token(n.op) for n in self.main if _token(n.op)) + (("post_relu",) if self.post else ())

    def shortcut_kind(self) -> str | None:
        return SHORTCUT_TOKENS.get(tuple(_token(n.op) for n in self.shortcut if _token(n.op)))


@dataclass
class Walk:
    stem: list[Node]
    blocks: list[Block]
    head: list[Node]
    folded: bool = False
    order: list[Node] = field(default_factory=list)


def _token(op: Op) -> str:
    """An op as block signatures see it: kind and kernel; BN is left out (an exporter may fold it)."""
    if isinstance(op, Conv2D):
        return f"conv{op.kernel}"
    if isinstance(op, BatchNorm):
        return ""
    return op.kind


def fail(node: Node | str, message: str) -> RecogniseError:
    name = node.name if isinstance(node, Node) else node
    return RecogniseError(f"node {visible(excerpt(name, 80))!r}: {message}", where=None)


def topological(nodes: tuple[Node, ...]) -> list[Node]:
    """Nodes in an order where each follows its inputs; a cycle or a dangling input is one error."""
    if len(nodes) > MAX_NODES:
        raise RecogniseError(f"the graph has {len(nodes):,} nodes; at most {MAX_NODES:,} are read")
    by_name: dict[str, Node] = {}
    for node in nodes:
        if node.name in by_name:
            raise fail(node, "two nodes have this name")
        by_name[node.name] = node
    waiting = {n.name: len(n.inputs) for n in nodes}
    users: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        for source in node.inputs:
            if source not in by_name:
                raise fail(node, f"reads {visible(excerpt(source, 80))!r}, which no node makes")
            users[source].append(node.name)
    ready = deque(n.name for n in nodes if not n.inputs)
    order: list[Node] = []
    while ready:
        name = ready.popleft()
        order.append(by_name[name])
        for user in users[name]:
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    if len(order) != len(nodes):
        stuck = next(n for n in nodes if waiting[n.name] > 0)
        raise fail(stuck, "the graph has a cycle through this node (a network's graph has none)")
    return order


def normalise(nodes: tuple[Node, ...]) -> list[Node]:
    """Topological order with each zero padding folded into the conv or max pool it feeds (Keras
    and our graph pad with a layer, ONNX and torch with the op's ``pads``) and flattens dropped."""
    order = topological(nodes)
    users: dict[str, list[Node]] = defaultdict(list)
    for node in order:
        for source in node.inputs:
            users[source].append(node)
    rename: dict[str, str] = {}
    padding: dict[str, int] = {}
    out: list[Node] = []
    for node in order:
        inputs = tuple(rename.get(i, i) for i in node.inputs)
        op = node.op
        after = users[node.name]
        if isinstance(op, ZeroPad) and len(after) == 1 and isinstance(after[0].op, (Conv2D, MaxPool)) \
                and not isinstance(after[0].op, AvgPool) and after[0].op.padding == 0:
            rename[node.name], padding[after[0].name] = inputs[0], op.pad
            continue
        if isinstance(op, Flatten):
            rename[node.name] = inputs[0]
            continue
        if node.name in padding:
            op = _replace(op, padding=padding[node.name])
        out.append(Node(node.name, op, inputs))
    return out


def _replace(op: Op, **changes: Any) -> Op:
    return replace(op, **changes)


def walk(nodes: tuple[Node, ...]) -> Walk:
    """Cut a normalised graph into stem, blocks and head, or name the first node that doesn't fit."""
    order = normalise(nodes)
    by_name = {n.name: n for n in order}
    position = {n.name: i for i, n in enumerate(order)}
    users: dict[str, list[Node]] = defaultdict(list)
    for node in order:
        for source in node.inputs:
            users[source].append(node)
    if not order or not isinstance(order[0].op, Input):
        raise fail(order[0] if order else "(none)", "a network starts with its input")
    inputs = [n for n in order if isinstance(n.op, Input)]
    if len(inputs) > 1:
        raise fail(inputs[1], "a second input; a ResNet has one")
    x, stem = _stem(order, users)
    blocks: list[Block] = []
    while True:
        add = next((n for n in order[position[x.name] + 1:] if isinstance(n.op, Add)), None)
        if add is None:
            break
        block = _block(x, add, by_name, users, order, position)
        blocks.append(block)
        x = block.output
    if not blocks:
        after = order[position[x.name] + 1:]
        raise fail(after[0] if after else x, "the first node after the stem, and no residual Add follows: not a ResNet")
    head = order[position[x.name] + 1:]
    return Walk(stem, blocks, head, order=order)


def _stem(order: list[Node], users: dict[str, list[Node]]) -> tuple[Node, list[Node]]:
    """Input, conv, [BN], [ReLU], [max pool]: what runs before the first block."""
    x = order[0]
    stem = [x]
    allowed = (Conv2D, BatchNorm, ReLU, MaxPool)
    for index, kind in enumerate(allowed):
        after = users[x.name]
        if len(after) != 1 or type(after[0].op) is not kind:
            if index == 0:
                raise fail(after[0] if after else x, "the stem starts with a convolution; "
                           f"found {after[0].op.title if after else 'nothing'}")
            continue
        x = after[0]
        stem.append(x)
    return x, stem


def _block(x: Node, add: Node, by_name: dict[str, Node], users: dict[str, list[Node]], order: list[Node],
           position: dict[str, int]) -> Block:
    if len(add.inputs) != 2:
        raise fail(add, f"an Add of {len(add.inputs)} inputs; a residual block adds two")
    paths = [_back(by_name[i], x, by_name, add) for i in add.inputs]
    prefix: list[Node] = []
    while paths[0] and paths[1] and paths[0][0] is paths[1][0]:
        prefix.append(paths[0].pop(0))
        paths[1].pop(0)
    convs = [sum(isinstance(n.op, Conv2D) for n in p) for p in paths]
    main_index = 0 if convs[0] > convs[1] or (convs[0] == convs[1] and len(paths[0]) >= len(paths[1])) else 1
    main, shortcut = prefix + paths[main_index], paths[1 - main_index]
    inside = {n.name for n in main + shortcut} | {add.name}
    for node in order[position[x.name] + 1:position[add.name]]:
        if node.name not in inside:
            raise fail(node, "a node inside a residual block on neither its main branch nor its shortcut")
    after = users[add.name]
    post = after[0] if len(after) == 1 and isinstance(after[0].op, ReLU) else None
    return Block(main, shortcut, add, post, main_first=main_index == 0)


def _back(node: Node, x: Node, by_name: dict[str, Node], add: Node) -> list[Node]:
    """The chain of single-input nodes from ``x`` (excluded) to ``node``, in execution order."""
    chain: list[Node] = []
    while node is not x:
        if len(node.inputs) != 1 or isinstance(node.op, Input):
            raise fail(node, f"a residual branch of Add {visible(excerpt(add.name, 60))!r} that does not start "
                             "at the block's input (a branch across blocks, or a second merge)")
        chain.append(node)
        if len(chain) > 64:
            raise fail(add, "a residual branch longer than 64 nodes")
        node = by_name[node.inputs[0]]
    return chain[::-1]


# --------------------------------------------------------------------------- block kinds, learnt


@lru_cache(maxsize=1)
def head_pools() -> dict[type, str]:
    """Each ``head.pool`` value by the op type its ``avg_pool`` is, learnt from :data:`.graph.HEAD_POOLS`
    itself (a new row there is recognised with no change here): ``AvgPool`` is ``avg``, ``GlobalAvgPool``
    (then a flatten) ``global``, ``GlobalAvgPoolFlat`` (Keras' vector, no flatten) ``global_flat``."""
    from .graph import HEAD_POOLS

    probe = HeadSpec("", 7, 1, "fc", "none", Location("<learn>"))
    return {type(row.make(probe)): pool for pool, row in HEAD_POOLS.items()}


@lru_cache(maxsize=1)
def block_signatures() -> dict[tuple[str, ...], str]:
    """Each block kind's signature, learnt by building a two-block network of that kind with
    :data:`.graph.BLOCKS` itself (so the table stays the one place a block kind is defined)."""
    from ..language.spec import BLOCK_FILTERS, parse_spec
    from .graph import BLOCKS, build_graph

    signatures: dict[tuple[str, ...], str] = {}
    for kind in BLOCKS:
        filters = ", ".join(["8"] * (BLOCK_FILTERS[kind] - 1) + ["16"])
        spec = parse_spec(f"name: learn\ninput: [64, 64, 3]\nblock: {kind}\n"
                          "stem: {pad: 3, conv: {filters: 8, kernel: 7, stride: 2}, pool: {size: 3, stride: 2}}\n"
                          f"stages:\n  - {{stage: 2, filters: [{filters}], blocks: 2, stride: 2}}\n"
                          "head: {pool: global, dense: {units: 10}}\n", f"<{kind}>")
        found = walk(graph_nodes(build_graph(spec)))
        for block in found.blocks:
            signatures.setdefault(block.signature(), kind)
    return signatures


def graph_nodes(graph: Any) -> tuple[Node, ...]:
    """Our own graph (:class:`.graph.Graph`) as a neutral one: the recogniser's check of its result."""
    return tuple(Node(layer.name, layer.op, layer.inputs) for layer in graph)


# --------------------------------------------------------------------------- recognising


@record
class Recognised:
    """A spec recovered from a graph: its data (as a spec file holds it) and what was assumed."""

    data: dict
    assumed: tuple[Assumed, ...]
    nodes: int


def recognise(net: NetGraph, name: str) -> Recognised:
    """The spec (as data) that builds ``net``, checked by building it again; or one error line."""
    found = walk(net.nodes)
    assumed = list(net.assumed)
    defaults = SOURCES[net.framework]
    kinds = block_signatures()
    blocks = found.blocks
    kind_of = []
    for block in blocks:
        kind = kinds.get(block.signature())
        if kind is None:
            raise fail(block.add, f"a residual block of {' → '.join(block.signature())}, which no block kind of "
                                  f"the spec language builds ({', '.join(sorted(set(kinds.values())))})")
        if block.shortcut_kind() is None:
            raise fail(block.shortcut[0], "a shortcut of " + " → ".join(n.op.title for n in block.shortcut)
                       + "; the spec language has identity, 1x1 conv and max pool shortcuts")
        kind_of.append(kind)
    if len(set(kind_of)) > 1:
        changed = next(b for b, k in zip(blocks, kind_of) if k != kind_of[0])
        raise fail(changed.add, f"a {kind_of[blocks.index(changed)]} block after {kind_of[0]} blocks; a spec has one block kind")
    stem_conv = next(n.op for n in found.stem if isinstance(n.op, Conv2D))
    bns = [n.op for n in found.order if isinstance(n.op, BatchNorm)]
    folded = net.bn_folded or not bns
    conventions: dict[str, Any] = {}
    if folded:
        conventions["conv_bias"] = defaults.conv_bias
        conventions["bn_epsilon"] = defaults.bn_epsilon
        assumed.append(Assumed("conventions.conv_bias", str(defaults.conv_bias).lower(),
                               (str(not defaults.conv_bias).lower(),),
                               "the exporter folded each BatchNorm into its conv, so conv biases and BN are merged"))
        assumed.append(Assumed("conventions.bn_epsilon", repr(defaults.bn_epsilon),
                               tuple(e for e in ("1e-05", "1.001e-05", "0.001") if e != repr(defaults.bn_epsilon)),
                               "BatchNorm was folded into the convs: its epsilon is not in the file"))
    else:
        conventions["conv_bias"] = stem_conv.bias
        conventions["bn_epsilon"] = bns[0].epsilon
    stages, stride_on, stride_block, strided_shortcut = _stages(blocks)
    conventions["stride_on"] = stride_on or "3x3"
    pool = next((n.op for n in found.stem if isinstance(n.op, MaxPool)), None)
    conventions["pool_padding"] = pool.padding if pool else 0
    preprocessing = defaults.preprocessing.get(kind_of[0], defaults.preprocessing["*"])
    conventions["preprocessing"] = preprocessing
    assumed.append(Assumed("conventions.preprocessing", preprocessing,
                           tuple(p for p in ("caffe", "torch", "tf") if p != preprocessing),
                           "a model file does not say how its images were preprocessed"))
    if stride_block != "first":
        conventions["stride_block"] = stride_block
    if strided_shortcut != "conv":
        conventions["strided_shortcut"] = strided_shortcut
    layout = _layout(blocks, defaults, assumed)
    if layout != SPEC_DEFAULTS["keras_layout"]:
        conventions["keras_layout"] = layout
    _param_count(conventions, defaults, net, assumed)
    input_shape = found.stem[0].op.shape
    data: dict[str, Any] = {
        "name": name,
        "description": "",
        "input": [int(d) for d in input_shape],
    }
    if net.constructor is not None and layout == DEFAULT_LAYOUT:  # keras.applications builds its own layout only
        data["framework"] = {"name": net.constructor.name, "min_input": net.constructor.min_input}
    if kind_of[0] != "bottleneck":
        data["block"] = kind_of[0]
    data["conventions"] = conventions
    stem: dict[str, Any] = {"pad": stem_conv.padding,
                            "conv": {"filters": stem_conv.filters, "kernel": stem_conv.kernel, "stride": stem_conv.stride}}
    if pool is not None:
        stem["pool"] = {"size": pool.size, "stride": pool.stride}
    data["stem"] = stem
    data["stages"] = stages
    named = _named_blocks(blocks, stages)
    if named is not None:
        for stage, naming in zip(stages, named):
            if naming == "numbered":
                stage["block_naming"] = "numbered"
    elif max(stage["blocks"] for stage in stages) > 6:
        for stage in stages:
            if stage["blocks"] > 3:
                stage["block_naming"] = "numbered"
        assumed.append(Assumed("stages.block_naming", "numbered (a, b1, b2, ...) in stages of more than 3 blocks",
                               ("letters (a, b, c, ...)",), "block names are not in the file; Caffe's ResNet-101/152 "
                               "number the blocks of their long stages"))
    data["head"] = _head(found.head, net, defaults, assumed)
    return Recognised(data, tuple(assumed), len(found.order))


def _layout(blocks: list[Block], source: Source, assumed: list[Assumed]) -> str:
    """``conventions.keras_layout`` from the order each residual Add lists its inputs, where the file's
    order is a Keras code's (:data:`.layouts.LAYOUTS`: shortcut first in keras.applications, main path
    first in the blog's code); otherwise the spec's default layout."""
    if not source.layouts:
        return DEFAULT_LAYOUT
    found = [source.layouts[not block.main_first] for block in blocks]
    if len(set(found)) > 1:
        other = next(layout for layout in found if layout != found[0])
        assumed.append(Assumed("conventions.keras_layout", found[0], (other,),
                               f"the file's residual adds list their inputs in both orders ({found.count(other)} of "
                               f"{len(found)} as the {other} layout); a spec has one layout"))
    return found[0]


def _param_count(conventions: dict[str, Any], source: Source, net: NetGraph, assumed: list[Assumed]) -> None:
    """``conventions.param_count``: the source framework's own count (torch's leaves BN running stats
    out), written when it is not the spec's default; when the file does not say its framework, the
    default, said so."""
    default = SPEC_DEFAULTS["param_count"]
    if source.param_count is None:
        assumed.append(Assumed("conventions.param_count", default, ("torch",), f"the {net.source} does not say "
                               "which framework made it, so not whose parameter count it follows"))
    elif source.param_count != default:
        conventions["param_count"] = source.param_count


def _stages(blocks: list[Block]) -> tuple[list[dict], str | None, str, str]:
    """Blocks grouped into stages: a stage starts at the first block and at each projection."""
    groups: list[list[Block]] = []
    for block in blocks:
        if not groups or block.shortcut_kind() == "conv":
            groups.append([])
        groups[-1].append(block)
    stages, stride_on, stride_block, strided_shortcut = [], None, "first", "conv"
    for number, group in enumerate(groups, start=2):
        first = group[0]
        filters = [c.filters for c in first.convs()]
        grouped = max(c.groups for c in first.convs())
        strides = [(i, _stride(b)) for i, b in enumerate(group) if _stride(b) > 1]
        for block in group[1:]:
            if [c.filters for c in block.convs()] != filters or max(c.groups for c in block.convs()) != grouped:
                raise fail(block.add, f"a block whose widths differ from its stage's first ({filters}); a stage "
                                      "has one width and a new one starts with a projection shortcut")
        if len(strides) > 1:
            raise fail(group[strides[1][0]].add, "a second strided block in one stage")
        stage: dict[str, Any] = {"stage": number, "filters": filters, "blocks": len(group),
                                 "stride": strides[0][1] if strides else 1}
        if grouped > 1:
            stage["groups"] = grouped
        if first.shortcut_kind() != "conv":
            stage["first_block"] = first.shortcut_kind()
        if strides:
            index, _ = strides[0]
            where = "first" if index == 0 else "last" if index == len(group) - 1 else None
            if where is None:
                raise fail(group[index].add, "a strided block in the middle of a stage; the stride sits on its first or last block")
            stride_block = where if index or len(group) == 1 else stride_block
            if where == "last" and index:
                strided_shortcut = group[index].shortcut_kind() or "conv"
            conv = next(c for c in group[index].convs() if c.stride > 1)
            if len(filters) == 3:
                stride_on = "1x1" if conv.kernel == 1 else "3x3"
        stages.append(stage)
    return stages, stride_on, stride_block, strided_shortcut


def _named_blocks(blocks: list[Block], stages: list[dict]) -> list[str] | None:
    """Each stage's block naming, when the file names its adds as our graph does (``res4b`` or
    ``res4b1``: a file this tool exported); None when the names do not say."""
    import re

    namings, start = [], 0
    for stage in stages:
        group = blocks[start:start + stage["blocks"]]
        start += stage["blocks"]
        if len(group) < 2:
            namings.append("letters")
            continue
        match = re.fullmatch(r"res\d+b(\d*)", group[1].add.name)
        if match is None:
            return None
        namings.append("numbered" if match[1] else "letters")
    return namings


def _stride(block: Block) -> int:
    stride = 1
    for conv in block.convs():
        stride *= conv.stride
    return stride


def _head(head: list[Node], net: NetGraph, defaults: Source, assumed: list[Assumed]) -> dict[str, Any]:
    """[BN, ReLU] (pre-activation), a pool (:func:`head_pools`), a dense layer, [softmax]."""
    ops = list(head)
    while ops and isinstance(ops[0].op, (BatchNorm, ReLU)):
        ops.pop(0)
    pools = head_pools()
    if not ops or type(ops[0].op) not in pools:
        raise fail(ops[0] if ops else head[-1] if head else "(end)", "the head starts with an average pool")
    pool = ops.pop(0)
    out: dict[str, Any] = {"pool": pools[type(pool.op)]}
    window = pool.op.window()
    if window is not None:  # a fixed window (the blog's 7x7 AveragePooling2D): its size is the spec's pool_size
        out["pool_size"] = window[0]
    if not ops or not isinstance(ops[0].op, Dense):
        raise fail(ops[0] if ops else pool, "the head's pool is followed by one dense layer")
    dense = ops.pop(0)
    activation = "none"
    if ops and isinstance(ops[0].op, Softmax):
        activation = "softmax"
        ops.pop(0)
    if ops:
        raise fail(ops[0], f"a {ops[0].op.title} after the head's dense layer")
    if net.source == "torchvision state dict":
        activation = defaults.activation
        assumed.append(Assumed("head.activation", "none", ("softmax",),
                               "a state dict holds the fc's weights, not whether softmax follows"))
    out["dense"] = {"units": dense.op.units, "name": net.dense_name or defaults.dense_name, "activation": activation}
    return out


# --------------------------------------------------------------------------- the check


def same_network(net: NetGraph, built: Any, folded: bool) -> None:
    """The recovered spec's graph against the file's, op by op in the recogniser's reading order;
    the first node that differs is one error (the spec language could not express it)."""
    ours, theirs = walk(graph_nodes(built)), walk(net.nodes)
    pairs = list(zip(_sequence(ours, folded), _sequence(theirs, folded)))
    for mine, node in pairs:
        if _key(mine.op, folded) != _key(node.op, folded):
            raise fail(node, f"is {_describe(node.op)}, where the recovered spec builds {_describe(mine.op)}")
    a, b = _sequence(ours, folded), _sequence(theirs, folded)
    if len(a) != len(b):
        extra = b[len(a)] if len(b) > len(a) else b[-1]
        raise fail(extra, "the graph has a different number of layers than the recovered spec builds")


def _sequence(w: Walk, folded: bool) -> list[Node]:
    nodes = list(w.stem)
    for block in w.blocks:
        nodes += block.main + block.shortcut + [block.add] + ([block.post] if block.post else [])
    nodes += w.head
    return [n for n in nodes if not (folded and isinstance(n.op, BatchNorm)) and not isinstance(n.op, Input)]


def _key(op: Op, folded: bool) -> tuple:
    from dataclasses import fields

    values = {f.name: getattr(op, f.name) for f in fields(op)}
    if folded:
        values.pop("bias", None)
    if isinstance(op, BatchNorm):
        values["epsilon"] = round(values["epsilon"], 12)
    return (type(op).__name__, tuple(sorted(values.items())))


def _describe(op: Op) -> str:
    from dataclasses import fields

    return f"{op.title}(" + ", ".join(f"{f.name}={getattr(op, f.name)}" for f in fields(op)) + ")"


def location(file: str) -> Location:
    return Location(visible(file))
