"""Real inference: an image or an array in, the network's output and its top ImageNet classes out.

This module computes; :mod:`resnet_inspect.render.inference_report` renders, and
:mod:`.inputs` reads and preprocesses the input (every file checked from its header first, so the
memory estimate comes before any decoding, loading or resizing).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Protocol

from ..core import numbers
from ..core.display import Displayable
from ..core.text import to_json
from ..core.errors import InspectError, Location
from ..model.graph import Graph, load_graph
from ..core.usertext import visible
from ..model.weights import Seeded, Weights, at_size, check_size_fits, weight_shapes
from .inputs import load_input

if TYPE_CHECKING:
    import numpy as np

    from ..language.spec import Spec
    from .executor import Executor



@dataclass(frozen=True)
class Prediction:
    """One of the top classes of one batch item."""

    index: int
    name: str | None  # None when the head is not a 1000-way ImageNet classifier
    score: float  # a probability: the head's softmax, or the softmax of its logits


@dataclass(frozen=True)
class Timing:
    """Forward-pass wall times in seconds (one cold run when no repeats were asked for)."""

    median: float
    min: float
    runs: int


@dataclass(frozen=True, repr=False)
class RunResult(Displayable):
    spec: str
    weights: str
    source: str  # the image or array file
    input_shape: tuple[int, ...]  # N, H, W, C
    output: np.ndarray  # the network's final output, as --save-output writes it
    output_kind: str  # "softmax" or "logits"
    top: list[list[Prediction]]  # per batch item, best first
    timing: Timing
    saved_input: str | None = None  # where --save-input wrote the batch the network received
    saved_output: str | None = None  # where --save-output wrote the final output
    seeded: Seeded | None = None  # the weights file is marked as seeded random weights (`weights init`)

    @property
    def warning(self) -> str | None:
        """One line saying the classes mean nothing when the weights are seeded random ones."""
        if self.seeded is None:
            return None
        made = f"seed {self.seeded.seed}" if self.seeded.seed >= 0 else "marked as such"
        return (f"{visible(self.weights)} holds seeded random weights (weights init, {made}), not trained ones: "
                "the classes and scores mean nothing")

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(self.output.shape)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: spec, output_shape, top (first item), forward_s; more keys may be added."""
        tops = [[_prediction(p) for p in item] for item in self.top]
        data = {
            "spec": self.spec,
            "weights": self.weights,
            "input": {"file": self.source, "shape": list(self.input_shape)},
            "output_shape": list(self.output_shape),
            "output": self.output_kind,
            "top": tops[0] if tops else [],
            "forward_s": asdict(self.timing),
            "saved": {"input": self.saved_input, "output": self.saved_output},
            "seeded_weights": None if self.seeded is None else {"seed": self.seeded.seed, "scheme": self.seeded.scheme},
            "warnings": [self.warning] if self.warning else [],
        }
        if len(tops) > 1:
            data["top_per_item"] = tops
        return data

    def to_json(self) -> str:
        return to_json(self.to_dict())


def _prediction(p: Prediction) -> dict[str, Any]:
    return {"class": p.name, "index": p.index, "score": p.score}


# --------------------------------------------------------------------------- running

MAX_REPEAT = 1000  # timed passes; ResNet-50 at ~0.4 s each is ~7 minutes


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names shipped in the package, in output order (no download)."""
    text = resources.files("resnet_inspect").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def softmax(logits: np.ndarray) -> np.ndarray:
    import numpy as np

    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def top_k(output: np.ndarray, k: int, is_softmax: bool) -> list[list[Prediction]]:
    """The ``k`` best classes per batch item, with ImageNet names when there are 1000 classes."""
    import numpy as np

    probabilities = output if is_softmax else softmax(output.astype(np.float64))
    names = imagenet_classes() if output.shape[-1] == 1000 else None
    k = max(0, min(k, output.shape[-1]))
    result = []
    for row in probabilities:
        best = np.argsort(-row, kind="stable")[:k]
        result.append([Prediction(int(i), names[i] if names else None, float(row[i])) for i in best])
    return result


def timed_forwards(executor: "Executor", x: np.ndarray, repeat: int,
                   on_layer: Callable[[str, np.ndarray], None] | None = None,
                   on_pass: Callable[[], None] | None = None) -> tuple[np.ndarray, Timing]:
    """One forward pass (the result; it also warms up), then ``repeat`` timed ones.

    The executor holds the weights prepared once, so the timings are the forward pass alone
    (re-folding ResNet-50's BatchNorms would add ~50 ms to each). With ``repeat`` 0 the single
    cold run is the timing, reported as such (runs = 1). Only the first pass reports each layer
    (``on_layer`` turns the executor's in-place work off, which would skew the timed passes);
    the timed passes report each whole pass (``on_pass``).
    """
    start = time.perf_counter()
    output = executor(x, on_layer)
    times = [time.perf_counter() - start]
    if repeat > 0:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            executor(x)
            times.append(time.perf_counter() - start)
            if on_pass is not None:
                on_pass()
    return output, Timing(statistics.median(times), min(times), len(times))


def check_run_options(top: int, repeat: int) -> None:
    """``--top`` and ``--repeat`` within bounds (checked before any file is read)."""
    numbers.count(top, "top", 0, numbers.MAX_BATCH)
    if numbers.count(repeat, "repeat", 0) > MAX_REPEAT:
        raise InspectError(f"at most {MAX_REPEAT} timed passes, got {numbers.quoted(repeat)}", field="repeat")


class Progress(Protocol):
    """What a progress display gives ``run``: callbacks per layer (first pass) and per timed pass."""

    on_layer: Callable[[str, np.ndarray], None] | None
    on_pass: Callable[[], None] | None


# progress(graph, input_hw, batch, runs) -> a context manager giving the callbacks (the CLI's bar)
ProgressFactory = Callable[[Graph, tuple[int, int], int, int], ContextManager[Progress]]


def run(spec: "str | Path | Spec | Graph", weights: str | Path, x: np.ndarray | None = None,
        source: str | None = None, *, image: str | Path | None = None, array: str | Path | None = None,
        resize: str | None = None, top: int = 5, repeat: int = 0, max_memory: int | None = None,
        names: str | None = None, keras_layout: str | None = None, save_input: str | Path | None = None,
        save_output: str | Path | None = None, on_layer: Callable[[str, np.ndarray], None] | None = None,
        on_pass: Callable[[], None] | None = None, progress: ProgressFactory | None = None) -> RunResult:
    """Real inference with real weights: the Python API of ``resnet-inspect run``, all it does.

    The input is ``x`` (an NHWC array, named ``source`` in the result) or exactly one of ``image``
    and ``array`` (files: headers read and the pass's memory checked against ``max_memory`` bytes,
    default 4 GiB, before any data). Output paths are checked before any work, so a bad
    ``save_output`` costs nothing; ``save_input`` writes the batch the network received. The
    weights are loaded once, checked against the graph at the input's size; errors name layers and
    arrays under ``names``; ``keras_layout`` says which Keras code saved a ``.weights.h5``/``.keras``.
    The graph is built once and traced once per input size (a trace is shared: see ``trace_graph``).
    """
    from ..io.weightfiles import check_layout_used

    check_run_options(top, repeat)
    for field, value in (("weights", weights), ("image", image), ("array", array), ("save_input", save_input),
                         ("save_output", save_output)):
        if value is not None or field == "weights":
            numbers.path(value, field)  # before any is compared, shown or opened
    check_layout_used(keras_layout, weights)
    graph = load_graph(spec)
    reads = (weights, image, array, graph.spec.file)
    for path, field, also in ((save_input, "save_input", ()), (save_output, "save_output", (save_input,))):
        if path is not None:
            check_output(path, (*reads, *also), field)  # before the run, not after it
    if x is None:
        x, source = load_input(graph, image=image, array=array, max_memory=max_memory, resize=resize)
    if save_input is not None:
        save_array(x, save_input, reads, "save_input")
    hw = (int(x.shape[1]), int(x.shape[2]))
    with (progress or _no_progress)(graph, hw, int(x.shape[0]), 1 + repeat) as shown:
        result = _forward(graph, weights, x, source or "array", top=top, repeat=repeat, max_memory=max_memory,
                          on_layer=on_layer or shown.on_layer, on_pass=on_pass or shown.on_pass,
                          names=names, keras_layout=keras_layout)
    if save_output is not None:
        save_output_file(result, save_output, reads)
    return replace(result, saved_input=None if save_input is None else str(save_input),
                   saved_output=None if save_output is None else str(save_output))


@dataclass(frozen=True)
class _Silent:
    on_layer: None = None
    on_pass: None = None


@contextmanager
def _no_progress(graph: Graph, input_hw: tuple[int, int], batch: int, runs: int) -> Iterator[Progress]:
    yield _Silent()


def _forward(graph: Graph, weights_path: str | Path, x: np.ndarray, source: str, *, top: int, repeat: int,
             max_memory: int | None, on_layer: Callable[[str, np.ndarray], None] | None,
             on_pass: Callable[[], None] | None, names: str | None, keras_layout: str | None) -> RunResult:
    """Refuse a pass above the memory limit before loading anything, load the weights, run, rank."""
    from .executor import DEFAULT_MAX_MEMORY, Executor, check_memory

    limit = DEFAULT_MAX_MEMORY if max_memory is None else max_memory
    hw = (int(x.shape[1]), int(x.shape[2]))
    check_memory(graph, hw, x.shape[0], "float32", limit)
    sized = at_size(graph, hw)
    metadata: dict[str, str] = {}
    weights = load_weights_at(weights_path, graph, hw, names, keras_layout, metadata)
    executor = Executor(sized, weights)
    del weights  # the file's arrays are dropped once prepared
    output, timing = timed_forwards(executor, x, repeat, on_layer, on_pass)
    is_softmax = graph.layers[-1].op.kind == "softmax"
    return RunResult(graph.spec.name, str(weights_path), source, tuple(x.shape), output,
                     "softmax" if is_softmax else "logits", top_k(output, top, is_softmax), timing,
                     seeded=Seeded.of(metadata))


def load_weights_at(path: str | Path, graph: Graph, input_hw: tuple[int, int], names: str | None = None,
                    keras_layout: str | None = None, metadata: dict[str, str] | None = None) -> Weights:
    """The weights file checked against ``graph`` at the size being run.

    When a flatten head makes the Dense layer's input depend on the size and the file does not
    fit at this size but does at the spec's own, the error says which layer, how many inputs the
    weights take and give here, and which input sizes they fit.
    """
    from ..model.naming import shown
    from ..io.base import WeightsError
    from ..io.weightfiles import load_weights, read_weights

    named = shown(graph, names)
    sized = at_size(graph, input_hw)
    try:
        weights, found = read_weights(path, sized, shown=named, keras_layout=keras_layout)
        if metadata is not None:
            metadata.update(found)  # the file's marks (seeded random weights), for the result
        return weights
    except WeightsError:
        if sized is graph or weight_shapes(sized) == weight_shapes(graph):
            raise
        error = sys.exc_info()[1]
    try:
        load_weights(path, graph, shown=named, keras_layout=keras_layout)
    except WeightsError:
        raise error from None
    check_size_fits(graph, input_hw, where=Location(visible(str(path))), shown=named)
    raise error  # not reached: the sizes differ, so check_size_fits raised


def check_output(path: str | Path, reads: tuple[str | Path | None, ...], field: str) -> None:
    """Refuse, before any work, an output path that is empty, not ``.npy``, or a file this command reads."""
    from ..core.safeio import check_target

    try:
        check_target(path, suffixes=(".npy",), reads=reads, what="output file")  # the field names the argument
    except InspectError as exc:
        raise InspectError(exc.message, where=exc.where, field=field) from None


def save_array(array: np.ndarray, path: str | Path, reads: tuple[str | Path | None, ...] = (),
               field: str = "save_output") -> None:
    """Write ``array`` as ``.npy`` atomically: a temporary file beside ``path``, renamed over it
    when complete, so a failed write leaves the old file intact and no partial file."""
    import numpy as np

    from ..core.safeio import atomic_write

    check_output(path, reads, field)
    with atomic_write(path, suffixes=(".npy",), reads=reads, what="output file") as temporary:
        with open(temporary, "wb") as f:  # an open file: np.save would append ".npy" to a bare name
            np.save(f, array, allow_pickle=False)


def save_output_file(result: RunResult, path: str | Path, reads: tuple[str | Path | None, ...] = ()) -> None:
    """Write the network's final output as ``.npy`` (softmax where the head has it, else logits)."""
    save_array(result.output, path, reads, "save_output")

