"""``explain``: the arithmetic behind one layer, step by step, for learners reading the blog.

Each op explains itself (``Op.explain`` in :mod:`.ops`, beside its shape and cost rules); this
module finds the layer, names where its input comes from, and adds what only the graph knows:
whether a strided window reaches Keras' ``padding='same'`` size ⌈n/stride⌉ and, if not, the
padding that would (why the 2019 code's ``pool1`` is 55 and not the blog's 56).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model.engine import parse_input, trace_graph
from ..core.errors import unknown_layer
from ..model.graph import load_graph
from ..model.ops import Step, Window
from ..language.spec import Spec


@dataclass(frozen=True)
class Explanation:
    spec: str
    input_shape: tuple[int, int, int]
    layer: str
    op: str
    detail: str
    inputs: tuple[tuple[str, tuple[int, ...]], ...]  # (layer name, its output shape) per input
    output_shape: tuple[int, ...]
    steps: tuple[Step, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``explain --format json`` (documented in the README)."""
        return {"spec": self.spec, "input": list(self.input_shape), "layer": self.layer, "op": self.op,
                "detail": self.detail, "inputs": [{"name": name, "output_shape": list(shape)}
                                                  for name, shape in self.inputs],
                "output_shape": list(self.output_shape),
                "steps": [{"quantity": s.quantity, "arithmetic": s.arithmetic, "value": s.value} for s in self.steps]}


def explain(spec: str | Spec, layer: str, input: int | str | tuple[int, int] | None = None) -> Explanation:
    """Why ``layer`` of ``spec`` has its shape, parameters, MACs and FLOPs at ``input``."""
    from ..core import numbers

    layer = numbers.text(layer, "layer")  # a 5,000-digit int or a tuple: one error, not a traceback
    graph = load_graph(spec)
    result = trace_graph(graph, None if input is None else parse_input(input, "input"))
    node = next((candidate for candidate in graph if candidate.name == layer), None)
    if node is None:
        raise unknown_layer(layer, (candidate.name for candidate in graph), graph.spec.name, field="LAYER")
    info = result.layer(layer)
    inputs = [result.layer(name).output_shape for name in node.inputs]
    steps = node.op.explain(inputs, info.output_shape)
    unpadded = _before_padding(result, node.inputs)
    steps += _same_padding(unpadded, info.receptive, inputs, info.output_shape)
    return Explanation(graph.spec.name, result.input_shape, layer, info.op, info.detail,
                       tuple(zip(node.inputs, inputs)), info.output_shape, tuple(steps))


def _before_padding(result: Any, inputs: tuple[str, ...]) -> tuple[int, ...] | None:
    """The map's shape before any zero padding that feeds this layer (``pool1_pad`` -> ``conv1_relu``)."""
    if not inputs:
        return None
    info = result.layer(inputs[0])
    while info.op == "zero_pad":
        info = result.layer(info.inputs[0])
    return info.output_shape


def _same_padding(unpadded: tuple[int, ...] | None, window: Window, inputs: list[tuple[int, ...]],
                  output: tuple[int, ...]) -> list[Step]:
    """When a strided window gives less than ⌈n/stride⌉ (Keras' 'same'), say so and which padding would."""
    if unpadded is None or len(unpadded) != 3 or len(output) != 3:
        return []
    steps = []
    square = inputs[0][0] == inputs[0][1] and unpadded[0] == unpadded[1]
    for axis, name in ((0, "H and W" if square else "H"), (1, "W")):
        kernel, stride, pad = window.kernel[axis], window.stride[axis], window.padding[axis]
        size, wanted = inputs[0][axis], -(-unpadded[axis] // stride)
        if stride == 1 or output[axis] >= wanted:
            continue
        need = next(p for p in range(pad, pad + kernel + 1) if (size + 2 * p - kernel) // stride + 1 >= wanted)
        steps.append(Step("why not " + str(wanted),
                          f"{name}: ⌈{unpadded[axis]}/{stride}⌉ = {wanted} (Keras padding='same', as the blog's text has it) "
                          f"needs padding {need} on each side: ⌊({size} + 2·{need} − {kernel})/{stride}⌋ + 1 = {wanted}; "
                          f"this layer pads {pad}, so {output[axis]}", output[axis]))
        if square:
            break  # one line says it for both axes
    return steps
