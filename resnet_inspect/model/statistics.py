"""Totals and groupings over a trace (torchinfo's model_statistics): computing, not rendering."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..core.display import Displayable
from ..core.records import record
from ..core.dtypes import BYTES
from ..core.errors import unknown_layer
from ..core.text import to_json
from .fields import receptive_fields
from .naming import ShownNames, group_names, names_in

if TYPE_CHECKING:
    from .graph import Graph
    from .engine import LayerInfo

DEPTHS = ("layer", "block", "stage")


@record
class Totals:
    params: int
    trainable_params: int
    non_trainable_params: int
    macs: int
    flops: int

    @classmethod
    def of(cls, layers: "tuple[LayerInfo, ...] | list[LayerInfo]") -> "Totals":
        trainable = sum(layer.trainable_params for layer in layers)
        non_trainable = sum(layer.non_trainable_params for layer in layers)
        return cls(trainable + non_trainable, trainable, non_trainable,
                   sum(layer.macs for layer in layers), sum(layer.flops for layer in layers))

    @classmethod
    def of_layer(cls, layer: "LayerInfo") -> "Totals":
        """``Totals.of([layer])`` without five sums over one layer (a table builds one per row)."""
        return cls(layer.params, layer.trainable_params, layer.non_trainable_params, layer.macs, layer.flops)


@record
class ParamCount:
    """A framework's answer to "how many parameters": what it counts, and how it says so."""

    name: str
    of: Callable[[Totals], int]
    says: str


# Whose count leads a table's Total row: the spec's conventions.param_count. Both are always in JSON.
PARAM_COUNTS: dict[str, ParamCount] = {
    "keras": ParamCount("keras", lambda t: t.params, "Keras' Total params: trainable + BN moving mean/variance"),
    "torch": ParamCount("torch", lambda t: t.trainable_params,
                        "PyTorch's sum of parameters() (BN running stats are buffers); torchinfo's Total params"),
}


@record
class Sizes:
    """Memory sizes torchinfo prints under its table, in bytes, for one dtype and batch.

    ``params_bytes`` counts every parameter (Keras' total, BN moving statistics included);
    ``trainable_params_bytes`` counts what PyTorch's ``parameters()`` holds, which is what
    torchinfo's "Params size (MB)" multiplies.
    """

    dtype: str
    batch: int
    input_bytes: int
    params_bytes: int
    trainable_params_bytes: int


@record
class TraceWarning:
    """Something the trace computed that a user would not expect from the table alone.

    ``window_leftover``: a window op's last rows or columns reach no output (``avg_pool`` 7×7/7
    on 7×10 leaves 3 columns out); ``below_framework_minimum``: the input is smaller than the
    reproduced framework's constructor accepts, though the layers build. ``message`` does not
    name the layer, so it reads the same under every naming scheme.
    """

    kind: str
    layer: str | None
    message: str
    rows: int = 0
    columns: int = 0


@record
class Group:
    """Several layers collapsed into one row (a block or a stage)."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    totals: Totals
    layers: tuple["LayerInfo", ...]


@record(repr=False)
class TraceResult(ShownNames, Displayable):
    """A whole trace: the spec, the input and one :class:`LayerInfo` per layer, in order.

    ``shown_names`` (set by :func:`resnet_inspect.naming.rename_trace`) maps each of our layer
    names to a framework's, or to None where it has none. It changes what is shown, never what is
    computed: the layers keep our names, which are unique, so analyses that follow the graph by
    name (receptive field, memory) stay right when several layers have no name in the framework.
    """

    spec: str
    input_shape: tuple[int, int, int]
    layers: tuple["LayerInfo", ...]
    shown_names: Mapping[str, str | None] | None = field(default=None, compare=False, repr=False)
    warnings: tuple[TraceWarning, ...] = field(default=(), compare=False, repr=False)
    param_count: str = field(default="keras", compare=False, repr=False)  # a key of PARAM_COUNTS: the spec's

    @property
    def totals(self) -> Totals:
        return Totals.of(self.layers)

    def to_records(self, depth: str = "layer") -> list[dict[str, Any]]:
        """Plain dicts, one per layer (or block, or stage), ready for ``pandas.DataFrame``.

        Layer records are the JSON contract's (``params`` included); block and stage records carry
        ``name``, ``kind``, ``output_shape`` and the totals' keys.
        """
        if depth == "layer":
            return [self._layer_dict(info) for info in self.layers]
        return [{"name": g.name, "kind": g.kind, "output_shape": list(g.output_shape), **asdict(g.totals)}
                for g in self.groups(depth)]

    def layer(self, name: str) -> "LayerInfo":
        """The row of the layer called ``name``; :class:`UnknownLayer` (a ``KeyError``) names the closest."""
        try:
            return self._by_name[name]
        except KeyError:
            raise unknown_layer(name, self._by_name, self.spec) from None

    @cached_property
    def _by_name(self) -> dict[str, "LayerInfo"]:
        return {info.name: info for info in self.layers}

    def groups(self, depth: str) -> list[Group]:
        """Consecutive layers of one block (or stage) collapsed; totals are unchanged."""
        key = {"block": lambda info: info.block, "stage": lambda info: info.stage}[depth]
        groups: list[list[LayerInfo]] = []
        for info in self.layers:
            if groups and key(groups[-1][-1]) == key(info):
                groups[-1].append(info)
            else:
                groups.append([info])
        return [Group(key(g[0]), _group_kind(g, depth), g[-1].output_shape, Totals.of(g), tuple(g)) for g in groups]

    def sizes(self, dtype: str = "float32", batch: int = 1) -> Sizes:
        """Input and parameter sizes in bytes when stored as ``dtype`` (float32 unless told)."""
        width = BYTES[dtype]
        h, w, c = self.input_shape
        t = self.totals
        return Sizes(dtype, batch, batch * h * w * c * width, t.params * width, t.trainable_params * width)

    def by_stage(self) -> dict[str, Totals]:
        return {group.name: group.totals for group in self.groups("stage")}

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``trace --format json`` (documented in the README)."""
        fields = receptive_fields(self)
        return {
            "spec": self.spec,
            "input": list(self.input_shape),
            "layers": [{**self._layer_dict(info), "receptive_field": fields[info.name].to_dict()}
                       for info in self.layers],
            "totals": asdict(self.totals),
            "param_count": self.param_count,
            "warnings": [self.warning_dict(warning) for warning in self.warnings],
        }

    def warning_dict(self, warning: TraceWarning) -> dict[str, Any]:
        """A warning's record: ``layer`` under the shown names (ours under ``blog_layer``), null for the input."""
        record = {"kind": warning.kind, "layer": None if warning.layer is None else self.shown(warning.layer),
                  "message": warning.message, "rows": warning.rows, "columns": warning.columns}
        if self.shown_names is not None:
            record["blog_layer"] = warning.layer
        return record

    def _layer_dict(self, info: "LayerInfo") -> dict[str, Any]:
        """A layer's record; under a framework's names, ``name`` and ``inputs`` are its (null where
        it has none) and ``blog_name``/``blog_inputs`` keep ours, so the graph can still be followed."""
        record = _layer_dict(info)
        if self.shown_names is not None:
            record.update(name=self.shown(info.name), inputs=[self.shown(i) for i in info.inputs],
                          blog_name=info.name, blog_inputs=list(info.inputs))
        return record

    def to_json(self) -> str:
        """What ``trace --format json`` prints for layers and totals: the one strict, versioned writer."""
        return to_json(self.to_dict())


def _group_kind(layers: list["LayerInfo"], depth: str) -> str:
    """A stage is a stage; a block's kind was recorded where the block was built (never re-derived)."""
    return "stage" if depth == "stage" else layers[0].block_kind


def _layer_dict(info: "LayerInfo") -> dict[str, Any]:
    return {
        "name": info.name,
        "op": info.op,
        "inputs": list(info.inputs),
        "output_shape": list(info.output_shape),
        "params": info.params,
        "trainable_params": info.trainable_params,
        "non_trainable_params": info.non_trainable_params,
        "macs": info.macs,
        "flops": info.flops,
        "stage": info.stage,
        "block": info.block,
        "detail": info.detail,
    }


def rename_trace(result: TraceResult, graph: "Graph", scheme: str, depth: str = "layer") -> TraceResult:
    """The same trace shown under ``scheme``: at ``depth`` layer each layer (and input) by its name
    there, None where none (display only: see ``TraceResult.shown_names``); at block or stage depth
    each block and stage by that framework's count (the layers keep ours: which block is a conv
    block is read off them)."""
    if depth != "layer":
        groups = group_names(graph, scheme)
        return replace(result, layers=tuple(replace(info, block=groups.get(info.block, info.block),
                                                    stage=groups.get(info.stage, info.stage))
                                            for info in result.layers))
    return replace(result, shown_names=names_in(graph, scheme))
