"""Receptive fields: which input pixels each layer's units see, per axis (H, W).

Built on the trace: each :class:`~resnet_inspect.engine.LayerInfo` carries its op's
:class:`~resnet_inspect.ops.Window` (``receptive``: kernel, stride, padding), and the field of a layer is its
input's field seen through that window (Araujo, Norouzi and Kornblith, "Computing Receptive
Fields of Convolutional Neural Networks", Distill 2019, eqs. 1-3 in recursive form):

* size     ``r_out = r_in + (kernel − 1)·j_in``
* stride   ``j_out = j_in·stride``  (the "effective stride": input pixels between two units)
* padding  ``p_out = p_in + padding·j_in``  (the "effective padding")

A residual add takes the widest of its inputs, axis by axis (the largest size, then the largest
padding), so the field follows the widest path through the graph; a 1×1 shortcut never widens
it. Unit ``i`` is centred on input pixel ``−padding + i·stride + (size − 1)/2``.
"""

from __future__ import annotations

from typing import Any

from ..core.records import record
from ..core import numbers
from ..core.errors import InspectError
from ..model.fields import PIXEL, Pair, ReceptiveField, receptive_fields  # noqa: F401 (the README's receptive.receptive_fields)
from ..model.statistics import TraceResult


# --------------------------------------------------------------------------- the `rf` report


@record
class LayerField:
    name: str
    op: str
    output_shape: tuple[int, ...]
    field: ReceptiveField


@record
class UnitCenter:
    """Where one output unit of the last stage looks: its centre and the pixels it spans."""

    layer: str
    unit: Pair
    center: tuple[float, float]
    first: Pair
    last: Pair


@record
class ReceptiveReport:
    """What ``resnet-inspect rf`` prints: every layer's field, the last stage's coverage, a unit's centre."""

    spec: str
    input_shape: tuple[int, int, int]
    layers: tuple[LayerField, ...]
    last_stage_layer: str
    covers_input: bool
    unit: UnitCenter | None = None

    def layer(self, name: str) -> ReceptiveField:
        return next(row.field for row in self.layers if row.name == name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``rf --format json`` (documented in the README)."""
        unit = self.unit
        return {
            "spec": self.spec,
            "input": list(self.input_shape),
            "last_stage": {"layer": self.last_stage_layer, **self.layer(self.last_stage_layer).to_dict(),
                           "covers_input": self.covers_input},
            "unit": None if unit is None else {"layer": unit.layer, "index": list(unit.unit),
                                               "center": list(unit.center), "first": list(unit.first),
                                               "last": list(unit.last)},
            "layers": [{"name": row.name, "op": row.op, "output_shape": list(row.output_shape),
                        "receptive_field": row.field.to_dict()} for row in self.layers],
        }


def receptive_report(result: TraceResult, unit: Pair | None = None) -> ReceptiveReport:
    """Fields of every layer; whether every unit of the last stage sees the whole input; a unit's centre.

    The last stage is the last layer before the head (``res5c_relu`` in ResNet-50). "Covers the
    input" means every one of its units does: the first unit's field reaches the last pixel and
    the last unit's field reaches pixel 0, on both axes.
    """
    fields = receptive_fields(result)
    rows = tuple(LayerField(i.name, i.op, i.output_shape, fields[i.name]) for i in result.layers)
    last = next(i for i in reversed(result.layers) if i.stage != "head" and len(i.output_shape) == 3)
    field, grid = fields[last.name], last.output_shape[:2]
    first_seen, last_seen = field.span((0, 0))[1], field.span((grid[0] - 1, grid[1] - 1))[0]
    covers = all(first_seen[a] >= result.input_shape[a] - 1 and last_seen[a] <= 0 for a in (0, 1))
    return ReceptiveReport(result.spec, result.input_shape, rows, last.name, covers,
                           None if unit is None else _unit(last.name, field, grid, numbers.index_pair(unit, "unit")))


def _unit(layer: str, field: ReceptiveField, grid: tuple[int, ...], unit: Pair) -> UnitCenter:
    if not all(0 <= i < n for i, n in zip(unit, grid)):
        raise InspectError(f"unit {unit[0]},{unit[1]} is outside {layer}'s {grid[0]}×{grid[1]} grid "
                           f"(indices run from 0,0 to {grid[0] - 1},{grid[1] - 1})", field="unit")
    first, last = field.span(unit)
    return UnitCenter(layer, unit, field.center(unit), first, last)


def parse_unit(text: str) -> Pair:
    """``3,4`` -> (3, 4) as (row, column); ``3`` -> (3, 3) (the rules: :mod:`..core.numbers`)."""
    return numbers.index_pair(text, "--unit")
