"""``import`` and ``identify``: from the file a user has (``.keras``, ONNX, a state dict) to a spec.

One reader per format (:data:`READERS`, by suffix) turns a file into the neutral
:class:`..model.recognise.NetGraph`; the one recogniser (:func:`..model.recognise.recognise`)
turns that into a spec, which is written through the YAML emitter, loaded back with
``load_spec`` and built again to prove it. ``identify`` compares the recovered spec with every
bundled one. Weights files that carry no graph (``.h5``, ``.weights.h5``, our own ``.npz``) are
identified by which bundled specs they fit (:func:`..io.weightfiles.open_weights`).

Every file passes the guards the other readers pass: a regular file, its size checked before it
is parsed; ONNX: a byte cap, external data refused, a node cap, every initializer's declared
dims bounded and checked against the bytes it holds (nothing is converted to arrays: only dims
are read); ``.keras``: the shared zip guard (``core.safeio.open_zip``/``read_member``: members counted from
the end records before the directory is parsed), ``config.json`` read to its declared size only
(:func:`_keras_member`, the one place a ``.keras`` zip is opened here).
"""

from __future__ import annotations

import json
import math
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

from ..core import numbers
from ..core.errors import InspectError, Location
from ..core.safeio import atomic_write, open_zip, read_bytes, read_member, regular_file
from ..core.text import to_json
from ..core.usertext import excerpt, visible
from ..language.spec import Framework, Spec, bundled_specs, load_spec, parse_spec
from ..model.graph import build_graph
from ..model.ops import (Add, AvgPool, BatchNorm, Conv2D, Dense, GlobalAvgPool, GlobalAvgPoolFlat, Input, MaxPool, Op,
                         ReLU, Softmax, ZeroPad)
from ..model.recognise import Assumed, NetGraph, Node, RecogniseError, recognise, same_network
from .base import MiB, Limits, error, optional, reading, reason, safe_name

MAX_ONNX_BYTES = 2 * 1024 * MiB - 1  # protobuf's own limit; wide_resnet101_2 in float32 is ~500 MB
MAX_ONNX_NODES = 100_000
MAX_TENSOR_ELEMENTS = 1 << 28  # one initializer (wide_resnet101_2's largest conv has 2.4 M)
MAX_CONFIG_BYTES = 64 * MiB  # a .keras config.json (keras.applications.ResNet152: ~0.5 MB)
ARCHIVE_MEMBERS = 64
STATE_DICT_LIMITS = Limits(entries=20_000, header_bytes=32 * MiB)
SPEC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
LAYER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --------------------------------------------------------------------------- ONNX


ONNX_DTYPE_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


def read_onnx(path: Path) -> NetGraph:
    """An ONNX model's graph: bounded before and after the protobuf parse, dims only."""
    data = read_bytes(path, MAX_ONNX_BYTES, "ONNX model")
    onnx = optional("onnx", "onnx", path)
    from google.protobuf.message import DecodeError  # onnx's own dependency

    with reading(path, kind="ONNX"):
        model = onnx.ModelProto()
        try:
            model.ParseFromString(data)
        except DecodeError as exc:
            raise error(path, f"not a readable ONNX file: {reason(exc)}") from None
    del data
    graph = model.graph
    if len(graph.node) > MAX_ONNX_NODES:
        raise error(path, f"has {len(graph.node):,} nodes; at most {MAX_ONNX_NODES:,} are read")
    if len(graph.node) == 0:
        raise error(path, "not an ONNX model with a graph (no nodes)")
    dims = {t.name: _initializer_dims(t, path, onnx) for t in graph.initializer}
    small = {t.name: _values(t, onnx) for t in graph.initializer if math.prod(dims[t.name]) <= SMALL}
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                _initializer_dims(attribute.t, path, onnx)
    inputs = [i for i in graph.input if i.name not in dims]
    if len(inputs) != 1:
        raise error(path, f"has {len(inputs)} graph inputs besides its weights; a ResNet has one")
    nodes = [Node(inputs[0].name, Input(_input_shape(inputs[0])))]
    producer: dict[str, str] = {inputs[0].name: inputs[0].name}  # tensor -> the node that makes it
    folded = not any(n.op_type == "BatchNormalization" for n in graph.node)
    dense_name = None
    used: set[str] = {inputs[0].name}
    for index, node in enumerate(graph.node):
        name = node.name or f"{node.op_type}_{index}"
        name = name if name not in used else f"{name}_{index}"  # ONNX does not require unique node names
        used.add(name)
        activations = tuple(producer.get(i, i) for i in node.input if i and i not in dims)
        if _constant(node, dims, path, onnx):
            tensor = next((a.t for a in node.attribute if a.HasField("t")), None)
            if tensor is not None and math.prod(dims[node.output[0]]) <= SMALL:
                small[node.output[0]] = _values(tensor, onnx)
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        for position, key in enumerate(ONNX_INPUT_ATTRIBUTES.get(node.op_type, ()), start=1):
            if len(node.input) > position and node.input[position]:
                attrs[key] = small.get(node.input[position])
        rule = ONNX_OPS.get(node.op_type)
        if rule is None:
            raise RecogniseError(f"node {safe_name(name)!r}: op {safe_name(node.op_type)!r} has no counterpart in the "
                                 "spec language", where=Location(visible(str(path))))
        if len(node.output) != 1:
            raise error(path, f"node {safe_name(name)!r} has {len(node.output)} outputs; the ops read here have one")
        op = rule(node, attrs, dims, path, name)
        if op is None:  # Flatten, Identity, Dropout: a new name for the same values
            producer[node.output[0]] = activations[0] if activations else name
            continue
        if isinstance(op, Dense) and LAYER_NAME.fullmatch(name):
            dense_name = name
        producer[node.output[0]] = name
        nodes.append(Node(name, op, activations))
    return NetGraph("ONNX model", ONNX_PRODUCERS.get(model.producer_name, "onnx"), tuple(nodes), (), folded, dense_name)


def _constant(node: Any, dims: dict[str, tuple[int, ...]], path: Path, onnx: Any) -> bool:
    """A node that only makes a constant (``Constant``, or an ``Identity`` of a weight, as
    torch.onnx writes for shared ones): its output joins the weights, by its dims."""
    if node.op_type == "Constant" and len(node.output) == 1:
        tensor = next((a.t for a in node.attribute if a.HasField("t")), None)
        dims[node.output[0]] = _initializer_dims(tensor, path, onnx) if tensor is not None else ()
        return True
    if node.op_type == "Identity" and len(node.input) == 1 and node.input[0] in dims and len(node.output) == 1:
        dims[node.output[0]] = dims[node.input[0]]
        return True
    return False


def _initializer_dims(tensor: Any, path: Path, onnx: Any) -> tuple[int, ...]:
    """A tensor's declared dims, refused when external, unbounded, or larger than the bytes it holds."""
    name = safe_name(tensor.name)
    if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
        raise error(path, f"tensor {name!r} keeps its data in an external file; external data is refused "
                          "(save the model with its weights inside: onnx.save(model, f, save_as_external_data=False))")
    dims = tuple(int(d) for d in tensor.dims)
    if any(d < 0 for d in dims) or len(dims) > 8:
        raise error(path, f"tensor {name!r} declares dims {list(dims)[:9]}")
    elements = math.prod(dims)
    if elements > MAX_TENSOR_ELEMENTS:
        raise error(path, f"tensor {name!r} declares {elements:,} elements; at most {MAX_TENSOR_ELEMENTS:,} are read")
    if tensor.raw_data:
        width = ONNX_DTYPE_BYTES.get(tensor.data_type)
        if width is None or len(tensor.raw_data) != elements * width:
            raise error(path, f"tensor {name!r} holds {len(tensor.raw_data):,} bytes, not the {elements:,} elements "
                              "of its declared dims (truncated or inconsistent)")
    else:
        stored = max(len(tensor.float_data), len(tensor.int64_data), len(tensor.int32_data), len(tensor.double_data))
        if stored != elements and elements:
            raise error(path, f"tensor {name!r} holds {stored:,} values, not the {elements:,} of its declared dims")
    return dims


def _input_shape(value: Any) -> tuple[int, int, int]:
    """NCHW from the graph input, as H×W×C; a symbolic size counts as 224."""
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in value.type.tensor_type.shape.dim]
    if len(dims) != 4:
        raise RecogniseError(f"node {safe_name(value.name)!r}: an input of {len(dims)} dims; a ResNet reads N×C×H×W")
    _, c, h, w = dims
    return (h or 224, w or 224, c or 3)


def _pair(value: Any, name: str, what: str, default: int) -> int:
    values = list(value) if value is not None else [default]
    if len(set(values)) != 1:
        raise RecogniseError(f"node {safe_name(name)!r}: {what} {values} differ by axis; the spec language's are square")
    return int(values[0])


def _onnx_conv(node: Any, attrs: dict, dims: dict, path: Path, name: str) -> Op:
    weight = dims.get(node.input[1]) if len(node.input) > 1 else None
    if weight is None or len(weight) != 4:
        raise RecogniseError(f"node {safe_name(name)!r}: a Conv whose weight is not a 4-d initializer")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise RecogniseError(f"node {safe_name(name)!r}: a dilated Conv; the spec language has none")
    kernel = _pair(weight[2:], name, "kernel", 1)
    return Conv2D(filters=weight[0], kernel=kernel, stride=_pair(attrs.get("strides"), name, "strides", 1),
                  padding=_pair(attrs.get("pads"), name, "pads", 0), bias=len(node.input) > 2 and bool(node.input[2]),
                  groups=int(attrs.get("group", 1)))


def _onnx_pool(kind: type) -> Callable[..., Op]:
    def rule(node: Any, attrs: dict, dims: dict, path: Path, name: str) -> Op:
        if attrs.get("ceil_mode", 0):
            raise RecogniseError(f"node {safe_name(name)!r}: a pool with ceil_mode; the spec language floors")
        return kind(size=_pair(attrs.get("kernel_shape"), name, "kernel_shape", 1),
                    stride=_pair(attrs.get("strides"), name, "strides", 1),
                    padding=_pair(attrs.get("pads"), name, "pads", 0))
    return rule


def _onnx_gemm(node: Any, attrs: dict, dims: dict, path: Path, name: str) -> Op:
    weight = dims.get(node.input[1]) if len(node.input) > 1 else None
    if weight is None or len(weight) != 2:
        raise RecogniseError(f"node {safe_name(name)!r}: a Gemm whose weight is not a 2-d initializer")
    return Dense(units=weight[0] if attrs.get("transB", 0) else weight[1], bias=len(node.input) > 2)


SMALL = 64  # initializers this small (a Pad's pads) are read as values; every other one only by its dims


def _values(tensor: Any, onnx: Any) -> list[float]:
    """A small tensor's values (its dims were checked against its bytes first)."""
    return [float(v) for v in onnx.numpy_helper.to_array(tensor).reshape(-1)]


def _onnx_pad(node: Any, attrs: dict, dims: dict, path: Path, name: str) -> Op:
    """Zero padding of H and W alike (NCHW pads: [n0, c0, h0, w0, n1, c1, h1, w1])."""
    pads, value = attrs.get("pads"), attrs.get("value", 0)
    value = value if isinstance(value, list) else [value]  # opset 11+: a tensor input; before: a float attribute
    mode = attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if pads is None or len(pads) != 8 or mode != "constant" or any(v != 0 for v in value) \
            or pads[0] or pads[1] or pads[4] or pads[5] or len({pads[2], pads[3], pads[6], pads[7]}) != 1:
        raise RecogniseError(f"node {safe_name(name)!r}: a Pad that is not the same zero padding on every side "
                             f"of H and W ({visible(excerpt(str(pads), 60))}, mode {visible(excerpt(mode, 20))})")
    return ZeroPad(int(pads[2]))


def _onnx_add(node: Any, attrs: dict, dims: dict, path: Path, name: str) -> Op:
    if any(i in dims for i in node.input):
        raise RecogniseError(f"node {safe_name(name)!r}: an Add of a constant (a bias add); the spec language adds "
                             "two branches")
    return Add()


def _onnx_mean(node: Any, attrs: dict, dims: dict, path: Path, name: str) -> Op:
    """A mean over H and W (NCHW axes 2 and 3): torch's ``x.mean((2, 3))`` (keepdims 0, a vector, as
    Keras' GlobalAveragePooling2D) or ``mean((2, 3), keepdim=True)`` (a 1×1 map, as AdaptiveAvgPool2d)."""
    axes = attrs.get("axes")
    if axes is None or sorted(int(a) % 4 for a in axes) != [2, 3]:
        raise RecogniseError(f"node {safe_name(name)!r}: a ReduceMean over axes {visible(excerpt(str(axes), 40))}; "
                             "the spec language averages over H and W (axes 2 and 3)")
    return GlobalAvgPool() if attrs.get("keepdims", 1) else GlobalAvgPoolFlat()


def _float32(value: float) -> float:
    """ONNX stores a float attribute as float32: 1e-3 arrives as 0.0010000000474974513. The
    shortest decimal that is the same float32 is what the exporter wrote (1e-3, 1.001e-5)."""
    import numpy as np

    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def _fixed(op: Op | None) -> Callable[..., Op | None]:
    return lambda node, attrs, dims, path, name: op


# ONNX op type -> our op (None: the same values under a new name)
ONNX_OPS: dict[str, Callable[..., Op | None]] = {
    "Conv": _onnx_conv,
    "BatchNormalization": lambda node, attrs, dims, path, name: BatchNorm(_float32(attrs.get("epsilon", 1e-5))),
    "Relu": _fixed(ReLU()),
    "MaxPool": _onnx_pool(MaxPool),
    "AveragePool": _onnx_pool(AvgPool),
    "GlobalAveragePool": _fixed(GlobalAvgPool()),
    "Gemm": _onnx_gemm,
    "Add": _onnx_add,
    "Sum": _onnx_add,
    "Softmax": _fixed(Softmax()),
    "Flatten": _fixed(None),
    "Reshape": _fixed(None),
    "Identity": _fixed(None),
    "Dropout": _fixed(None),
    "Pad": _onnx_pad,
    "ReduceMean": _onnx_mean,
}
# Attributes later opsets moved to inputs (Pad from opset 11, ReduceMean from 18): op type -> the
# attribute each input from the second on stands for (read when small, :data:`SMALL`)
ONNX_INPUT_ATTRIBUTES: dict[str, tuple[str, ...]] = {"Pad": ("pads", "value"), "ReduceMean": ("axes",)}
# An ONNX file's producer_name -> the framework whose defaults and counts it follows (recognise.SOURCES);
# any other producer reads as "onnx": torch's defaults, but whose parameter count is not known
ONNX_PRODUCERS = {"pytorch": "torch"}


# --------------------------------------------------------------------------- Keras


def _keras_member(path: Path, member: str, limit: int) -> bytes:
    """One member of a ``.keras`` zip through the shared zip guard (:func:`..core.safeio.open_zip`):
    the member count and directory size from the end records before ``zipfile`` parses anything
    (1.2 M members are refused from 22 bytes, not parsed into ~600 MB of ``ZipInfo``), member
    names, compression and ratios from the directory, then the one member inflated to at most
    ``limit`` bytes and exactly its declared size (:func:`..core.safeio.read_member`).
    """
    with open_zip(path, ARCHIVE_MEMBERS, what="Keras archive") as archive:
        try:
            entry = archive.getinfo(member)
        except KeyError:
            raise error(path, f"no {member!r} member: not a Keras 3 .keras archive (model.save)") from None
        with reading(path, kind="Keras archive"):
            return read_member(archive, entry, limit, path, "Keras archive").getvalue()


def read_keras(path: Path) -> NetGraph:
    """A ``.keras`` archive's functional graph (``config.json``: layers, class_name, inbound_nodes)."""
    text = _keras_member(path, "config.json", MAX_CONFIG_BYTES)
    with reading(path, kind="Keras archive"):
        config = json.loads(text.decode("utf-8"))
    if not isinstance(config, dict) or config.get("class_name") not in ("Functional", "Model"):
        kind = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise error(path, f"config.json holds a {visible(excerpt(str(kind), 40))}, not a functional model")
    layers = config.get("config", {}).get("layers") if isinstance(config.get("config"), dict) else None
    if not isinstance(layers, list):
        raise error(path, "config.json has no list of layers")
    if len(layers) > MAX_ONNX_NODES:
        raise error(path, f"config.json lists {len(layers):,} layers; at most {MAX_ONNX_NODES:,} are read")
    nodes: list[Node] = []
    alias: dict[str, str] = {}
    dense_name = None
    constructor = KERAS_APPLICATIONS.get(str(config["config"].get("name")))
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
            raise error(path, f"config.json: layer {index} is not an object with a config")
        cls, cfg = str(layer.get("class_name")), layer["config"]
        name = str(layer.get("name") or cfg.get("name") or f"layer_{index}")
        inputs = tuple(alias.get(i, i) for i in _inbound(layer.get("inbound_nodes", [])))
        rule = KERAS_LAYERS.get(cls)
        if rule is None:
            raise RecogniseError(f"node {safe_name(name)!r}: Keras layer {safe_name(cls)!r} has no counterpart in the "
                                 "spec language", where=Location(visible(str(path))))
        ops = rule(cfg, name)
        if not ops:
            alias[name] = inputs[0] if inputs else name
            continue
        previous = inputs
        for suffix, op in ops:
            nodes.append(Node(name + suffix, op, previous))
            previous = (name + suffix,)
            if isinstance(op, Dense) and LAYER_NAME.fullmatch(name):
                dense_name = name
        alias[name] = previous[0]
    return NetGraph("Keras archive", "keras", tuple(nodes), (), False, dense_name,
                    None if constructor is None else Framework(f"keras.applications.{constructor}", KERAS_MIN_INPUT))


def _inbound(nodes: Any) -> list[str]:
    """The layer names a layer reads, from Keras 3's ``keras_history`` (or Keras 2's lists)."""
    found: list[str] = []

    def visit(value: Any, depth: int) -> None:
        if depth > 32:
            raise ValueError("inbound_nodes nest deeper than 32")
        if isinstance(value, dict):
            history = value.get("config", {}).get("keras_history") if isinstance(value.get("config"), dict) else None
            if isinstance(history, list) and history and isinstance(history[0], str):
                found.append(history[0])
                return
            for item in value.values():
                visit(item, depth + 1)
        elif isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
                found.append(value[0])
                return
            for item in value:
                visit(item, depth + 1)

    visit(nodes, 0)
    return found


def _square(value: Any, name: str, what: str) -> int:
    values = [value] if isinstance(value, int) else [v for row in value for v in (row if isinstance(row, list) else [row])]
    if not values or len(set(values)) != 1 or not all(isinstance(v, int) for v in values):
        raise RecogniseError(f"node {safe_name(name)!r}: {what} {visible(excerpt(str(value), 40))} is not one square size")
    return int(values[0])


def _keras_conv(cfg: dict, name: str) -> list[tuple[str, Op]]:
    kernel = _square(cfg.get("kernel_size", 1), name, "kernel_size")
    stride = _square(cfg.get("strides", 1), name, "strides")
    if _square(cfg.get("dilation_rate", 1), name, "dilation_rate") != 1:
        raise RecogniseError(f"node {safe_name(name)!r}: a dilated Conv2D; the spec language has none")
    padding = {"valid": 0, "same": kernel // 2}.get(cfg.get("padding"))
    if padding is None or (padding and stride != 1):
        raise RecogniseError(f"node {safe_name(name)!r}: padding {cfg.get('padding')!r} at stride {stride} "
                             "(Keras pads unevenly); the spec language pads evenly")
    ops: list[tuple[str, Op]] = [("", Conv2D(int(cfg["filters"]), kernel, stride, padding, bool(cfg.get("use_bias", True)),
                                            int(cfg.get("groups", 1))))]
    return ops + _activation(cfg.get("activation", "linear"), name)


def _activation(activation: Any, name: str) -> list[tuple[str, Op]]:
    table: dict[str, list[tuple[str, Op]]] = {"linear": [], "relu": [("_relu", ReLU())], "softmax": [("_softmax", Softmax())]}
    if activation not in table:
        raise RecogniseError(f"node {safe_name(name)!r}: activation {visible(excerpt(str(activation), 30))!r}; the spec "
                             "language has relu and softmax")
    return table[activation]


def _keras_pool(kind: type) -> Callable[[dict, str], list[tuple[str, Op]]]:
    def rule(cfg: dict, name: str) -> list[tuple[str, Op]]:
        if cfg.get("padding", "valid") != "valid":
            raise RecogniseError(f"node {safe_name(name)!r}: a pool with padding {cfg.get('padding')!r}")
        size = _square(cfg.get("pool_size", 2), name, "pool_size")
        stride = cfg.get("strides") or size
        return [("", kind(size=size, stride=_square(stride, name, "strides")))]
    return rule


def _keras_activation(cfg: dict, name: str) -> list[tuple[str, Op]]:
    return [("", op) for _, op in _activation(cfg.get("activation"), name)]


# Keras class -> our ops, each with a suffix for its node's name ([]: the same values, renamed)
KERAS_LAYERS: dict[str, Callable[[dict, str], list[tuple[str, Op]]]] = {
    "InputLayer": lambda cfg, name: [("", Input(tuple(int(d) for d in (cfg.get("batch_shape")
                                                                        or [None, *cfg.get("batch_input_shape", [])])[1:])))],
    "ZeroPadding2D": lambda cfg, name: [("", ZeroPad(_square(cfg.get("padding", 1), name, "padding")))],
    "Conv2D": _keras_conv,
    "BatchNormalization": lambda cfg, name: [("", BatchNorm(float(cfg.get("epsilon", 1e-3))))],
    "Activation": _keras_activation,
    "ReLU": lambda cfg, name: [("", ReLU())],
    "Add": lambda cfg, name: [("", Add())],
    "MaxPooling2D": _keras_pool(MaxPool),
    "AveragePooling2D": _keras_pool(AvgPool),
    # keepdims=False (Keras' default, keras.applications' head): a vector; keepdims=True: a 1x1 map
    "GlobalAveragePooling2D": lambda cfg, name: [("", GlobalAvgPool() if cfg.get("keepdims") else GlobalAvgPoolFlat())],
    "Flatten": lambda cfg, name: [],
    "Dropout": lambda cfg, name: [],
    "Dense": lambda cfg, name: [("", Dense(int(cfg["units"]), bool(cfg.get("use_bias", True))))]
    + _activation(cfg.get("activation", "linear"), name),
}
# A Keras model's name -> the keras.applications constructor that gives it (keras/src/applications/
# resnet.py and resnet_v2.py: ResNet50(name="resnet50"), ...); each refuses inputs below 32x32
# (imagenet_utils.obtain_input_shape(min_size=32)), as the bundled Keras specs' framework says
KERAS_APPLICATIONS = {"resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152",
                      "resnet50v2": "ResNet50V2", "resnet101v2": "ResNet101V2", "resnet152v2": "ResNet152V2"}
KERAS_MIN_INPUT = 32


# --------------------------------------------------------------------------- torchvision state dicts


TORCH_BLOCK = re.compile(r"layer(\d+)\.(\d+)\.(conv|bn)(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)")
TORCH_DOWN = re.compile(r"layer(\d+)\.(\d+)\.downsample\.([01])\.(weight|bias|running_mean|running_var|num_batches_tracked)")
TORCH_TOP = re.compile(r"(conv1|bn1|fc)\.(weight|bias|running_mean|running_var|num_batches_tracked)")


def state_dict_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Names and shapes from a ``.safetensors`` or ``.npz`` header: no data is read."""
    from .npz import describe_npz
    from .torchvision import safetensors_header

    with ExitStack() as stack, reading(path, kind=path.suffix.lstrip(".")):
        if path.suffix.lower() == ".safetensors":
            raw, _ = safetensors_header(path, STATE_DICT_LIMITS, stack)
            return {name: entry.shape for name, entry in raw.items()}
        described = describe_npz(path, None, STATE_DICT_LIMITS, stack)  # type: ignore[arg-type]
        return {entry.name: entry.shape for keys in described.entries.values() for entry in keys.values()}


def is_torchvision(shapes: dict[str, tuple[int, ...]]) -> bool:
    return "conv1.weight" in shapes and "fc.weight" in shapes


def read_state_dict(path: Path) -> NetGraph:
    """A torchvision ResNet's topology rebuilt from its module names (``layer3.1.conv2.weight``);
    what names cannot carry (strides, paddings, BN epsilon) is torchvision's, and said so."""
    shapes = state_dict_shapes(path)
    if not is_torchvision(shapes):
        raise error(path, "no 'conv1.weight' and 'fc.weight': not a torchvision ResNet state dict")
    blocks: dict[tuple[int, int], dict[str, tuple[int, ...]]] = {}
    for name, shape in shapes.items():
        match = TORCH_BLOCK.fullmatch(name) or TORCH_DOWN.fullmatch(name)
        if match:
            layer, block = int(match[1]), int(match[2])
            blocks.setdefault((layer, block), {})[name.split(".", 2)[2]] = shape
        elif not TORCH_TOP.fullmatch(name):
            raise RecogniseError(f"node {safe_name(name)!r}: not a name torchvision's ResNet has "
                                 "(conv1, bn1, layerN.M.convK/bnK/downsample, fc)", where=Location(visible(str(path))))
    bias = "conv1.bias" in shapes
    stem = shapes["conv1.weight"]
    if len(stem) != 4:
        raise error(path, f"conv1.weight has shape {list(stem)}; a conv weight has 4 dims")
    nodes = [Node("input", Input((224, 224, stem[1])))]
    x = _add(nodes, "conv1", Conv2D(stem[0], stem[2], 2, stem[2] // 2, bias), "input")
    x = _add(nodes, "bn1", BatchNorm(1e-5), x)
    x = _add(nodes, "relu", ReLU(), x)
    x = _add(nodes, "maxpool", MaxPool(3, 2, 1), x)
    channels = stem[0]
    for (layer, index) in sorted(blocks):
        params = blocks[(layer, index)]
        convs = sorted(int(k[4:-7]) for k in params if re.fullmatch(r"conv\d+\.weight", k))
        kind = {2: "basic", 3: "bottleneck"}.get(len(convs))
        if kind is None or convs != list(range(1, len(convs) + 1)):
            raise RecogniseError(f"node 'layer{layer}.{index}': convs {convs}; torchvision's blocks have conv1-2 or conv1-3",
                                 where=Location(visible(str(path))))
        stride = 2 if index == 0 and layer > 1 else 1
        strided = 2 if kind == "bottleneck" else 1  # v1.5: the 3x3 (conv2) of a bottleneck
        prefix, block_in, y = f"layer{layer}.{index}", x, x
        for k in convs:
            weight = params[f"conv{k}.weight"]
            groups = max(1, channels // weight[1]) if k == strided else 1
            conv = Conv2D(weight[0], weight[2], stride if k == strided else 1, weight[2] // 2,
                          f"conv{k}.bias" in params, groups)
            y = _add(nodes, f"{prefix}.conv{k}", conv, y)
            y = _add(nodes, f"{prefix}.bn{k}", BatchNorm(1e-5), y)
            if k != convs[-1]:
                y = _add(nodes, f"{prefix}.relu{k}", ReLU(), y)
            channels = weight[0]
        shortcut = block_in
        if "downsample.0.weight" in params:
            weight = params["downsample.0.weight"]
            shortcut = _add(nodes, f"{prefix}.downsample.0", Conv2D(weight[0], 1, stride, 0, "downsample.0.bias" in params),
                            block_in)
            shortcut = _add(nodes, f"{prefix}.downsample.1", BatchNorm(1e-5), shortcut)
        y = _add(nodes, f"{prefix}.add", Add(), y, shortcut)
        x = _add(nodes, f"{prefix}.relu", ReLU(), y)
    x = _add(nodes, "avgpool", GlobalAvgPool(), x)
    fc = shapes["fc.weight"]
    _add(nodes, "fc", Dense(fc[0], "fc.bias" in shapes), x)
    assumed = (
        Assumed("conventions.stride_on", "3x3", ("1x1",), "a state dict carries no strides: torchvision's v1.5 "
                "(stride on the 3x3) and v1 (stride on the first 1x1) hold the same weights"),
        Assumed("conventions.bn_epsilon", "1e-05", ("1.001e-05", "0.001"), "a state dict carries no BatchNorm epsilon"),
        Assumed("stem", "pad 3, conv stride 2, max pool 3/2 pad 1", (), "a state dict carries no strides or "
                "paddings: torchvision's stem"),
        Assumed("stages.stride", "2 from the second stage on", (), "a state dict carries no strides: torchvision's"),
        Assumed("input", "224x224", (), "a state dict has no input size: torchvision's ImageNet size"),
    )
    return NetGraph("torchvision state dict", "torch", tuple(nodes), assumed, False, None)


def _add(nodes: list[Node], name: str, op: Op, *inputs: str) -> str:
    nodes.append(Node(name, op, inputs))
    return name


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Reader:
    name: str
    read: Callable[[Path], NetGraph]


READERS: dict[str, Reader] = {
    ".onnx": Reader("ONNX model", read_onnx),
    ".keras": Reader("Keras archive", read_keras),
    ".safetensors": Reader("torchvision state dict", read_state_dict),
    ".npz": Reader("torchvision state dict", read_state_dict),
}
# weights files without a graph: identified by the bundled specs they fit
WEIGHTS_ONLY = (".h5", ".hdf5", ".weights.h5", ".npz")


def _reader(path: Path) -> Reader:
    from .weightfiles import PICKLE_SUFFIXES, torch_convert_line

    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise error(path, f"{suffix} files are Python pickles and are never loaded (unpickling runs code); "
                          f"convert the state dict to safetensors once, where torch is installed: {torch_convert_line(path)}")
    if suffix not in READERS:
        raise error(path, f"cannot import {visible(suffix or '(no extension)')!r} files; import reads "
                          f"{', '.join(READERS)}")
    return READERS[suffix]


# --------------------------------------------------------------------------- import


@dataclass(frozen=True, repr=False)
class ImportResult:
    """A spec recovered from a file: its YAML text, the loaded spec, and what the file could not tell."""

    file: str
    source: str  # "ONNX model", "Keras archive", "torchvision state dict"
    spec_text: str
    spec: Spec = field(compare=False)
    ambiguities: tuple[Assumed, ...]
    nodes: int

    def line(self, written: str | Path) -> str:
        """What ``import`` prints once the spec is written."""
        return (f"wrote {written}: {self.spec.block}, stages {[s.blocks for s in self.spec.stages]} "
                f"({self.source}, {self.nodes} nodes)")

    def notes(self) -> list[str]:
        return [f"note: {a.line()}" for a in self.ambiguities]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``import --format json`` (README)."""
        return {"file": self.file, "format": self.source, "spec": self.spec.name, "nodes": self.nodes,
                "block": self.spec.block, "stages": [s.blocks for s in self.spec.stages],
                "ambiguities": [a.to_dict() for a in self.ambiguities], "spec_text": self.spec_text}

    def to_json(self) -> str:
        return to_json(self.to_dict())

    def __repr__(self) -> str:
        return f"ImportResult(file={self.file!r}, spec={self.spec.name!r}, ambiguities={len(self.ambiguities)})"


def import_spec(path: str | Path, name: str | None = None) -> ImportResult:
    """Rebuild the spec of a ``.keras`` archive, an ONNX model or a torchvision state dict.

    The spec is checked three ways before it is returned: it loads with ``load_spec``'s parser,
    it builds, and its graph equals the file's op by op (or one error names the first node that
    differs). ``name`` defaults to the file's stem (made a valid spec name).
    """
    path = Path(numbers.path(path, "path"))
    if name is not None and not SPEC_NAME.fullmatch(numbers.text(name, "name")):
        raise InspectError(f"a spec name is letters, digits, '_', '.' and '-', got {visible(excerpt(name, 40))!r}",
                           field="name")
    if str(path) == "":
        regular_file("", "model file")
    reader = _reader(path)
    regular_file(path, "model file")
    spec_name = name or _spec_name(path)
    where = Location(visible(str(path)))
    try:
        net = reader.read(path)
        found = recognise(net, spec_name)
        text = emit_spec(found.data, found.assumed, path, net.source)
        spec = parse_spec(text, f"<imported from {visible(path.name)}>")
        same_network(net, build_graph(spec), net.bn_folded or not any(isinstance(n.op, BatchNorm) for n in net.nodes))
    except RecogniseError as exc:  # every line names the file, whichever step found the node
        raise RecogniseError(exc.message, where=where) from None
    return ImportResult(str(path), net.source, text, spec, found.assumed, found.nodes)


def _spec_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip("_.-")
    return cleaned if SPEC_NAME.fullmatch(cleaned or "") else "imported"


def emit_spec(data: dict, assumed: tuple[Assumed, ...], path: Path, source: str) -> str:
    """The spec as YAML through the emitter, the ambiguities as comments above it."""
    import yaml

    from .._version import __version__

    data = dict(data)
    data["description"] = f"Imported from {visible(path.name)} ({source}) by resnet-inspect import."
    header = [f"# Imported by resnet-inspect {__version__} from {visible(path.name)} ({source})."]
    if assumed:
        header.append("# Not in the file (each is the framework's default; change it if you know better):")
        header += [f"#   {visible(a.line())}" for a in assumed]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=False, width=100, default_flow_style=None)
    return "\n".join(header) + "\n" + body


def write_spec(result: ImportResult, output: str | Path, reads: tuple[str, ...] = ()) -> Path:
    """Write the imported spec atomically (a temporary file renamed over ``output``)."""
    with atomic_write(output, suffixes=(".yaml", ".yml"), reads=(result.file, *reads), what="spec") as temporary:
        temporary.write_text(result.spec_text, encoding="utf-8")
    return Path(output)


# --------------------------------------------------------------------------- identify


@dataclass(frozen=True)
class Difference:
    field: str
    text: str  # "stage 4 has 8 blocks"
    file: Any
    spec: Any


@dataclass(frozen=True)
class Candidate:
    spec: str
    differences: tuple[Difference, ...]


@dataclass(frozen=True, repr=False)
class IdentifyResult:
    """Which bundled spec a file is: ``match`` is "exact", "nearest" or "none" (exit 0, 1, 2)."""

    file: str
    source: str
    match: str
    spec: str | None
    differences: tuple[Difference, ...]
    also: tuple[str, ...]  # other bundled specs the file matches as exactly
    ambiguities: tuple[Assumed, ...]
    reason: str = ""

    @property
    def exit_code(self) -> int:
        return {"exact": 0, "nearest": 1, "none": 2}[self.match]

    def line(self) -> str:
        if self.match == "exact":
            also = f" (as exactly: {', '.join(self.also)})" if self.also else ""
            return f"{self.spec}{also}"
        if self.match == "nearest":
            return f"{self.spec}, except " + "; ".join(d.text for d in self.differences)
        return f"no bundled spec: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``identify --format json`` (README)."""
        return {"file": self.file, "format": self.source, "match": self.match, "spec": self.spec,
                "also": list(self.also),
                "differences": [{"field": d.field, "text": d.text, "file": d.file, "spec": d.spec}
                                for d in self.differences],
                "ambiguities": [a.to_dict() for a in self.ambiguities], "reason": self.reason,
                "exit_code": self.exit_code}

    def to_json(self) -> str:
        return to_json(self.to_dict())

    def __repr__(self) -> str:
        return f"IdentifyResult({self.line()!r})"


ALWAYS_OPEN = ("conventions.preprocessing", "conventions.keras_layout", "conventions.block_naming", "input")


def identify(path: str | Path) -> IdentifyResult:
    """The bundled spec ``path`` is: exactly, nearest (with the differences), or none."""
    path = Path(numbers.path(path, "path"))
    if str(path) == "":
        regular_file("", "model file")
    lower = path.name.lower()
    regular_file(path, "model file")
    if lower.endswith(WEIGHTS_ONLY) and not (lower.endswith(".npz") and is_torchvision(state_dict_shapes(path))):
        return _identify_weights(path)
    try:
        imported = import_spec(path)
    except RecogniseError as exc:
        return IdentifyResult(str(path), _reader(path).name, "none", None, (), (), (), exc.message)
    open_fields = ALWAYS_OPEN + tuple(a.field for a in imported.ambiguities)
    ranked = rank(imported.spec, open_fields)
    exact = [c for c in ranked if not c.differences and not _trace_differs(imported.spec, c.spec, open_fields)]
    if exact:
        return IdentifyResult(str(path), imported.source, "exact", exact[0].spec, (), tuple(c.spec for c in exact[1:]),
                              imported.ambiguities)
    near = [c for c in ranked if not any(d.field in ("block", "stages") for d in c.differences)]
    if not near:
        return IdentifyResult(str(path), imported.source, "none", None, (), (), imported.ambiguities,
                              f"no bundled spec has its block kind and {len(imported.spec.stages)} stages")
    return IdentifyResult(str(path), imported.source, "nearest", near[0].spec, near[0].differences, (),
                          imported.ambiguities)


def rank(spec: Spec, open_fields: tuple[str, ...] = ALWAYS_OPEN) -> list[Candidate]:
    """Every bundled spec with how ``spec`` differs from it, nearest first."""
    return sorted((Candidate(name, spec_differences(spec, load_spec(p), open_fields)) for name, p in bundled_specs().items()),
                  key=lambda c: (_cost(c.differences), c.spec))


def _trace_differs(spec: Spec, bundled: str, open_fields: tuple[str, ...]) -> bool:
    """The last word on an exact match: both specs traced, each layer's op, params and (unless the
    file cannot tell the strides) output shape equal, in order; names left out."""
    from ..model.engine import trace_graph

    shapes = not any(f in open_fields for f in ("conventions.stride_on", "stages.stride"))
    mine, theirs = (trace_graph(build_graph(s)).layers for s in (spec, load_spec(bundled)))
    return [(r.op, r.params, r.output_shape if shapes else None) for r in mine] != \
        [(r.op, r.params, r.output_shape if shapes else None) for r in theirs]


def spec_differences(a: Spec, b: Spec, open_fields: tuple[str, ...] = ALWAYS_OPEN) -> tuple[Difference, ...]:
    """How network ``a`` (a file's) differs from ``b`` (a bundled spec), in the words people use;
    fields in ``open_fields`` (what the file cannot tell) are not compared."""
    found: list[Difference] = []

    def differ(key: str, text: str, x: Any, y: Any) -> None:
        if x != y and not any(key == f or key.startswith(f + ".") for f in open_fields):
            found.append(Difference(key, text, x, y))

    differ("block", f"its blocks are {a.block}, not {b.block}", a.block, b.block)
    if len(a.stages) != len(b.stages):
        differ("stages", f"it has {len(a.stages)} stages, not {len(b.stages)}", len(a.stages), len(b.stages))
    for sa, sb in zip(a.stages, b.stages):
        n = sa.number
        differ("stages.blocks", f"stage {n} has {sa.blocks} blocks", sa.blocks, sb.blocks)
        differ("stages.filters", f"stage {n} has filters {list(sa.filters)}", list(sa.filters), list(sb.filters))
        differ("stages.groups", f"stage {n} has {sa.groups} groups", sa.groups, sb.groups)
        differ("stages.stride", f"stage {n} has stride {sa.stride}", sa.stride, sb.stride)
        differ("stages.first_block", f"stage {n} starts with a {sa.first_block} shortcut", sa.first_block, sb.first_block)
    stem_a, stem_b = a.stem, b.stem
    differ("stem.pad", f"the stem pads {stem_a.pad}", stem_a.pad, stem_b.pad)
    differ("stem.conv", f"the stem conv is {_conv(stem_a.conv)}", _conv(stem_a.conv), _conv(stem_b.conv))
    differ("stem.pool", f"the stem pool is {_pool(stem_a.pool)}", _pool(stem_a.pool), _pool(stem_b.pool))
    ha, hb = a.head, b.head
    pool_a, pool_b = _head_pool(ha), _head_pool(hb)
    differ("head.pool", f"the head pools {pool_a}", pool_a, pool_b)
    differ("head.units", f"the head has {ha.units} units", ha.units, hb.units)
    differ("head.activation", f"the head's activation is {ha.activation}", ha.activation, hb.activation)
    from dataclasses import fields

    for f in fields(a.conventions):
        x, y = getattr(a.conventions, f.name), getattr(b.conventions, f.name)
        if f.name == "stride_on" and a.block == "basic":
            continue  # a basic block's stride sits on its first 3x3 either way
        differ(f"conventions.{f.name}", f"{f.name} is {x}", x, y)
    return tuple(found)


# A convention or the head's pool differs more lightly than the architecture's shape: Keras'
# ResNet101 is nearer the blog's resnet101 (epsilon, a 7x7 vs a global pool: same shapes at 224)
# than resnet50-keras3 with 17 blocks fewer.
LIGHT = ("conventions.", "head.pool", "head.activation")


def _cost(differences: tuple[Difference, ...]) -> float:
    return sum((0.3 if d.field.startswith(LIGHT) else 1.0) * (1 + _distance(d.file, d.spec)) for d in differences)


def _distance(a: Any, b: Any) -> float:
    """How far apart two values of one field are (blocks 8 vs 6 is nearer than 8 vs 23)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) / max(abs(a), abs(b), 1)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return sum(_distance(x, y) for x, y in zip(a, b))
    return 1.0


def _head_pool(head: Any) -> str:
    """``global``, ``global_flat``, or ``avg 7``: a pool with a fixed window says its size."""
    from ..model.graph import HEAD_POOLS

    window = HEAD_POOLS[head.pool].make(head).window()
    return head.pool if window is None else f"{head.pool} {window[0]}"


def _conv(c: Any) -> str:
    return f"{c.kernel}x{c.kernel}/{c.stride}, {c.filters} filters"


def _pool(p: Any) -> str:
    return "none" if p is None else f"{p.size}x{p.size}/{p.stride}"


def _identify_weights(path: Path) -> IdentifyResult:
    """A weights file without a graph: the bundled specs whose weights it fits exactly, or the
    one it misses by the fewest arrays."""
    from .base import compare
    from .weightfiles import _describer
    from ..model.graph import load_graph

    describe, kind = _describer(path)
    results: list[tuple[int, str, str]] = []
    for name in bundled_specs():
        graph = load_graph(name)
        with ExitStack() as stack:
            try:
                with reading(path, kind=kind):
                    described = describe(path, graph, Limits.of(graph), stack)
            except InspectError as exc:
                results.append((10**9, name, exc.message))
                continue
            mismatch = compare(described.entries, graph, described.aliases, described.unmapped)
        count = len(mismatch.missing) + len(mismatch.extra) + len(mismatch.shapes) + len(mismatch.dtypes)
        results.append((count, name, mismatch.describe()))
    results.sort()
    exact = [name for count, name, _ in results if count == 0]
    note = (Assumed("weights", "shapes only", (), "a weights file holds array shapes, not strides, epsilon or the "
                    "head's activation: specs that differ only there fit it alike"),)
    if exact:
        return IdentifyResult(str(path), kind, "exact", exact[0], (), tuple(exact[1:]), note)
    count, name, text = results[0]
    if count >= 10**9:
        return IdentifyResult(str(path), kind, "none", None, (), (), note, text)
    return IdentifyResult(str(path), kind, "nearest", name, (Difference("weights", text, None, None),), (), note)
