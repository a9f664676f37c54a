"""Real inference: an image or an array in, the network's output and its top ImageNet classes out.

This module computes; :mod:`resnet_inspect.inference_report` renders. Preprocessing follows the
convention the spec declares, because a ResNet's weights are only right for the normalisation
they were trained with: ``caffe`` (Keras/Caffe: RGB -> BGR, subtract the ImageNet mean per
channel, no scaling) or ``torch`` (RGB scaled to [0, 1], then mean/std per channel).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import InspectError, Location
from .graph import Graph

if TYPE_CHECKING:
    import numpy as np

    from .executor import Executor

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # Keras imagenet_utils, mode "caffe"
TORCH_MEAN_RGB = (0.485, 0.456, 0.406)  # torchvision's transforms.Normalize for ImageNet
TORCH_STD_RGB = (0.229, 0.224, 0.225)
IMAGE_EXTRA = "pip install 'resnet-inspect[image]'"


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


@dataclass(frozen=True)
class RunResult:
    spec: str
    weights: str
    source: str  # the image or array file
    input_shape: tuple[int, ...]  # N, H, W, C
    output: np.ndarray  # the network's final output, as --save-output writes it
    output_kind: str  # "softmax" or "logits"
    top: list[list[Prediction]]  # per batch item, best first
    timing: Timing

    # Display in a REPL, a terminal (rich.print) and Jupyter: see resnet_inspect.display.
    def __repr__(self) -> str:
        from .display import run_repr

        return run_repr(self)

    def __rich__(self) -> "Any":
        from .inference_report import run_table

        return run_table(self)

    def _repr_html_(self) -> str:
        from .display import run_html

        return run_html(self)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(self.output.shape)


# --------------------------------------------------------------------------- inputs


def load_array(path: str | Path) -> np.ndarray:
    """An NHWC float array from ``.npy`` (never unpickled); a single H×W×C image gets a batch dim."""
    import numpy as np

    path = Path(path)
    where = Location(str(path))
    if not path.is_file():
        raise InspectError("no such array file", where=where, field="--array")
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InspectError(f"not a readable .npy array ({_reason(exc)})", where=where, field="--array") from None
    if not isinstance(x, np.ndarray):
        raise InspectError("holds several arrays (.npz); save the input with np.save as one .npy",
                           where=where, field="--array")
    if x.ndim == 3:
        x = x[np.newaxis]
    if x.ndim != 4 or x.dtype.kind not in "fiu":
        raise InspectError(f"needs an N×H×W×C (or H×W×C) numeric array, got shape {list(x.shape)} {x.dtype}",
                           where=where, field="--array")
    return x.astype(np.float32, copy=False)


def load_image(path: str | Path, size: tuple[int, int], convention: str) -> np.ndarray:
    """A picture resized to ``size`` (H, W) and normalised by ``convention``: shape (1, H, W, 3)."""
    import numpy as np

    path = Path(path)
    where = Location(str(path))
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise InspectError(f"--image needs Pillow: {IMAGE_EXTRA}", where=where, field="--image") from None
    if not path.is_file():
        raise InspectError("no such image file", where=where, field="--image")
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InspectError(f"not a readable image ({_reason(exc)})", where=where, field="--image") from None
    return preprocess(np.asarray(rgb), convention)[np.newaxis]


def preprocess(rgb: np.ndarray, convention: str) -> np.ndarray:
    """H×W×3 RGB in 0–255 -> the float32 input the weights were trained on."""
    import numpy as np

    x = rgb.astype(np.float32)
    if convention == "caffe":
        return x[..., ::-1] - np.array(CAFFE_MEAN_BGR, np.float32)
    if convention == "torch":
        return (x / 255.0 - np.array(TORCH_MEAN_RGB, np.float32)) / np.array(TORCH_STD_RGB, np.float32)
    raise InspectError(f"unknown preprocessing convention {convention!r}", field="conventions.preprocessing")


# --------------------------------------------------------------------------- running


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


def load_input(graph: Graph, *, image: str | Path | None = None,
               array: str | Path | None = None) -> tuple[np.ndarray, str]:
    """The network's NHWC input from exactly one of an image or an array file, and that file's name."""
    if (image is None) == (array is None):
        raise InspectError("give exactly one of --image PATH or --array X.npy", field="--image/--array")
    spec = graph.spec
    if array is not None:
        x, source = load_array(array), str(array)
    else:
        x, source = load_image(image, spec.input_shape[:2], spec.conventions.preprocessing), str(image)
    if x.shape[-1] != spec.input_shape[2]:
        raise InspectError(f"input has {x.shape[-1]} channels, spec {spec.name} takes {spec.input_shape[2]}",
                           where=Location(source), field="--array")
    return x, source


def run(graph: Graph, weights_path: str | Path, x: np.ndarray, source: str, *, top: int = 5, repeat: int = 0,
        on_layer: Callable[[str, np.ndarray], None] | None = None,
        on_pass: Callable[[], None] | None = None, max_memory: int | None = None) -> RunResult:
    """Load the weights once (checked against the graph), run, and rank the classes.

    Refuses before loading anything when the pass is estimated to need more than ``max_memory``
    bytes (default: the executor's 4 GiB).
    """
    from .weightio import load_weights

    if repeat < 0 or top < 0:
        raise InspectError("must not be negative", field="--repeat" if repeat < 0 else "--top")
    from .executor import DEFAULT_MAX_MEMORY, Executor, check_memory

    limit = DEFAULT_MAX_MEMORY if max_memory is None else max_memory
    check_memory(graph, (x.shape[1], x.shape[2]), x.shape[0], "float32", limit)
    executor = Executor(graph, load_weights(weights_path, graph))  # the file's arrays are dropped once prepared
    output, timing = timed_forwards(executor, x, repeat, on_layer, on_pass)
    is_softmax = graph.layers[-1].op.kind == "softmax"
    return RunResult(graph.spec.name, str(weights_path), source, tuple(x.shape), output,
                     "softmax" if is_softmax else "logits", top_k(output, top, is_softmax), timing)


def save_output(result: RunResult, path: str | Path) -> None:
    """Write the network's final output as ``.npy`` (softmax where the head has it, else logits)."""
    import numpy as np

    try:
        with open(path, "wb") as f:  # an open file: np.save would append ".npy" to a bare name
            np.save(f, result.output, allow_pickle=False)
    except OSError as exc:
        raise InspectError(f"cannot write ({_reason(exc)})", where=Location(str(path)), field="--save-output") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
