"""Hostile inputs for ``run``, ``verify`` and ``weights init`` (issue 7), generated here by code.

Classes: ``image`` (formats Pillow must not reach, bombs, forged headers, truncations, odd modes,
paths that are not files), ``array`` (pickles, dtypes, forged and truncated headers, empty and
non-finite arrays), ``flag`` (``--max-memory``, ``--seed``, ``--repeat``, ``--top``, ``--batch``),
``memory`` (estimate-first refusals, and a raised limit that then fails to allocate) and
``output`` (``--save-output`` onto inputs, bad suffixes, folders, FIFOs, symlinks). Every case runs
as its own process through :mod:`tests.hostile` and is judged there (no traceback, exit code, one
``error:`` line naming the file and field, time, peak RSS, no secret, nothing outside touched);
``AFTER`` adds checks of the case folder afterwards (an input file a write must not replace).

The cases run four at a time (each is a separate process, so they do not interfere); each test
then judges its own case.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from hostile import Case, Outcome, judge, prepare, record, run_cli, snapshot

PIL = pytest.importorskip("PIL.Image")
Image = PIL

DATA = Path(__file__).resolve().parent / "data"
SPEC = (DATA / "tiny-run.yaml").read_bytes()
FLAT_SPEC = (DATA / "tiny-run-flatten.yaml").read_bytes()


@lru_cache(maxsize=None)
def weights_npz(spec: str = "tiny-run.yaml", seed: int = 3) -> bytes:
    """Seeded weights of a tiny spec as .npz bytes (the library's own writer, in memory)."""
    from resnet_inspect.model.graph import load_graph
    from resnet_inspect.model.weights import random_weights

    weights = random_weights(load_graph(str(DATA / spec)), seed)
    buffer = io.BytesIO()
    np.savez(buffer, **{f"{layer}/{key}": a for layer, keys in weights.items() for key, a in keys.items()})
    return buffer.getvalue()


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "<f4", fortran: bool = False, version: int = 1) -> bytes:
    """A .npy header written by hand (so it can claim anything), padded as the format asks."""
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    if version == 1:
        pad = 64 - (10 + len(text) + 1) % 64
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + pad + 1) + text.encode() + b" " * pad + b"\n"
    pad = 64 - (12 + len(text) + 1) % 64
    return (b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(text) + pad + 1) + text.encode()
            + b" " * pad + b"\n")


def image_bytes(fmt: str, mode: str = "RGB", size: tuple[int, int] = (40, 30), **options: object) -> bytes:
    rng = np.random.default_rng(0)
    image = Image.new(mode, size)
    if mode in ("RGB", "L", "CMYK", "RGBA", "LA"):
        bands = len(mode)
        pixels = rng.integers(0, 256, (size[1], size[0], bands), dtype=np.uint8)
        image = Image.fromarray(pixels[..., 0] if bands == 1 else pixels, mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int, height: int, idat: bytes, depth: int = 8, color: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


@lru_cache(maxsize=None)
def png_bomb() -> bytes:
    """A real 20000×20000 8-bit grey PNG of zeros: ~400 MB of pixels in ~400 KB (issue 7's bomb)."""
    width = height = 20_000
    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte + pixels
    parts = [packer.compress(row) for _ in range(height)]
    parts.append(packer.flush())
    return png(width, height, b"".join(parts))


def bmp_header(width: int, height: int) -> bytes:
    """A 24-bit BMP header claiming any size, with no pixel data behind it."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 frame header is edited to claim ``width``×``height``."""
    data = bytearray(image_bytes("JPEG", "RGB", (16, 16)))
    at = data.index(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def sparse(size: int, head: bytes = b"") -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(path, "wb") as handle:
            handle.write(head)
            handle.truncate(size)
    return make


def fifo(path: Path) -> None:
    os.mkfifo(path)


def symlink_to(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def folder(path: Path) -> None:
    path.mkdir()


class Evil:
    """A pickle payload: unpickling it would write into the folder outside the case."""

    def __reduce__(self):
        return (os.system, ("touch ../outside/pwned",))


RUN = ["run", "net.yaml", "-w", "w.npz"]
BASE = {"net.yaml": SPEC}


def with_weights(files: dict[str, object]) -> dict[str, object]:
    return {**BASE, "w.npz": weights_npz(), **files}


def good_array() -> bytes:
    return npy(np.random.default_rng(1).normal(size=(1, 32, 32, 3)).astype(np.float32))


# --------------------------------------------------------------------------- images


def image_cases() -> list[Case]:
    def refused(name: str, data: object, *expect: str, filename: str = "in.png") -> Case:
        return Case("image", name, [*RUN, "--image", filename], with_weights({filename: data}),
                    expect=(filename, "--image", *expect))

    def accepted(name: str, data: bytes, filename: str = "in.png") -> Case:
        return Case("image", name, [*RUN, "--image", filename, "--format", "json"],
                    with_weights({filename: data}), code=0)

    eps = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
           b"(../outside/secret.txt) (r) file pop showpage\n%%EOF\n")
    cases = [
        refused("postscript never reaches Ghostscript", eps, "not a readable image", filename="in.eps"),
        refused("postscript named .png", eps, "not a readable image"),
        refused("decompression bomb png 20000x20000", png_bomb(), "decompression bomb"),
        refused("forged png header 100000x100000", png(100_000, 100_000, zlib.compress(b"\0" * 64)), "pixels"),
        refused("forged bmp header 60000x60000", bmp_header(60_000, 60_000), filename="in.bmp"),
        refused("forged jpeg header 65000x65000", jpeg_with_size(65_000, 65_000), filename="in.jpg"),
        refused("png wide header, no data", png(80_000, 1, b""), "not a readable image"),
        refused("png truncated in half", image_bytes("PNG")[:200], "not a readable image"),
        refused("jpeg truncated", image_bytes("JPEG")[:300], "not a readable image", filename="in.jpg"),
        refused("tiff truncated", image_bytes("TIFF")[:150], "not a readable image", filename="in.tif"),
        refused("webp truncated", image_bytes("WEBP")[:40], "not a readable image", filename="in.webp"),
        refused("empty file", b"", "not a readable image"),
        refused("random bytes", np.random.default_rng(5).bytes(4096), "not a readable image"),
        refused("html named .png", b"<html><script>alert(1)</script></html>", "not a readable image"),
        refused("svg", b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>',
                "not a readable image", filename="in.svg"),
        refused("32-bit float tiff", image_bytes("TIFF", "F", (8, 8)), "floating-point", filename="in.tif"),
        refused("folder", folder, "folder"),
        refused("fifo does not block", fifo, "regular file"),
        refused("symlink to a secret", symlink_to("../outside/secret.txt"), "not a readable image"),
        refused("sparse 2 GB file", sparse(2 << 30, image_bytes("PNG")), "at most"),
        Case("image", "missing file", [*RUN, "--image", "nothere.png"], with_weights({}),
             expect=("nothere.png", "no such")),
        Case("image", "empty path", [*RUN, "--image", ""], with_weights({}), expect=("empty path",)),
        Case("image", "control characters in the name", [*RUN, "--image", "evil\x1b[2J\x07.png"], with_weights({}),
             expect=("\\x1b", "no such")),
        Case("image", "image memory refused from the header",
             [*RUN, "--image", "big.png", "--max-memory", "200MB"],
             with_weights({"big.png": png(9000, 9000, zlib.compress(b"\0" * 64))}), expect=("--max-memory",)),
    ]
    for fmt, suffix in (("GIF", "gif"), ("ICO", "ico"), ("PCX", "pcx"), ("PPM", "ppm"), ("TGA", "tga"),
                        ("SGI", "sgi"), ("DDS", "dds"), ("XBM", "xbm")):
        mode = "1" if fmt == "XBM" else "RGB"
        try:
            data = image_bytes(fmt, mode, (16, 16))
        except (OSError, KeyError, ValueError):
            continue
        cases.append(refused(f"{fmt} is not a supported format", data, "not a readable image",
                             filename=f"in.{suffix}"))
    for name, fmt, mode, filename, options in (
        ("png rgb", "PNG", "RGB", "in.png", {}),
        ("png rgba drops alpha", "PNG", "RGBA", "in.png", {}),
        ("png grey", "PNG", "L", "in.png", {}),
        ("png 16-bit grey", "PNG", "I;16", "in.png", {}),
        ("png palette", "PNG", "P", "in.png", {}),
        ("png 1-bit", "PNG", "1", "in.png", {}),
        ("jpeg cmyk", "JPEG", "CMYK", "in.jpg", {}),
        ("bmp", "BMP", "RGB", "in.bmp", {}),
        ("tiff 16-bit", "TIFF", "I;16", "in.tif", {}),
        ("webp", "WEBP", "RGB", "in.webp", {}),
        ("png named .jpg is still read", "PNG", "RGB", "in.jpg", {}),
    ):
        cases.append(accepted(name, image_bytes(fmt, mode, (40, 30), **options), filename))
    cases.append(accepted("1x1 image", image_bytes("PNG", "RGB", (1, 1))))
    return cases


# --------------------------------------------------------------------------- arrays


def array_cases() -> list[Case]:
    def refused(name: str, data: object, *expect: str) -> Case:
        return Case("array", name, [*RUN, "--array", "x.npy"], with_weights({"x.npy": data}),
                    expect=("x.npy", "--array", *expect))

    def accepted(name: str, data: bytes) -> Case:
        return Case("array", name, [*RUN, "--array", "x.npy", "--format", "json"],
                    with_weights({"x.npy": data}), code=0)

    nan = np.zeros((1, 32, 32, 3), np.float32)
    nan[0, 3, 4, 1] = np.nan
    inf = np.zeros((2, 32, 32, 3), np.float32)
    inf[1, 0, 0, 2] = np.inf
    neg_inf = np.zeros((32, 32, 3), np.float64)
    neg_inf[31, 31, 0] = -np.inf
    good = np.random.default_rng(1).normal(size=(1, 32, 32, 3))
    cases = [
        refused("pickle payload never unpickled", npy(np.array([Evil()], dtype=object), allow_pickle=True),
                "objects are never unpickled"),
        refused("raw pickle", pickle.dumps({"x": 1}), "not a readable .npy"),
        refused("structured dtype", npy(np.zeros((1, 32, 32, 3), dtype=[("a", "<f4")])), "float or integer"),
        refused("complex", npy(np.zeros((1, 32, 32, 3), np.complex64)), "float or integer"),
        refused("bool", npy(np.zeros((1, 32, 32, 3), bool)), "float or integer"),
        refused("unicode strings", npy(np.array([["a"]])), "float or integer"),
        refused("datetime", npy(np.zeros((1, 32, 32, 3), "datetime64[s]")), "float or integer"),
        refused("header claims 10^12 elements", npy_header((10**6, 10**3, 10**3, 3)) + b"\0" * 64, "truncated"),
        refused("data truncated", npy(good.astype(np.float32))[:-100], "truncated"),
        refused("batch 0", npy(np.zeros((0, 32, 32, 3), np.float32)), "empty"),
        refused("height 0", npy(np.zeros((1, 0, 32, 3), np.float32)), "empty"),
        refused("2-d array", npy(np.zeros((32, 96), np.float32)), "N×H×W×C"),
        refused("5-d array", npy(np.zeros((1, 1, 32, 32, 3), np.float32)), "N×H×W×C"),
        refused("scalar", npy(np.float32(1.0)), "N×H×W×C"),
        refused("one channel", npy(np.zeros((1, 32, 32, 1), np.float32)), "channels"),
        refused("NaN", npy(nan), "non-finite", "[0, 3, 4, 1]"),
        refused("infinity", npy(inf), "non-finite", "[1, 0, 0, 2]"),
        refused("minus infinity float64", npy(neg_inf), "non-finite"),
        refused("npy version 3", npy_header((1, 32, 32, 3), version=3) + bytes(4 * 32 * 32 * 3), "version"),
        refused("bad magic", b"\x93NUMPX\x01\x00" + bytes(200), "not a readable .npy"),
        refused("header is code, not a literal",
                b"\x93NUMPY\x01\x00" + struct.pack("<H", 54) + b"__import__('os').system('touch ../outside/x')".ljust(53) + b"\n",
                "not a readable .npy"),
        refused("header length 60000", b"\x93NUMPY\x02\x00" + struct.pack("<I", 60000) + b"{" * 60000,
                "not a readable .npy"),
        refused("header cut short", npy_header((1, 32, 32, 3))[:30], "not a readable .npy"),
        refused("empty file", b"", "not a readable .npy"),
        refused("npz given as an array", weights_npz(), "several arrays"),
        refused("folder", folder, "folder"),
        refused("fifo does not block", fifo, "regular file"),
        refused("symlink to a secret", symlink_to("../outside/secret.txt"), "not a readable .npy"),
        accepted("float32 batch of 2", npy(np.zeros((2, 32, 32, 3), np.float32))),
        accepted("float64 HxWxC", npy(good[0])),
        accepted("float16", npy(good.astype(np.float16))),
        accepted("big-endian float32", npy(good.astype(">f4"))),
        accepted("fortran order", npy(np.asfortranarray(good.astype(np.float32)))),
        accepted("uint8", npy(np.full((1, 32, 32, 3), 128, np.uint8))),
        Case("array", "sparse array claiming batch 200000 refused by the estimate",
             [*RUN, "--array", "x.npy"],
             with_weights({"x.npy": sparse(200_000 * 32 * 32 * 3 * 4 + 128, npy_header((200_000, 32, 32, 3)))}),
             expect=("--max-memory", "batch 200000")),
    ]
    return cases


# --------------------------------------------------------------------------- flags


def flag_cases() -> list[Case]:
    cases = []
    run_array = [*RUN, "--array", "x.npy"]
    for value in ("inf", "nan", "1e400", "infGB", "-inf", "-1", "0", "", " ", "4XB", "1e-9", "0x10",
                  "\uff14GB", "2EB", "1e30", "NaNGB", "4 G B x"):
        cases.append(Case("flag", f"run --max-memory {value!r}", [*run_array, "--max-memory", value],
                          with_weights({"x.npy": good_array()}), expect=("--max-memory",)))
    for value in ("inf", "1e400"):
        cases.append(Case("flag", f"verify --max-memory {value}", ["verify", "net.yaml", "--max-memory", value],
                          dict(BASE), expect=("--max-memory",)))
        cases.append(Case("flag", f"weights init --max-memory {value}",
                          ["weights", "init", "net.yaml", "-o", "w.npz", "--max-memory", value],
                          dict(BASE), expect=("--max-memory",)))
    cases += [
        Case("flag", "verify --seed -1", ["verify", "net.yaml", "--seed", "-1"], dict(BASE), expect=("--seed",)),
        Case("flag", "weights init --seed -1", ["weights", "init", "net.yaml", "-o", "w.npz", "--seed", "-1"],
             dict(BASE), expect=("--seed",)),
        Case("flag", "verify --seed 2**70 is fine", ["verify", "net.yaml", "--seed", str(2**70)], dict(BASE), code=0),
        Case("flag", "verify --batch 0", ["verify", "net.yaml", "--batch", "0"], dict(BASE), expect=("--batch",)),
        Case("flag", "verify --batch -3", ["verify", "net.yaml", "--batch", "-3"], dict(BASE), expect=("--batch",)),
        Case("flag", "run --repeat -1", [*run_array, "--repeat", "-1"], with_weights({"x.npy": good_array()}),
             expect=("--repeat",)),
        Case("flag", "run --repeat 1001", [*run_array, "--repeat", "1001"], with_weights({"x.npy": good_array()}),
             expect=("--repeat", "1000")),
        Case("flag", "run --repeat 10**12", [*run_array, "--repeat", str(10**12)],
             with_weights({"x.npy": good_array()}), expect=("--repeat",)),
        Case("flag", "run --top -1", [*run_array, "--top", "-1"], with_weights({"x.npy": good_array()}),
             expect=("--top",)),
        Case("flag", "run --top 10**6 shows all classes", [*run_array, "--top", str(10**6), "--format", "json"],
             with_weights({"x.npy": good_array()}), code=0),
        # past the one parser's bound for counts (issue 17): refused in one line, not clamped
        Case("flag", "run --top 10**9", [*run_array, "--top", str(10**9)], with_weights({"x.npy": good_array()}),
             expect=("--top", "1,000,000")),
        Case("flag", "run with both --image and --array", [*run_array, "--image", "x.npy"],
             with_weights({"x.npy": good_array()}), expect=("exactly one",)),
        Case("flag", "run --resize bicubic", [*RUN, "--image", "in.png", "--resize", "bicubic"],
             with_weights({"in.png": image_bytes("PNG")}), expect=("--resize", "torch, caffe")),
        Case("flag", "run --resize with escapes", [*RUN, "--image", "in.png", "--resize", "\x1b[2J\x07"],
             with_weights({"in.png": image_bytes("PNG")}), expect=("--resize", "\\x1b")),
        Case("flag", "run --resize empty", [*RUN, "--image", "in.png", "--resize", ""],
             with_weights({"in.png": image_bytes("PNG")}), expect=("--resize",)),
        Case("flag", "run --resize on an array", [*run_array, "--resize", "torch"],
             with_weights({"x.npy": good_array()}), expect=("--resize", "--image only")),
        Case("flag", "run --resize torch on a caffe spec", [*RUN, "--image", "in.png", "--resize", "torch",
                                                             "--format", "json"],
             with_weights({"in.png": image_bytes("PNG", "RGB", (300, 200))}), code=0),
    ]
    return cases


# --------------------------------------------------------------------------- memory

HUGE_SPEC = SPEC.replace(b"conv: {filters: base, kernel: 7, stride: 2}", b"conv: {filters: 100000000, kernel: 7, stride: 2}")


def memory_cases() -> list[Case]:
    huge = {"huge.yaml": HUGE_SPEC}
    limited = {"HOSTILE_RLIMIT_AS_MB": "3000"}  # any machine: the allocation fails, it never swaps
    return [
        Case("memory", "verify under a 1 KB limit", ["verify", "net.yaml", "--max-memory", "1KB"], dict(BASE),
             expect=("--max-memory", "above the limit of 1.0 KiB")),
        Case("memory", "weights init of a 10^8-filter stem refused by the estimate",
             ["weights", "init", "huge.yaml", "-o", "w.npz"], huge, expect=("--max-memory", "making the weights")),
        Case("memory", "verify of a 10^8-filter stem refused by the estimate", ["verify", "huge.yaml"], huge,
             expect=("--max-memory",)),
        Case("memory", "weights init with --max-memory 1TB fails to allocate in one line",
             ["weights", "init", "huge.yaml", "-o", "w.npz", "--max-memory", "1TB"], huge,
             expect=("out of memory",), env=limited),
        Case("memory", "verify with --max-memory 1TB fails to allocate in one line",
             ["verify", "huge.yaml", "--max-memory", "1TB"], huge, expect=("out of memory",), env=limited),
        Case("memory", "run with a 1 KB limit refuses before loading", [*RUN, "--array", "x.npy", "--max-memory", "1KB"],
             with_weights({"x.npy": good_array()}), expect=("--max-memory",)),
        Case("memory", "run with --max-memory 1TB and a batch of 200000 fails to allocate in one line",
             [*RUN, "--array", "x.npy", "--max-memory", "1TB"],
             with_weights({"x.npy": sparse(200_000 * 32 * 32 * 3 * 4 + 128, npy_header((200_000, 32, 32, 3)))}),
             expect=("out of memory",), env={"HOSTILE_RLIMIT_AS_MB": "1200"}),
    ]


# --------------------------------------------------------------------------- outputs


def output_cases() -> list[Case]:
    def case(name: str, target: str, files: dict[str, object], *expect: str, code: int = 2) -> Case:
        return Case("output", name, [*RUN, "--array", "x.npy", "--save-output", target],
                    with_weights({"x.npy": good_array(), **files}), expect=expect, code=code)

    old = npy(np.arange(3.0))
    return [
        case("onto the weights file", "w.npz", {}, "w.npz", "--save-output"),
        case("onto the array it reads", "x.npy", {}, "would overwrite", "x.npy"),
        case("onto the spec", "net.yaml", {}, "--save-output"),
        Case("output", "onto the image it reads (named .npy)", [*RUN, "--image", "pic.npy", "--save-output", "pic.npy"],
             with_weights({"pic.npy": image_bytes("PNG")}), expect=("would overwrite",)),
        case("symlink to the weights", "link.npy", {"link.npy": symlink_to("w.npz")}, "would overwrite"),
        case("hard link to the array", "hard.npy", {"hard.npy": lambda p: os.link(p.parent / "x.npy", p)},
             "would overwrite"),
        case("empty path", "", {}, "empty path"),
        case("wrong suffix .txt", "out.txt", {}, ".npy"),
        case("suffix .npy.tmp", "out.npy.tmp", {}, ".npy"),
        case("a folder", "out.npy", {"out.npy": folder}, "folder"),
        case("a fifo", "out.npy", {"out.npy": fifo}, "regular file"),
        case("folder that does not exist", "nodir/out.npy", {}, "cannot write"),
        case("name too long", "o" * 300 + ".npy", {}, "cannot write"),
        case("symlink out of the folder is replaced, not followed", "out.npy",
             {"out.npy": symlink_to("../outside/secret.txt")}, code=0),
        case("upper-case suffix", "out.NPY", {}, code=0),
        Case("output", "--save-input onto the weights", [*RUN, "--image", "in.png", "--save-input", "w.npz"],
             with_weights({"in.png": image_bytes("PNG")}), expect=("w.npz", "--save-input", ".npy")),
        Case("output", "--save-input onto the image it reads", [*RUN, "--image", "in.npy", "--save-input", "in.npy"],
             with_weights({"in.npy": image_bytes("PNG")}), expect=("--save-input", "would overwrite")),
        Case("output", "--save-input and --save-output the same file",
             [*RUN, "--image", "in.png", "--save-input", "o.npy", "--save-output", "o.npy"],
             with_weights({"in.png": image_bytes("PNG")}), expect=("--save-output", "would overwrite")),
        Case("output", "--save-input empty", [*RUN, "--image", "in.png", "--save-input", ""],
             with_weights({"in.png": image_bytes("PNG")}), expect=("--save-input", "empty path")),
        Case("output", "--save-input a fifo", [*RUN, "--image", "in.png", "--save-input", "o.npy"],
             with_weights({"in.png": image_bytes("PNG"), "o.npy": fifo}), expect=("--save-input", "regular file")),
        Case("output", "--save-input written", [*RUN, "--image", "in.png", "--save-input", "o.npy"],
             with_weights({"in.png": image_bytes("PNG")}), code=0),
        Case("output", "existing output kept when the weights do not fit this size",
             ["run", "flat.yaml", "-w", "w.npz", "--array", "x.npy", "--save-output", "out.npy"],
             {"flat.yaml": FLAT_SPEC, "w.npz": weights_npz("tiny-run-flatten.yaml"), "out.npy": old,
              "x.npy": npy(np.zeros((1, 64, 64, 3), np.float32))},
             expect=("w.npz", "layer fc1000", "takes 32 inputs", "64×64", "gives 128", "from 25 to 56")),
    ]


# The folder's state after a case: inputs a write must not replace, and no temporary file left.
AFTER: dict[str, Callable[[Path], None]] = {}


def _unchanged(name: str, content: Callable[[], bytes]) -> Callable[[Path], None]:
    def check(work: Path) -> None:
        assert (work / name).read_bytes() == content(), f"{name} was changed"
        assert not [p for p in work.iterdir() if ".tmp" in p.name], "a temporary file was left behind"
    return check


AFTER["output:onto the weights file"] = _unchanged("w.npz", weights_npz)
AFTER["output:onto the array it reads"] = _unchanged("x.npy", good_array)
AFTER["output:onto the spec"] = _unchanged("net.yaml", lambda: SPEC)
AFTER["output:--save-input onto the image it reads"] = _unchanged("in.npy", lambda: image_bytes("PNG"))


def _saved_input(work: Path) -> None:
    x = np.load(work / "o.npy")  # the batch the network received: caffe (the spec's), 32x32, BGR minus the mean
    assert x.shape == (1, 32, 32, 3) and x.dtype == np.float32 and np.isfinite(x).all()


AFTER["output:--save-input written"] = _saved_input
AFTER["output:existing output kept when the weights do not fit this size"] = _unchanged("out.npy", lambda: npy(np.arange(3.0)))


def all_cases() -> list[Case]:
    return image_cases() + array_cases() + flag_cases() + memory_cases() + output_cases()


CASES = all_cases()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, object]:
    """Every case run once, four processes at a time."""
    root = tmp_path_factory.mktemp("hostile-run")

    def one(index_case: tuple[int, Case]) -> tuple[str, object]:
        index, case = index_case
        work, outside = prepare(case, root / str(index))
        before_outside, before_work = snapshot(outside), snapshot(work)
        try:
            outcome = run_cli(case.args, work, case.stdin, case.time_limit, case.env)
        except AssertionError as exc:  # a timeout: this case fails, the others still run
            return case.id, exc
        return case.id, (outcome, work, outside, before_outside, before_work)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, enumerate(CASES)))


def test_case_ids_are_distinct():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 80


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_run(case: Case, outcomes) -> None:
    result = outcomes[case.id]
    if isinstance(result, AssertionError):
        raise result
    outcome, work, outside, before_outside, before_work = result  # type: ignore[misc]
    record(case, outcome)
    judge(case, outcome, work, outside, before_outside, before_work)
    if case.id in AFTER:
        AFTER[case.id](work)
    assert not (outside / "pwned").exists() and not (outside / "x").exists(), "a payload ran"

