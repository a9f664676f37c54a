"""resnet-inspect: trace a residual network from a YAML spec, layer by layer, in pure Python.

    >>> import resnet_inspect
    >>> result = resnet_inspect.trace("resnet50", input=224)
    >>> result.layer("res2a").output_shape
    (56, 56, 256)
"""

from .model.engine import LayerInfo, parse_input, smallest_input, trace, trace_graph
from .core.errors import InspectError, ShapeError, SpecError
from .model.graph import Graph, Layer, build_graph, load_graph
from .language.spec import Spec, bundled_specs, load_spec, parse_spec
from .model.statistics import Totals, TraceResult
from ._version import __version__
from .render import display as _display  # noqa: F401 (registers each result's repr/Rich/HTML hooks; loads no renderer)


# The pictures load on first use, so a plain `trace` process never pays for them.
_LAZY = {"Diagram": "render.diagrams", "diagram": "render.diagrams", "report_html": "render.html_report"}


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Diagram", "Graph", "InspectError", "Layer", "LayerInfo", "ShapeError", "Spec", "SpecError", "Totals", "TraceResult",
    "build_graph", "bundled_specs", "diagram", "load_graph", "load_spec", "parse_input", "parse_spec", "report_html", "smallest_input", "trace",
    "trace_graph",
]
