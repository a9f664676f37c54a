"""Input-size sweeps: MACs, FLOPs, params and the final feature map for many input sizes at once.

The graph is built once and only the shape, parameter and cost rules run per size (no
:class:`~resnet_inspect.engine.LayerInfo` rows, no receptive-field windows), so a thousand sizes
of ResNet-50 cost well under a second. A size the network cannot take is a row with the reason,
not an error: a sweep is for finding where a network works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model.engine import parse_input, smallest_input
from ..core import numbers
from ..core.errors import ShapeError
from ..core.usertext import excerpt
from ..core.work import check_work
from ..model.graph import Graph
from ..model.ops import OpError, Shape

MAX_SIZES = 100_000  # a sweep is printed row by row; more than this is a typo, not a plot


@dataclass(frozen=True)
class SweepRow:
    """One input size: its totals and final feature map, or why the network cannot take it."""

    input_shape: tuple[int, int, int]
    macs: int | None = None
    flops: int | None = None
    params: int | None = None
    final_feature_map: Shape | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"input": list(self.input_shape), "macs": self.macs, "flops": self.flops, "params": self.params,
                "final_feature_map": None if self.final_feature_map is None else list(self.final_feature_map),
                "error": self.error}


@dataclass(frozen=True)
class Sweep:
    spec: str
    final_layer: str  # the layer whose output is the final feature map (the last stage's last layer)
    rows: tuple[SweepRow, ...]
    smallest_input: int | None = None  # found only when some size failed (None: all worked, or none can)
    # the framework constructor the spec reproduces and the least input it accepts ({"name", "min_input"}),
    # when the spec says (keras.applications refuses inputs below 32×32 though its layers build at 1×1)
    framework: dict[str, Any] | None = None

    @property
    def below_framework(self) -> bool:
        """Whether a size is one the framework's own constructor refuses (the layers still build)."""
        least = (self.framework or {}).get("min_input", 0)
        return any(min(row.input_shape[:2]) < least for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``flops --input A:B:S --format json`` (documented in the README)."""
        return {"spec": self.spec, "unit": {"macs": "multiply-accumulates", "flops": "floating-point operations"},
                "final_layer": self.final_layer, "smallest_input": self.smallest_input, "framework": self.framework,
                "results": [row.to_dict() for row in self.rows]}


def is_range(text: str) -> bool:
    return numbers.is_range(str(text))


def parse_sizes(texts: list[str], layers: int | None = None) -> list[tuple[int, int]]:
    """``--input`` values in order: ``224``, ``224x320`` or a range ``start:stop:step`` (stop
    included, step 1 when left out) of square sizes.

    Ranges stay lazy until every value is read and counted: at most :data:`MAX_SIZES` sizes and,
    given the network's ``layers``, the work budget (:func:`..core.work.check_work`), both
    refused before a single size is made.
    """
    parts = [numbers.size_range(str(text), "--input") if is_range(text) else [parse_input(text)]
             for text in texts]
    total = sum(len(part) for part in parts)
    asked = "--input " + " ".join(str(text) for text in texts)
    if total > MAX_SIZES:
        raise ShapeError(f"{excerpt(asked, 60)} asks for {total:,} sizes; at most {MAX_SIZES:,} in one sweep",
                         field="--input")
    if layers is not None:
        check_work(total, layers, asked, field="--input")
    return [(s, s) if isinstance(s, int) else s for part in parts for s in part]


def sweep(graph: Graph, sizes: list[tuple[int, int]]) -> Sweep:
    """One row per size, in the order given; the graph is walked once per size, shapes only.
    Within the work budget (sizes × layers), checked before the first size."""
    check_work(len(numbers.sizes(sizes, "sizes")), len(graph.layers), "input", field="input")
    sizes = [parse_input(size, "input") for size in sizes]
    final = next(layer.name for layer in reversed(graph.layers) if layer.stage != "head")
    rows = tuple(_row(graph, size, final) for size in sizes)
    failed = any(row.error for row in rows)
    framework = graph.spec.framework
    return Sweep(graph.spec.name, final, rows, smallest_input(graph) if failed else None,
                 None if framework is None else {"name": framework.name, "min_input": framework.min_input})


def _row(graph: Graph, size: tuple[int, int], final: str) -> SweepRow:
    input_shape = (size[0], size[1], graph.spec.input_shape[2])
    shapes: dict[str, Shape] = {}
    macs = flops = params = 0
    for layer in graph:
        op, ins = layer.op, [shapes[name] for name in layer.inputs]
        try:
            out = input_shape if op.kind == "input" else op.output_shape(ins)
        except OpError as exc:
            return SweepRow(input_shape, error=f"layer {layer.name}: {exc}")
        counted = op.params(ins)
        params += counted.trainable + counted.non_trainable
        macs += op.macs(ins, out)
        flops += op.flops(ins, out)
        shapes[layer.name] = out
    return SweepRow(input_shape, macs, flops, params, shapes[final])
