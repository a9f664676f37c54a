"""torchvision's weights: a state dict as ``.safetensors``, or already in memory.

The safetensors header (8 bytes of length, then JSON) is parsed here, so the package is not
needed to read. torchvision's module paths map onto the blog's names through the one name table
(:mod:`..model.naming`), and each op's ``torch_params`` says which parameter is which of our keys.
PyTorch's pickle-based ``.pt``/``.pth`` files are never loaded: :func:`torch_convert_line` is the
one line of torch that converts them.
"""

from __future__ import annotations

import json
import math
import os
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..core.dtypes import SAFETENSORS_DTYPES
from ..core.usertext import excerpt, visible
from ..model.graph import Graph
from ..model.weights import Weights, torchvision_names
from .base import Described, Entry, Limits, check_weights, error, fill, our_metadata, safe_name

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np


TORCH_IGNORED = ("num_batches_tracked",)  # a training counter, not a weight


def describe_safetensors(path: Path, graph: Graph, limits: Limits, stack: ExitStack,
                         layout: str | None = None) -> Described:
    """A torchvision state dict: the JSON header parsed here, module paths mapped to the blog's names.

    The format: 8 bytes little-endian header length, the JSON header (``name: {dtype, shape,
    data_offsets}``), then the data. Offsets are checked against the shape and the file's size.
    """
    raw, metadata = safetensors_header(path, limits, stack)
    described = torchvision_entries(raw, graph, path)
    if isinstance(metadata, dict):  # safetensors' own str -> str map: our marks among it
        described.metadata = our_metadata(metadata.items(), path)
    return described


def safetensors_header(path: Path, limits: Limits, stack: ExitStack) -> tuple[dict[str, Entry], Any]:
    """Every tensor a safetensors header lists, by the file's name, checked and with no data read
    (also what ``import``/``identify`` read from a state dict: it needs no graph), and the header's
    ``__metadata__`` (where ``weights init`` marks seeded weights)."""
    handle = stack.enter_context(open(path, "rb"))
    size = os.fstat(handle.fileno()).st_size
    length_bytes = handle.read(8)
    if len(length_bytes) < 8:
        raise error(path, f"not a safetensors file: {len(length_bytes)} bytes, the header length alone takes 8")
    length = int.from_bytes(length_bytes, "little")
    if length > min(limits.header_bytes, size - 8):
        raise error(path, f"not a readable safetensors file: its header claims {length:,} bytes; the file has {size - 8:,} after the length and "
                          f"a header for this spec needs at most {limits.header_bytes:,}")
    header = json.loads(handle.read(length).decode("utf-8"), object_pairs_hook=_unique_keys)
    if not isinstance(header, dict):
        raise ValueError("its header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if len(header) > limits.entries:
        raise error(path, f"lists {len(header):,} tensors; a weights file for this spec has at most {limits.entries:,}")
    data_size = size - 8 - length
    raw = {name: _safetensors_entry(handle, 8 + length, data_size, name, info, path) for name, info in header.items()}
    return raw, metadata


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a name appears twice in the header")
    return dict(pairs)


def _safetensors_entry(handle: Any, start: int, data_size: int, name: str, info: Any, path: Path) -> Entry:
    import numpy as np

    if not isinstance(info, dict) or not isinstance(info.get("dtype"), str):
        raise error(path, f"tensor {safe_name(name)!r} has no dtype in the header")
    if info["dtype"] not in SAFETENSORS_DTYPES:
        raise error(path, f"tensor {safe_name(name)!r} is {visible(excerpt(info['dtype'], 20))}, which is not read; "
                          "supported: F16, F32, F64 (weights) and integer types (reported); convert BF16/F8 "
                          "tensors with tensor.float() first")
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not _int_list(shape) or not _int_list(offsets) or len(offsets) != 2:
        raise error(path, f"tensor {safe_name(name)!r} needs a shape and two data_offsets of non-negative integers")
    dtype = np.dtype(SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")  # safetensors is little-endian
    begin, end = offsets
    if not begin <= end <= data_size or end - begin != math.prod(shape) * dtype.itemsize:
        raise error(path, f"tensor {safe_name(name)!r}: data_offsets {offsets} do not hold shape {shape} of "
                          f"{info['dtype']} within the file's {data_size:,} data bytes")
    return Entry(name, tuple(shape), dtype, partial(_read_span, handle, start + begin, tuple(shape), dtype))


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) is int and v >= 0 for v in value)


def _read_span(handle: Any, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    import numpy as np

    handle.seek(offset)
    out = fill(np.empty(shape, dtype), handle.read)
    return out if dtype.isnative else out.astype(dtype.newbyteorder("="))


def torchvision_entries(raw: dict[str, Entry], graph: Graph, path: Path) -> Described:
    """Map torchvision names onto the blog's: module path -> layer, OIHW -> HWIO, (out,in) -> (in,out).

    Only the headers move: each entry's shape is permuted now, its data when it is read.
    """
    module_of = torchvision_names(graph)
    blog_of = {torch: blog for blog, torch in module_of.items()}
    keys_of = {layer.name: {param: key for key, param in layer.op.torch_params.items()} for layer in graph}
    described = Described()
    for name, entry in raw.items():
        module, _, param = name.rpartition(".")
        if param in TORCH_IGNORED:
            continue
        layer = blog_of.get(module)
        key = keys_of.get(layer or "", {}).get(param)
        if layer is None or key is None:
            described.unmapped.append(name)
            continue
        if key == "kernel" and len(entry.shape) in (2, 4):
            order = (2, 3, 1, 0) if len(entry.shape) == 4 else (1, 0)
            entry = Entry(name, tuple(entry.shape[i] for i in order), entry.dtype, partial(_transposed, entry.read, order))
        described.add(layer, key, entry, path)
    described.aliases = {f"{blog}/{key}": f"{module_of[blog]}.{param}"
                         for blog in module_of for param, key in keys_of[blog].items()}
    return described


def _transposed(read: Callable[[], np.ndarray], order: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    return np.ascontiguousarray(read().transpose(order))


def from_torchvision(state: dict[str, np.ndarray], graph: Graph) -> Weights:
    """A torchvision state dict already in memory (e.g. ``{k: v.numpy() for k, v in model.state_dict()}``)."""
    raw = {name: Entry(name, tuple(array.shape), array.dtype, partial(lambda a: a, array)) for name, array in state.items()}
    described = torchvision_entries(raw, graph, Path("<state dict>"))
    check_weights(described.entries, graph, None, described.aliases, described.unmapped)
    return {layer: {key: entry.read() for key, entry in keys.items()} for layer, keys in described.entries.items()}


def torch_convert_line(path: Path) -> str:
    """The one shell line that turns a torch state dict into safetensors (weights_only: no code runs)."""
    target = visible(path.with_suffix(".safetensors").name)
    return (f"python -c \"import torch; from safetensors.torch import save_file; "
            f"save_file(torch.load('{visible(path.name)}', weights_only=True), '{target}')\"")


def torch_state(weights: Weights, graph: Graph) -> dict[str, np.ndarray]:
    """``weights`` as the state dict of the PyTorch module ``export --to pytorch`` writes: module
    paths from the name table (torchvision's), each array in PyTorch's layout (each op's
    ``torch_layout``: OIHW kernels, (out, in) matrices), in the module's order, BatchNorm's
    ``num_batches_tracked`` counter (int64 0) after its four arrays as ``nn.BatchNorm2d`` keeps it."""
    import numpy as np

    module_of = torchvision_names(graph)
    state: dict[str, np.ndarray] = {}
    for layer in graph:
        if layer.name not in module_of:
            continue
        op, module = layer.op, module_of[layer.name]
        for key, param in op.torch_params.items():
            if layer.name not in weights or key not in weights[layer.name]:
                continue
            array = weights[layer.name][key]
            order = op.torch_layout.get(key)
            state[f"{module}.{param}"] = np.ascontiguousarray(array.transpose(order) if order else array)
        if op.kind == "batch_norm":
            state[f"{module}.num_batches_tracked"] = np.zeros((), np.int64)
    return dict(sorted(state.items(), key=lambda item: _torch_order(item[0])))


def _torch_order(key: str) -> tuple:
    """PyTorch's state-dict order: modules as registered (stem, layer1.0 …, head), the block's own
    modules in the order the generated classes register them."""
    rank = {"conv1": 0, "bn1": 1, "preact_bn": -1, "conv2": 2, "bn2": 3, "conv3": 4, "bn3": 5, "downsample": 6,
            "layer": 10, "post_bn": 20, "fc": 30}
    parts = key.split(".")
    head = parts[0]
    if head.startswith("layer"):
        stage, block, module = int(head[5:]), int(parts[1]), parts[2]
        return (10, stage, block, rank.get(module, 9), parts[3:])
    return (rank.get(head, 25), 0, 0, 0, parts[1:])


def save_safetensors(weights: Weights, path: Path, graph: Graph | None = None, layout: str | None = None,
                     metadata: "Mapping[str, str] | None" = None) -> None:
    """A ``.safetensors`` file holding :func:`torch_state` (the format needs no package to write):
    8 bytes of header length, the JSON header (padded to 8 bytes with spaces), then the data.
    ``metadata`` (the seeded-weights mark) joins the header's own ``__metadata__`` str -> str map."""
    if graph is None:
        raise error(path, "writing a .safetensors file needs the spec (the state dict's keys come from it)")
    codes = {name: code for code, name in SAFETENSORS_DTYPES.items()}
    state = torch_state(weights, graph)
    header: dict[str, Any] = {"__metadata__": {"format": "pt", **dict(metadata or {})}}
    offset = 0
    for name, array in state.items():
        if array.dtype.name not in codes:
            raise error(path, f"array {safe_name(name)!r} is {array.dtype.name}, which safetensors cannot hold")
        header[name] = {"dtype": codes[array.dtype.name], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(len(text).to_bytes(8, "little"))
        out.write(text)
        for array in state.values():
            out.write(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
