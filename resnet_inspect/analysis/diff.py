"""``diff``: what changes, layer by layer, between two specs (typed results; rendering in .report).

Layers are lined up by name first (the names are the architecture's vocabulary), then the
leftovers by position among themselves when their op kinds agree; whatever is still unpaired
was added or removed. A stride that leaves one conv of a block and lands on another (v1 → v1.5)
is reported as one move, because that is how people describe it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..core.display import Displayable
from ..core.text import to_json
from ..model.engine import LayerInfo, parse_input, trace_graph
from ..model.graph import Graph, Layer, load_graph
from ..model.naming import names_in, printed, shown_name
from ..language.spec import Spec
from ..model.statistics import Totals, TraceResult


@dataclass(frozen=True)
class Change:
    """One field that differs: an op setting (stride, bias, epsilon …), shape, params or MACs."""

    field: str
    a: Any
    b: Any


@dataclass(frozen=True)
class LayerDiff:
    status: str  # "changed", "added" or "removed"
    name_a: str | None
    name_b: str | None
    op: str
    block: str
    changes: tuple[Change, ...] = ()
    block_b: str | None = None  # B's block when both sides have the layer (A's is ``block``)

    @property
    def name(self) -> str:
        if self.name_a and self.name_b and self.name_a != self.name_b:
            return f"{self.name_a} → {self.name_b}"
        return self.name_a or self.name_b or ""


@dataclass(frozen=True)
class StrideMove:
    """A block whose downsampling stride moved from one conv to another."""

    block: str
    stride: int
    from_layer: str
    to_layer: str


@dataclass(frozen=True)
class BlockDiff:
    """A whole block added, removed or only renamed: one line instead of a row per layer.

    ``params`` and ``macs`` are the block's own (B's when added, A's otherwise).
    """

    status: str  # "added", "removed" or "renamed"
    block_a: str | None
    block_b: str | None
    layers: int
    params: int
    macs: int


@dataclass(frozen=True)
class SpecChange:
    """A setting of the spec itself that differs: ``conventions.conv_bias``, ``head.pool``, ``stage4.blocks``."""

    field: str
    a: Any
    b: Any


@dataclass(frozen=True)
class ChangeGroup:
    """One change repeated on many layers, told once: ``bias True → False`` on 53 ``conv`` layers.

    ``field`` is a layer field (``bias``, ``epsilon``, ``output_shape``, ``op``) or ``added`` /
    ``removed`` for whole layers; ``first`` names one of them.
    """

    field: str
    a: Any
    b: Any
    ops: tuple[str, ...]
    layers: int
    first: str


@dataclass(frozen=True)
class MoveGroup:
    """The same stride move in several blocks: stride 2 from ``branch2a`` to ``branch2b`` in res3a, res4a, res5a."""

    stride: int
    from_layer: str  # the layer's name without its block's (``branch2a``), or the whole name
    to_layer: str
    blocks: tuple[str, ...]


@dataclass(frozen=True)
class DiffSummary:
    """The story of a diff at spec level, before any per-layer row (``diff`` prints it first)."""

    spec: tuple[SpecChange, ...] = ()
    changes: tuple[ChangeGroup, ...] = ()
    moves: tuple[MoveGroup, ...] = ()
    blocks: dict[str, int] = field(default_factory=dict)  # "added"/"removed"/"renamed" -> how many
    layers: dict[str, int] = field(default_factory=dict)  # "changed"/"added"/"removed", and "params"/"macs": how many

    def to_dict(self) -> dict[str, Any]:
        return {"spec": [asdict(c) for c in self.spec],
                "changes": [{**asdict(g), "ops": list(g.ops)} for g in self.changes],
                "stride_moves": [{**asdict(m), "blocks": list(m.blocks)} for m in self.moves],
                "blocks": dict(self.blocks), "layers": dict(self.layers)}


@dataclass(frozen=True, repr=False)
class DiffResult(Displayable):
    spec_a: str
    spec_b: str
    input_a: tuple[int, int, int]
    input_b: tuple[int, int, int]
    layers: tuple[LayerDiff, ...]
    stride_moves: tuple[StrideMove, ...]
    totals_a: Totals
    totals_b: Totals
    blocks: tuple[BlockDiff, ...] = ()
    file_a: str = ""
    file_b: str = ""
    summary: DiffSummary = field(default_factory=DiffSummary)
    # set by naming.rename_diff: each side's names -> a framework's (None where it has none); display only
    shown_names_a: Mapping[str, str | None] | None = field(default=None, compare=False, repr=False)
    shown_names_b: Mapping[str, str | None] | None = field(default=None, compare=False, repr=False)

    def shown(self, side: str, name: str | None) -> str | None:
        """A layer of side ``a`` or ``b`` as shown: ours, or the framework's (None where it has none)."""
        return None if name is None else shown_name(self.shown_names_a if side == "a" else self.shown_names_b, name)

    def label(self, side: str, name: str | None) -> str | None:
        """As :meth:`shown`, but MISSING (not None) for a layer the framework does not name."""
        return None if name is None else printed(self.shown(side, name))

    def shown_layer(self, d: LayerDiff) -> LayerDiff:
        """``d`` with each side's name as printed."""
        return replace(d, name_a=self.label("a", d.name_a), name_b=self.label("b", d.name_b))

    def shown_move(self, move: StrideMove) -> StrideMove:
        return replace(move, from_layer=self.label("b", move.from_layer) or "",
                       to_layer=self.label("b", move.to_layer) or "")

    @property
    def identical(self) -> bool:
        return not self.layers and self.totals_a == self.totals_b and self.input_a == self.input_b

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``diff --format json`` (documented in the README)."""
        totals = {key: {"a": a, "b": b, "change": b - a}
                  for (key, a), b in zip(asdict(self.totals_a).items(), asdict(self.totals_b).values())}
        return {
            "a": {"spec": self.spec_a, "file": self.file_a, "input": list(self.input_a)},
            "b": {"spec": self.spec_b, "file": self.file_b, "input": list(self.input_b)},
            "identical": self.identical,
            "totals": totals,
            "stride_moves": [asdict(self.shown_move(move)) for move in self.stride_moves],
            "blocks": [asdict(block) for block in self.blocks],
            "layers": [_layer_diff_dict(self, d) for d in self.layers],
            "summary": self.summary.to_dict(),
        }

    def to_json(self) -> str:
        return to_json(self.to_dict())

    @property
    def loose_layers(self) -> tuple[LayerDiff, ...]:
        """The layer differences not already told by a whole-block entry of ``blocks``."""
        return _loose(self.layers, self.blocks)


def _loose(layers: tuple[LayerDiff, ...], blocks: tuple[BlockDiff, ...]) -> tuple[LayerDiff, ...]:
    covered = {(b.status, b.block_b if b.status == "added" else b.block_a) for b in blocks}
    return tuple(d for d in layers if (_block_status(d), d.block) not in covered)


def _layer_diff_dict(result: DiffResult, d: LayerDiff) -> dict[str, Any]:
    """A layer's difference; under ``--names``, ``a``/``b`` are the framework's names (null where it
    has none, or where that side has no such layer) and ``blog_a``/``blog_b`` keep ours."""
    ours = {"blog_a": d.name_a, "blog_b": d.name_b} if result.shown_names_a is not None else {}
    return {"status": d.status, "a": result.shown("a", d.name_a), "b": result.shown("b", d.name_b), **ours,
            "op": d.op, "block": d.block, "changes": {c.field: {"a": c.a, "b": c.b} for c in d.changes}}


@dataclass(frozen=True)
class _Row:
    """A layer of one side: its graph node (for op settings) and its trace row (for numbers)."""

    layer: Layer
    info: LayerInfo


def diff_specs(a: str | Spec, b: str | Spec, input: str | None = None) -> DiffResult:
    """Compare two specs (bundled names, paths or :class:`Spec`) at one input size each.

    Without ``input`` each side is traced at its own default input.
    """
    hw = None if input is None else parse_input(input)
    graph_a, graph_b = load_graph(a), load_graph(b)
    trace_a, trace_b = trace_graph(graph_a, hw), trace_graph(graph_b, hw)
    pairs = align(_rows(graph_a, trace_a), _rows(graph_b, trace_b))
    layers = tuple(d for d in (_layer_diff(x, y) for x, y in pairs) if d is not None)
    moves, blocks = _stride_moves(layers), _block_diffs(layers, trace_a, trace_b)
    summary = summarize(graph_a.spec, graph_b.spec, layers, moves, blocks)
    return DiffResult(trace_a.spec, trace_b.spec, trace_a.input_shape, trace_b.input_shape, layers,
                      moves, trace_a.totals, trace_b.totals, blocks, graph_a.spec.file, graph_b.spec.file, summary)


# --------------------------------------------------------------------------- the story first

NUMBERS = ("params", "macs")  # follow from the settings and shapes; counted, never grouped
_NOT_SETTINGS = {"where", "document", "file", "name", "description"}


def summarize(a: Spec, b: Spec, layers: tuple[LayerDiff, ...], moves: tuple[StrideMove, ...],
              blocks: tuple[BlockDiff, ...]) -> DiffSummary:
    """Spec settings that differ, each layer change told once with its count, moves, block and layer counts."""
    return DiffSummary(_spec_changes(a, b), _change_groups(_loose(layers, blocks), moves), _move_groups(moves),
                       dict(Counter(block.status for block in blocks)), _layer_counts(layers))


def spec_settings(spec: Spec) -> dict[str, Any]:
    """Every setting of a spec as ``dotted.name -> value`` (stages by number: ``stage4.blocks``)."""
    settings: dict[str, Any] = {"input": list(spec.input_shape), "block": spec.block}
    settings |= _flat("conventions", spec.conventions) | _flat("stem", spec.stem) | _flat("head", spec.head)
    for stage in spec.stages:
        settings |= _flat(f"stage{stage.number}", stage)
    return settings


def _flat(prefix: str, record: Any) -> dict[str, Any]:
    if record is None or not hasattr(record, "__dataclass_fields__"):
        return {prefix: list(record) if isinstance(record, tuple) else record}
    flat: dict[str, Any] = {}
    for f in fields(record):
        if f.name not in _NOT_SETTINGS and not (prefix.startswith("stage") and f.name == "number"):
            flat |= _flat(f"{prefix}.{f.name}", getattr(record, f.name))
    return flat


def _spec_changes(a: Spec, b: Spec) -> tuple[SpecChange, ...]:
    one, other = spec_settings(a), spec_settings(b)
    keys = list(one) + [key for key in other if key not in one]
    return tuple(SpecChange(key, one.get(key), other.get(key)) for key in keys if one.get(key) != other.get(key))


def _change_groups(layers: tuple[LayerDiff, ...], moves: tuple[StrideMove, ...]) -> tuple[ChangeGroup, ...]:
    """Layer changes grouped by what changed (field, before, after), most repeated first."""
    moved = {name for m in moves for name in (m.from_layer, m.to_layer)}
    groups: dict[tuple[str, str, str], list[tuple[LayerDiff, Any, Any]]] = {}
    for d in layers:
        if d.status != "changed":
            groups.setdefault((d.status, "", d.op), []).append((d, None, None))
            continue
        for c in d.changes:
            if c.field in NUMBERS or (c.field == "stride" and d.name in moved):
                continue
            groups.setdefault((c.field, repr(c.a), repr(c.b)), []).append((d, c.a, c.b))
    found = [ChangeGroup(key[0], rows[0][1], rows[0][2], tuple(dict.fromkeys(d.op for d, _, _ in rows)),
                         len(rows), rows[0][0].name) for key, rows in groups.items()]
    return tuple(sorted(found, key=lambda g: -g.layers))


def _move_groups(moves: tuple[StrideMove, ...]) -> tuple[MoveGroup, ...]:
    groups: dict[tuple[int, str, str], list[str]] = {}
    for m in moves:
        key = (m.stride, _within(m.from_layer, m.block), _within(m.to_layer, m.block))
        groups.setdefault(key, []).append(m.block)
    return tuple(MoveGroup(stride, a, b, tuple(blocks)) for (stride, a, b), blocks in groups.items())


def _within(layer: str, block: str) -> str:
    """``res3a_branch2a`` in block ``res3a`` is ``branch2a``: the same part of every block."""
    rest = layer.removeprefix(block).lstrip("_.")
    return rest if rest and layer.startswith(block) else layer


def _layer_counts(layers: tuple[LayerDiff, ...]) -> dict[str, int]:
    counts = {status: sum(d.status == status for d in layers) for status in ("changed", "added", "removed")}
    return counts | {name: sum(any(c.field == name for c in d.changes) for d in layers) for name in NUMBERS}


def _block_status(d: LayerDiff) -> str:
    """"renamed" for a layer that changed nothing but its name, else its status."""
    return "renamed" if d.status == "changed" and not d.changes else d.status


def _block_diffs(layers: tuple[LayerDiff, ...], a: TraceResult, b: TraceResult) -> tuple[BlockDiff, ...]:
    """Blocks every layer of which was added, removed or only renamed (counted in one pass)."""
    size_a, size_b = Counter(i.block for i in a.layers), Counter(i.block for i in b.layers)
    totals_a, totals_b = {g.name: g.totals for g in a.groups("block")}, {g.name: g.totals for g in b.groups("block")}
    tally: Counter[tuple[str, str, str | None]] = Counter(
        (_block_status(d), d.block, d.block_b if d.status == "changed" else None) for d in layers)
    blocks = []
    for (status, block, block_b), n in tally.items():
        if status == "added" and n == size_b[block] and block in totals_b:
            blocks.append(BlockDiff("added", None, block, n, totals_b[block].params, totals_b[block].macs))
        elif status == "removed" and n == size_a[block] and block in totals_a:
            blocks.append(BlockDiff("removed", block, None, n, totals_a[block].params, totals_a[block].macs))
        elif status == "renamed" and block_b and block != block_b and n == size_a[block] == size_b[block_b]:
            blocks.append(BlockDiff("renamed", block, block_b, n, totals_a[block].params, totals_a[block].macs))
    return tuple(blocks)


def _rows(graph: Graph, result: TraceResult) -> list[_Row]:
    return [_Row(layer, info) for layer, info in zip(graph.layers, result.layers)]


def align(a: list[_Row], b: list[_Row]) -> list[tuple[_Row | None, _Row | None]]:
    """Pairs in A's order: same name first, then unnamed leftovers by position if the op kind agrees."""
    by_name = {row.info.name: row for row in b}
    matched = {row.info.name: by_name[row.info.name] for row in a if row.info.name in by_name}
    left_a = [row for row in a if row.info.name not in matched]
    used_b = {row.info.name for row in matched.values()}
    left_b = [row for row in b if row.info.name not in used_b]
    positional: dict[str, _Row] = {}
    for x, y in zip(left_a, left_b):
        if x.info.op == y.info.op:
            positional[x.info.name] = y
    partner = {**matched, **positional}
    paired_b = {row.info.name for row in partner.values()}
    pairs: list[tuple[_Row | None, _Row | None]] = [(row, partner.get(row.info.name)) for row in a]
    pairs += [(None, row) for row in b if row.info.name not in paired_b]
    return pairs


def _layer_diff(a: _Row | None, b: _Row | None) -> LayerDiff | None:
    if a is None or b is None:
        row = a or b
        assert row is not None
        status = "removed" if b is None else "added"
        return LayerDiff(status, a and a.info.name, b and b.info.name, row.info.op, row.info.block)
    changes = _op_changes(a.layer, b.layer) + _number_changes(a.info, b.info)
    if not changes and a.info.name == b.info.name:
        return None
    return LayerDiff("changed", a.info.name, b.info.name, a.info.op, a.info.block, changes, b.info.block)


def _op_changes(a: Layer, b: Layer) -> tuple[Change, ...]:
    if type(a.op) is not type(b.op):
        return (Change("op", a.op.kind, b.op.kind),)
    return tuple(Change(f.name, getattr(a.op, f.name), getattr(b.op, f.name))
                 for f in fields(a.op) if getattr(a.op, f.name) != getattr(b.op, f.name))


def _number_changes(a: LayerInfo, b: LayerInfo) -> tuple[Change, ...]:
    pairs = (("output_shape", list(a.output_shape), list(b.output_shape)),
             ("params", a.params, b.params), ("macs", a.macs, b.macs))
    return tuple(Change(name, x, y) for name, x, y in pairs if x != y)


def _stride_moves(layers: tuple[LayerDiff, ...]) -> tuple[StrideMove, ...]:
    """Within a block, a conv that lost stride s > 1 and another that gained it: one move."""
    by_block: dict[str, list[tuple[LayerDiff, Change]]] = {}
    for d in layers:  # one pass, grouped by block: linear in the number of layers
        strides = by_block.setdefault(d.block, [])
        strides += [(d, c) for c in d.changes if c.field == "stride"]
    moves = []
    for block, strides in by_block.items():
        lost = [(d, c) for d, c in strides if c.a > 1 and c.b == 1]
        gained = [(d, c) for d, c in strides if c.a == 1 and c.b > 1]
        for (d_from, c_from), (d_to, c_to) in zip(lost, gained):
            if c_from.a == c_to.b:
                moves.append(StrideMove(block, c_from.a, d_from.name, d_to.name))
    return tuple(moves)


def rename_diff(result: DiffResult, graph_a: Graph, graph_b: Graph, scheme: str) -> DiffResult:
    """The same diff shown under ``scheme``, each side by its own names (display only: see
    ``DiffResult.shown_names_a``)."""
    return replace(result, shown_names_a=names_in(graph_a, scheme), shown_names_b=names_in(graph_b, scheme))
