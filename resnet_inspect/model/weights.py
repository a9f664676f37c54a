"""What weights a graph needs, by the blog's layer names, and seeded random ones.

Weights are a plain mapping ``{layer name: {key: array}}`` with Keras' keys and layouts:
conv ``kernel`` HWIO ``(k, k, C_in/groups, C_out)`` and ``bias``; BatchNorm ``gamma``, ``beta``,
``moving_mean``, ``moving_variance``; dense ``kernel`` ``(C_in, units)`` and ``bias``. Every file
format (native .npz as ``"layer/key"``, safetensors, Keras .h5) is read into this one form.
The shape rules here are pure Python; NumPy is imported only to make arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from .engine import trace_graph
from ..core import numbers
from ..core.dtypes import BYTES
from ..core.errors import InspectError, ShapeError
from .graph import Graph

if TYPE_CHECKING:
    import numpy as np

    from .naming import Shown

WeightShapes = dict[str, dict[str, tuple[int, ...]]]
Weights = dict[str, dict[str, "np.ndarray"]]


def at_size(graph: Graph, input_hw: tuple[int, int] | None) -> Graph:
    """``graph`` whose spec's own input is ``input_hw``: every weights check against it (a file's
    headers, an executor's fit check) is then made at the size being run, not at the default.

    Only a flatten head makes this matter: the Dense layer after it takes H×W×C inputs, so the
    7×7 ``avg_pool`` + ``flatten`` of the v1 specs gives ``fc1000`` 2048 inputs at 224, 8192 at 448.
    """
    if input_hw is None or tuple(input_hw) == graph.spec.input_shape[:2]:
        return graph
    shape = (int(input_hw[0]), int(input_hw[1]), graph.spec.input_shape[2])
    return dataclasses.replace(graph, spec=dataclasses.replace(graph.spec, input_shape=shape))


def weight_shapes(graph: Graph) -> WeightShapes:
    """Every array the graph needs: ``{layer: {key: shape}}``, at the spec's input size.

    Each op says its own arrays (:meth:`.ops.Op.weight_shapes`) from its traced input shapes.
    Only a Dense layer after a flatten depends on the size; see :func:`at_size`.
    """
    result = trace_graph(graph)
    output = {layer.name: info.output_shape for layer, info in zip(graph, result.layers)}
    shapes: WeightShapes = {}
    for layer in graph:
        arrays = layer.op.weight_shapes([output[source] for source in layer.inputs])
        if arrays:
            shapes[layer.name] = arrays
    return shapes


def _dense_inputs(graph: Graph, size: int) -> dict[str, int]:
    """Inputs of each Dense layer at a square ``size`` (empty when the size is too small)."""
    try:
        shapes = weight_shapes(at_size(graph, (size, size)))
    except ShapeError:
        return {}
    return {layer.name: shapes[layer.name]["kernel"][0] for layer in graph if layer.op.kind == "dense"}


def fitting_sizes(graph: Graph, layer: str, inputs: int, limit: int = 1 << 16) -> tuple[int, int] | None:
    """The square input sizes (smallest, largest) at which Dense ``layer`` takes ``inputs`` inputs.

    A Dense layer's input only grows with the input size, so two binary searches (a few dozen
    traces, milliseconds each) find the range; None when no size up to ``limit`` fits.
    """
    def first(predicate) -> int:
        lo, hi = 1, limit + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if predicate(_dense_inputs(graph, mid).get(layer, 0)):
                hi = mid
            else:
                lo = mid + 1
        return lo

    smallest = first(lambda n: n >= inputs)
    largest = first(lambda n: n > inputs) - 1
    if smallest > largest or _dense_inputs(graph, smallest).get(layer) != inputs:
        return None
    return smallest, largest


def check_size_fits(graph: Graph, input_hw: tuple[int, int], where: object = None, shown: Shown | None = None) -> None:
    """Refuse, with one line, an input size at which weights made for ``graph``'s own size do not fit.

    Names the Dense layer, the inputs its weights take, what this size gives, and the sizes the
    weights do fit, instead of a matmul error from deep in the executor.
    """
    from .naming import BLOG

    shown = shown or BLOG
    needed = weight_shapes(at_size(graph, input_hw))
    have = weight_shapes(graph)
    for layer in graph:
        if layer.op.kind != "dense" or needed[layer.name] == have[layer.name]:
            continue
        takes, gives = have[layer.name]["kernel"][0], needed[layer.name]["kernel"][0]
        sizes = fitting_sizes(graph, layer.name, takes)
        fits = f"; these weights fit square inputs from {sizes[0]} to {sizes[1]}" if sizes else ""
        source = shown.layer(layer.inputs[0])
        raise InspectError(f"takes {takes:,} inputs in these weights, but at {input_hw[0]}×{input_hw[1]} "
                           f"its input ({source}) gives {gives:,}{fits}", where=where, layer=shown.layer(layer.name))


SEED_SCHEME = 2  # how seeded weights are drawn; stored in every file `weights init` writes
SEED_SCHEMES = {
    1: "float64 draws, cast to the run's dtype (0.2.0 and before; slower, kept reproducible)",
    2: "float32 draws (PCG64, NumPy's float32 normal and uniform), cast to the run's dtype (after 0.2.0)",
}
SEEDED_KEY = "resnet_inspect.seeded"  # the metadata key that marks a weights file as seeded random


@dataclasses.dataclass(frozen=True)
class Seeded:
    """Where seeded random weights came from: enough to make them again, and to say they are random."""

    seed: int
    scheme: int = SEED_SCHEME
    spec: str = ""

    def metadata(self) -> dict[str, str]:
        """The file metadata that marks them (every writer stores it its own way: :mod:`..io`)."""
        import json

        return {SEEDED_KEY: json.dumps({"seed": self.seed, "scheme": self.scheme, "spec": self.spec})}

    @classmethod
    def of(cls, metadata: dict[str, str]) -> Seeded | None:
        """The mark read back from a file's metadata; None when the file has none (or an unreadable one)."""
        import json

        text = metadata.get(SEEDED_KEY)
        if text is None:
            return None
        try:
            value = json.loads(text)
            seed, scheme, spec = value["seed"], value.get("scheme", 1), value.get("spec", "")
        except (ValueError, TypeError, KeyError):
            return cls(seed=-1, scheme=0)  # marked seeded, but not by us: still random weights
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (seed, scheme))
        return cls(seed, scheme, spec if isinstance(spec, str) else "") if ints else cls(seed=-1, scheme=0)


def random_weights(graph: Graph, seed: int = 0, dtype: str = "float32", scheme: int = SEED_SCHEME) -> Weights:
    """Seeded weights that make every layer do real work (for ``graph``'s input size: see :func:`at_size`).

    Convs and dense are He-normal (std sqrt(2/fan_in)), biases small; BN statistics are far
    from the identity (mean ±0.1, variance 0.5–1.5, gamma 0.5–1.5) so a wrong BN shows up.
    The last BN of each residual branch gets a smaller gamma so activations stay bounded
    through 50+ layers, as zero-init-residual training would leave them. Each array is drawn
    by its key (:data:`DRAWS`), in the order the op lists them, so an op needs no rule here.
    ``scheme`` (:data:`SEED_SCHEMES`) says how numbers are drawn: 2 (the default) draws float32,
    about 3x faster than scheme 1's float64 draws, which stay available to remake old files.
    """
    import numpy as np

    seed = numbers.seed(seed)
    if scheme not in SEED_SCHEMES:
        raise InspectError(f"the seed scheme must be one of {', '.join(map(str, SEED_SCHEMES))}, got {scheme!r}",
                           field="scheme")
    draw_dtype = np.float64 if scheme == 1 else np.float32
    rng = np.random.default_rng(seed)
    branch_ends = {layer.inputs[0] for layer in graph if layer.op.kind == "add"}
    weights: Weights = {}
    for name, arrays in weight_shapes(graph).items():
        made = {}
        for key, shape in arrays.items():
            made[key] = DRAWS.get(key, _small)(rng, shape, draw_dtype)
            if key == "gamma" and name in branch_ends:
                made[key] *= 0.2
        # cast array by array: the draw of one array is the only extra memory at any time
        weights[name] = {key: value.astype(dtype, copy=False) for key, value in made.items()}
    return weights


def _normal(rng: np.random.Generator, std: float, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    import numpy as np

    if dtype is np.float64:
        return rng.normal(0.0, std, shape)  # scheme 1, as it always drew
    out = rng.standard_normal(shape, dtype=dtype)
    out *= dtype(std)
    return out


def _uniform(rng: np.random.Generator, low: float, high: float, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    import numpy as np

    if dtype is np.float64:
        return rng.uniform(low, high, shape)
    out = rng.random(shape, dtype=dtype)
    out *= dtype(high - low)
    out += dtype(low)
    return out


def _he_normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """std sqrt(2/fan_in), fan_in every axis but the last (HWIO kernels, (in, out) matrices)."""
    return _normal(rng, (2.0 / _count(shape[:-1])) ** 0.5, shape, dtype)


def _small(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return _normal(rng, 0.1, shape, dtype)


# how random_weights draws an array, by Keras' key (shared by every op that has it); other keys: _small
DRAWS: dict[str, Callable[[np.random.Generator, tuple[int, ...], type], np.ndarray]] = {
    "kernel": _he_normal,
    "bias": lambda rng, shape, dtype: _normal(rng, 0.01, shape, dtype),
    "gamma": lambda rng, shape, dtype: _uniform(rng, 0.5, 1.5, shape, dtype),
    "beta": _small,
    "moving_mean": _small,
    "moving_variance": lambda rng, shape, dtype: _uniform(rng, 0.5, 1.5, shape, dtype),
}


def weights_bytes(graph: Graph, dtype: str = "float32") -> int:
    """Memory :func:`random_weights` needs at most: every array in ``dtype``, plus the float32
    draw of the largest one when it is cast to another dtype (pure Python, so it is known before
    anything is allocated)."""
    sizes = [_count(shape) for arrays in weight_shapes(graph).values() for shape in arrays.values()]
    draw = 0 if dtype == "float32" else BYTES["float32"] * max(sizes, default=0)
    return sum(sizes) * BYTES[dtype] + draw


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def torchvision_names(graph: Graph) -> dict[str, str]:
    """Blog layer name -> torchvision module path (``res2a_branch2a`` -> ``layer1.0.conv1``) for
    every layer with weights: the torchvision column of the one name table in :mod:`.naming`, and
    for the few weighted layers torchvision lacks (V2's BNs) the module `export --to pytorch` makes."""
    from .naming import torch_modules

    return torch_modules(graph)


def keras3_names(graph: Graph) -> dict[str, str]:
    """Blog layer name -> Keras 3 layer name (``res2a_branch2a`` -> ``conv2_block1_1_conv``) for
    every layer with weights, from the same table."""
    return _weighted_names(graph, "keras3")


def _weighted_names(graph: Graph, scheme: str) -> dict[str, str]:
    from .naming import names_in

    weighted = {layer.name for layer in graph if layer.op.weighted}
    return {name: other for name, other in names_in(graph, scheme).items()
            if other is not None and name in weighted}
