"""The engine: propagate [H, W, C] through a graph and collect each layer's facts.

Pure Python on purpose (no NumPy): a whole ResNet-152 traces in a few milliseconds. This module
collects facts (:class:`LayerInfo`); totals and groupings live in :mod:`.statistics`, rendering
in :mod:`.formatting`.
"""

from __future__ import annotations

from collections import OrderedDict

from ..core.records import record
from ..core import numbers
from ..core.errors import ShapeError
from .graph import Graph, Layer, load_graph
from .ops import IDENTITY, OpError, Shape, Window
from ..language.spec import Spec
from .statistics import TraceResult, TraceWarning


@record
class LayerInfo:
    """One row of a trace: a layer's output shape, parameters and cost at one input size."""

    name: str
    op: str
    inputs: tuple[str, ...]
    output_shape: Shape
    trainable_params: int
    non_trainable_params: int
    macs: int
    flops: int
    stage: str
    block: str
    detail: str
    window: tuple[int, int, int] | None = None  # (kernel, stride, padding) of a conv or pool
    receptive: Window = IDENTITY  # the op's receptive-field rule at this input (see :mod:`.fields`)
    block_kind: str = "block"  # the kind of its block as built (Graph.block_kind): "conv_block", "stem", …

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params


def parse_input(text: str | int | tuple[int, int], name: str = "--input") -> tuple[int, int]:
    """``224`` -> (224, 224); ``224x320`` -> (224, 320) as H×W (the rules: :mod:`..core.numbers`).

    ASCII digits only, as written: ``int()`` alone would also take ``2_24``, full-width digits
    and surrounding spaces, so a typo would silently trace some other size. An error names the
    value ``name`` (``--input``, the flag's text this parses; the API's functions say ``input``).
    """
    return numbers.size(text, name)


def trace_graph(graph: "Graph | Spec | str", input_hw: tuple[int, int] | None = None) -> TraceResult:
    """Propagate shapes through ``graph`` at ``input_hw`` (default: the spec's input).

    A run or verify asks for the same trace from several places (the memory estimate, the weight
    shapes, the executor's fit check, the progress bar); the last few traces are kept, keyed by the
    graph's layers and the input, so each is computed once. Results are immutable, so sharing is safe.
    """
    graph = load_graph(graph)
    spec = graph.spec
    h, w = spec.input_shape[:2] if input_hw is None else numbers.size(input_hw, "input")  # (230.5, 224.0) refused
    input_shape = (h, w, spec.input_shape[2])
    key = (id(graph.layers), input_shape, spec.name)
    cached = _TRACES.get(key)
    if cached is not None and cached[0] is graph.layers:
        _TRACES.move_to_end(key)
        return cached[1]
    result = _propagate(graph, input_shape)
    _TRACES[key] = (graph.layers, result)  # the layers are held, so their id is not reused meanwhile
    if len(_TRACES) > _KEEP_TRACES:
        _TRACES.popitem(last=False)
    return result


_KEEP_TRACES = 4  # a run needs two sizes at most (its own and the spec's); a sweep must not pile up
_TRACES: "OrderedDict[tuple[int, tuple[int, int, int], str], tuple[tuple[Layer, ...], TraceResult]]" = OrderedDict()


def _propagate(graph: Graph, input_shape: tuple[int, int, int]) -> TraceResult:
    """One pass over the layers in order: each op's shape, parameter and cost rules."""
    shapes: dict[str, Shape] = {}
    ops = {layer.name: layer.op for layer in graph}
    rows: list[LayerInfo] = []
    warnings = _framework_warnings(graph, input_shape)
    for layer in graph:
        op = layer.op
        ins = [shapes[name] for name in layer.inputs]
        try:
            out = input_shape if op.kind == "input" else op.output_shape(ins)
        except OpError as exc:
            raise _shape_error(graph, layer, ins, str(exc), shapes) from None
        params = op.params(ins)
        shapes[layer.name] = out
        rows.append(LayerInfo(layer.name, op.kind, layer.inputs, out, params.trainable, params.non_trainable,
                              op.macs(ins, out), op.flops(ins, out), layer.stage, layer.block, op.describe(),
                              op.window(), op.receptive(ins), graph.block_kind(layer.block)))
        if layer.inputs:
            warnings += _leftover_warnings(layer, ins, ops[layer.inputs[0]].border())
    return TraceResult(graph.spec.name, input_shape, tuple(rows), warnings=tuple(warnings),
                       param_count=graph.spec.conventions.param_count)


def _leftover_warnings(layer: Layer, inputs: list[Shape], border: int) -> list[TraceWarning]:
    """A window op whose windows stop short of its input's last rows or columns (the floor in its
    shape rule): those units reach no output. Zeros a pad layer added there are not counted."""
    rows, columns = (max(0, n - border) for n in layer.op.leftover(inputs))
    if not rows and not columns:
        return []
    kernel, stride, _ = layer.op.window() or (0, 0, 0)
    parts = [f"{n} {unit if n == 1 else unit + 's'}" for n, unit in ((rows, "row"), (columns, "column")) if n]
    h, w = inputs[0][0], inputs[0][1]
    return [TraceWarning("window_leftover", layer.name,
                         f"its {kernel}×{kernel}/{stride} window on {h}×{w} leaves the last {' and '.join(parts)} out "
                         f"(they reach no output)", rows, columns)]


def _framework_warnings(graph: Graph, input_shape: Shape) -> list[TraceWarning]:
    """An input below what the reproduced framework's constructor accepts: the layers build, the framework refuses."""
    framework = graph.spec.framework
    if framework is None or min(input_shape[:2]) >= framework.min_input:
        return []
    m = framework.min_input
    return [TraceWarning("below_framework_minimum", None,
                         f"{framework.name} refuses inputs below {m}×{m}; its layers build at "
                         f"{input_shape[0]}×{input_shape[1]}, as traced here")]


def trace(spec: str | Spec, input: int | str | tuple[int, int] | None = None) -> TraceResult:
    """Trace a spec (bundled name, path, or :class:`Spec`) at an input size: the Python API."""
    return trace_graph(load_graph(spec), None if input is None else parse_input(input, "input"))


def smallest_input(graph: "Graph | Spec | str", framework: bool = False) -> int | None:
    """The smallest square input every layer accepts, or None when no size helps.

    ``framework=True``: the smallest that the framework constructor the spec reproduces also
    accepts (its ``framework.min_input``: ``keras.applications`` refuses inputs below 32×32
    although its ResNets' layers build at 1×1); the same as the layers' without one.

    One backward pass inverts each op's spatial rule (``Op.min_input``): the least length each
    layer's output needs, from the head back to the input. Output lengths never shrink as the
    input grows, so that size is exact for the windows; one forward pass confirms that the
    residual adds match there too. Only when they do not (a spec whose branches disagree) does
    a doubling search and bisection look further up. Takes what ``trace`` takes: a bundled
    spec's name, a path, a :class:`Spec` or a :class:`Graph`.
    """
    graph = load_graph(graph)
    need = _least_input(graph)
    if need is None:
        return None
    least = need if _fits(graph, need) else _search(graph, need)
    if framework and least is not None and graph.spec.framework is not None:
        return max(least, graph.spec.framework.min_input)
    return least


def smallest_input_text(graph: Graph) -> str:
    """Both smallest inputs in words, as errors and notes say them: the layers' and, when the spec
    reproduces a framework constructor with a floor of its own, that one."""
    smallest = smallest_input(graph)
    if smallest is None:
        return "no input size works"
    text = f"the smallest input that works is {smallest} ({smallest}×{smallest})"
    framework = graph.spec.framework
    if framework is not None and framework.min_input > smallest:
        m = framework.min_input
        text += f"; {framework.name} itself refuses inputs below {m}×{m}"
    return text


def _least_input(graph: Graph) -> int | None:
    required: dict[str, int] = {}
    for layer in reversed(graph.layers):
        if layer.op.kind == "input":
            return required.get(layer.name, 1)
        least = layer.op.min_input(required.get(layer.name, 1))
        if least is None:
            return None
        for name in layer.inputs:
            required[name] = max(required.get(name, 1), least)
    return None


def _search(graph: Graph, failing: int) -> int | None:
    """Sizes up to ``failing`` do not fit: double from it (20 times at most), then bisect."""
    high = failing * 2
    for _ in range(20):
        if _fits(graph, high):
            break
        failing, high = high, high * 2
    else:
        return None
    while high - failing > 1:
        mid = (failing + high) // 2
        failing, high = (failing, mid) if _fits(graph, mid) else (mid, high)
    return high


def _fits(graph: Graph, size: int) -> bool:
    shapes: dict[str, Shape] = {}
    channels = graph.spec.input_shape[2]
    try:
        for layer in graph:
            ins = [shapes[name] for name in layer.inputs]
            shapes[layer.name] = (size, size, channels) if layer.op.kind == "input" else layer.op.output_shape(ins)
    except OpError:
        return False
    return True


def _shape_error(graph: Graph, layer: Layer, inputs: list[Shape], message: str,
                 shapes: dict[str, Shape] | None = None) -> ShapeError:
    got = " and ".join(str(list(shape)) for shape in inputs)
    if layer.op.kind != "add":
        message += f" (input {got}); {smallest_input_text(graph)}"
        if shapes:
            message += f"; sizes {size_chain(graph, shapes)}"
    return ShapeError(message, where=layer.where, layer=layer.name)


def size_chain(graph: Graph, shapes: dict[str, Shape]) -> str:
    """How the map shrank, layer by layer where its H×W changed: ``192 → 198 (conv1_pad) → 96 (conv1) → …``."""
    steps: list[str] = []
    previous: tuple[int, ...] | None = None
    for layer in graph:
        shape = shapes.get(layer.name)
        if shape is None or len(shape) != 3 or shape[:2] == previous:
            continue
        size = str(shape[0]) if shape[0] == shape[1] else f"{shape[0]}×{shape[1]}"
        steps.append(size if previous is None else f"{size} ({layer.name})")
        previous = shape[:2]
    return " → ".join(steps)
