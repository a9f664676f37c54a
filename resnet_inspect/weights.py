"""What weights a graph needs, by the blog's layer names, and seeded random ones.

Weights are a plain mapping ``{layer name: {key: array}}`` with Keras' keys and layouts:
conv ``kernel`` HWIO ``(k, k, C_in/groups, C_out)`` and ``bias``; BatchNorm ``gamma``, ``beta``,
``moving_mean``, ``moving_variance``; dense ``kernel`` ``(C_in, units)`` and ``bias``. Every file
format (native .npz as ``"layer/key"``, safetensors, Keras .h5) is read into this one form.
The shape rules here are pure Python; NumPy is imported only to make arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .engine import trace_graph
from .graph import Graph

if TYPE_CHECKING:
    import numpy as np

WeightShapes = dict[str, dict[str, tuple[int, ...]]]
Weights = dict[str, dict[str, "np.ndarray"]]

BN_KEYS = ("gamma", "beta", "moving_mean", "moving_variance")


def weight_shapes(graph: Graph) -> WeightShapes:
    """Every array the graph needs: ``{layer: {key: shape}}`` (independent of input size)."""
    result = trace_graph(graph)
    in_channels = {}
    for layer, info in zip(graph, result.layers):
        in_channels[layer.name] = info.output_shape[-1]
    shapes: WeightShapes = {}
    for layer in graph:
        op = layer.op
        c_in = in_channels[layer.inputs[0]] if layer.inputs else 0
        if op.kind == "conv":
            shapes[layer.name] = {"kernel": (op.kernel, op.kernel, c_in // op.groups, op.filters)}
            if op.bias:
                shapes[layer.name]["bias"] = (op.filters,)
        elif op.kind == "batch_norm":
            shapes[layer.name] = {key: (c_in,) for key in BN_KEYS}
        elif op.kind == "dense":
            shapes[layer.name] = {"kernel": (c_in, op.units)}
            if op.bias:
                shapes[layer.name]["bias"] = (op.units,)
    return shapes


def random_weights(graph: Graph, seed: int = 0, dtype: str = "float32") -> Weights:
    """Seeded weights that make every layer do real work.

    Convs and dense are He-normal (std sqrt(2/fan_in)), biases small; BN statistics are far
    from the identity (mean ±0.1, variance 0.5–1.5, gamma 0.5–1.5) so a wrong BN shows up.
    The last BN of each residual branch gets a smaller gamma so activations stay bounded
    through 50+ layers, as zero-init-residual training would leave them.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    branch_ends = {layer.inputs[0] for layer in graph if layer.op.kind == "add"}
    weights: Weights = {}
    for name, arrays in weight_shapes(graph).items():
        if "moving_mean" in arrays:
            (c,) = arrays["gamma"]
            scale = 0.2 if name in branch_ends else 1.0
            weights[name] = {
                "gamma": rng.uniform(0.5, 1.5, c) * scale,
                "beta": rng.normal(0.0, 0.1, c),
                "moving_mean": rng.normal(0.0, 0.1, c),
                "moving_variance": rng.uniform(0.5, 1.5, c),
            }
        else:
            kernel = arrays["kernel"]
            fan_in = 1
            for dim in kernel[:-1]:
                fan_in *= dim
            weights[name] = {"kernel": rng.normal(0.0, (2.0 / fan_in) ** 0.5, kernel)}
            if "bias" in arrays:
                weights[name]["bias"] = rng.normal(0.0, 0.01, arrays["bias"])
    return {name: {key: value.astype(dtype) for key, value in arrays.items()} for name, arrays in weights.items()}


WEIGHTED = ("conv", "batch_norm", "dense")


def torchvision_names(graph: Graph) -> dict[str, str]:
    """Blog layer name -> torchvision module path (``res2a_branch2a`` -> ``layer1.0.conv1``) for
    every layer with weights: the torchvision column of the one name table in :mod:`.naming`."""
    return _weighted_names(graph, "torchvision")


def keras3_names(graph: Graph) -> dict[str, str]:
    """Blog layer name -> Keras 3 layer name (``res2a_branch2a`` -> ``conv2_block1_1_conv``) for
    every layer with weights, from the same table."""
    return _weighted_names(graph, "keras3")


def _weighted_names(graph: Graph, scheme: str) -> dict[str, str]:
    from .naming import names_in

    kinds = {layer.name: layer.op.kind for layer in graph}
    return {name: other for name, other in names_in(graph, scheme).items()
            if other is not None and kinds[name] in WEIGHTED}
