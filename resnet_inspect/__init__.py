"""resnet-inspect: trace a residual network from a YAML spec, layer by layer, in pure Python.

Everything below works after ``import resnet_inspect`` alone; each part loads on first use, so
the import itself stays cheap (no NumPy, no Rich).

Trace a network (a bundled name such as ``"resnet50"``, a path, a ``Spec`` or a ``Graph``)::

    >>> import resnet_inspect
    >>> result = resnet_inspect.trace("resnet50", input=224)
    >>> result.layer("res2a").output_shape
    (56, 56, 256)
    >>> result.totals.params
    25636712

The result prints as a table (``rich.print(result)``), shows as HTML in a notebook, and gives
``to_dict()``, ``to_json()`` and ``to_records()``.

Specs and graphs: ``load_spec``, ``parse_spec``, ``bundled_specs``, ``build_graph``,
``load_graph``, ``smallest_input``, ``parse_input``.

Analyses, as modules: ``receptive.receptive_fields(result)``, ``memory.memory_profile(result)``,
``sweep.sweep(graph, sizes)``, ``explain.explain(spec, layer)``, ``naming.name_table(graph)``.

Counts as the CLI prints them: ``flops(spec, ["224", "320x224"])``, ``params(spec)`` (each with
``to_dict()``/``to_json()``, the commands' JSON).

Running the network (NumPy): ``verify.verify(spec, input)``, ``executor.forward(graph, weights,
x)``, ``run(spec, weights, image=... or array=...)`` (all that ``resnet-inspect run`` does);
Keras files: ``kerasio.keras_order(graph)``.

From the files users have: ``import_spec(path)`` (a ``.keras`` archive, an ONNX model or a
torchvision state dict back to a spec, with what the file could not tell) and ``identify(path)``
(the bundled spec a model or weights file is).
A spec as a runnable model: ``export_onnx(spec, "m.onnx", weights=None, input=224, batch=1,
names=None)``, ``export_pytorch(spec, "m.py")``, ``export_keras(spec, "m.py")``.

Pictures: ``diagram(spec, level="block")`` (shows inline in a notebook; ``.to_svg()``) and
``report_html(spec)``.

Errors a user can cause are ``InspectError`` (``SpecError``, ``ShapeError``, ``UnknownLayer``):
one line that names the file, line, field or layer; a wrong layer name suggests the closest.
"""

from __future__ import annotations

from ._version import __version__
from .render import display as _display  # noqa: F401 (registers each result's repr/Rich/HTML hooks; loads no renderer)

# name -> the module that defines it, loaded on first use (PEP 562).
_LAZY = {
    # functions
    "trace": "model.engine", "trace_graph": "model.engine", "parse_input": "model.engine",
    "smallest_input": "model.engine",
    "load_spec": "language.spec", "parse_spec": "language.spec", "bundled_specs": "language.spec",
    "build_graph": "model.graph", "load_graph": "model.graph",
    "diagram": "render.diagrams", "report_html": "render.html_report",
    "run": "execute.inference", "flops": "analysis.counts", "params": "analysis.counts",
    "import_spec": "io.importers", "identify": "io.importers",
    "export_onnx": "execute.export", "export_pytorch": "execute.export", "export_keras": "execute.export",
    # errors
    "InspectError": "core.errors", "SpecError": "core.errors", "ShapeError": "core.errors",
    "UnknownLayer": "core.errors",
    # record types: reachable and listed by dir(), but outside __all__ so help() stays a guide
    "Spec": "language.spec", "Graph": "model.graph", "Layer": "model.graph", "LayerInfo": "model.engine",
    "TraceResult": "model.statistics", "Totals": "model.statistics", "Diagram": "render.diagrams",
    "ImportResult": "io.importers", "IdentifyResult": "io.importers",
}
# name -> module: the README's documented paths (``resnet_inspect.verify.verify`` ...), also lazy.
_MODULES = {
    "verify": "verify", "executor": "executor", "sweep": "sweep", "receptive": "receptive", "memory": "memory",
    "naming": "naming", "kerasio": "kerasio", "explain": "explain", "weights": "model.weights",
}

__all__ = [
    "__version__",
    # trace and specs
    "trace", "trace_graph", "parse_input", "smallest_input", "load_spec", "parse_spec", "bundled_specs",
    "build_graph", "load_graph",
    # analyses and runs, as the README shows them
    "receptive", "memory", "sweep", "explain", "naming", "verify", "executor", "kerasio", "weights", "run",
    "flops", "params",
    # from the files users have
    "import_spec", "identify",
    # a spec as a runnable model
    "export_onnx", "export_pytorch", "export_keras",
    # pictures
    "diagram", "report_html",
    # errors
    "InspectError", "SpecError", "ShapeError",
]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    import importlib

    if name in _MODULES:
        value = importlib.import_module(f".{_MODULES[name]}", __name__)
    elif name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_MODULES))
