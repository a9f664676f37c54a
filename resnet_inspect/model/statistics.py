"""Totals and groupings over a trace (torchinfo's model_statistics): computing, not rendering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..core.dtypes import BYTES
from .naming import ShownNames

if TYPE_CHECKING:
    from .engine import LayerInfo

DEPTHS = ("layer", "block", "stage")


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Group:
    """Several layers collapsed into one row (a block or a stage)."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    totals: Totals
    layers: tuple["LayerInfo", ...]


@dataclass(frozen=True)
class TraceResult(ShownNames):
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

    @property
    def totals(self) -> Totals:
        return Totals.of(self.layers)

    # Display in a REPL, a terminal (rich.print) and Jupyter: see resnet_inspect.display.
    def __repr__(self) -> str:
        from ..render.display import trace_repr

        return trace_repr(self)

    def __rich__(self) -> "Any":
        from ..render.formatting import trace_table

        return trace_table(self)

    def _repr_html_(self) -> str:
        from ..render.display import trace_html

        return trace_html(self)

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
        """The row of the layer called ``name`` (KeyError when there is none)."""
        return self._by_name[name]

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
        from ..analysis.receptive import receptive_fields

        fields = receptive_fields(self)
        return {
            "spec": self.spec,
            "input": list(self.input_shape),
            "layers": [{**self._layer_dict(info), "receptive_field": fields[info.name].to_dict()}
                       for info in self.layers],
            "totals": asdict(self.totals),
        }

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
        from ..render.formatting import to_json

        return to_json(self.to_dict())


def _group_kind(layers: list["LayerInfo"], depth: str) -> str:
    if depth == "stage":
        return "stage"
    if layers[0].block in ("stem", "head"):
        return layers[0].block
    has_shortcut = any(info.name.endswith("_branch1") for info in layers)
    return "conv_block" if has_shortcut else "identity_block"


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
