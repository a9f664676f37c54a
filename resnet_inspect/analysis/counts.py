"""What ``flops`` and ``params`` print, as results: the totals of one or more traces, per stage.

Like every result, each carries its command's JSON contract (``to_dict``), so the renderers only
lay it out and the Python API gets the same numbers the CLI prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.text import to_json
from ..language.spec import Spec
from ..core.work import check_work
from ..model.engine import parse_input, trace_graph
from ..model.graph import Graph, load_graph
from ..model.statistics import TraceResult
from .peers import count as peer_count
from .peers import peer_numbers

# What each framework calls "the parameters", quoted in `params --format json`.
PARAM_CONVENTIONS = {
    "keras": "params = trainable + non-trainable (BN moving mean/variance count, non-trainable)",
    "torch": "sum(p.numel() for p in model.parameters()) = trainable_params (BN running stats are buffers)",
}


@dataclass(frozen=True)
class FlopsReport:
    """MACs and FLOPs of one spec at one or more input sizes, per stage, with each peer's total."""

    spec: str
    results: tuple[TraceResult, ...]
    convention: str | None = None  # a peer whose count is broken down per op kind

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``flops --format json`` (documented in the README)."""
        return {
            "spec": self.spec,
            "unit": {"macs": "multiply-accumulates", "flops": "floating-point operations"},
            "results": [{"input": list(r.input_shape), "macs": r.totals.macs, "flops": r.totals.flops,
                         "by_stage": {stage: {"macs": t.macs, "flops": t.flops} for stage, t in r.by_stage().items()},
                         "peers": peer_numbers(r),
                         **({"convention": peer_count(r, self.convention).to_dict()} if self.convention else {})}
                        for r in self.results],
        }

    def to_json(self) -> str:
        return to_json(self.to_dict())


@dataclass(frozen=True)
class ParamsReport:
    """Total, trainable and non-trainable parameters, per stage, at one input size."""

    result: TraceResult

    @property
    def spec(self) -> str:
        return self.result.spec

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``params --format json`` (documented in the README)."""
        def params(totals: Any) -> dict[str, int]:
            return {k: v for k, v in asdict(totals).items() if k.endswith("params")}

        return {"spec": self.spec, **params(self.result.totals),
                "by_stage": {stage: params(s) for stage, s in self.result.by_stage().items()},
                "conventions": dict(PARAM_CONVENTIONS)}

    def to_json(self) -> str:
        return to_json(self.to_dict())


def flops(spec: "str | Path | Spec | Graph", inputs: "list[int | str | tuple[int, int] | None] | None" = None,
          convention: str | None = None) -> FlopsReport:
    """The Python API of ``resnet-inspect flops``: the graph built once, traced at each size."""
    graph = load_graph(spec)
    from ..core import numbers
    from .peers import CONVENTIONS

    if convention is not None:
        numbers.choice(convention, CONVENTIONS, "convention")  # now, not when the report is rendered
    listed = [None] if inputs is None else numbers.sizes(inputs, "inputs")
    sizes = [None if size is None else parse_input(size, "input") for size in listed]
    check_work(len(sizes), len(graph.layers), "input", field="input")
    results = tuple(trace_graph(graph, size) for size in sizes)
    return FlopsReport(graph.spec.name, results, convention)


def params(spec: "str | Path | Spec | Graph", input: "int | str | tuple[int, int] | None" = None) -> ParamsReport:
    """The Python API of ``resnet-inspect params``."""
    return ParamsReport(trace_graph(load_graph(spec), None if input is None else parse_input(input, "input")))
