"""Keras' view of our graph, in pure Python: the order of ``model.layers`` and the classes of its layers.

Keras orders a functional model's layers as ``keras/src/ops/function.py`` (``map_graph``) does:
by decreasing depth (the longest path to the output), ties broken by the pre-order index of a
depth-first walk from the output that visits each layer's inputs in the order they were passed.
Only the residual add's input order differs between the Keras codes we reproduce, so it is the
one property of a :class:`KerasLayout`: ``keras.applications`` (Keras 2.x and 3) writes
``Add()([shortcut, x])``, the blog's ``keras_applications/resnet50.py`` ``add([x, shortcut])``.
A spec says which code it reproduces (``conventions.keras_layout``; ``--keras-layout`` overrides
it). Read in the other order a file does not fit: ``res2a``'s tied convs (``branch1`` and
``branch2c``, both 1×1×64×256) would swap unseen, but from stage 3 on a conv block's shortcut
takes twice the channels of its ``branch2c``, and the shape check refuses the file.

The weight files that depend on this order (Keras 3's ``.weights.h5`` and ``.keras``, and the
order of a written ``.h5``'s ``layer_names``) are read and written in :mod:`..io.keras3` and
:mod:`..io.h5`; this module needs neither NumPy nor h5py.
"""

from __future__ import annotations

from ..core import numbers
from .graph import Graph
from .layouts import DEFAULT_LAYOUT, LAYOUTS, KerasLayout
from .weights import weight_shapes

__all__ = ["DEFAULT_LAYOUT", "LAYOUTS", "KerasLayout", "check_layout", "keras_groups", "keras_order"]


def check_layout(layout: str | None, graph: Graph | None = None) -> str:
    """``layout``; for None the spec's ``conventions.keras_layout`` (or the default without a graph).
    An unknown one is a one-line error naming the option."""
    if layout is None:
        return graph.spec.conventions.keras_layout if graph is not None else DEFAULT_LAYOUT
    return numbers.choice(layout, LAYOUTS, "keras_layout")


def keras_order(graph: Graph, layout: str | None = None) -> list[str]:
    """Our layer names in the order of Keras' ``model.layers`` for the same network."""
    shortcut_first = LAYOUTS[check_layout(layout, graph)].shortcut_first
    layers = {layer.name: layer for layer in graph}
    height: dict[str, int] = {}  # longest path from the input: a block's main path is longer than its shortcut
    for layer in graph:
        height[layer.name] = 1 + max((height[source] for source in layer.inputs), default=-1)

    def inputs(name: str) -> tuple[str, ...]:
        layer = layers[name]
        if layer.op.kind != "add":
            return layer.inputs
        # which input is the shortcut is read off the graph, not off the order our builder passed them in
        return tuple(sorted(layer.inputs, key=lambda source: height[source], reverse=not shortcut_first))

    index: dict[str, int] = {}
    stack = [graph.output]
    while stack:  # pre-order depth-first walk from the output, inputs in order (iterative: 500+ layers)
        name = stack.pop()
        if name not in index:
            index[name] = len(index)
            stack.extend(reversed(inputs(name)))
    depth = {graph.output: 0}
    for layer in reversed(graph.layers):  # execution order is topological: depth = longest path to the output
        for source in layer.inputs:
            depth[source] = max(depth.get(source, 0), depth[layer.name] + 1)
    return sorted(index, key=lambda name: (-depth[name], index[name]))


def keras_groups(graph: Graph, layout: str | None = None) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``.weights.h5`` group -> (our layer, its keys in ``vars/0..n`` order), for every weighted layer.

    Keras' variables come in the order the layer creates them: kernel then bias, BN's gamma,
    beta, moving mean, moving variance; that is the order :func:`weight_shapes` lists them in.
    """
    shapes = weight_shapes(graph)
    classes = {layer.name: layer.op.keras_class for layer in graph}
    counts: dict[str, int] = {}
    groups = {}
    for name in keras_order(graph, layout):
        cls = classes[name]
        if cls is None:
            continue
        number = counts.get(cls, 0)
        counts[cls] = number + 1
        groups[f"{cls}_{number}" if number else cls] = (name, tuple(shapes[name]))
    return groups
