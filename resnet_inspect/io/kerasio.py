"""Keras' own weight files: Keras 3's ``.weights.h5``, ``.keras`` archives and Keras 3-named ``.h5``.

Keras 3's native format names nothing after our layers: ``model.save_weights("x.weights.h5")``
writes ``layers/<class>[_N]/vars/0..n``, one group per layer of ``model.layers`` numbered per
class (``conv2d``, ``conv2d_1``, …) in that list's order. So the file is read by *position*:
the N-th ``conv2d`` is the N-th conv of our graph in Keras' layer order (:func:`keras_order`).

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

Every reader here runs behind :mod:`.weightio`'s guards (describe → check → load; hard links
only; no external storage, virtual datasets or unknown filters; bounded chunks) and reuses its
HDF5 helpers; a ``.keras`` zip's weights member is sized from its header and read into memory,
never extracted to disk.
"""

from __future__ import annotations

import io
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InspectError
from ..model.graph import Graph
from ..model.naming import names_in
from ..core.usertext import visible
from ..model.weights import Weights, weight_shapes
from .weightio import (MiB, Described, write_h5, Describer, Limits, _error, _h5_entry, _h5_object, _name, _optional,
                       describe_h5)

if TYPE_CHECKING:
    import numpy as np

ARCHIVE_WEIGHTS = "model.weights.h5"  # the member of a .keras zip that holds the weights
ARCHIVE_MEMBERS = 64  # a .keras zip holds three members (metadata.json, config.json, model.weights.h5)


@dataclass(frozen=True)
class KerasLayout:
    """How one Keras code wires a block, as far as Keras' layer order can see it."""

    name: str
    shortcut_first: bool  # the residual add lists the shortcut before the main path
    source: str  # the line of Keras code this reproduces


LAYOUTS = {
    "keras3": KerasLayout("keras3", True, "keras.applications resnet.py / resnet_v2.py: layers.Add()([shortcut, x])"),
    "blog": KerasLayout("blog", False, "keras_applications/resnet50.py (the blog's Keras 2 code): "
                                       "layers.add([x, shortcut])"),
}
DEFAULT_LAYOUT = "keras3"  # what keras.applications builds, in Keras 2.x and 3 alike


def check_layout(layout: str | None, graph: Graph | None = None) -> str:
    """``layout``; for None the spec's ``conventions.keras_layout`` (or the default without a graph).
    An unknown one is a one-line error naming the option."""
    if layout is None:
        return graph.spec.conventions.keras_layout if graph is not None else DEFAULT_LAYOUT
    if layout not in LAYOUTS:
        raise InspectError(f"must be one of {', '.join(LAYOUTS)}, got {visible(str(layout))!r}", field="--keras-layout")
    return layout


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


# --------------------------------------------------------------------------- reading


def describe_keras3(path: Path, graph: Graph, limits: Limits, stack: ExitStack,
                    layout: str | None = None) -> Described:
    """Keras 3's ``.weights.h5``."""
    h5py = _optional("h5py", "h5", path)
    return describe_keras3_file(stack.enter_context(h5py.File(path, "r")), path, graph, limits, layout)


def describe_keras3_file(f: Any, path: Path, graph: Graph, limits: Limits,
                         layout: str | None = None) -> Described:
    """``layers/<class>[_N]/vars/<i>`` mapped by position onto our layers (:func:`keras_groups`).

    Groups of weightless classes (``activation``, ``add``, …) are expected and skipped when their
    ``vars`` is empty; any dataset with no place in our graph is reported as extra.
    """
    import h5py

    if f.get("layers", getlink=True) is None:
        raise _error(path, "no 'layers' group: not a Keras 3 .weights.h5 file (model.save_weights)")
    layers = _h5_object(f, "layers", path, None, h5py.Group)
    _bounded(len(layers), limits, path, "groups under 'layers'")
    expected = keras_groups(graph, layout)
    described = Described()
    for group_name in layers:
        if group_name in expected:
            layer, keys = expected[group_name]
        else:
            layer, keys = None, ()
        group = _h5_object(layers, group_name, path, layer, h5py.Group)
        if group.get("vars", getlink=True) is None:
            continue
        variables = _h5_object(group, "vars", path, layer, h5py.Group)
        _bounded(len(variables), limits, path, f"variables in {_name(group_name)!r}")
        for var in variables:
            name = f"layers/{group_name}/vars/{var}"
            entry = _h5_entry(_h5_object(variables, var, path, layer, h5py.Dataset), name, path, layer or group_name)
            if layer is None or not var.isdigit() or int(var) >= len(keys):
                described.unmapped.append(name)
                continue
            described.add(layer, keys[int(var)], entry, path)
    described.aliases = {f"{layer}/{key}": f"layers/{group}/vars/{i}"
                         for group, (layer, keys) in expected.items() for i, key in enumerate(keys)}
    return described


def _bounded(count: int, limits: Limits, path: Path, what: str) -> None:
    if count > limits.entries:
        raise _error(path, f"{count:,} {what}; a weights file for this spec has at most {limits.entries:,}")


def archive_bound(graph: Graph, limits: Limits) -> int:
    """The most bytes a ``.keras`` archive's weights member may inflate to for this graph:
    every number as float64, plus HDF5's headers (a few KiB per group) and slack."""
    numbers = sum(_size(shape) for keys in weight_shapes(graph).values() for shape in keys.values())
    return 8 * numbers + 8 * 1024 * limits.entries + 16 * MiB


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for d in shape:
        size *= d
    return size


def describe_keras_archive(path: Path, graph: Graph, limits: Limits, stack: ExitStack,
                           layout: str | None = None) -> Described:
    """A ``.keras`` zip (``model.save``): its ``model.weights.h5`` read in memory as a ``.weights.h5``.

    Refused from the zip's headers before anything is inflated: too many members, a member name
    that would leave a folder (absolute, ``..``, backslashes), a weights member whose declared size
    is beyond what this spec's weights take, or a compression ``zipfile`` inflates without bound.
    """
    h5py = _optional("h5py", "h5", path)
    archive = stack.enter_context(zipfile.ZipFile(path))
    members = archive.infolist()
    if len(members) > ARCHIVE_MEMBERS:
        raise _error(path, f"lists {len(members):,} members; a .keras archive holds a handful")
    for info in members:
        parts = info.filename.replace("\\", "/").split("/")
        if info.filename.startswith(("/", "\\")) or "\\" in info.filename or ".." in parts or ":" in parts[0]:
            raise _error(path, f"member name {_name(info.filename)!r} leaves the archive's folder; refused")
    try:
        info = archive.getinfo(ARCHIVE_WEIGHTS)
    except KeyError:
        raise _error(path, f"no {ARCHIVE_WEIGHTS!r} member: not a Keras 3 .keras archive (model.save)") from None
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _error(path, f"{ARCHIVE_WEIGHTS!r} uses zip compression {info.compress_type}; only stored "
                           "and deflated members are read")
    bound = archive_bound(graph, limits)
    if info.file_size > bound:
        raise _error(path, f"{ARCHIVE_WEIGHTS!r} declares {info.file_size:,} bytes; this spec's weights "
                           f"take at most {bound:,} (a decompression bomb?)")
    with archive.open(info) as member:
        data = member.read(info.file_size + 1)  # zipfile stops at the declared size and checks the CRC
    if len(data) != info.file_size:
        raise _error(path, f"{ARCHIVE_WEIGHTS!r} holds {len(data):,} bytes, its header says {info.file_size:,}")
    f = stack.enter_context(h5py.File(io.BytesIO(data), "r"))
    return describe_keras3_file(f, path, graph, limits, layout)


def describe_h5_any_names(path: Path, graph: Graph, limits: Limits, stack: ExitStack) -> Described:
    """A legacy ``.h5`` under the blog's names or Keras 3's (``keras.applications``' ``conv2_block1_1_conv``).

    Names come from the one mapping table (:func:`.naming.names_in`); a file's layer that is
    already one of ours keeps its name, so blog-named files read exactly as before.
    """
    described = describe_h5(path, graph, limits, stack)
    ours = {layer.name for layer in graph}
    blog_of = {keras: blog for blog, keras in names_in(graph, "keras3").items() if keras and keras not in ours}
    if not any(layer in blog_of for layer in described.entries):
        return described
    renamed = Described(unmapped=described.unmapped)
    for layer, keys in described.entries.items():
        for key, entry in keys.items():
            renamed.add(blog_of.get(layer, layer), key, entry, path)
    renamed.aliases = {f"{blog}/{key}": f"{keras}/{key}" for keras, blog in blog_of.items()
                       for key in weight_shapes(graph).get(blog, {})}
    return renamed


def keras_describer(path: Path, layout: str | None = None) -> Describer | None:
    """The reader for Keras' own files by name (``x.weights.h5``, ``x.keras``, ``x.h5``), else None.

    ``layout`` (None: the spec's ``conventions.keras_layout``) matters only where Keras stores
    layers by position (``.weights.h5``, ``.keras``); a legacy ``.h5`` is read by its layer names.
    """
    name = path.name.lower()
    if layout is not None:
        check_layout(layout)  # an unknown one is refused before the file is opened
    if name.endswith(".weights.h5"):
        return partial(describe_keras3, layout=layout)
    if name.endswith(".keras"):
        return partial(describe_keras_archive, layout=layout)
    if name.endswith((".h5", ".hdf5")):
        return describe_h5_any_names
    return None


# --------------------------------------------------------------------------- writing


def save_keras3(weights: Weights, path: Path, graph: Graph | None = None, layout: str | None = None) -> None:
    """Keras 3's ``model.save_weights("x.weights.h5")`` layout, so ``model.load_weights`` reads it.

    Only weighted layers get a group: Keras looks each layer's group up by its class and
    number, and a weightless layer with no group loads nothing.
    """
    if graph is None:
        raise _error(path, "writing a .weights.h5 file needs the spec (Keras 3 stores layers by position)")
    groups = keras_groups(graph, layout)

    def build(f: Any) -> None:
        layers = f.create_group("layers")
        for group_name, (layer, keys) in groups.items():
            variables = layers.create_group(group_name).create_group("vars")
            for index, key in enumerate(keys):
                variables.create_dataset(str(index), data=_array(weights, layer, key, path))
        f.create_group("vars")

    write_h5(path, build)


def _array(weights: Weights, layer: str, key: str, path: Path) -> np.ndarray:
    try:
        return weights[layer][key]
    except KeyError:
        raise _error(path, f"no {key} for layer {layer}: the weights do not fit the spec", layer=layer) from None
