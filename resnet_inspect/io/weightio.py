"""Weights files in and out: native .npz, torchvision .safetensors, Keras .h5.

Every file is read in three steps, the shape safetensors itself follows: **describe** (each
reader parses only the file's headers into :class:`Entry` records: name, shape, dtype and a
bounded reader of its data), **check** (the shapes and dtypes against the graph, and the
header sizes against :class:`Limits` drawn from the graph) and only then **load** (each array's
data, exactly the bytes its checked header promises, never more). So whatever a file claims
(10¹² elements, a member that inflates to gigabytes, a million names) it is refused from its
header, and peak memory stays within the spec's parameter bytes plus a small constant.

Nothing is ever unpickled or executed, and nothing outside the file is read: ``.npz`` members
are parsed with NumPy's header readers (object arrays refused), safetensors' JSON header is
parsed here (the package is not needed to read), HDF5 external storage, external and soft links,
virtual datasets and unknown filters are refused. PyTorch's pickle-based ``.pt``/``.pth`` files
are refused with the line of torch that converts them. Every failure is one :class:`WeightsError`
line naming the file and the layer or array.
"""

from __future__ import annotations

import json
import math
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..core.dtypes import SAFETENSORS_DTYPES, WEIGHT_DTYPES
from ..core.errors import InspectError, Location
from ..model.graph import Graph
from ..model.naming import BLOG, Shown
from ..core.safeio import atomic_write, regular_file
from ..core.usertext import excerpt, visible
from ..model.weights import Weights, torchvision_names, weight_shapes

if TYPE_CHECKING:
    import numpy as np

SHOWN = 8  # entries shown per list in a mismatch error; the rest are counted
NAME_SHOWN = 80  # characters of a file's own name quoted in an error
MiB = 1 << 20
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")
WRITE_SUFFIXES = (".npz", ".h5", ".hdf5")
FORMATS = {".npz": ".npz", ".safetensors": "safetensors", ".h5": "HDF5", ".hdf5": "HDF5", ".keras": "Keras archive"}
FLOAT_DTYPES = WEIGHT_DTYPES  # what a weight may be (core.dtypes); others are reported by name
TORCH_IGNORED = ("num_batches_tracked",)  # a training counter, not a weight
# What a damaged file can make the parsers below raise (zipfile, NumPy's header parser, json,
# h5py, zlib); each becomes one line naming the file and, when known, the array being read.
READ_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, EOFError, RuntimeError, NotImplementedError,
               OverflowError, MemoryError, UnicodeError, AttributeError, struct.error, zlib.error,
               zipfile.BadZipFile, SyntaxError)


class WeightsError(InspectError):
    """A weights file that cannot be read, is refused, or does not fit the spec."""


def _error(path: Path | str | None, message: str, layer: str | None = None) -> WeightsError:
    return WeightsError(message, where=None if path is None else Location(visible(str(path))),
                        layer=None if layer is None else _name(layer))


def _name(name: str) -> str:
    """A file's own name, safe to print: control characters visible, cut to a short excerpt."""
    return excerpt(name, NAME_SHOWN)


# --------------------------------------------------------------------------- checking


@dataclass
class Mismatch:
    """How a weights mapping differs from what the graph needs, by ``layer/key``."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)  # "name: expected (..) found (..)"
    dtypes: list[str] = field(default_factory=list)
    layers: set[str] = field(default_factory=set)  # the file's or our layers the differences are in

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.shapes or self.dtypes)

    def describe(self) -> str:
        return _lists((("missing", self.missing), ("extra", self.extra), ("shapes differ", self.shapes),
                       (f"not {', '.join(FLOAT_DTYPES[:-1])} or {FLOAT_DTYPES[-1]}", self.dtypes)))


def _lists(labelled: Iterable[tuple[str, list[str]]]) -> str:
    parts = []
    for label, items in labelled:
        if items:
            shown = ", ".join(items[:SHOWN])
            more = f", … and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
            parts.append(f"{len(items)} {label}: {shown}{more}")
    return "; ".join(parts)


def compare(weights: dict[str, dict[str, Any]], graph: Graph, aliases: dict[str, str] | None = None,
            unmapped: list[str] | None = None, shown: Shown = BLOG) -> Mismatch:
    """Every difference between ``weights`` and what ``graph`` needs.

    ``weights`` holds arrays or :class:`Entry` headers (anything with ``shape`` and ``dtype``), so
    the same check runs on a file's description before its data is read. ``aliases`` gives a
    file's own name for ours (shown beside it); ``unmapped`` lists file entries that have no name
    of ours at all (reported as extra under their own name). ``shown`` names our arrays under the
    scheme ``--names`` chose (``layer1.0.conv1.weight``); the file's own name follows when it differs.
    """
    aliases = aliases or {}
    expected = weight_shapes(graph)
    result = Mismatch()
    for layer, keys in expected.items():
        for key, shape in keys.items():
            name = _alias(layer, key, aliases, shown)
            array = weights.get(layer, {}).get(key)
            if array is None:
                result.missing.append(name)
            elif array.dtype.name not in FLOAT_DTYPES:
                result.dtypes.append(f"{name} is {array.dtype.name}")
            elif tuple(array.shape) != shape:
                result.shapes.append(f"{name} expected {_shape(shape)} found {_shape(array.shape)}")
            else:
                continue
            result.layers.add(layer)
    for layer, keys in weights.items():
        for key in keys:
            if key not in expected.get(layer, {}):
                result.extra.append(_alias(layer, key, aliases, shown) if layer else _name(key))  # "kernel": no layer
                result.layers.add(_name(layer or key))
    result.extra.extend(_name(name) for name in unmapped or [])
    result.layers.update(_name(name) for name in unmapped or [])
    return result


def _alias(layer: str, key: str, aliases: dict[str, str], shown: Shown) -> str:
    """An array as ``--names`` shows it, then the file's own name for it when that differs."""
    name, own = _name(shown.array(layer, key)), aliases.get(f"{layer}/{key}")
    return f"{name} ({_name(own)})" if own is not None and own != name else name


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(d) for d in shape))  # Python's spelling: (64,) and (1, 1, 64, 64)


def check_weights(weights: dict[str, dict[str, Any]], graph: Graph, path: Path | str | None = None,
                  aliases: dict[str, str] | None = None, unmapped: list[str] | None = None,
                  shown: Shown = BLOG) -> None:
    """Raise one :class:`WeightsError` listing every way ``weights`` does not fit ``graph``."""
    mismatch = compare(weights, graph, aliases, unmapped, shown)
    if mismatch:
        raise _error(path, f"weights do not fit spec {visible(graph.spec.name)}: {mismatch.describe()}",
                     layer=_one_layer(mismatch.layers, shown))


def _one_layer(layers: set[str], shown: Shown) -> str | None:
    """The layer an error is about, when it is about exactly one (under ``--names``)."""
    return shown.layer(next(iter(layers))) if len(layers) == 1 else None


def value_problems(weights: Weights, shown: Shown = BLOG) -> tuple[list[str], list[str]]:
    """(non-finite arrays, negative ``moving_variance`` arrays), each as ``layer/key: counts``.

    A NaN or an infinity in any weight, or a negative variance (``sqrt`` of it is NaN), makes
    every output of a forward pass meaningless without an error: these are silent wrong answers.
    Memory: one boolean array the size of the largest weight at a time.
    """
    non_finite, negative, _ = _value_problems(weights, shown)
    return non_finite, negative


def _value_problems(weights: Weights, shown: Shown) -> tuple[list[str], list[str], set[str]]:
    import numpy as np

    non_finite, negative, layers = [], [], set()
    for layer, keys in weights.items():
        for key, array in keys.items():
            name = _name(shown.array(layer, key))
            bad = array.size - int(np.count_nonzero(np.isfinite(array)))
            if bad:
                nans = int(np.count_nonzero(np.isnan(array)))
                non_finite.append(f"{name} has {nans:,} NaN and {bad - nans:,} infinite")
            below = array[array < 0] if key == "moving_variance" else array[:0]
            if below.size:
                negative.append(f"{name} has {below.size:,} below 0 (min {float(below.min()):.3g})")
            if bad or below.size:
                layers.add(layer)
    return non_finite, negative, layers


def check_values(weights: Weights, path: Path | str | None = None, shown: Shown = BLOG) -> None:
    """Refuse weights holding NaN/inf anywhere or a negative BN variance (``run`` must not use them)."""
    non_finite, negative, layers = _value_problems(weights, shown)
    if non_finite or negative:
        raise _error(path, "weights hold values no network can use: "
                     + _lists((("not finite", non_finite), ("negative moving_variance", negative))),
                     layer=_one_layer(layers, shown))


# --------------------------------------------------------------------------- describing


@dataclass(frozen=True)
class Entry:
    """One array as a file's header describes it, in our layout, before any data is read.

    ``read`` returns exactly ``shape`` × ``dtype`` (it reads and inflates no more than those
    bytes); it is only called once the shapes have been checked against the graph.
    """

    name: str  # the file's own name, for messages
    shape: tuple[int, ...]
    dtype: np.dtype
    read: Callable[[], np.ndarray]


@dataclass
class Described:
    """What a reader found in the headers: entries by our ``layer``/``key``, and the rest."""

    entries: dict[str, dict[str, Entry]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # "layer/key" -> the file's name for it
    unmapped: list[str] = field(default_factory=list)  # file entries with no layer of ours

    def add(self, layer: str, key: str, entry: Entry, path: Path) -> None:
        if key in self.entries.get(layer, {}):
            raise _error(path, f"array {_name(entry.name)!r} is stored twice", layer=layer or None)
        self.entries.setdefault(layer, {})[key] = entry


@dataclass(frozen=True)
class Limits:
    """What any file for this graph may claim in its headers, drawn from the graph.

    Array shapes are checked one by one against the graph; these bound everything read before
    that: how many entries a file may list (twice what the graph needs, plus slack for a
    torchvision file's training counters), and how many bytes of names and headers.
    """

    entries: int
    header_bytes: int

    @classmethod
    def of(cls, graph: Graph) -> Limits:
        arrays = sum(len(keys) for keys in weight_shapes(graph).values())
        entries = 2 * max(arrays, len(graph)) + 256
        return cls(entries=entries, header_bytes=MiB + 1024 * entries)


Describer = Callable[[Path, Graph, Limits, ExitStack], Described]


def open_weights(path: str | Path, graph: Graph, stack: ExitStack, shown: Shown = BLOG,
                 keras_layout: str | None = None) -> Described:
    """Describe a weights file (headers only) and check it fits ``graph``; its data is not read yet.

    The file stays open on ``stack`` so each entry's ``read`` can fetch its data afterwards.
    ``keras_layout`` says which Keras code saved a ``.weights.h5``/``.keras`` file (Keras 3
    stores layers by position, and the two codes order them differently: :mod:`.kerasio`).
    """
    path = _given(path)
    describe = _describer(path, keras_layout)
    regular_file(path, "weights file")
    with _reading(path, kind=FORMATS[path.suffix.lower()]):
        described = describe(path, graph, Limits.of(graph), stack)
    check_weights(described.entries, graph, path, described.aliases, described.unmapped, shown)
    return described


def load_weights(path: str | Path, graph: Graph, check_finite: bool = True, shown: Shown = BLOG,
                 keras_layout: str | None = None) -> Weights:
    """Read any supported weights file, checked against ``graph`` from its headers before any data.

    With ``check_finite`` (the default: ``run`` and ``weights check``), NaN/inf weights and
    negative BN variances are refused too (:func:`check_values`). Errors name arrays as ``shown``
    says (``--names``); ``keras_layout`` is :func:`open_weights`'.
    """
    path = _given(path)
    with ExitStack() as stack:
        described = open_weights(path, graph, stack, shown, keras_layout)
        weights: Weights = {}
        for layer, keys in described.entries.items():
            for key, entry in keys.items():
                with _reading(path, entry.name, layer):
                    weights.setdefault(layer, {})[key] = entry.read()
    if check_finite:
        check_values(weights, path, shown)
    return weights


def _given(path: str | Path) -> Path:
    """The path as given; an empty one is refused (``Path("")`` would be ``.``, the current folder)."""
    if str(path) == "":
        regular_file("", "weights file")
    return Path(path)


@contextmanager
def _reading(path: Path, name: str | None = None, layer: str | None = None, kind: str = "") -> Iterator[None]:
    """The one guard every reader runs under: any parser failure is one line naming file and array."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a warning on stderr would break the one-line promise
            yield
    except InspectError:
        raise
    except READ_ERRORS as exc:
        what = f"array {_name(name)!r} cannot be read" if name else f"not a readable {kind} file"
        if isinstance(exc, MemoryError):
            raise _error(path, f"{what}: out of memory") from None
        raise _error(path, f"{what}: {_reason(exc)}", layer=layer or None) from None


def _describer(path: Path, keras_layout: str | None = None) -> Describer:
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise _error(path, f"{suffix} files are Python pickles and are never loaded (unpickling runs code); "
                           "convert the state dict to safetensors once, where torch is installed: "
                           f"{torch_convert_line(path)}")
    from .kerasio import keras_describer  # Keras' own files (.weights.h5, .keras, Keras 3-named .h5)

    describers: dict[str, Describer] = {".npz": describe_npz, ".safetensors": describe_safetensors,
                                        ".h5": describe_h5, ".hdf5": describe_h5}
    if suffix not in describers and suffix != ".keras":
        raise _error(path, f"unknown weights format {visible(suffix or '(no extension)')!r}; "
                           "expected .npz, .safetensors, .h5, .hdf5, .weights.h5 or .keras")
    return keras_describer(path, keras_layout) or describers[suffix]


def torch_convert_line(path: Path) -> str:
    """The one shell line that turns a torch state dict into safetensors (weights_only: no code runs)."""
    target = visible(path.with_suffix(".safetensors").name)
    return (f"python -c \"import torch; from safetensors.torch import save_file; "
            f"save_file(torch.load('{visible(path.name)}', weights_only=True), '{target}')\"")


def _plain_dtype(dtype: np.dtype, name: str, path: Path, layer: str | None) -> np.dtype:
    """A dtype a weight could be (numbers, no fields, no objects), or a refusal naming the array."""
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize > 16:
        raise _error(path, f"array {_name(name)!r} has dtype {visible(str(dtype))}; weights must be plain "
                           f"numeric arrays ({', '.join(FLOAT_DTYPES)})", layer=layer or None)
    return dtype


def _fill(out: np.ndarray, read: Callable[[int], bytes]) -> np.ndarray:
    """Fill ``out`` from a stream 1 MiB at a time (no second whole copy); a short stream is truncated."""
    buffer = out.reshape(-1).view("u1")
    done = 0
    while done < buffer.size:
        chunk = read(min(MiB, buffer.size - done))
        if not chunk:
            raise EOFError(f"truncated: {done:,} of {buffer.size:,} data bytes present")
        buffer[done:done + len(chunk)] = memoryview(chunk)
        done += len(chunk)
    return out


# --------------------------------------------------------------------------- .npz


def describe_npz(path: Path, graph: Graph, limits: Limits, stack: ExitStack) -> Described:
    """Native ``"layer/key"`` members: each member's ``.npy`` header read with NumPy's own parser.

    The zip's central directory is sized from its end record before ``zipfile`` parses it; only
    stored and deflated members are read (bzip2/LZMA inflate without a bound in ``zipfile``).
    """
    _zip_directory_size(path, limits)
    archive = stack.enter_context(zipfile.ZipFile(path))
    members = archive.infolist()
    if len(members) > limits.entries:
        raise _error(path, f"lists {len(members):,} members; a weights file for this spec has at most {limits.entries:,}")
    described = Described()
    for info in members:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        layer, _, key = name.rpartition("/")
        with _reading(path, name, layer):
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ValueError(f"compression method {info.compress_type} (only stored and deflate are read)")
            with archive.open(info) as member:
                shape, fortran, dtype = _npy_header(member)
        dtype = _plain_dtype(dtype, name, path, layer)
        described.add(layer, key, Entry(name, shape, dtype, partial(_read_npz_member, archive, info, shape, fortran, dtype)), path)
    return described


def _npy_header(member: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    import numpy as np

    version = np.lib.format.read_magic(member)  # ValueError for anything not .npy ("not a .npy file")
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f".npy format version {version[0]}.{version[1]} is not read (1.0 and 2.0 are)")
    shape, fortran, dtype = readers[version](member)
    if any(dim < 0 for dim in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return tuple(shape), bool(fortran), dtype


def _read_npz_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...], fortran: bool,
                     dtype: np.dtype) -> np.ndarray:
    """Exactly the bytes the checked header promises; reading one byte past them checks the CRC."""
    import numpy as np

    with archive.open(info) as member:
        _npy_header(member)
        out = _fill(np.empty(shape[::-1] if fortran else shape, dtype), member.read)
        if member.read(1):
            raise ValueError("more data than its header's shape holds")
    array = np.ascontiguousarray(out.T) if fortran else out
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def _zip_directory_size(path: Path, limits: Limits) -> None:
    """Refuse a zip whose central directory (every member's record) is larger than names could need."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - (22 + 65535)))
        tail = handle.read()
        if size == len(tail) and tail.startswith(b"\x93NUMPY"):
            raise _error(path, "holds a single array, not a .npz archive of \"layer/key\" arrays")
        end = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" else tail.rfind(b"PK\x05\x06")
        if end < 0 or len(tail) - end < 22:
            raise _error(path, "not a readable .npz file (no zip end record)")
        directory = struct.unpack_from("<I", tail, end + 12)[0]
        if directory == 0xFFFFFFFF and end >= 20 and tail[end - 20:end - 16] == b"PK\x06\x07":  # zip64
            handle.seek(struct.unpack_from("<Q", tail, end - 12)[0])
            record = handle.read(56)
            directory = struct.unpack_from("<Q", record, 40)[0] if len(record) == 56 else directory
    if directory > limits.header_bytes:
        raise _error(path, f"its zip directory is {directory:,} bytes; a weights file for this spec needs at most "
                           f"{limits.header_bytes:,}")


# --------------------------------------------------------------------------- .safetensors


def describe_safetensors(path: Path, graph: Graph, limits: Limits, stack: ExitStack) -> Described:
    """A torchvision state dict: the JSON header parsed here, module paths mapped to the blog's names.

    The format: 8 bytes little-endian header length, the JSON header (``name: {dtype, shape,
    data_offsets}``), then the data. Offsets are checked against the shape and the file's size.
    """
    handle = stack.enter_context(open(path, "rb"))
    size = os.fstat(handle.fileno()).st_size
    length_bytes = handle.read(8)
    if len(length_bytes) < 8:
        raise _error(path, f"not a safetensors file: {len(length_bytes)} bytes, the header length alone takes 8")
    length = int.from_bytes(length_bytes, "little")
    if length > min(limits.header_bytes, size - 8):
        raise _error(path, f"not a readable safetensors file: its header claims {length:,} bytes; the file has {size - 8:,} after the length and "
                           f"a header for this spec needs at most {limits.header_bytes:,}")
    header = json.loads(handle.read(length).decode("utf-8"), object_pairs_hook=_unique_keys)
    if not isinstance(header, dict):
        raise ValueError("its header is not a JSON object")
    header.pop("__metadata__", None)
    if len(header) > limits.entries:
        raise _error(path, f"lists {len(header):,} tensors; a weights file for this spec has at most {limits.entries:,}")
    data_size = size - 8 - length
    raw = {name: _safetensors_entry(handle, 8 + length, data_size, name, info, path) for name, info in header.items()}
    return torchvision_entries(raw, graph, path)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a name appears twice in the header")
    return dict(pairs)


def _safetensors_entry(handle: Any, start: int, data_size: int, name: str, info: Any, path: Path) -> Entry:
    import numpy as np

    if not isinstance(info, dict) or not isinstance(info.get("dtype"), str):
        raise _error(path, f"tensor {_name(name)!r} has no dtype in the header")
    if info["dtype"] not in SAFETENSORS_DTYPES:
        raise _error(path, f"tensor {_name(name)!r} is {visible(excerpt(info['dtype'], 20))}, which is not read; "
                           "supported: F16, F32, F64 (weights) and integer types (reported); convert BF16/F8 "
                           "tensors with tensor.float() first")
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not _int_list(shape) or not _int_list(offsets) or len(offsets) != 2:
        raise _error(path, f"tensor {_name(name)!r} needs a shape and two data_offsets of non-negative integers")
    dtype = np.dtype(SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")  # safetensors is little-endian
    begin, end = offsets
    if not begin <= end <= data_size or end - begin != math.prod(shape) * dtype.itemsize:
        raise _error(path, f"tensor {_name(name)!r}: data_offsets {offsets} do not hold shape {shape} of "
                           f"{info['dtype']} within the file's {data_size:,} data bytes")
    return Entry(name, tuple(shape), dtype, partial(_read_span, handle, start + begin, tuple(shape), dtype))


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) is int and v >= 0 for v in value)


def _read_span(handle: Any, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    import numpy as np

    handle.seek(offset)
    out = _fill(np.empty(shape, dtype), handle.read)
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


# --------------------------------------------------------------------------- Keras .h5


H5_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32"}  # HDF5 filter ids read; any other is refused
H5_NAMES_LIMIT = 64512  # bytes per attribute; Keras' HDF5_OBJECT_HEADER_LIMIT (legacy_h5_format.py)


def describe_h5(path: Path, graph: Graph, limits: Limits, stack: ExitStack) -> Described:
    """The layout Keras 2's ``save_weights`` writes: ``layer_names``, then per layer ``weight_names``.

    A whole-model file (``model.save``) keeps the same layout under ``model_weights``. Every name
    is followed through hard links only, and every dataset must be plain numbers stored in this
    file: external storage, soft/external links and virtual datasets would read other files.
    """
    h5py = _optional("h5py", "h5", path)
    f = stack.enter_context(h5py.File(path, "r"))
    root = _h5_object(f, "model_weights", path, None, h5py.Group) if f.get("model_weights", getlink=True) else f
    if not any(name in root.attrs for name in ("layer_names", "layer_names0")):
        raise _error(path, "no 'layer_names' attribute: not a Keras weights file")
    described = Described()
    for layer in h5_names(root, "layer_names", limits, path):
        group = _h5_object(root, layer, path, layer, h5py.Group)
        for weight_name in h5_names(group, "weight_names", limits, path, layer):
            dataset = _h5_object(group, weight_name, path, layer, h5py.Dataset)
            key = weight_name.rpartition("/")[2].partition(":")[0]  # "res2a_branch2a/kernel:0" -> "kernel"
            described.add(layer, key, _h5_entry(dataset, weight_name, path, layer), path)
    return described


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
            raise _error(path, f"attribute {chunk!r} must be a list of names as Keras writes "
                               f"them, found {'no data' if shape is None else f'shape {shape}'} of {dtype}",
                         layer=layer)
        if len(names) + shape[0] > limits.entries or attribute.get_storage_size() > limits.header_bytes:
            raise _error(path, f"attribute {chunk!r} lists more names than a file for this spec holds "
                               f"(at most {limits.entries:,})", layer=layer)
        names.extend(value.decode("utf8") if isinstance(value, bytes) else str(value) for value in group.attrs[chunk])
    return names


def _h5_string(dtype: Any) -> bool:
    import h5py

    return h5py.check_string_dtype(dtype) is not None


def _h5_object(parent: Any, name: str, path: Path, layer: str | None, kind: type) -> Any:
    """``parent[name]`` followed through hard links only, and of the ``kind`` (group or dataset) expected."""
    import h5py

    what = "group" if kind is h5py.Group else "dataset"
    parts = name.split("/")
    if not name or any(part in ("", ".") for part in parts):
        raise _error(path, f"{what} name {_name(name)!r} is not a plain path inside the file", layer=layer)
    node = parent
    for part in parts:
        if not isinstance(node, h5py.Group):
            raise _error(path, f"{what} {_name(name)!r} passes through a dataset, not a group", layer=layer)
        link = node.get(part, getlink=True)
        if link is None:
            raise _error(path, f"{what} {_name(name)!r} is listed but not stored", layer=layer)
        if not isinstance(link, h5py.HardLink):
            kind_of = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
            raise _error(path, f"{what} {_name(name)!r} is {kind_of}; links are never followed", layer=layer)
        node = node[part]
    if not isinstance(node, kind):
        raise _error(path, f"{_name(name)!r} is a {type(node).__name__.lower()}, not a {what}", layer=layer)
    return node


def _h5_entry(dataset: Any, name: str, path: Path, layer: str) -> Entry:
    """A dataset's header: refused unless plain numbers stored in this file with known filters."""
    import h5py

    if dataset.is_virtual:
        raise _error(path, f"dataset {_name(name)!r} is a virtual dataset (it maps other files); refused", layer=layer)
    if dataset.external:
        raise _error(path, f"dataset {_name(name)!r} keeps its data in another file (HDF5 external storage); "
                           "refused", layer=layer)
    plist = dataset.id.get_create_plist()
    for index in range(plist.get_nfilters()):
        code = plist.get_filter(index)[0]
        if code not in H5_FILTERS:
            raise _error(path, f"dataset {_name(name)!r} uses HDF5 filter {code}; only "
                               f"{', '.join(H5_FILTERS.values())} are read", layer=layer)
    if dataset.shape is None or h5py.check_enum_dtype(dataset.dtype) is not None:
        raise _error(path, f"dataset {_name(name)!r} holds no numeric array", layer=layer)
    dtype = _plain_dtype(dataset.dtype, name, path, layer)
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
        raise _error(path, f"dataset {_name(name)!r} has chunks of {chunk_bytes:,} bytes for {nbytes:,} bytes of data")
    count = math.prod(-(-size // chunk) for size, chunk in zip(dataset.shape, dataset.chunks))
    if count > max(1024, nbytes // 1024):
        raise _error(path, f"dataset {_name(name)!r} is split into {count:,} chunks of {chunk_bytes:,} bytes; "
                           "chunks this small are refused (reading them would take minutes)")
    stored = dataset.id.get_num_chunks()
    if stored > count:
        raise _error(path, f"dataset {_name(name)!r} stores {stored:,} chunks; its shape holds {count:,}")
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(index)[0] for index in range(plist.get_nfilters())]
    for index in range(stored):
        info = dataset.id.get_chunk_info(index)
        if info.size > chunk_bytes + chunk_bytes // 100 + 1024:
            raise _error(path, f"dataset {_name(name)!r} stores a chunk of {info.size:,} bytes for {chunk_bytes:,}")
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
                    raise _error(path, f"dataset {_name(name)!r} has a gzip chunk that inflates beyond its "
                                       f"{chunk_bytes:,} bytes (a decompression bomb)")


# --------------------------------------------------------------------------- writing


def summary(weights: Weights) -> tuple[int, int]:
    """(arrays, numbers) in a weights mapping, for the one line ``weights`` commands print."""
    arrays = [array for keys in weights.values() for array in keys.values()]
    return len(arrays), sum(int(array.size) for array in arrays)


def save_weights(weights: Weights, path: str | Path, graph: Graph | None = None,
                 reads: Iterable[str | Path | None] = (), keras_layout: str | None = None) -> Path:
    """Write weights as .npz (``"layer/key"``) or Keras .h5, chosen by the file's extension.

    Atomic (a temporary file beside ``path``, renamed over it when complete): a failed write
    leaves the old file as it was and no partial file. ``reads`` are the files the command reads
    (a ``convert`` source): writing onto one of them is refused before anything is written.
    ``keras_layout`` orders a Keras file's layers as that Keras code does (:mod:`.kerasio`).
    """
    from .kerasio import check_layout, save_keras3

    layout = check_layout(keras_layout, graph)
    writers: dict[str, Callable[[Weights, Path, Graph | None], None]] = {
        ".npz": save_npz, ".h5": partial(save_h5, layout=layout), ".hdf5": partial(save_h5, layout=layout),
        ".weights.h5": partial(save_keras3, layout=layout)}
    with atomic_write(path, suffixes=WRITE_SUFFIXES, reads=reads, what="weights file") as temporary:
        path = Path(path)
        try:
            writer = ".weights.h5" if path.name.lower().endswith(".weights.h5") else path.suffix.lower()
            writers[writer](weights, temporary, graph)
        except (ValueError, RuntimeError, MemoryError) as exc:  # OSError: atomic_write's own message
            raise _error(path, f"cannot write ({_reason(exc)}); the old file is unchanged") from None
    return path


def save_npz(weights: Weights, path: Path, graph: Graph | None = None) -> None:
    """Uncompressed, so loading reads straight into each array with no second copy."""
    import numpy as np

    with open(path, "wb") as f:  # an open file: np.savez would append ".npz" to a bare name
        np.savez(f, **{f"{layer}/{key}": array for layer, keys in weights.items() for key, array in keys.items()})


def save_h5(weights: Weights, path: Path, graph: Graph | None = None, layout: str | None = None) -> None:
    """Keras 2 ``save_weights`` layout, so Keras itself can ``load_weights(..., by_name=True)`` it.

    Every graph layer is listed in ``layer_names`` (weightless ones with empty ``weight_names``),
    in the order of Keras' ``model.layers`` for ``keras.applications``' ResNet, or for the blog's
    code with ``layout="blog"`` (:func:`.kerasio.keras_order`), so a plain ``model.load_weights`` (which matches weighted
    layers by position) reads it too; without a graph only the weighted layers are listed.
    """
    from .kerasio import keras_order

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

    write_h5(path, build)


def write_h5(path: Path, build: Callable[[Any], None]) -> None:
    """An HDF5 file built in memory by ``build(file)``, then copied to ``path`` (a temporary).

    HDF5 failing to write to disk (a full disk) prints tracebacks from h5py's destructors that
    cannot be caught; failing in memory raises normally, and the copy fails as a plain OSError.
    """
    import io
    import shutil

    h5py = _optional("h5py", "h5", path)
    image = io.BytesIO()
    with h5py.File(image, "w") as f:
        build(f)
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


# --------------------------------------------------------------------------- helpers


def _optional(module: str, extra: str, path: Path) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise _error(path, f"reading this format needs the {module.split('.')[0]} package: "
                           f"pip install 'resnet-inspect[{extra}]'") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return visible(excerpt(text[0] if text else type(exc).__name__, 160))
