"""``export``: a spec as a runnable model: an ONNX graph with weights, or PyTorch or Keras source.

ONNX: one node per layer (a flatten of a map larger than 1×1 adds a transpose), each op's rule
beside its other facts (:meth:`..model.ops.Op.onnx`); BatchNorm stays BatchNormalization (not
folded), a Keras layout's ZeroPadding2D stays a Pad node. Node and initializer names are the
spec's layer names, or a framework's under ``names`` (layers that framework has none for keep
the spec's name); the input is ``input``, NCHW; every value's shape is the trace's. The weights
come from any weights file the tool reads, or are the seeded ones ``verify`` makes. The ``onnx``
package is imported here only, when an ONNX file is written.

PyTorch and Keras: the source :mod:`..analysis.codegen` writes. Every file is written atomically
(a temporary beside it, renamed over it when complete), as every other ``-o`` is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import numbers
from ..core.errors import InspectError, unused
from ..core.records import record
from ..core.safeio import atomic_write
from ..core.text import to_json
from ..core.usertext import visible
from ..language.spec import Spec
from ..model.engine import parse_input, trace_graph
from ..model.graph import Graph, load_graph
from ..model.keras import check_layout
from ..model.naming import check_scheme, names_in, shown

if TYPE_CHECKING:
    from ..model.weights import Weights

OPSET = 17
FORMATS = ("onnx", "pytorch", "keras")
SUFFIXES = {"onnx": (".onnx",), "pytorch": (".py",), "keras": (".py",)}


@record
class Exported:
    """What ``export`` wrote: the file, its format, and what is in it."""

    spec: str
    format: str
    file: str
    input: tuple[int | None, ...]  # the model's input: NCHW for ONNX and PyTorch, NHWC for Keras; batch None: dynamic
    layers: int  # ONNX nodes, or the spec's layers the code builds
    arrays: int = 0  # ONNX initializers that hold weights (0 for source code)
    numbers: int = 0
    weights: str | None = None  # the weights file, or None: seeded as verify makes them (ONNX)
    names: str = "blog"

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``export --format json``."""
        return {"spec": self.spec, "format": self.format, "file": self.file, "input": list(self.input),
                "layers": self.layers, "arrays": self.arrays, "numbers": self.numbers,
                "weights": self.weights, "names": self.names}

    def to_json(self) -> str:
        return to_json(self.to_dict())

    def line(self) -> str:
        """One line for people."""
        shape = "x".join("N" if d is None else str(d) for d in self.input)
        if self.format != "onnx":
            return (f"wrote {visible(self.file)}: {self.format} code for {visible(self.spec)}, {self.layers} layers, "
                    f"input {shape}; build_model() returns the model")
        source = f"from {visible(self.weights)}" if self.weights else "seeded as verify makes them"
        return (f"wrote {visible(self.file)}: ONNX opset {OPSET}, {self.layers} nodes, {self.arrays} arrays "
                f"({self.numbers:,} numbers, {source}), input {shape} (NCHW), names {self.names}")


# --------------------------------------------------------------------------- weights


def export_weights(graph: Graph, hw: tuple[int, int], weights: str | Path | None = None, *, seed: int = 0,
                   keras_layout: str | None = None, names: str | None = None) -> "Weights":
    """The weights a model is exported with: a file's (checked against the spec at ``hw``), or the
    seeded ones ``verify`` makes for the graph at ``hw`` (same seed, same numbers)."""
    from ..model.weights import at_size, random_weights

    if weights is None:
        return random_weights(at_size(graph, hw), seed)
    from .inference import load_weights_at

    return load_weights_at(weights, graph, hw, names, keras_layout)


# --------------------------------------------------------------------------- ONNX


def onnx_model(graph: Graph, weights: "Weights", hw: tuple[int, int], *, batch: int | str = 1,
               names: str | None = None) -> Any:
    """The ONNX ``ModelProto`` of ``graph`` at input ``hw`` with ``weights``; ``batch`` a number or
    ``"dynamic"`` (a symbolic ``batch`` dimension)."""
    import numpy as np

    _onnx()
    from onnx import TensorProto, helper, numpy_helper

    result = trace_graph(graph, hw)
    shapes = {info.name: info.output_shape for info in result.layers}
    node_name = _node_names(graph, names)
    arrays = shown(graph, None if names in (None, "blog") else names)
    dim: int | str = "batch" if batch == "dynamic" else batch
    value = {graph.layers[0].name: "input"}
    nodes, initializers, infos = [], [], []
    for layer in graph.layers[1:]:
        ins = tuple(value[source] for source in layer.inputs)
        own = node_name[layer.name]
        steps = layer.op.onnx(ins, [shapes[source] for source in layer.inputs])
        for step in steps:
            inputs = []
            for name in step.inputs:
                if name.startswith("@"):
                    inputs.append(_initializer(layer, name[1:], own, arrays, weights, initializers,
                                               numpy_helper, np))
                elif name.startswith("+"):
                    inputs.append(own + name[1:])
                else:
                    inputs.append(name)
            output = own + step.suffix
            nodes.append(helper.make_node(step.op_type, inputs, [output], name=output, **step.attrs))
        value[layer.name] = own
        infos.append(helper.make_tensor_value_info(own, TensorProto.FLOAT, [dim, *_nchw(shapes[layer.name])]))
    c = graph.spec.input_shape[2]
    graph_input = helper.make_tensor_value_info("input", TensorProto.FLOAT, [dim, c, hw[0], hw[1]])
    output = infos[-1]
    body = helper.make_graph(nodes, graph.spec.name, [graph_input], [output], initializer=initializers,
                             value_info=infos[:-1])
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="resnet-inspect", doc_string=f"spec {graph.spec.name}")
    model.ir_version = min(model.ir_version, 9)  # what ONNX Runtime 1.17+ reads
    return model


def _initializer(layer: Any, key: str, own: str, arrays: Any, weights: "Weights", initializers: list,
                 numpy_helper: Any, np: Any) -> str:
    if key == "pads":
        pad = layer.op.pad
        name = f"{own}/pads"
        initializers.append(numpy_helper.from_array(np.array([0, 0, pad, pad, 0, 0, pad, pad], np.int64), name))
        return name
    name = arrays.array(layer.name, key)
    array = weights[layer.name][key]
    order = layer.op.torch_layout.get(key)
    data = np.ascontiguousarray((array.transpose(order) if order else array).astype(np.float32))
    initializers.append(numpy_helper.from_array(data, name))
    return name


def _nchw(shape: tuple[int, ...]) -> list[int]:
    return [shape[2], shape[0], shape[1]] if len(shape) == 3 else list(shape)


def _node_names(graph: Graph, names: str | None) -> dict[str, str]:
    """Each layer's node name: the scheme's, or the spec's where the framework has none (or repeats one)."""
    if names in (None, "blog"):
        return {layer.name: layer.name for layer in graph}
    check_scheme(names)
    theirs = names_in(graph, names)
    taken: set[str] = set()
    chosen = {}
    for layer in graph:
        name = theirs.get(layer.name) or layer.name
        if name in taken or name == "input" and layer.op.kind != "input":
            name = layer.name
        taken.add(name)
        chosen[layer.name] = name
    return chosen


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise InspectError("writing ONNX needs the onnx package: pip install 'resnet-inspect[onnx]'") from None
    return onnx


def export_onnx(spec: "str | Path | Spec | Graph", path: str | Path, *, weights: str | Path | None = None,
                input: int | str | tuple[int, int] | None = None, batch: int | str = 1, names: str | None = None,
                seed: int = 0, keras_layout: str | None = None) -> Exported:
    """Write ``spec`` as an ONNX model (opset 17) to ``path`` (``.onnx``).

    ``weights``: any weights file the tool reads (checked against the spec first), or None for
    the seeded weights ``verify`` makes (``seed``). ``input``: the traced input size (default
    the spec's). ``batch``: a number, or ``"dynamic"``. ``names``: ``blog`` (the spec's), ``caffe``,
    ``keras3`` or ``torchvision`` for node and initializer names.
    """
    numbers.path(path, "path")
    if weights is not None:
        numbers.path(weights, "weights")
    graph = load_graph(spec)
    hw = parse_input(input, "input") if input is not None else graph.spec.input_shape[:2]
    batch = _batch(batch)
    if names is not None:
        check_scheme(names)
    trace_graph(graph, hw)  # a size the spec cannot take is refused before any weights are made
    _onnx()
    model = onnx_model(graph, export_weights(graph, hw, weights, seed=seed, keras_layout=keras_layout, names=names),
                       hw, batch=batch, names=names)
    data = model.SerializeToString()
    with atomic_write(path, suffixes=SUFFIXES["onnx"], reads=(weights, _spec_path(spec)), what="ONNX file") as temporary:
        temporary.write_bytes(data)
    weighted = [t for t in model.graph.initializer if not t.name.endswith("/pads")]
    held = sum(_count(t.dims) for t in weighted)
    c = graph.spec.input_shape[2]
    return Exported(graph.spec.name, "onnx", str(path), (batch if isinstance(batch, int) else None, c, *hw),
                    len(model.graph.node), len(weighted), held, None if weights is None else str(weights),
                    names or "blog")


def _batch(batch: int | str) -> int | str:
    """A batch through the one number parser (its bounds), or ``"dynamic"``."""
    if batch == "dynamic":
        return batch
    try:
        return numbers.batch(batch, "batch")
    except InspectError:
        raise InspectError(f"batch must be a whole number from 1 to {numbers.MAX_BATCH:,} or 'dynamic', "
                           f"got {numbers.quoted(batch)}", field="batch") from None


def _count(dims: Any) -> int:
    total = 1
    for d in dims:
        total *= int(d)
    return total


def _spec_path(spec: Any) -> str | None:
    return str(spec) if isinstance(spec, (str, Path)) and Path(str(spec)).suffix in (".yaml", ".yml") else None


# --------------------------------------------------------------------------- source code


def export_pytorch(spec: "str | Path | Spec | Graph", path: str | Path) -> Exported:
    """Write ``spec`` as a standalone PyTorch module (``.py``, needs only torch; ``build_model()``).

    Its ``state_dict()`` keys are torchvision's (for a torchvision-layout spec, exactly its
    checkpoints'); ``weights convert SRC -o W.safetensors`` writes any weights file as that dict.
    """
    from ..analysis.codegen import pytorch_source

    numbers.path(path, "path")
    graph = load_graph(spec)
    return _write_source(graph, spec, path, "pytorch", pytorch_source(graph), _nchw_input(graph))


def export_keras(spec: "str | Path | Spec | Graph", path: str | Path, *, keras_layout: str | None = None) -> Exported:
    """Write ``spec`` as Keras 3 functional code (``.py``; ``build_model()``), under the spec's Keras
    layout (or ``keras_layout``): its names and add order, so the ``.weights.h5`` files this tool
    writes with the same layout load into it."""
    from ..analysis.codegen import keras_source

    numbers.path(path, "path")
    graph = load_graph(spec)
    h, w, c = graph.spec.input_shape
    return _write_source(graph, spec, path, "keras", keras_source(graph, keras_layout), (1, h, w, c),
                         keras_layout)


def _nchw_input(graph: Graph) -> tuple[int, ...]:
    h, w, c = graph.spec.input_shape
    return (1, c, h, w)


def _write_source(graph: Graph, spec: Any, path: str | Path, fmt: str, text: str, shape: tuple[int, ...],
                  keras_layout: str | None = None) -> Exported:
    with atomic_write(path, suffixes=SUFFIXES[fmt], reads=(_spec_path(spec),), what=f"{fmt} file") as temporary:
        temporary.write_text(text, encoding="utf-8")
    names = "torchvision" if fmt == "pytorch" else check_layout(keras_layout, graph)
    return Exported(graph.spec.name, fmt, str(path), shape, len(graph.layers), names=names)


# The options each target takes; another one given is refused, never ignored (core.errors.unused).
USES: dict[str, frozenset[str]] = {
    "onnx": frozenset({"weights", "input", "batch", "seed", "names", "keras_layout"}),
    "pytorch": frozenset(),
    "keras": frozenset({"keras_layout"}),
}


def export(spec: "str | Path | Spec | Graph", to: str, path: str | Path, **options: Any) -> Exported:
    """``export_onnx``, ``export_pytorch`` or ``export_keras`` by ``to`` (the CLI's one call).

    An option left at None is not given; one given that ``to`` does not use is an error: code for
    PyTorch or Keras builds the spec's network and carries no weights (``weights convert`` writes
    them), so a ``weights`` it would drop must not pass silently."""
    numbers.choice(to, FORMATS, "to")
    given = {key: value for key, value in options.items() if value is not None}
    for key in given:
        if key not in USES[to]:
            raise unused(key, f"applies to onnx; {to} code builds the spec's network, its weights come "
                              "from `weights convert`")
    writer = {"onnx": export_onnx, "pytorch": export_pytorch, "keras": export_keras}[to]
    return writer(spec, path, **given)

