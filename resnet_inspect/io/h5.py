"""Keras' legacy HDF5 (``.h5``, ``.hdf5``): Keras 2's ``save_weights`` layout, read and written.

``layer_names``, then per layer ``weight_names`` such as ``res2a_branch2a/kernel:0``; a whole-model
file keeps the same under ``model_weights``. Layers may be named as the blog names them or as
Keras 3 does (``conv2_block1_1_conv``). Every name is followed through hard links only, and every
dataset must be plain numbers stored in this file: external storage, soft and external links,
virtual datasets and unknown filters are refused, and gzip chunks are inflated here, bounded,
before HDF5 reads them. :func:`h5_object` and :func:`h5_entry` are those guards, which
:mod:`.keras3` reuses.
"""

from __future__ import annotations

import math
import zlib
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

from ..model.graph import Graph
from ..model.keras import keras_order
from ..model.naming import names_in
from ..model.weights import Weights, weight_shapes
from .base import (METADATA_BYTES, METADATA_PREFIX, MiB, Described, Entry, Limits, error, optional, our_metadata,
                   plain_dtype, safe_name)

if TYPE_CHECKING:
    import numpy as np


H5_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32"}  # HDF5 filter ids read; any other is refused
H5_NAMES_LIMIT = 64512  # bytes per attribute; Keras' HDF5_OBJECT_HEADER_LIMIT (legacy_h5_format.py)


# --------------------------------------------------------------------------- reading


def describe_h5(path: Path, graph: Graph, limits: Limits, stack: ExitStack) -> Described:
    """The layout Keras 2's ``save_weights`` writes: ``layer_names``, then per layer ``weight_names``.

    A whole-model file (``model.save``) keeps the same layout under ``model_weights``. Every name
    is followed through hard links only, and every dataset must be plain numbers stored in this
    file: external storage, soft/external links and virtual datasets would read other files.
    """
    h5py = optional("h5py", "h5", path)
    f = stack.enter_context(h5py.File(path, "r"))
    root = h5_object(f, "model_weights", path, None, h5py.Group) if f.get("model_weights", getlink=True) else f
    if not any(name in root.attrs for name in ("layer_names", "layer_names0")):
        raise error(path, "no 'layer_names' attribute: not a Keras weights file")
    described = Described(metadata=h5_metadata(f, path))
    for layer in h5_names(root, "layer_names", limits, path):
        group = h5_object(root, layer, path, layer, h5py.Group)
        for weight_name in h5_names(group, "weight_names", limits, path, layer):
            dataset = h5_object(group, weight_name, path, layer, h5py.Dataset)
            key = weight_name.rpartition("/")[2].partition(":")[0]  # "res2a_branch2a/kernel:0" -> "kernel"
            described.add(layer, key, h5_entry(dataset, weight_name, path, layer), path)
    return described


def describe_h5_any_names(path: Path, graph: Graph, limits: Limits, stack: ExitStack,
                          layout: str | None = None) -> Described:
    """A legacy ``.h5`` under the blog's names or Keras 3's (``keras.applications``' ``conv2_block1_1_conv``).

    Names come from the one mapping table (:func:`..model.naming.names_in`); a file's layer that is
    already one of ours keeps its name, so blog-named files read exactly as before. Layers are
    matched by name, so ``layout`` does not matter here.
    """
    described = describe_h5(path, graph, limits, stack)
    ours = {layer.name for layer in graph}
    blog_of = {keras: blog for blog, keras in names_in(graph, "keras3").items() if keras and keras not in ours}
    if not any(layer in blog_of for layer in described.entries):
        return described
    renamed = Described(unmapped=described.unmapped, metadata=described.metadata)
    for layer, keys in described.entries.items():
        for key, entry in keys.items():
            renamed.add(blog_of.get(layer, layer), key, entry, path)
    renamed.aliases = {f"{blog}/{key}": f"{keras}/{key}" for keras, blog in blog_of.items()
                       for key in weight_shapes(graph).get(blog, {})}
    return renamed


def h5_names(group: Any, name: str, limits: Limits, path: Path, layer: str | None = None) -> list[str]:
    """A list-of-names attribute, or Keras' chunks of it (``name0``, ``name1``, …), sized before reading."""
    chunks = [name] if name in group.attrs else []
    while not chunks or chunks[0] != name and len(chunks) <= limits.entries:
        if f"{name}{len(chunks)}" not in group.attrs:
            break
        chunks.append(f"{name}{len(chunks)}")
    names: list[str] = []
    for chunk in chunks:
        attribute = group.attrs.get_id(chunk)
        shape, dtype = attribute.shape, attribute.dtype
        if shape == (0,):
            continue  # Keras writes a weightless layer's empty list as float64 []
        variable = dtype.kind == "O" and _h5_string(dtype)  # Keras 3 writes variable-length UTF-8 names
        if shape is None or len(shape) != 1 or not (dtype.kind == "S" or variable):
            raise error(path, f"attribute {chunk!r} must be a list of names as Keras writes "
                              f"them, found {'no data' if shape is None else f'shape {shape}'} of {dtype}",
                        layer=layer)
        if len(names) + shape[0] > limits.entries or attribute.get_storage_size() > limits.header_bytes:
            raise error(path, f"attribute {chunk!r} lists more names than a file for this spec holds "
                              f"(at most {limits.entries:,})", layer=layer)
        names.extend(value.decode("utf8") if isinstance(value, bytes) else str(value) for value in group.attrs[chunk])
    return names


def _h5_string(dtype: Any) -> bool:
    import h5py

    return h5py.check_string_dtype(dtype) is not None


def h5_object(parent: Any, name: str, path: Path, layer: str | None, kind: type) -> Any:
    """``parent[name]`` followed through hard links only, and of the ``kind`` (group or dataset) expected."""
    import h5py

    what = "group" if kind is h5py.Group else "dataset"
    parts = name.split("/")
    if not name or any(part in ("", ".") for part in parts):
        raise error(path, f"{what} name {safe_name(name)!r} is not a plain path inside the file", layer=layer)
    node = parent
    for part in parts:
        if not isinstance(node, h5py.Group):
            raise error(path, f"{what} {safe_name(name)!r} passes through a dataset, not a group", layer=layer)
        link = node.get(part, getlink=True)
        if link is None:
            raise error(path, f"{what} {safe_name(name)!r} is listed but not stored", layer=layer)
        if not isinstance(link, h5py.HardLink):
            kind_of = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
            raise error(path, f"{what} {safe_name(name)!r} is {kind_of}; links are never followed", layer=layer)
        node = node[part]
    if not isinstance(node, kind):
        raise error(path, f"{safe_name(name)!r} is a {type(node).__name__.lower()}, not a {what}", layer=layer)
    return node


def h5_entry(dataset: Any, name: str, path: Path, layer: str) -> Entry:
    """A dataset's header: refused unless plain numbers stored in this file with known filters."""
    import h5py

    if dataset.is_virtual:
        raise error(path, f"dataset {safe_name(name)!r} is a virtual dataset (it maps other files); refused", layer=layer)
    if dataset.external:
        raise error(path, f"dataset {safe_name(name)!r} keeps its data in another file (HDF5 external storage); "
                          "refused", layer=layer)
    plist = dataset.id.get_create_plist()
    for index in range(plist.get_nfilters()):
        code = plist.get_filter(index)[0]
        if code not in H5_FILTERS:
            raise error(path, f"dataset {safe_name(name)!r} uses HDF5 filter {code}; only "
                              f"{', '.join(H5_FILTERS.values())} are read", layer=layer)
    if dataset.shape is None or h5py.check_enum_dtype(dataset.dtype) is not None:
        raise error(path, f"dataset {safe_name(name)!r} holds no numeric array", layer=layer)
    dtype = plain_dtype(dataset.dtype, name, path, layer)
    return Entry(name, tuple(dataset.shape), dtype, partial(_h5_read, dataset, path, name))


def _h5_read(dataset: Any, path: Path, name: str) -> np.ndarray:
    import numpy as np

    out = np.empty(dataset.shape, dataset.dtype.newbyteorder("="))
    if dataset.chunks is not None and out.size:
        _h5_check_chunks(dataset, out.nbytes, path, name)
    if out.size:
        dataset.read_direct(out)
    return out


def _h5_check_chunks(dataset: Any, nbytes: int, path: Path, name: str) -> None:
    """HDF5's gzip filter inflates a chunk to whatever its stream says (1.5 MB -> 1.5 GB), so every
    stored chunk is first inflated here, bounded by the chunk's own size, before HDF5 reads it."""
    chunk_bytes = math.prod(dataset.chunks) * dataset.dtype.itemsize
    if chunk_bytes > max(nbytes, MiB):
        raise error(path, f"dataset {safe_name(name)!r} has chunks of {chunk_bytes:,} bytes for {nbytes:,} bytes of data")
    count = math.prod(-(-size // chunk) for size, chunk in zip(dataset.shape, dataset.chunks))
    if count > max(1024, nbytes // 1024):
        raise error(path, f"dataset {safe_name(name)!r} is split into {count:,} chunks of {chunk_bytes:,} bytes; "
                          "chunks this small are refused (reading them would take minutes)")
    stored = dataset.id.get_num_chunks()
    if stored > count:
        raise error(path, f"dataset {safe_name(name)!r} stores {stored:,} chunks; its shape holds {count:,}")
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(index)[0] for index in range(plist.get_nfilters())]
    for index in range(stored):
        info = dataset.id.get_chunk_info(index)
        if info.size > chunk_bytes + chunk_bytes // 100 + 1024:
            raise error(path, f"dataset {safe_name(name)!r} stores a chunk of {info.size:,} bytes for {chunk_bytes:,}")
        mask, data = dataset.id.read_direct_chunk(info.chunk_offset)
        for position in reversed(range(len(filters))):  # undo the filters in reverse order, as HDF5 would
            if mask & (1 << position):
                continue
            if filters[position] == 3:
                data = data[:-4]  # fletcher32's checksum
            elif filters[position] == 1:
                inflate = zlib.decompressobj()
                data = inflate.decompress(data, chunk_bytes + 4 + 1)
                if len(data) > chunk_bytes + 4 or inflate.unconsumed_tail:
                    raise error(path, f"dataset {safe_name(name)!r} has a gzip chunk that inflates beyond its "
                                      f"{chunk_bytes:,} bytes (a decompression bomb)")


# --------------------------------------------------------------------------- writing


def save_h5(weights: Weights, path: Path, graph: Graph | None = None, layout: str | None = None,
            metadata: Mapping[str, str] | None = None) -> None:
    """Keras 2 ``save_weights`` layout, so Keras itself can ``load_weights(..., by_name=True)`` it.

    Every graph layer is listed in ``layer_names`` (weightless ones with empty ``weight_names``),
    in the order of Keras' ``model.layers`` for ``keras.applications``' ResNet, or for the blog's
    code with ``layout="blog"`` (:func:`..model.keras.keras_order`), so a plain ``model.load_weights`` (which matches weighted
    layers by position) reads it too; without a graph only the weighted layers are listed.
    """
    names = keras_order(graph, layout) if graph else list(weights)

    def build(f: Any) -> None:
        save_h5_names(f, "layer_names", names)
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        for layer in names:
            group = f.create_group(layer)
            keys = weights.get(layer, {})
            save_h5_names(group, "weight_names", [f"{layer}/{key}:0" for key in keys])
            for key, array in keys.items():
                group.create_dataset(f"{layer}/{key}:0", data=array)

    write_h5(path, build, metadata)


def h5_metadata(f: Any, path: Path) -> dict[str, str]:
    """Our marks among the file's root attributes (read with the same bound as any metadata)."""
    found = []
    for name in f.attrs:
        if name.startswith(METADATA_PREFIX):
            if f.attrs.get_id(name).get_storage_size() > METADATA_BYTES:  # sized before it is read
                raise error(path, f"its metadata {safe_name(name)!r} is not a short text")
            found.append((name, f.attrs[name]))
    return our_metadata(found, path)


def write_h5(path: Path, build: Callable[[Any], None], metadata: Mapping[str, str] | None = None) -> None:
    """An HDF5 file built in memory by ``build(file)``, then copied to ``path`` (a temporary).

    HDF5 failing to write to disk (a full disk) prints tracebacks from h5py's destructors that
    cannot be caught; failing in memory raises normally, and the copy fails as a plain OSError.
    """
    import io
    import shutil

    h5py = optional("h5py", "h5", path)
    image = io.BytesIO()
    with h5py.File(image, "w") as f:
        build(f)
        for key, value in (metadata or {}).items():  # root attributes, which Keras ignores
            f.attrs[key] = value
    image.seek(0)
    with open(path, "wb") as out:
        shutil.copyfileobj(image, out, MiB)


def save_h5_names(group: Any, name: str, values: list[str]) -> None:
    """A list of names as one attribute, or split into ``name0``, ``name1``, … as Keras does.

    HDF5 keeps attributes in the object header, whose messages hold at most 64 KB: a deep
    network's ``layer_names`` (over ~300 blocks) does not fit in one. Keras'
    ``save_attributes_to_hdf5_group`` splits the array into the fewest equal chunks that each
    fit in ``HDF5_OBJECT_HEADER_LIMIT`` bytes; so do we, and Keras reads either form back.
    """
    import numpy as np

    encoded = [value.encode("utf8") for value in values]
    too_long = [value for value in encoded if len(value) > H5_NAMES_LIMIT]
    if too_long:
        raise ValueError(f"a name of {len(too_long[0]):,} bytes does not fit in an HDF5 attribute")
    array = np.array(encoded, dtype="S" if encoded else "S1")
    chunks = 1
    while any(part.nbytes > H5_NAMES_LIMIT for part in np.array_split(array, chunks)):
        chunks += 1
    if chunks == 1:
        group.attrs[name] = array
        return
    for index, part in enumerate(np.array_split(array, chunks)):
        group.attrs[f"{name}{index}"] = part
