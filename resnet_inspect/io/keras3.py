"""Keras 3's own weight files: ``.weights.h5`` and ``.keras`` archives, read and written by position.

Keras 3's native format names nothing after our layers: ``model.save_weights("x.weights.h5")``
writes ``layers/<class>[_N]/vars/0..n``, one group per layer of ``model.layers`` numbered per
class (``conv2d``, ``conv2d_1``, …) in that list's order. So the file is read by *position*:
the N-th ``conv2d`` is the N-th conv of our graph in Keras' layer order; which group holds which
of our layers is :func:`..model.keras.keras_groups` (pure Python: Keras' view of our graph).

Every reader here runs behind the same guards as :mod:`.h5` (hard links only; no external
storage, virtual datasets or unknown filters; bounded chunks) and reuses its HDF5 helpers; a
``.keras`` zip's weights member is sized from its header and read into memory, never extracted
to disk.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core import numbers
from ..core.dtypes import TABLE
from ..core.safeio import open_zip, read_member
from ..model.graph import Graph
from ..model.keras import keras_groups
from ..model.weights import Weights, weight_shapes
from .base import Described, Limits, MiB, error, optional, safe_name
from .h5 import h5_entry, h5_metadata, h5_object, write_h5

if TYPE_CHECKING:
    import numpy as np


ARCHIVE_WEIGHTS = "model.weights.h5"  # the member of a .keras zip that holds the weights
ARCHIVE_MEMBERS = 64  # a .keras zip holds three members (metadata.json, config.json, model.weights.h5)
WIDEST = max(d.bytes for d in TABLE if d.weight)  # bytes of the widest dtype a weight may be (float64)


# --------------------------------------------------------------------------- reading


def describe_keras3(path: Path, graph: Graph, limits: Limits, stack: ExitStack,
                    layout: str | None = None) -> Described:
    """Keras 3's ``.weights.h5``."""
    h5py = optional("h5py", "h5", path)
    f = stack.enter_context(h5py.File(path, "r"))
    described = describe_keras3_file(f, path, graph, limits, layout)
    described.metadata = h5_metadata(f, path)
    return described


def describe_keras3_file(f: Any, path: Path, graph: Graph, limits: Limits,
                         layout: str | None = None) -> Described:
    """``layers/<class>[_N]/vars/<i>`` mapped by position onto our layers (:func:`keras_groups`).

    Groups of weightless classes (``activation``, ``add``, …) are expected and skipped when their
    ``vars`` is empty; any dataset with no place in our graph is reported as extra.
    """
    import h5py

    if f.get("layers", getlink=True) is None:
        raise error(path, "no 'layers' group: not a Keras 3 .weights.h5 file (model.save_weights)")
    layers = h5_object(f, "layers", path, None, h5py.Group)
    _bounded(len(layers), limits, path, "groups under 'layers'")
    expected = keras_groups(graph, layout)
    described = Described()
    for group_name in layers:
        if group_name in expected:
            layer, keys = expected[group_name]
        else:
            layer, keys = None, ()
        group = h5_object(layers, group_name, path, layer, h5py.Group)
        if group.get("vars", getlink=True) is None:
            continue
        variables = h5_object(group, "vars", path, layer, h5py.Group)
        _bounded(len(variables), limits, path, f"variables in {safe_name(group_name)!r}")
        for var in variables:
            name = f"layers/{group_name}/vars/{var}"
            entry = h5_entry(h5_object(variables, var, path, layer, h5py.Dataset), name, path, layer or group_name)
            index = numbers.digits(var)  # "²" is a digit to str.isdigit() but not to int()
            if layer is None or index is None or index >= len(keys):
                described.unmapped.append(name)
                continue
            described.add(layer, keys[index], entry, path)
    described.aliases = {f"{layer}/{key}": f"layers/{group}/vars/{i}"
                         for group, (layer, keys) in expected.items() for i, key in enumerate(keys)}
    return described


def _bounded(count: int, limits: Limits, path: Path, what: str) -> None:
    if count > limits.entries:
        raise error(path, f"{count:,} {what}; a weights file for this spec has at most {limits.entries:,}")


def archive_bound(graph: Graph, limits: Limits) -> int:
    """The most bytes a ``.keras`` archive's weights member may inflate to for this graph: every
    number at the widest weight dtype (float64: 8 bytes), plus HDF5's headers (a few KiB per
    group) and slack. Keras itself stores float32, so a real member takes about half of it."""
    numbers = sum(_size(shape) for keys in weight_shapes(graph).values() for shape in keys.values())
    return WIDEST * numbers + 8 * 1024 * limits.entries + 16 * MiB


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for d in shape:
        size *= d
    return size


def describe_keras_archive(path: Path, graph: Graph, limits: Limits, stack: ExitStack,
                           layout: str | None = None) -> Described:
    """A ``.keras`` zip (``model.save``): its ``model.weights.h5`` read in memory as a ``.weights.h5``.

    Refused from the zip's headers before anything is inflated (:func:`..core.safeio.open_zip`):
    too many members or too large a central directory (from the end record, before ``zipfile``
    parses it), a member name that would leave a folder, a compression ``zipfile`` inflates
    without bound, a weights member whose declared size is beyond what this spec's weights take
    (:func:`archive_bound`) or that claims to inflate over 100:1. The member is then inflated
    with a hard cap at its declared size, held once in memory (:func:`..core.safeio.read_member`).
    """
    h5py = optional("h5py", "h5", path)
    bound = archive_bound(graph, limits)
    archive = stack.enter_context(open_zip(path, ARCHIVE_MEMBERS, bound, what=".keras archive"))
    try:
        info = archive.getinfo(ARCHIVE_WEIGHTS)
    except KeyError:
        raise error(path, f"no {ARCHIVE_WEIGHTS!r} member: not a Keras 3 .keras archive (model.save)") from None
    data = read_member(archive, info, bound, path, ".keras archive")
    f = stack.enter_context(h5py.File(data, "r"))
    return describe_keras3_file(f, path, graph, limits, layout)


# --------------------------------------------------------------------------- writing


def save_keras3(weights: Weights, path: Path, graph: Graph | None = None, layout: str | None = None,
                metadata: Mapping[str, str] | None = None) -> None:
    """Keras 3's ``model.save_weights("x.weights.h5")`` layout, so ``model.load_weights`` reads it.

    Only weighted layers get a group: Keras looks each layer's group up by its class and
    number, and a weightless layer with no group loads nothing.
    """
    if graph is None:
        raise error(path, "writing a .weights.h5 file needs the spec (Keras 3 stores layers by position)")
    groups = keras_groups(graph, layout)

    def build(f: Any) -> None:
        layers = f.create_group("layers")
        for group_name, (layer, keys) in groups.items():
            variables = layers.create_group(group_name).create_group("vars")
            for index, key in enumerate(keys):
                variables.create_dataset(str(index), data=_array(weights, layer, key, path))
        f.create_group("vars")

    write_h5(path, build, metadata)


def _array(weights: Weights, layer: str, key: str, path: Path) -> np.ndarray:
    try:
        return weights[layer][key]
    except KeyError:
        raise error(path, f"no {key} for layer {layer}: the weights do not fit the spec", layer=layer) from None
