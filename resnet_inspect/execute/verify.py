"""``verify``: the trace's claims checked by a real forward pass, layer by layer.

The engine predicts every layer's output shape from the op table's shape rules; the executor
computes every layer's output with NumPy kernels that never look at those rules. Running both on
the same graph with seeded random weights (BN statistics far from the identity, so BN really
does something) and comparing shape by shape proves the prediction, or names the first layer
where it is wrong. Rendering lives in :mod:`.formatting`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..core import numbers
from ..core.display import Displayable
from ..model.engine import parse_input, trace_graph
from ..core.errors import InspectError
from ..core.text import shape_text
from ..model.graph import Graph, load_graph
from ..model.naming import ShownNames, names_in
from ..model.ops import Shape
from ..language.spec import Spec


@dataclass(frozen=True)
class LayerCheck:
    """One layer: what the engine predicted, what NumPy produced (batch left out), how long."""

    name: str
    op: str
    stage: str
    predicted: Shape
    actual: Shape
    seconds: float

    @property
    def ok(self) -> bool:
        return self.predicted == self.actual


@dataclass(frozen=True, repr=False)
class VerifyResult(ShownNames, Displayable):
    spec: str
    input_shape: tuple[int, int, int]
    batch: int
    seed: int
    dtype: str
    layers: tuple[LayerCheck, ...]
    total_seconds: float
    # set by naming.rename_verify: our names -> a framework's (None where it has none); display only
    shown_names: Mapping[str, str | None] | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return all(layer.ok for layer in self.layers)

    @property
    def mismatches(self) -> list[LayerCheck]:
        return [layer for layer in self.layers if not layer.ok]

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].actual

    def stage_seconds(self) -> dict[str, float]:
        """Forward time per stage (stem, stage2 … head), in execution order."""
        stages: dict[str, float] = {}
        for layer in self.layers:
            stages[layer.stage] = stages.get(layer.stage, 0.0) + layer.seconds
        return stages

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``verify --format json`` (documented in the README)."""
        return {
            "spec": self.spec,
            "input": list(self.input_shape),
            "batch": self.batch,
            "seed": self.seed,
            "dtype": self.dtype,
            "ok": self.ok,
            "mismatches": [self.shown(layer.name) for layer in self.mismatches],
            "layers": [{"name": self.shown(layer.name), "op": layer.op, "stage": layer.stage,
                        "predicted": list(layer.predicted), "actual": list(layer.actual), "ok": layer.ok,
                        "seconds": layer.seconds,
                        **({"blog_name": layer.name} if self.shown_names is not None else {})}
                       for layer in self.layers],
            "stage_seconds": self.stage_seconds(),
            "total_seconds": self.total_seconds,
        }

    def failure(self) -> str:
        """One line naming the first mismatching layer (and how many more there are)."""
        first, count = self.mismatches[0], len(self.mismatches)
        more = f" ({count - 1} more layers differ)" if count > 1 else ""
        name = self.label(first.name) + (f" ({first.name})" if self.shown(first.name) != first.name else "")
        return (f"layer {name}: predicted {shape_text(first.predicted)}, "
                f"actual {shape_text(first.actual)}{more}")


def verify(spec: str | Spec | Graph, input: int | str | tuple[int, int] | None = None, *, batch: int = 1, seed: int = 0,
           dtype: str = "float32", max_memory: int | None = None,
           on_layer: Callable[[str, Any], None] | None = None) -> VerifyResult:
    """Trace ``spec`` at ``input``, run it with seeded random weights, compare every layer's shape.

    ``max_memory`` (bytes) defaults to the executor's limit; an input the engine refuses raises
    the engine's own one-line error, before any NumPy work. ``on_layer(name, output)`` is called
    as each layer finishes (the CLI's progress bar); it is not part of the timed figures' meaning.
    The pass is the executor's fast one (fusion and in-place work on: shapes are recorded by
    ``Executor(watch=...)``), so ``output`` is valid only during the call, and a layer fused into
    the conv before it (a folded BN, a residual add, a ReLU) takes about no time of its own.
    """
    import numpy as np

    from .executor import DEFAULT_MAX_MEMORY, Executor, check_memory
    from ..model.weights import at_size, random_weights

    batch = numbers.batch(batch)
    seed = numbers.seed(seed)
    graph = load_graph(spec)
    predicted = trace_graph(graph, None if input is None else parse_input(input, "input"))
    hw = predicted.input_shape[:2]
    graph = at_size(graph, hw)  # the seeded weights are made for the traced size (fc1000 at 448 takes 8192)
    limit = DEFAULT_MAX_MEMORY if max_memory is None else max_memory
    check_memory(graph, hw, batch, dtype, limit)  # before the weights are made
    weights = random_weights(graph, seed, dtype)
    x = np.random.default_rng(seed).normal(size=(batch, *predicted.input_shape)).astype(dtype)
    actual: dict[str, tuple[Shape, float]] = {}
    clock = [time.perf_counter()]

    def record(name: str, array: np.ndarray) -> None:
        now = time.perf_counter()
        actual[name] = (tuple(array.shape[1:]), now - clock[0])
        if on_layer is not None:
            on_layer(name, array)
        clock[0] = time.perf_counter()

    executor = Executor(graph, weights, dtype=dtype)  # weights prepared (BN folded) before the clock starts
    start = clock[0] = time.perf_counter()
    executor(x, watch=record)
    total = time.perf_counter() - start
    checks = tuple(LayerCheck(info.name, info.op, info.stage, info.output_shape, *actual[info.name])
                   for info in predicted.layers)
    return VerifyResult(graph.spec.name, predicted.input_shape, batch, seed, dtype, checks, total)


def rename_verify(result: VerifyResult, graph: Graph, scheme: str) -> VerifyResult:
    """The same check shown under ``scheme`` (display only: see ``VerifyResult.shown_names``)."""
    return replace(result, shown_names=names_in(graph, scheme))
