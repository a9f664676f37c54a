"""Diagrams of a traced network: the blog's block figures and the stage-level network, as a layout.

Computing is kept apart from drawing (as :mod:`.statistics` is from :mod:`.formatting`): this
module turns a graph and its trace into a :class:`Diagram` (boxes with their lines of text, edges
with shape labels, every position and text width computed once), and :mod:`.diagram_render`
writes that one model as SVG, Graphviz DOT or Mermaid. The layout reads only the graph's layers
and their inputs, never the kind of block, so a block with a max-pool shortcut, a pre-activation
block or anything else the spec language grows is drawn as it is wired.

Text widths are estimated for a monospace font (every glyph ``CHAR_EM`` of the font size, East
Asian wide glyphs twice that), which the SVG asks for; the estimate errs wide, so a box drawn
around its estimated text always holds the real text.
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import InspectError, unused
from ..core.text import count, shape_text, si
from ..model.graph import BLOCK_WORDS
from ..model.ops import OPS
from .choices import DIAGRAM_FORMATS, DIAGRAM_LEVELS
from ..core.usertext import excerpt, visible

if TYPE_CHECKING:
    from ..model.graph import Graph, Layer
    from ..language.spec import Spec
    from ..model.statistics import TraceResult

LEVELS, FORMATS = DIAGRAM_LEVELS, DIAGRAM_FORMATS

CHAR_EM = 0.62  # DejaVu Sans Mono and Menlo advance 0.602 em, Consolas 0.55, Courier 0.6
FONT_SIZE = 12.0
LABEL_SIZE = 11.0
TITLE_SIZE = 14.0
LINE = 1.35  # line height, in font sizes
PAD_X, PAD_Y = 12.0, 7.0
MIN_BOX_WIDTH = 170.0
ROW_GAP = 34.0  # between rows: room for an arrow and one shape label
COLUMN_GAP = 36.0
MARGIN = 20.0
LABEL_OFFSET = 6.0  # a label's distance from its edge

# The blog's (Keras') names for what each op kind draws as: each op's own ``title``, by kind for
# the records that keep only the kind (a trace's LayerInfo).
OP_TITLES = {kind: op.title for kind, op in OPS.items()}


def text_width(text: str, size: float) -> float:
    """Estimated advance of ``text`` in the monospace font at ``size`` px (never narrower than drawn)."""
    units = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return units * size * CHAR_EM


_EPSILON = 1e-6  # positions are sums of floats


@dataclass(frozen=True)
class TextBox:
    """One line of text and the rectangle it is given: top-left ``x, y``, ``width`` by ``height``."""

    text: str
    x: float
    y: float
    width: float
    height: float
    size: float
    bold: bool = False
    anchor: str = "start"  # "middle": the writer centres the text in its rectangle

    def overlaps(self, other: "TextBox") -> bool:
        """Rectangles that share area (touching edges, as stacked lines do, is not overlapping)."""
        e = _EPSILON
        return (self.x < other.x + other.width - e and other.x < self.x + self.width - e
                and self.y < other.y + other.height - e and other.y < self.y + self.height - e)

    def inside(self, x: float, y: float, width: float, height: float) -> bool:
        e = _EPSILON
        return (x - e <= self.x and self.x + self.width <= x + width + e and y - e <= self.y
                and self.y + self.height <= y + height + e)


def _text_box(text: str, x: float, y: float, size: float, bold: bool = False, anchor: str = "start") -> TextBox:
    width = text_width(text, size)
    left = x - width / 2 if anchor == "middle" else x
    return TextBox(text, left, y, width, size * LINE, size, bold, anchor)


@dataclass(frozen=True)
class Item:
    """A box before layout: its id (a layer name, unique), style kind and lines (the first bold)."""

    id: str
    kind: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Link:
    source: str
    target: str
    label: str


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    lines: tuple[str, ...]
    x: float
    y: float
    width: float
    height: float
    rank: int
    column: int
    texts: tuple[TextBox, ...]

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    points: tuple[tuple[float, float], ...]
    label_box: TextBox | None


@dataclass(frozen=True, repr=False)
class Diagram:
    """A laid-out diagram: what every writer draws, and what the tests measure.

    In a notebook it shows itself as the picture (``_repr_svg_``); ``repr()`` is one line.
    """

    title: str
    level: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float
    title_box: TextBox

    def node(self, id: str) -> Node:
        return next(n for n in self.nodes if n.id == id)

    def text_boxes(self) -> list[TextBox]:
        """Every text drawn: the title, each box's lines, each edge's label."""
        boxes = [self.title_box] + [t for n in self.nodes for t in n.texts]
        return boxes + [e.label_box for e in self.edges if e.label_box is not None]

    def render(self, fmt: str) -> str:
        from . import diagram_render

        return diagram_render.WRITERS[fmt](self)

    def to_svg(self, id_prefix: str = "d") -> str:
        from .diagram_render import svg

        return svg(self, id_prefix)

    def to_dot(self) -> str:
        return self.render("dot")

    def __repr__(self) -> str:
        return (f"<Diagram {self.level} {self.title!r}: {len(self.nodes)} boxes, {len(self.edges)} edges, "
                f"{self.width:g}×{self.height:g}>")

    def _repr_svg_(self) -> str:
        """Jupyter and IPython draw the diagram inline from this."""
        return self.to_svg()

    def to_mermaid(self) -> str:
        return self.render("mermaid")


# --------------------------------------------------------------------------- layout


def layout(title: str, level: str, items: list[Item], links: list[Link]) -> Diagram:
    """Place ``items`` (in execution order, the last one the exit) in rows and columns; route ``links``.

    Rows are longest-path ranks. The main path (the longest chain into the exit, first inputs on
    ties, as the graph lists the residual branch before the shortcut) is column 0; every other
    connected run of boxes (a shortcut's conv and BN, a pool) gets a column to its right, centred
    between where it forks and where it joins. A link that skips rows in its own column (an
    identity shortcut) runs down a lane right of all columns.
    """
    ranks = _ranks(items, links)
    main = _main_path(items, links, ranks)
    columns = _side_columns(items, links, main, ranks)
    sized = {item.id: _size(item) for item in items}
    row_height = max(h for _, h in sized.values())
    column_widths: dict[int, float] = {}
    for item in items:
        column_widths[columns[item.id]] = max(column_widths.get(columns[item.id], 0.0), sized[item.id][0])
    label_width = max((text_width(link.label, LABEL_SIZE) for link in links), default=0.0)
    top = MARGIN + TITLE_SIZE * LINE + 14
    column_x = _column_positions(column_widths, label_width)
    nodes = {}
    for item in items:
        col, width, height = columns[item.id], column_widths[columns[item.id]], sized[item.id][1]
        x = column_x[col]
        y = top + ranks[item.id] * (row_height + ROW_GAP) + (row_height - height) / 2
        nodes[item.id] = _node(item, x, y, width, height, ranks[item.id], col)
    lane_x = max(column_x[c] + _column_extent(w, label_width) for c, w in column_widths.items()) + COLUMN_GAP * 0.75
    edges = []
    for link in links:
        edge, lane_x = _route(link, nodes[link.source], nodes[link.target], lane_x, label_width)
        edges.append(edge)
    width = max([n.x + n.width for n in nodes.values()] + [e.label_box.x + e.label_box.width for e in edges
                                                          if e.label_box] + [lane_x]) + MARGIN
    title_box = _text_box(title, MARGIN, MARGIN, TITLE_SIZE, bold=True)
    width = max(width, title_box.x + title_box.width + MARGIN)
    height = max(n.y + n.height for n in nodes.values()) + MARGIN
    return Diagram(title, level, tuple(nodes.values()), tuple(edges), width, height, title_box)


def _ranks(items: list[Item], links: list[Link]) -> dict[str, int]:
    preds = _predecessors(links)
    ranks: dict[str, int] = {}
    for item in items:
        ranks[item.id] = 1 + max((ranks[p] for p in preds.get(item.id, []) if p in ranks), default=-1)
    return ranks


def _predecessors(links: list[Link]) -> dict[str, list[str]]:
    preds: dict[str, list[str]] = {}
    for link in links:
        preds.setdefault(link.target, []).append(link.source)
    return preds


def _main_path(items: list[Item], links: list[Link], ranks: dict[str, int]) -> list[str]:
    preds = _predecessors(links)
    path = [items[-1].id]
    while preds.get(path[-1]):
        choices = preds[path[-1]]
        path.append(max(choices, key=lambda p: (ranks[p], -choices.index(p))))
    return path[::-1]


def _side_columns(items: list[Item], links: list[Link], main: list[str], ranks: dict[str, int]) -> dict[str, int]:
    """Column per box (0 = main path); side runs are re-ranked to sit midway between fork and join."""
    on_main = set(main)
    component: dict[str, int] = {}
    side_links = [l for l in links if l.source not in on_main and l.target not in on_main]
    fresh = itertools.count()
    for item in items:
        if item.id in on_main:
            continue
        joined = {component[l.source] for l in side_links if l.target == item.id and l.source in component}
        component[item.id] = min(joined) if joined else next(fresh)
        for other, c in list(component.items()):  # merge runs that this box joins
            if c in joined:
                component[other] = component[item.id]
    order = {c: i + 1 for i, c in enumerate(dict.fromkeys(component.values()))}
    columns = {item.id: 0 for item in items} | {name: order[c] for name, c in component.items()}
    for c in order:
        members = [name for name, k in component.items() if k == c]
        _centre(members, links, ranks)
    return columns


def _centre(members: list[str], links: list[Link], ranks: dict[str, int]) -> None:
    inside = set(members)
    fork = max((ranks[l.source] for l in links if l.target in inside and l.source not in inside), default=-1)
    join = min((ranks[l.target] for l in links if l.source in inside and l.target not in inside),
               default=max(ranks[m] for m in members) + 1)
    first, last = min(ranks[m] for m in members), max(ranks[m] for m in members)
    room = join - fork - 1 - (last - first + 1)
    shift = fork + 1 + max(0, room // 2) - first
    if shift > 0 and last + shift < join:
        for m in members:
            ranks[m] += shift


def _size(item: Item) -> tuple[float, float]:
    width = max(text_width(line, FONT_SIZE) for line in item.lines) + 2 * PAD_X
    return max(width, MIN_BOX_WIDTH), len(item.lines) * FONT_SIZE * LINE + 2 * PAD_Y


def _node(item: Item, x: float, y: float, width: float, height: float, rank: int, column: int) -> Node:
    cx = x + width / 2
    texts = tuple(_text_box(line, cx, y + PAD_Y + i * FONT_SIZE * LINE, FONT_SIZE, bold=i == 0, anchor="middle")
                  for i, line in enumerate(item.lines))
    return Node(item.id, item.kind, item.lines, x, y, width, height, rank, column, texts)


def _column_extent(width: float, label_width: float) -> float:
    """How far right a column's content reaches: its boxes, or a label beside a line at its centre."""
    return max(width, width / 2 + LABEL_OFFSET + label_width)


def _column_positions(widths: dict[int, float], label_width: float) -> dict[int, float]:
    positions, x = {}, MARGIN
    for col in sorted(widths):
        positions[col] = x
        x += _column_extent(widths[col], label_width) + COLUMN_GAP
    return positions


def _route(link: Link, a: Node, b: Node, lane_x: float, label_width: float) -> tuple[Edge, float]:
    """Orthogonal routes: straight down, out sideways then down, down then in sideways, or via a lane."""
    (ax, ay), (bx, by) = a.center, b.center
    if a.column == b.column and b.rank == a.rank + 1:
        points = ((ax, a.y + a.height), (bx, b.y))
    elif a.column == b.column:  # skips rows: down the lane right of every column
        points = ((a.x + a.width, ay), (lane_x, ay), (lane_x, by), (b.x + b.width, by))
        lane_x += LABEL_OFFSET + label_width + COLUMN_GAP / 2
    elif b.column > a.column:  # out to a side column
        points = ((a.x + a.width, ay), (bx, ay), (bx, b.y))
    else:  # back from a side column into the main path
        points = ((ax, a.y + a.height), (ax, by), (b.x + b.width, by))
    return Edge(link.source, link.target, link.label, points, _label(link.label, points)), lane_x


def _label(text: str, points: tuple[tuple[float, float], ...]) -> TextBox | None:
    """Beside the middle of the longest vertical segment, to its right."""
    if not text:
        return None
    segments = [(p, q) for p, q in zip(points, points[1:]) if p[0] == q[0]]
    (x, y1), (_, y2) = max(segments, key=lambda s: abs(s[1][1] - s[0][1]))
    return _text_box(text, x + LABEL_OFFSET, (y1 + y2) / 2 - LABEL_SIZE * LINE / 2, LABEL_SIZE)


# --------------------------------------------------------------------------- from a trace


def op_text(layer: "Layer") -> str:
    """``Conv2D 1×1/2, 128``: the op as the blog's figures name it, and its settings."""
    return f"{layer.op.title} {layer.op.describe()}".strip()


def block_diagram(graph: "Graph", result: "TraceResult", block: str) -> Diagram:
    """One block as the blog draws it: every conv, BN, ReLU, the shortcut, the add; shapes on edges."""
    layers = [layer for layer in graph if layer.block == block]
    if not layers:
        raise _unknown_block(graph, block)
    names = {layer.name for layer in layers}
    entries = list(dict.fromkeys(src for layer in layers for src in layer.inputs if src not in names))
    items = [Item(src, "io", (visible(src), "block input")) for src in entries]
    items += [Item(layer.name, layer.op.kind, (visible(layer.name), visible(op_text(layer)))) for layer in layers]
    exit_id = _fresh("output", names | set(entries))
    items.append(Item(exit_id, "io", ("block output",)))
    shapes = {info.name: shape_text(info.output_shape) for info in result.layers}
    links = [Link(src, layer.name, shapes[src]) for layer in layers for src in layer.inputs]
    links.append(Link(layers[-1].name, exit_id, shapes[layers[-1].name]))
    where = f"{excerpt(result.spec, 60)} at {shape_text(result.input_shape)}"
    if layers[0].stage in ("stem", "head"):  # not a residual block: no kind to name
        return layout(f"{visible(block)} of {where}", "block", items, links)
    return layout(f"{visible(block)}: {block_kind(graph, block)[1]} of {layers[0].stage}, {where}", "block", items, links)


def stage_diagram(graph: "Graph", result: "TraceResult", stage: str) -> Diagram:
    """One stage, a box per block with its kind, params and MACs; shapes on the edges."""
    groups = [g for g in result.groups("block") if g.layers[0].stage == stage]
    if not groups:
        raise _unknown_block(graph, stage)
    first = groups[0].layers[0]
    entry = first.inputs[0]
    items = [Item(entry, "io", (visible(entry), "stage input"))]
    kinds = {g.name: block_kind(graph, g.name) for g in groups}
    items += [Item(g.name, kinds[g.name][0], (visible(g.name), kinds[g.name][1], _cost(g.totals.params, g.totals.macs)))
              for g in groups]
    exit_id = _fresh("output", {g.name for g in groups} | {entry})
    items.append(Item(exit_id, "io", ("stage output",)))
    ids = [entry] + [g.name for g in groups] + [exit_id]
    shapes = [shape_text(result.layer(entry).output_shape)] + [shape_text(g.output_shape) for g in groups]
    links = [Link(a, b, s) for a, b, s in zip(ids, ids[1:], shapes)]
    return layout(f"{stage} of {excerpt(result.spec, 60)} at {shape_text(result.input_shape)}: "
                  f"{len(groups)} blocks", "stage", items, links)


def network_diagram(graph: "Graph", result: "TraceResult") -> Diagram:
    """The whole network at stage level: stem, each stage's blocks, head, with the shapes between."""
    groups = [g for g in result.groups("stage") if g.name != "input"]
    kinds = {block: block_kind(graph, block)[1] for block in block_layers(graph)}
    items = [Item("input", "io", ("input", shape_text(result.input_shape)))]
    for g in groups:
        items.append(Item(g.name, "stage", (visible(g.name), _stage_text(g.layers, kinds),
                                            _cost(g.totals.params, g.totals.macs))))
    items.append(Item(_fresh("output", {g.name for g in groups}), "io", ("output",)))
    ids = [item.id for item in items]
    shapes = [shape_text(result.input_shape)] + [shape_text(g.output_shape) for g in groups]
    links = [Link(a, b, s) for a, b, s in zip(ids, ids[1:], shapes)]
    t = result.totals
    return layout(f"{excerpt(result.spec, 60)} at {shape_text(result.input_shape)}: "
                  f"{count(t.params)} params, {si(t.macs)}MACs", "network", items, links)


def _stage_text(layers: tuple, kinds: dict[str, str]) -> str:
    """``3 blocks: 1 conv + 2 identity``; for the stem and head, their layers' ops."""
    blocks = list(dict.fromkeys(info.block for info in layers))
    if blocks in (["stem"], ["head"]):
        ops = [OP_TITLES.get(info.op, info.op) for info in layers if info.op not in ("input", "zero_pad", "batch_norm",
                                                                                   "relu", "flatten")]
        return " → ".join(dict.fromkeys(ops))
    tally: dict[str, int] = {}
    for block in blocks:
        name = kinds.get(block, "block").removesuffix(" block")
        tally[name] = tally.get(name, 0) + 1
    parts = " + ".join(f"{n} {name}" for name, n in tally.items())
    return f"{len(blocks)} blocks: {parts}"


def _cost(params: int, macs: int) -> str:
    return f"{count(params)} params · {si(macs)}MACs".replace("  ", " ")


def block_layers(graph: "Graph") -> dict[str, list["Layer"]]:
    """Each block's layers, in order, in one pass (a spec may have thousands of blocks)."""
    blocks: dict[str, list[Layer]] = {}
    for layer in graph:
        blocks.setdefault(layer.block, []).append(layer)
    return blocks


def block_kind(graph: "Graph", block: str) -> tuple[str, str]:
    """(style kind, words) of a block: the kind recorded where the graph built it (graph.SHORTCUTS)."""
    kind = graph.block_kind(block)
    return kind, BLOCK_WORDS.get(kind, kind)


def _fresh(name: str, taken: set[str]) -> str:
    """An id no layer has (a user's spec may call a layer ``output``)."""
    while name in taken:
        name = "_" + name
    return name


def _unknown_block(graph: "Graph", name: str) -> InspectError:
    blocks = list(dict.fromkeys(layer.block for layer in graph if layer.block not in ("stem", "head")))
    stages = list(dict.fromkeys(layer.stage for layer in graph if layer.stage not in ("stem", "head")))
    shown = ", ".join(blocks[:6]) + (f", … {blocks[-1]}" if len(blocks) > 6 else "")
    return InspectError(f"no block or stage {excerpt(name)!r} in {excerpt(graph.spec.name)}; "
                        f"blocks: {shown}; stages: {', '.join(stages)}, stem, head", field="block")


def distinct_blocks(graph: "Graph") -> list[str]:
    """The first block of each distinct wiring (ops and their inputs), in order: one figure per kind."""
    seen: dict[tuple, str] = {}
    for block, layers in block_layers(graph).items():
        if block not in ("stem", "head"):
            seen.setdefault(_wiring(layers), block)
    return list(seen.values())


def _wiring(layers: list["Layer"]) -> tuple:
    index = {layer.name: i for i, layer in enumerate(layers)}
    return tuple((layer.op.kind, tuple(index.get(src, -1) for src in layer.inputs)) for layer in layers)


def diagram(spec: "str | Path | Spec", level: str = "block", block: str | None = None,
            input: "int | str | tuple[int, int] | None" = None) -> Diagram:
    """The Python API of ``resnet-inspect diagram``: lay out one figure of a spec.

    ``level="block"`` draws ``block`` (default: the first block, a conv block in every bundled
    spec); ``"stage"`` the stage ``block`` names or holds (``"stage3"`` or ``"res3b"``);
    ``"network"`` the whole network at stage level. Render with ``.to_svg()``, ``.to_dot()`` or
    ``.to_mermaid()``.
    """
    from ..model.engine import parse_input, trace_graph
    from ..model.graph import load_graph

    from ..core import numbers

    numbers.choice(level, LEVELS, "level")
    if block is not None:
        numbers.text(block, "block")
    if block is not None and level == "network":
        raise unused("block", "level network draws every stage; leave it out, or draw a block or a stage")
    if block is not None and not block.strip():
        raise InspectError("is empty; name a block (res3a, stem, head) or a stage (stage3), or leave it out",
                           field="block")
    graph = load_graph(spec)
    result = trace_graph(graph, None if input is None else parse_input(input, "input"))
    if level == "network":
        return network_diagram(graph, result)
    blocks = [layer.block for layer in graph if layer.block not in ("stem", "head")]
    if level == "block":
        return block_diagram(graph, result, block or (blocks[0] if blocks else "stem"))
    return stage_diagram(graph, result, _stage_of(graph, block))


def _stage_of(graph: "Graph", name: str | None) -> str:
    """The stage ``name`` is (``stage3`` or ``3``) or holds (``res3b``); the first stage for None."""
    for layer in graph:
        if layer.stage in ("stem", "head"):
            continue
        if name is None or name in (layer.stage, layer.block) or f"stage{name}" == layer.stage:
            return layer.stage
    raise _unknown_block(graph, name or "")


SUFFIXES = {"svg": (".svg",), "dot": (".dot", ".gv"), "mermaid": (".mmd", ".mermaid")}


def save(text: str, path: "str | Path", fmt: str, reads: tuple = ()) -> Path:
    """Write a rendered diagram (or page) atomically, the suffix checked against the format."""
    from ..core.safeio import atomic_write

    with atomic_write(path, suffixes=SUFFIXES[fmt], reads=reads, what=f"{fmt} file") as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)
