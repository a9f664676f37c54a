"""Winograd's minimal filtering for 3×3 stride-1 convs in NHWC: F(4,3) and F(2,3) (Lavin & Gray, 2016).

A 3×3 conv computes each m×m output tile from a (m+2)×(m+2) input tile. Winograd's algorithm
moves both into a transformed space where the conv is an elementwise product, so each of the
(m+2)² positions is one matmul ``(tiles, C) @ (C, K)``: 36 products per 16 outputs for F(4,3)
(2.25 per output, against 9 for im2col), 16 per 4 for F(2,3) (4 per output). The transforms
are small fixed matrices applied with matmuls over whole chunks of tiles, so NumPy's loops never
see a single tile. The filter transform ``G g Gᵀ`` is computed once, in float64, when the
weights are prepared (:func:`filter_transform`).

The price is rounding: the transforms' coefficients (up to 8 for F(4,3)) grow the error a little
(about 1e-6 relative per layer for F(4,3) in float32, see the tests and the bench), which is why
each layer's choice is a rule measured on this executor (:func:`choose`), and float64 runs keep im2col.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import strided


@dataclass(frozen=True)
class Transform:
    """F(m, 3): input transform ``BT`` (t×t), filter transform ``G`` (t×3), output ``AT`` (m×t), t = m + 2."""

    name: str
    m: int
    BT: np.ndarray
    G: np.ndarray
    AT: np.ndarray

    @property
    def t(self) -> int:
        return self.m + 2

    def input_matrix(self, dtype: np.dtype) -> np.ndarray:
        """``Bᵀ ⊗ Bᵀ`` (t²×t²): both sides of ``Bᵀ d B`` in one matmul over a whole chunk of tiles
        (one pass over memory; two matmuls by ``Bᵀ`` measured 10-25% slower)."""
        return _kron(self.BT, dtype)

    def output_matrix(self, dtype: np.dtype) -> np.ndarray:
        """``Aᵀ ⊗ Aᵀ`` (m²×t²), for ``Aᵀ M A`` the same way."""
        return _kron(self.AT, dtype)


_KRON: dict[tuple[int, np.dtype], np.ndarray] = {}


def _kron(matrix: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``matrix ⊗ matrix`` in ``dtype``, made once per transform and dtype (computed in float64)."""
    key = (id(matrix), np.dtype(dtype))  # the dtype itself: its .name costs 10 µs a call
    if key not in _KRON:
        _KRON[key] = np.kron(matrix, matrix).astype(dtype)
    return _KRON[key]


F23 = Transform("F(2,3)", 2,
                BT=np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64),
                G=np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], np.float64),
                AT=np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64))
F43 = Transform("F(4,3)", 4,
                BT=np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                             [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64),
                G=np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                            [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64),
                AT=np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                            np.float64))
TRANSFORMS = {"F(2,3)": F23, "F(4,3)": F43}

CHUNK_TILES = 256  # tiles per chunk at most (the measurement at batch 8)
CHUNK_VALUES = 256 * 64  # tiles × channels per chunk at most
MIN_TILES = 16  # a transform from this many output tiles per layer (see choose)


def chunk_tiles(c: int, k: int) -> int:
    """Tiles per chunk: about CHUNK_TILES, fewer for wide layers so a chunk's transformed tiles
    (t²·tiles·max(C, K) values) stay near L2's size."""
    return max(16, min(CHUNK_TILES, CHUNK_VALUES // max(c, k)))


def choose(n: int, h_out: int, w_out: int) -> Transform | None:
    """The transform for a layer (None: im2col), by a rule measured on this executor (CPU time per
    layer, one thread, resnet50's 3×3 convs at batch 1 and 8: see the README's bench section).
    F(4,3) is 1.4-2× faster than im2col wherever it has enough tiles; with few (7×7 at batch 1:
    4 tiles, 36 GEMMs of 4 rows) its GEMMs are too small and its 6×6 tiles waste the map's edges
    (7 pads to 8), and F(2,3) (16 tiles) wins; with fewer still (a 4×4 map), the transforms'
    fixed cost loses to im2col. So: F(4,3) from MIN_TILES tiles of 4×4 outputs, else F(2,3) from
    MIN_TILES tiles of 2×2, else None."""
    if n * math.ceil(h_out / 4) * math.ceil(w_out / 4) >= MIN_TILES:
        return F43
    if n * math.ceil(h_out / 2) * math.ceil(w_out / 2) >= MIN_TILES:
        return F23
    return None


def filter_transform(kernel: np.ndarray, f: Transform, dtype: str) -> np.ndarray:
    """HWIO ``(3, 3, C, K)`` -> ``(t·t, C, K)``: ``G g Gᵀ`` per (C, K), in float64, cast once."""
    g = np.asarray(kernel, np.float64)
    u = np.einsum("ai,ijck,bj->abck", f.G, g, f.G, optimize=True)
    return np.ascontiguousarray(u.reshape(f.t * f.t, *g.shape[2:]), dtype=dtype)


def _tiles(x: np.ndarray, f: Transform, th: int, tw: int) -> np.ndarray:
    """A read-only view ``(N, th, tw, t, t, C)`` of overlapping input tiles (stride m)."""
    s0, s1, s2, s3 = x.strides
    n, c = x.shape[0], x.shape[3]
    return strided.view(x, (n, th, tw, f.t, f.t, c), (s0, f.m * s1, f.m * s2, s1, s2, s3))


def _out_tiles(y: np.ndarray, m: int, th: int, tw: int) -> np.ndarray:
    """A writable view ``(N, th, tw, m, m, K)`` of an ``(N, th·m, tw·m, K)`` output."""
    s0, s1, s2, s3 = y.strides
    return strided.view(y, (y.shape[0], th, tw, m, m, y.shape[3]), (s0, m * s1, m * s2, s1, s2, s3), writeable=True)


def chunks(n: int, th: int, tw: int, size: int = CHUNK_TILES) -> list[tuple[slice, slice]]:
    """(images, tile rows) per chunk of about ``size`` tiles: bands of tile rows of one image when an
    image has that many, else groups of whole images. Their outputs are contiguous rows of NHWC."""
    per_image = th * tw
    if per_image >= size:
        band = max(1, size // tw)
        return [(slice(b, b + 1), slice(r, min(th, r + band))) for b in range(n) for r in range(0, th, band)]
    group = max(1, size // per_image)
    return [(slice(b, min(n, b + group)), slice(0, th)) for b in range(0, n, group)]


def scratch_elements(n: int, h: int, w: int, c: int, k: int, pad: int) -> int:
    """Work memory of :func:`conv3x3` at most, in values, whichever transform it takes: the padded
    input, a chunk's tiles, their transform and product, and an uncropped output."""
    h_out, w_out = output_size(h, w, pad)
    worst = 0
    for f in TRANSFORMS.values():
        th, tw = math.ceil(h_out / f.m), math.ceil(w_out / f.m)
        tiles = min(n * th * tw, chunk_tiles(c, k) + tw * max(1, th))  # a chunk, rounded up to whole tile rows
        cropped = 0 if th * f.m == h_out and tw * f.m == w_out else n * th * tw * f.m * f.m * k
        worst = max(worst, n * (th * f.m + 2) * (tw * f.m + 2) * c + f.t * f.t * tiles * (2 * c + k)
                    + f.m * f.m * tiles * k + cropped)
    return worst


def output_size(h: int, w: int, pad: int) -> tuple[int, int]:
    return h + 2 * pad - 2, w + 2 * pad - 2


def conv3x3(x: np.ndarray, u: np.ndarray, f: Transform, pad: int, get, out: np.ndarray, epilogue=None) -> np.ndarray:
    """The 3×3 stride-1 conv of NHWC ``x`` (zero ``pad``) with transformed filters ``u`` into ``out``
    ``(N, H_out, W_out, K)``, chunk by chunk.

    ``get(slot, shape, dtype)`` hands out reused scratch memory. ``epilogue(start, stop)`` is called
    with each chunk's rows of the ``(N·H_out·W_out, K)`` output once they are written (bias, residual,
    ReLU while in cache), or once for all rows when the map is not a whole number of tiles.
    """
    n, h, w, c = x.shape
    m, t, k = f.m, f.t, u.shape[2]
    h_out, w_out = output_size(h, w, pad)
    th, tw = math.ceil(h_out / m), math.ceil(w_out / m)
    hp, wp = th * m + 2, tw * m + 2  # padded so every tile is whole; rows/columns past the map are 0
    xp = get("wino_pad", (n, hp, wp, c), x.dtype)
    xp[:, :pad] = 0
    xp[:, pad + h:] = 0
    xp[:, pad:pad + h, :pad] = 0
    xp[:, pad:pad + h, pad + w:] = 0
    xp[:, pad:pad + h, pad:pad + w] = x
    exact = th * m == h_out and tw * m == w_out
    y = out if exact else get("wino_out", (n, th * m, tw * m, k), x.dtype)
    tiles, y_tiles = _tiles(xp, f, th, tw), _out_tiles(y, m, th, tw)
    bt, at = f.input_matrix(x.dtype), f.output_matrix(x.dtype)
    for images, rows in chunks(n, th, tw, chunk_tiles(c, k)):
        part = tiles[images, rows]
        nb, nr = part.shape[:2]
        count = nb * nr * tw
        d = get("wino_d", (t, t, nb, nr, tw, c), x.dtype)
        np.copyto(d, part.transpose(3, 4, 0, 1, 2, 5))
        v = get("wino_v", (t * t, count, c), x.dtype)
        np.matmul(bt, d.reshape(t * t, -1), out=v.reshape(t * t, -1))  # Bᵀ d B of every tile at once
        prod = get("wino_m", (t * t, count, k), x.dtype)
        np.matmul(v, u, out=prod)  # one GEMM per position (a, b)
        y2 = get("wino_y", (m, m, count * k), x.dtype)
        np.matmul(at, prod.reshape(t * t, -1), out=y2.reshape(m * m, -1))  # Aᵀ M A
        y_tiles[images, rows] = y2.reshape(m, m, nb, nr, tw, k).transpose(2, 3, 4, 0, 1, 5)
        if exact and epilogue is not None:
            first = (images.start * th + rows.start) * tw * m * m
            epilogue(first, first + count * m * m)
    if not exact:
        out[...] = y[:, :h_out, :w_out]
        if epilogue is not None:
            epilogue(0, n * h_out * w_out)
    return out
