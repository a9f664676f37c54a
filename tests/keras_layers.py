"""One row per Keras layer, as Keras shows it in ``model.summary()``, from Keras or from our trace.

A row is ``[name, output_shape, connected_to, params]``: the layer's name, its output shape
without the batch, the names of the layers it reads ("Connected to", in the order they were
passed) and its ``count_params()``. ``keras_rows`` reads them off a live Keras model (used by
``scripts/make_golden_keras_layers.py`` and ``tests/test_keras_layers.py``); ``our_rows`` reads
them off our trace under ``--names keras3``; ``differences`` says where the two disagree.
"""

from __future__ import annotations

from typing import Any

from resnet_inspect import trace
from resnet_inspect.model.graph import build_graph
from resnet_inspect.model.naming import names_in

# keras.applications' constructor -> our spec of it (the same network, Keras 3's names)
APPLICATIONS = {"ResNet50": "resnet50-keras3", "ResNet50V2": "resnet50v2", "ResNet101V2": "resnet101v2",
                "ResNet152V2": "resnet152v2"}


def keras_rows(model: Any) -> list[list[Any]]:
    """Each layer of a live Keras model in ``model.layers`` order: what its summary shows."""
    rows = []
    for layer in model.layers:
        nodes = layer._inbound_nodes  # Keras 3: the node that called the layer (one per layer here)
        connected = [t._keras_history.operation.name for t in nodes[0].input_tensors] if nodes else []
        shape = [int(d) for d in tuple(layer.output.shape)[1:]]
        rows.append([layer.name, shape, connected, int(layer.count_params())])
    return rows


def our_rows(spec: str, hw: tuple[int, int]) -> list[list[Any]]:
    """Each layer of our trace that Keras has, under Keras 3's names, in execution order."""
    graph = build_graph(spec)
    names = names_in(graph, "keras3")
    result = trace(spec, hw)
    rows = []
    for info in result.layers:
        if names[info.name] is None:
            continue
        connected = [names[source] for source in info.inputs]
        rows.append([names[info.name], list(info.output_shape), connected, info.params])
    return rows


def differences(ours: list[list[Any]], theirs: list[list[Any]]) -> list[str]:
    """Every disagreement, one line each: a layer one side lacks, or a field that differs."""
    mine = {row[0]: row for row in ours}
    other = {row[0]: row for row in theirs}
    lines = [f"{name}: not in our trace" for name in other if name not in mine]
    lines += [f"{name}: not in Keras" for name in mine if name not in other]
    for name in mine.keys() & other.keys():
        for field, a, b in zip(("output shape", "connected to", "params"), mine[name][1:], other[name][1:]):
            if a != b:
                lines.append(f"{name}: {field} ours {a} Keras {b}")
    return sorted(lines)
