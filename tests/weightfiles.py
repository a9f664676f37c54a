"""Valid weights files for the tiny test specs, built by code, and the pieces to break them.

Shared by the hostile corpus (``test_hostile_weights.py``) and the property-based fuzzing
(``test_weights_fuzz.py``). Files are made without resnet-inspect's own writers where the format
allows (zip + ``np.save`` for .npz, the safetensors layout written by hand, h5py for Keras'
layout), so a bug in our writer cannot hide a bug in our reader.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from resnet_inspect import build_graph, load_spec
from resnet_inspect.model.weights import random_weights, torchvision_names

DATA = Path(__file__).resolve().parent / "data"
TINY = DATA / "tiny-run.yaml"
TINY_TORCHVISION = DATA / "tiny-run-torchvision.yaml"
GRAPH = build_graph(load_spec(str(TINY)))
GRAPH_TORCHVISION = build_graph(load_spec(str(TINY_TORCHVISION)))
WEIGHTS = random_weights(GRAPH, seed=1)
KERAS_TO_TORCH = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
                  "moving_mean": "running_mean", "moving_variance": "running_var"}


def flat(weights: dict = WEIGHTS) -> dict[str, Any]:
    """``{"layer/key": array}``, a copy to change."""
    return {f"{layer}/{key}": array for layer, keys in weights.items() for key, array in keys.items()}


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npz_bytes(members: dict[str, Any], compression: int = zipfile.ZIP_STORED, suffix: str = ".npy") -> bytes:
    """A zip of ``name + suffix`` members: arrays are saved with ``np.save``; bytes are stored as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, value in members.items():
            archive.writestr(name + suffix, value if isinstance(value, bytes) else npy(value))
    return buffer.getvalue()


def torchvision_state(seed: int = 2) -> dict[str, np.ndarray]:
    """tiny-run-torchvision's weights under torchvision's names and layouts (OIHW, (out, in))."""
    weights = random_weights(GRAPH_TORCHVISION, seed=seed)
    modules = torchvision_names(GRAPH_TORCHVISION)
    state: dict[str, np.ndarray] = {}
    for layer, keys in weights.items():
        for key, array in keys.items():
            if key == "kernel":
                array = array.transpose((3, 2, 0, 1) if array.ndim == 4 else (1, 0))
            state[f"{modules[layer]}.{KERAS_TO_TORCH[key]}"] = np.ascontiguousarray(array)
        if "moving_mean" in keys:
            state[f"{modules[layer]}.num_batches_tracked"] = np.array(7, np.int64)
    return state


ST_DTYPES = {"float16": "F16", "float32": "F32", "float64": "F64", "int64": "I64", "int32": "I32", "uint8": "U8"}


def safetensors_bytes(state: dict[str, np.ndarray], edit: Callable[[dict], None] | None = None,
                      metadata: dict | None = None) -> bytes:
    """The safetensors layout by hand: u64 header length, JSON header, data; ``edit`` changes the header."""
    header: dict[str, Any] = {}
    data = bytearray()
    for name, array in state.items():
        raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST_DTYPES[array.dtype.name], "shape": list(array.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    if edit is not None:
        edit(header)
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + bytes(data)


def write_keras_h5(path: Path, weights: dict = WEIGHTS, chunks: int = 1, root_group: str | None = None,
                   **dataset_options: Any) -> None:
    """Keras 2's ``save_weights`` layout with h5py alone (``layer_names`` split in ``chunks`` as Keras does)."""
    import h5py

    with h5py.File(path, "w", locking=False) as f:  # see LOCKING in test_hostile_weights
        root = f.create_group(root_group) if root_group else f
        names = np.array([name.encode() for name in weights])
        if chunks == 1:
            root.attrs["layer_names"] = names
        else:
            for index, part in enumerate(np.array_split(names, chunks)):
                root.attrs[f"layer_names{index}"] = part
        for layer, arrays in weights.items():
            group = root.create_group(layer)
            group.attrs["weight_names"] = np.array([f"{layer}/{key}:0".encode() for key in arrays])
            for key, array in arrays.items():
                group.create_dataset(f"{layer}/{key}:0", data=array, **dataset_options)


def write_keras3_h5(path: Path, weights: dict = WEIGHTS, **dataset_options: Any) -> None:
    """Keras 3's ``save_weights`` layout with h5py alone: ``layers/<class>[_N]/vars/<i>``, the groups
    by position as :func:`resnet_inspect.model.keras.keras_groups` maps them (checked against live
    Keras in test_keras_parity.py), plus the empty top-level ``vars`` Keras writes."""
    import h5py

    from resnet_inspect.model.keras import keras_groups

    with h5py.File(path, "w", locking=False) as f:
        layers = f.create_group("layers")
        for group, (layer, keys) in keras_groups(GRAPH).items():
            variables = layers.create_group(group).create_group("vars")
            for index, key in enumerate(keys):
                variables.create_dataset(str(index), data=weights[layer][key], **dataset_options)
        layers.create_group("activation").create_group("vars")  # a weightless layer's empty group
        f.create_group("vars")


def valid_files() -> dict[str, bytes]:
    """One valid file per format (name -> bytes), for truncation and byte-flip fuzzing."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        h5 = Path(folder) / "w.h5"
        write_keras_h5(h5)
        h5_gzip = Path(folder) / "z.h5"
        write_keras_h5(h5_gzip, chunks=2, compression="gzip", shuffle=True, fletcher32=True)
        keras3 = Path(folder) / "w.weights.h5"
        write_keras3_h5(keras3)
        keras3_gzip = Path(folder) / "z.weights.h5"
        write_keras3_h5(keras3_gzip, compression="gzip", shuffle=True)
        return {"w.npz": npz_bytes(flat()), "z.npz": npz_bytes(flat(), zipfile.ZIP_DEFLATED),
                "w.safetensors": safetensors_bytes(torchvision_state()), "w.h5": h5.read_bytes(),
                "z.h5": h5_gzip.read_bytes(), "w.weights.h5": keras3.read_bytes(),
                "z.weights.h5": keras3_gzip.read_bytes(), "m.keras": keras_archive_bytes(keras3.read_bytes()),
                "z.keras": keras_archive_bytes(keras3_gzip.read_bytes(), zipfile.ZIP_DEFLATED)}


def deflate_bomb(prefix: bytes, mebibytes: int) -> bytes:
    """A raw deflate stream of ``prefix`` then ``mebibytes`` MiB of zeros, made in milliseconds.

    After the first MiB the compressor's state repeats, so one sync-flushed block of 1 MiB of
    zeros is the same bytes every time: the stream is that block repeated (about 1 KB per MiB).
    """
    import zlib

    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    head = deflate.compress(prefix + zeros) + deflate.flush(zlib.Z_SYNC_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_SYNC_FLUSH)
    return head + block * (mebibytes - 1) + deflate.flush()


def raw_zip(members: dict[str, tuple[int, bytes, int, int]]) -> bytes:
    """A zip written by hand: ``name -> (method, stored bytes, crc32, uncompressed size)``.

    For members whose header fields lie (a bomb's size and CRC are never reached by a reader
    that stops where the array ends) without compressing gigabytes to build them.
    """
    import struct

    out, directory = bytearray(), bytearray()
    for name, (method, data, crc, size) in members.items():
        encoded = name.encode()
        offset = len(out)
        fields = (20, 0, method, 0, 0, crc, len(data), size, len(encoded), 0)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", *fields) + encoded + data
        directory += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, *fields[:-1], 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(out), 0)
    return bytes(out + directory + end)


def stored(data: bytes) -> tuple[int, bytes, int, int]:
    import zlib

    return (0, data, zlib.crc32(data), len(data))


def many_members_zip(count: int, name_bytes: int = 8) -> bytes:
    """A zip that is all central directory: ``count`` empty stored members (no local headers, which
    ``zipfile`` reads only when a member is opened), with zip64 end records past 65,535 members.

    1.2 M members make a 65 MB file that ``zipfile.ZipFile`` alone parses into ~600 MB of ZipInfo
    objects; built with ``struct`` in a second or two.
    """
    import struct

    record = struct.Struct("<4s6H3I5H2I")
    width = name_bytes
    directory = b"".join(record.pack(b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, width, 0, 0, 0, 0, 0, 0)
                         + f"{i:0{width}x}"[-width:].encode() for i in range(count))
    size, offset = len(directory), 0
    zip64 = count > 0xFFFF
    tail = b""
    if zip64:
        end64 = struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
        locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, offset + size, 1)
        tail = end64 + locator
    short = 0xFFFF if zip64 else count
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, short, short, 0xFFFFFFFF if zip64 else size,
                      0xFFFFFFFF if zip64 else offset, 0)
    return directory + tail + end


def keras_archive_bytes(weights_h5: bytes, compression: int = zipfile.ZIP_STORED) -> bytes:
    """A ``.keras`` zip as Keras 3's ``model.save`` lays it out (stored members, as Keras writes them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("metadata.json", b'{"keras_version": "3.0.0"}')
        archive.writestr("config.json", b'{"class_name": "Functional"}')
        archive.writestr("model.weights.h5", weights_h5)
    return buffer.getvalue()


def keras_member_bomb(mebibytes: int) -> bytes:
    """A ``.keras`` whose ``model.weights.h5`` declares ``mebibytes`` MiB (zeros, deflated to ~1 KB/MiB)."""
    import zlib

    bomb = deflate_bomb(b"", mebibytes)
    config = b'{"class_name": "Functional"}'
    crc = zlib.crc32(bytes(1 << 20) * 0)  # the CRC is never reached by a reader that refuses first
    return raw_zip({"config.json": stored(config), "model.weights.h5": (8, bomb, crc, mebibytes << 20)})
