"""Activation and parameter memory from a trace, for a batch and a dtype, under two conventions.

``inference`` (default): what a forward pass must hold at once. It replays the NumPy executor's
fast pass (:mod:`.executor`) over the traced shapes: layers run in graph order; a layer's output
is allocated while its inputs are still held; an activation is dropped after its last reader
(so a shortcut keeps its block's input alive until the add); ops the executor runs in place
(BatchNorm, ReLU, the residual add, softmax) overwrite their first input when they are its last
reader, and ``flatten`` is a view, so neither needs new memory. The peak is the largest sum of
live activations, and the layer where it happens.

``torchinfo``: torchinfo's "Forward/backward pass size", labelled as such so numbers can be
compared: twice (output + its gradient) the output bytes of every layer that has parameters
(conv, BatchNorm, dense), summed over the network, and "Params size" from PyTorch's
``parameters()`` only (BN running statistics are buffers, not counted). For torchvision's
resnet50 at batch 1, 224, float32 that is 177.83 MB and 102.23 MB (torchinfo 1.8).

Pure Python, like the engine: no NumPy on this path.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..core import numbers
from ..core.dtypes import MEMORY_DTYPES
from ..model.ops import OPS
from ..core.records import record
from ..model.statistics import TraceResult

CONVENTIONS = ("inference", "torchinfo")

# Which ops the executor runs in place (over input 0, when it is that input's last reader) and
# which are views of their input is a fact of each op: ``Op.in_place`` and ``Op.view`` (:mod:`.ops`).


@record
class LayerMemory:
    """One layer: the bytes of its output, and the bytes live once it is computed (before frees)."""

    name: str
    output_bytes: int
    live_bytes: int


@record
class MemoryProfile:
    spec: str
    input_shape: tuple[int, int, int]
    batch: int
    dtype: str
    convention: str
    peak_activation_bytes: int
    peak_layer: str
    param_bytes: int
    input_bytes: int
    layers: tuple[LayerMemory, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``memory --format json`` (documented in the README)."""
        return {"spec": self.spec, "input": list(self.input_shape), "batch": self.batch, "dtype": self.dtype,
                "convention": self.convention, "peak_activation_bytes": self.peak_activation_bytes,
                "peak_layer": self.peak_layer, "param_bytes": self.param_bytes, "input_bytes": self.input_bytes,
                "layers": [asdict(layer) for layer in self.layers]}


def memory_profile(result: TraceResult, batch: int = 1, dtype: str = "float32",
                   convention: str = "inference") -> MemoryProfile:
    """Per-layer output bytes, the peak of live activations and parameter bytes (see the module doc)."""
    numbers.choice(dtype, MEMORY_DTYPES, "dtype")
    numbers.choice(convention, CONVENTIONS, "convention")
    batch = numbers.batch(batch)  # 1.5, True, 0 and 10**305 refused as the CLI refuses them
    itemsize = MEMORY_DTYPES[dtype]
    sizes = {info.name: batch * _elements(info.output_shape) * itemsize for info in result.layers}
    layers = (_inference if convention == "inference" else _torchinfo)(result, sizes)
    peak = max(layers, key=lambda layer: layer.live_bytes)
    totals = result.totals
    params = totals.params if convention == "inference" else totals.trainable_params
    return MemoryProfile(result.spec, result.input_shape, batch, dtype, convention, peak.live_bytes, peak.name,
                         params * itemsize, batch * _elements(result.input_shape) * itemsize, tuple(layers))


def _inference(result: TraceResult, sizes: dict[str, int]) -> list[LayerMemory]:
    """Replay the executor: each layer gets a buffer (new, or its input's), freed after its last reader."""
    last_reader = {name: info.name for info in result.layers for name in info.inputs}
    output = result.layers[-1].name
    buffer: dict[str, str] = {}   # layer -> the layer whose allocation holds its values
    holders: dict[str, int] = {}  # allocation -> live layers that refer to it
    live, rows = 0, []
    for info in result.layers:
        source, op = (info.inputs[0] if info.inputs else None), OPS[info.op]
        if source is not None and (op.view or (
                op.in_place and last_reader[source] == info.name and holders[buffer[source]] == 1)):
            buffer[info.name] = buffer[source]
        else:
            buffer[info.name] = info.name
            live += sizes[info.name]
        holders[buffer[info.name]] = holders.get(buffer[info.name], 0) + 1
        rows.append(LayerMemory(info.name, sizes[info.name], live))
        for name in info.inputs:
            if last_reader[name] == info.name and name != output and name in buffer:
                owner = buffer.pop(name)
                holders[owner] -= 1
                if holders[owner] == 0:
                    live -= sizes[owner]
    return rows


def _torchinfo(result: TraceResult, sizes: dict[str, int]) -> list[LayerMemory]:
    """torchinfo's running total: 2 × output bytes (value and gradient) of each layer with parameters."""
    total, rows = 0, []
    for info in result.layers:
        if info.params > 0:
            total += 2 * sizes[info.name]
        rows.append(LayerMemory(info.name, sizes[info.name], total))
    return rows


def _elements(shape: tuple[int, ...]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total
