"""What every weights reader shares: the records, the limits, the checks and the one error line.

Every file is read in three steps, the shape safetensors itself follows: **describe** (each
reader parses only the file's headers into :class:`Entry` records: name, shape, dtype and a
bounded reader of its data), **check** (the shapes and dtypes against the graph, and the
header sizes against :class:`Limits` drawn from the graph) and only then **load** (each array's
data, exactly the bytes its checked header promises, never more). So whatever a file claims
(10¹² elements, a member that inflates to gigabytes, a million names) it is refused from its
header, and peak memory stays within the spec's parameter bytes plus a small constant.

The readers (:mod:`.npz`, :mod:`.torchvision`, :mod:`.h5`, :mod:`.keras3`) use only what this
module makes public; :mod:`.weightfiles` picks one by the file's suffix. Every failure is one
:class:`WeightsError` line naming the file and the layer or array.
"""

from __future__ import annotations

import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..core.dtypes import WEIGHT_DTYPES
from ..core.errors import InspectError, Location
from ..core.usertext import excerpt, visible
from ..model.graph import Graph
from ..model.naming import BLOG, Shown
from ..model.weights import Weights, weight_shapes

if TYPE_CHECKING:
    import numpy as np


SHOWN = 8  # entries shown per list in a mismatch error; the rest are counted
NAME_SHOWN = 80  # characters of a file's own name quoted in an error
MiB = 1 << 20
FLOAT_DTYPES = WEIGHT_DTYPES  # what a weight may be (core.dtypes); others are reported by name
# What a damaged file can make the parsers below raise (zipfile, NumPy's header parser, json,
# h5py, zlib); each becomes one line naming the file and, when known, the array being read.
READ_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, EOFError, RuntimeError, NotImplementedError,
               OverflowError, MemoryError, UnicodeError, AttributeError, struct.error, zlib.error,
               zipfile.BadZipFile, SyntaxError)


class WeightsError(InspectError):
    """A weights file that cannot be read, is refused, or does not fit the spec."""


def error(path: Path | str | None, message: str, layer: str | None = None) -> WeightsError:
    """The one error line of every reader: the file, then (when known) the layer, then ``message``."""
    return WeightsError(message, where=None if path is None else Location(visible(str(path))),
                        layer=None if layer is None else safe_name(layer))


def safe_name(name: str) -> str:
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
        return lists((("missing", self.missing), ("extra", self.extra), ("shapes differ", self.shapes),
                      (f"not {', '.join(FLOAT_DTYPES[:-1])} or {FLOAT_DTYPES[-1]}", self.dtypes)))


def lists(labelled: Iterable[tuple[str, list[str]]]) -> str:
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
                result.extra.append(_alias(layer, key, aliases, shown) if layer else safe_name(key))  # "kernel": no layer
                result.layers.add(safe_name(layer or key))
    result.extra.extend(safe_name(name) for name in unmapped or [])
    result.layers.update(safe_name(name) for name in unmapped or [])
    return result


def _alias(layer: str, key: str, aliases: dict[str, str], shown: Shown) -> str:
    """An array as ``--names`` shows it, then the file's own name for it when that differs."""
    name, own = safe_name(shown.array(layer, key)), aliases.get(f"{layer}/{key}")
    return f"{name} ({safe_name(own)})" if own is not None and own != name else name


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(d) for d in shape))  # Python's spelling: (64,) and (1, 1, 64, 64)


def check_weights(weights: dict[str, dict[str, Any]], graph: Graph, path: Path | str | None = None,
                  aliases: dict[str, str] | None = None, unmapped: list[str] | None = None,
                  shown: Shown = BLOG) -> None:
    """Raise one :class:`WeightsError` listing every way ``weights`` does not fit ``graph``."""
    mismatch = compare(weights, graph, aliases, unmapped, shown)
    if mismatch:
        raise error(path, f"weights do not fit spec {visible(graph.spec.name)}: {mismatch.describe()}",
                    layer=one_layer(mismatch.layers, shown))


def one_layer(layers: set[str], shown: Shown) -> str | None:
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
            name = safe_name(shown.array(layer, key))
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
        raise error(path, "weights hold values no network can use: "
                    + lists((("not finite", non_finite), ("negative moving_variance", negative))),
                    layer=one_layer(layers, shown))


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
    metadata: dict[str, str] = field(default_factory=dict)  # our own marks (METADATA_PREFIX keys), e.g. seeded

    def add(self, layer: str, key: str, entry: Entry, path: Path) -> None:
        if key in self.entries.get(layer, {}):
            raise error(path, f"array {safe_name(entry.name)!r} is stored twice", layer=layer or None)
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


# One interface for every format (the table in :mod:`.weightfiles`): a reader describes a file
# from its headers, a writer writes weights. ``layout`` is the Keras code whose layer order a file
# follows (:mod:`..model.keras`); formats that name their layers ignore it.
Describer = Callable[[Path, Graph, Limits, ExitStack, "str | None"], Described]
# ``metadata`` (str -> str, keys starting with METADATA_PREFIX: e.g. the seeded-weights mark) is
# stored the format's own way (an npz member, HDF5 root attributes, safetensors' __metadata__)
# and read back into ``Described.metadata``.
Writer = Callable[[Weights, Path, "Graph | None", "str | None", "Mapping[str, str] | None"], None]
METADATA_PREFIX = "resnet_inspect."
METADATA_BYTES = 64 * 1024  # what a file's metadata may take at most


def our_metadata(items: Any, path: Path) -> dict[str, str]:
    """The ``METADATA_PREFIX`` entries of a file's metadata (others are the file's business),
    strings only and bounded: a mark that is not text, or too long, is refused in one line."""
    found: dict[str, str] = {}
    for key, value in items:
        if isinstance(key, bytes):
            key = key.decode("utf-8", "replace")
        if not isinstance(key, str) or not key.startswith(METADATA_PREFIX):
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str) or len(value) > METADATA_BYTES:
            raise error(path, f"its metadata {safe_name(key)!r} is not a short text")
        found[key] = value
    return found



# --------------------------------------------------------------------------- helpers


@contextmanager
def reading(path: Path, name: str | None = None, layer: str | None = None, kind: str = "") -> Iterator[None]:
    """The one guard every reader runs under: any parser failure is one line naming file and array."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a warning on stderr would break the one-line promise
            yield
    except InspectError:
        raise
    except READ_ERRORS as exc:
        what = f"array {safe_name(name)!r} cannot be read" if name else f"not a readable {kind} file"
        if isinstance(exc, MemoryError):
            raise error(path, f"{what}: out of memory") from None
        raise error(path, f"{what}: {reason(exc)}", layer=layer or None) from None


def plain_dtype(dtype: np.dtype, name: str, path: Path, layer: str | None) -> np.dtype:
    """A dtype a weight could be (numbers, no fields, no objects), or a refusal naming the array."""
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize > 16:
        raise error(path, f"array {safe_name(name)!r} has dtype {visible(str(dtype))}; weights must be plain "
                          f"numeric arrays ({', '.join(FLOAT_DTYPES)})", layer=layer or None)
    return dtype


def fill(out: np.ndarray, read: Callable[[int], bytes]) -> np.ndarray:
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


def optional(module: str, extra: str, path: Path, doing: str = "reading this format") -> Any:
    """An optional package (h5py), imported when a file needs it; missing, the pip line that adds it.

    ``path`` is the user's file: a writer checks before its temporary file exists (see
    ``weightfiles.save_weights``), so the error never names a hidden ``.w.h5.x1y2.tmp.h5``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise error(path, f"{doing} needs the {module.split('.')[0]} package, which is not installed: "
                          f"pip install 'resnet-inspect[{extra}]'") from None


def reason(exc: BaseException) -> str:
    """A parser's exception as a short printable reason (its first line)."""
    text = str(exc).strip().splitlines()
    return visible(excerpt(text[0] if text else type(exc).__name__, 160))
