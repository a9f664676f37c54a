"""A tiny ONNX ResNet written with ``onnx.helper`` (no exporter), and hostile variants of it.

The valid one is a torchvision-style network in miniature: conv 7x7/2 pad 3 (BN folded, bias),
ReLU, max pool 3/2 pad 1, one bottleneck (1x1, 3x3, 1x1 plus a 1x1 projection), ReLU, global
average pool, flatten, Gemm to 10 classes: what ``import`` reads as a one-stage spec. The
variants each break one thing a reader must guard against. Everything is generated here.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _weight(name: str, shape: tuple[int, ...]) -> TensorProto:
    return numpy_helper.from_array(np.full(shape, 0.01, np.float32), name)


def _conv(name: str, x: str, filters: int, channels: int, kernel: int, stride: int = 1) -> tuple[list, list]:
    w, b = _weight(f"{name}.w", (filters, channels, kernel, kernel)), _weight(f"{name}.b", (filters,))
    node = helper.make_node("Conv", [x, w.name, b.name], [name], name=name, kernel_shape=[kernel, kernel],
                            strides=[stride, stride], pads=[kernel // 2] * 4)
    return [node], [w, b]


def tiny_graph(size: int = 32) -> tuple[list, list]:
    nodes, weights = [], []

    def add(made: tuple[list, list]) -> None:
        nodes.extend(made[0])
        weights.extend(made[1])

    add(_conv("conv1", "input", 4, 3, 7, 2))
    nodes.append(helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"))
    nodes.append(helper.make_node("MaxPool", ["relu1"], ["pool1"], name="pool1", kernel_shape=[3, 3], strides=[2, 2],
                                  pads=[1, 1, 1, 1]))
    add(_conv("down", "pool1", 16, 4, 1))
    add(_conv("a", "pool1", 4, 4, 1))
    nodes.append(helper.make_node("Relu", ["a"], ["a_relu"], name="a_relu"))
    add(_conv("b", "a_relu", 4, 4, 3))
    nodes.append(helper.make_node("Relu", ["b"], ["b_relu"], name="b_relu"))
    add(_conv("c", "b_relu", 16, 4, 1))
    nodes.append(helper.make_node("Add", ["c", "down"], ["sum"], name="add"))
    nodes.append(helper.make_node("Relu", ["sum"], ["out"], name="out"))
    nodes.append(helper.make_node("GlobalAveragePool", ["out"], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flat", axis=1))
    fc_w, fc_b = _weight("fc.w", (10, 16)), _weight("fc.b", (10,))
    weights += [fc_w, fc_b]
    nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1))
    return nodes, weights


def model_bytes(nodes: list, weights: list, size: int = 32, check: bool = True) -> bytes:
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if check:
        onnx.checker.check_model(model)
    return model.SerializeToString()


def tiny() -> bytes:
    return model_bytes(*tiny_graph())


def unknown_op() -> bytes:
    nodes, weights = tiny_graph()
    nodes[1] = helper.make_node("Tanh", ["conv1"], ["relu1"], name="relu1")
    return model_bytes(nodes, weights)


def cycle() -> bytes:
    """b reads c_relu, which reads b: a loop no topological order has (the checker would refuse it)."""
    nodes, weights = tiny_graph()
    nodes = [n for n in nodes if n.name != "b_relu"]
    nodes.insert(0, helper.make_node("Relu", ["c"], ["b_relu"], name="b_relu"))  # c <- b_relu <- c
    return model_bytes(nodes, weights, check=False)


def external_data(location: str = "../outside/secret.txt") -> bytes:
    nodes, weights = tiny_graph()
    tensor = weights[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return model_bytes(nodes, weights, check=False)


def lying_dims(dims: list[int]) -> bytes:
    """The first conv's weight declares ``dims`` but holds its 588 real numbers."""
    nodes, weights = tiny_graph()
    del weights[0].dims[:]
    weights[0].dims.extend(dims)
    return model_bytes(nodes, weights, check=False)


def many_nodes(count: int) -> bytes:
    nodes, weights = tiny_graph()
    previous = "out"
    for i in range(count):
        nodes.insert(-3, helper.make_node("Relu", [previous], [f"r{i}"], name=f"r{i}"))
        previous = f"r{i}"
    nodes[-3] = helper.make_node("GlobalAveragePool", [previous], ["gap"], name="gap")
    return model_bytes(nodes, weights, check=False)


def unfolded(epsilon: float = 1e-3) -> bytes:
    """The tiny network as an exporter that keeps BatchNorm writes it (ours, for one): every conv
    without bias and followed by BatchNormalization, the stem's padding a Pad node (opset 11+:
    pads as an int64 input)."""
    nodes, weights = tiny_graph()
    out_nodes, seen = [], set()
    pads = numpy_helper.from_array(np.array([0, 0, 3, 3, 0, 0, 3, 3], np.int64), "stem_pads")
    weights.append(pads)
    for node in nodes:
        if node.op_type != "Conv":
            out_nodes.append(node)
            continue
        x, w, _ = node.input
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.name == "conv1":
            out_nodes.append(helper.make_node("Pad", [x, "stem_pads"], ["conv1_pad"], name="conv1_pad", mode="constant"))
            x, attrs["pads"] = "conv1_pad", [0, 0, 0, 0]
        out_nodes.append(helper.make_node("Conv", [x, w], [node.name + "_conv"], name=node.name + "_conv", **attrs))
        filters = next(t for t in weights if t.name == w).dims[0]
        bn = [f"{node.name}.{p}" for p in ("gamma", "beta", "mean", "var")]
        weights += [_weight(n, (filters,)) for n in bn]
        out_nodes.append(helper.make_node("BatchNormalization", [node.name + "_conv", *bn], [node.name],
                                          name="bn_" + node.name, epsilon=epsilon))
        seen.add(node.name + ".b")
    weights = [t for t in weights if t.name not in seen]
    return model_bytes(out_nodes, weights)
