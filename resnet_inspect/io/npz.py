"""Our native format: an uncompressed ``.npz`` with one ``"layer/key"`` member per array.

Members are parsed with NumPy's own ``.npy`` header readers (object arrays refused, nothing is
ever unpickled); the zip's central directory is sized from its end record before ``zipfile``
parses it, and each member's data is read into its array 1 MiB at a time.
"""

from __future__ import annotations

import os
import zipfile
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core.safeio import zip_directory
from ..model.graph import Graph
from ..model.weights import Weights
from .base import METADATA_BYTES, Described, Entry, Limits, error, fill, our_metadata, plain_dtype, reading

METADATA_MEMBER = "__metadata__"  # a 0-d text array: JSON of our metadata (not a weight)

if TYPE_CHECKING:
    import numpy as np


def describe_npz(path: Path, graph: Graph, limits: Limits, stack: ExitStack, layout: str | None = None) -> Described:
    """Native ``"layer/key"`` members: each member's ``.npy`` header read with NumPy's own parser.

    The zip's central directory is sized from its end record before ``zipfile`` parses it; only
    stored and deflated members are read (bzip2/LZMA inflate without a bound in ``zipfile``).
    """
    _zip_directory_size(path, limits)
    archive = stack.enter_context(zipfile.ZipFile(path))
    members = archive.infolist()
    if len(members) > limits.entries:
        raise error(path, f"lists {len(members):,} members; a weights file for this spec has at most {limits.entries:,}")
    described = Described()
    for info in members:
        name = info.filename.removesuffix(".npy")
        if name == METADATA_MEMBER:
            described.metadata = _read_metadata(archive, info, path)
            continue
        layer, _, key = name.rpartition("/")
        with reading(path, name, layer):
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ValueError(f"compression method {info.compress_type} (only stored and deflate are read)")
            with archive.open(info) as member:
                shape, fortran, dtype = _npy_header(member)
        dtype = plain_dtype(dtype, name, path, layer)
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
        out = fill(np.empty(shape[::-1] if fortran else shape, dtype), member.read)
        if member.read(1):
            raise ValueError("more data than its header's shape holds")
    array = np.ascontiguousarray(out.T) if fortran else out
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def _zip_directory_size(path: Path, limits: Limits) -> None:
    """Refuse a zip whose central directory (every member's record) is larger than names could need,
    from its end records (:func:`..core.safeio.zip_directory`) before ``zipfile`` parses it."""
    with open(path, "rb") as handle:
        if handle.read(6) == b"\x93NUMPY" and handle.seek(0, os.SEEK_END) <= 22 + 65535:
            raise error(path, "holds a single array, not a .npz archive of \"layer/key\" arrays")
    directory = zip_directory(path, ".npz file")
    if directory.size > limits.header_bytes:
        raise error(path, f"its zip directory is {directory.size:,} bytes; a weights file for this spec needs at most "
                          f"{limits.header_bytes:,}")


def save_npz(weights: Weights, path: Path, graph: Graph | None = None, layout: str | None = None,
             metadata: Mapping[str, str] | None = None) -> None:
    """Uncompressed, so loading reads straight into each array with no second copy; ``metadata``
    as JSON text in one more member, :data:`METADATA_MEMBER`."""
    import json

    import numpy as np

    arrays = {f"{layer}/{key}": array for layer, keys in weights.items() for key, array in keys.items()}
    if metadata:
        arrays[METADATA_MEMBER] = np.array(json.dumps(dict(metadata), sort_keys=True))
    with open(path, "wb") as f:  # an open file: np.savez would append ".npz" to a bare name
        np.savez(f, **arrays)


def _read_metadata(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> dict[str, str]:
    """The metadata member: a bounded 0-d unicode array of JSON text, never unpickled."""
    import json

    import numpy as np

    if info.file_size > METADATA_BYTES or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise error(path, f"its {METADATA_MEMBER!r} member is not a short text")
    with archive.open(info) as member:
        try:
            value = np.load(member, allow_pickle=False)
            data = json.loads(str(value[()])) if value.shape == () and value.dtype.kind == "U" else None
        except (ValueError, OSError):
            data = None
    if not isinstance(data, dict):
        raise error(path, f"its {METADATA_MEMBER!r} member is not a JSON object of texts")
    return our_metadata(data.items(), path)
