"""The NumPy reference executor: runs the very layer graph the engine traces, so it proves it.

It is not a second network: it walks :class:`~resnet_inspect.graph.Graph` in order and calls one
kernel per ``op.kind`` from :data:`KERNELS` (the same kinds as :data:`resnet_inspect.ops.OPS`),
so a new op is added in one table. Layout is NHWC with a batch dimension, float32 by default
(float64 for reference runs), weights in Keras layout (see :mod:`resnet_inspect.weights`).

Speed comes from BLAS doing nearly all the work: a conv is im2col (a read-only
strided view copied into a reused scratch buffer) and a matmul, in cache-sized chunks;
a 1×1 stride-1 conv multiplies the activation itself. BatchNorm is folded into the conv before it
(``fold_bn=True``; the unfolded BN kernel stays, and is tested to agree). In a run without a
callback, the residual add and the ReLUs after a conv are applied to each chunk while it is in
cache (see :class:`Step`); elementwise ops work in place when nothing else reads their input;
each activation is dropped after its last reader, and its memory serves later layers.

This is the only module that imports NumPy at import time; ``trace`` never imports it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model.engine import trace_graph
from ..core import numbers
from ..core.dtypes import RUN_DTYPES
from ..core.errors import InspectError
from ..core.text import fixed
from ..model.graph import Graph, Layer
from ..model.ops import Op
from ..io.base import check_weights
from ..model.weights import check_size_fits, weight_shapes
from . import blas, strided, winograd

DTYPES = RUN_DTYPES  # the dtypes it computes in, with their bytes: a view of the one table (core.dtypes)
DEFAULT_MAX_MEMORY = 4 * 1024**3
OnLayer = Callable[[str, np.ndarray], None]


# --------------------------------------------------------------------------- kernels


class Scratch:
    """Work memory reused by every layer and every run: named scratch slots (im2col columns,
    padded copies) and a pool of freed activation buffers that new outputs are carved from.

    Reuse matters for speed: a fresh multi-megabyte array per layer costs page faults that add
    up to a large share of a batched forward pass. The pool holds at most what was live at the
    peak, so memory stays what :func:`estimate_memory` says.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}
        self.pool: list[np.ndarray] = []

    def get(self, slot: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        size = _nbytes(shape, dtype)
        buffer = self.buffers.get(slot)
        if buffer is None or buffer.nbytes < size:
            buffer = self.buffers[slot] = np.empty(size, np.uint8)
        return buffer[:size].view(dtype).reshape(shape)

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialized array for a layer's output, from the smallest pooled buffer that fits
        (and is at most twice as big, so a small output never pins a large buffer)."""
        size = _nbytes(shape, dtype)
        fits = [i for i, buffer in enumerate(self.pool) if size <= buffer.nbytes <= 2 * size]
        if not fits:
            return np.empty(shape, dtype)
        buffer = self.pool.pop(min(fits, key=lambda i: self.pool[i].nbytes))
        return buffer[:size].view(dtype).reshape(shape)

    def give(self, array: np.ndarray) -> None:
        """Return a dead activation's memory (the caller checked nothing else refers to it)."""
        root = array
        while isinstance(root.base, np.ndarray):
            root = root.base
        if root.base is None and root.flags.c_contiguous:
            self.pool.append(root.reshape(-1).view(np.uint8))


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize  # math.prod: np.prod costs ~5 µs a call


@dataclass
class Call:
    """What a kernel gets: its inputs, its prepared weights and whether it may overwrite input 0."""

    inputs: list[np.ndarray]
    params: dict[str, np.ndarray]
    reuse: bool
    scratch: Scratch
    relu: bool = False  # also apply the ReLU that is this layer's only reader (fused, fast runs only)
    residual: np.ndarray | None = None  # also add this (the residual add fused into its last conv)
    winograd: bool = False  # 3×3 stride-1 convs through Winograd (float32 runs: see Executor)
    batch: int = 0  # the whole run's batch, which Winograd's rule sees (a lane runs part of it); 0: this input's

    def output(self, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Where to write the result: input 0 itself when it may be overwritten, else pooled memory."""
        x = self.inputs[0]
        if shape is None and self.reuse:
            return x
        return self.scratch.take(x.shape if shape is None else shape, x.dtype)


def _input(op: Op, call: Call) -> np.ndarray:
    return call.inputs[0]  # already the executor's own copy in the run's dtype


def _zero_pad(op: Any, call: Call) -> np.ndarray:
    x, p = call.inputs[0], op.pad
    n, h, w, c = x.shape
    return _fill_padded(x, p, call.scratch.take((n, h + 2 * p, w + 2 * p, c), x.dtype), 0.0)


def _fill_padded(x: np.ndarray, pad: int, out: np.ndarray, value: float) -> np.ndarray:
    h, w = x.shape[1:3]
    out[:, :pad], out[:, h + pad:], out[:, :, :pad], out[:, :, w + pad:] = value, value, value, value
    out[:, pad:h + pad, pad:w + pad] = x
    return out


def _padded(x: np.ndarray, pad: int, scratch: Scratch, value: float = 0.0) -> np.ndarray:
    """``x`` with ``pad`` rows/columns of ``value`` around H and W, in a reused buffer."""
    if pad == 0:
        return x
    n, h, w, c = x.shape
    return _fill_padded(x, pad, scratch.get("pad", (n, h + 2 * pad, w + 2 * pad, c), x.dtype), value)


def patches(x: np.ndarray, kernel: int, stride: int, pad: int, scratch: Scratch) -> np.ndarray:
    """A read-only view ``(N, H_out, W_out, k, k·C)``: every conv window in (k_h, k_w, C) order.

    Seen as ``(N, H, W·C)``, a window of k rows × k·C values is exactly one patch in the order of
    an HWIO kernel reshaped to ``(k·k·C, filters)``, so one strided view stepped by
    (stride, stride·C) covers every patch; copying it writes im2col columns in runs of k·C values.
    """
    x = _padded(x, pad, scratch)
    n, h, w, c = x.shape
    h_out, w_out = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    item = x.itemsize
    return strided.view(x, (n, h_out, w_out, kernel, kernel * c),
                        (h * w * c * item, stride * w * c * item, stride * c * item, w * c * item, item))


def im2col(x: np.ndarray, kernel: int, stride: int, pad: int, scratch: Scratch) -> np.ndarray:
    """All columns ``(N·H_out·W_out, k·k·C)`` at once (the conv kernel copies them chunk by chunk)."""
    view = patches(x, kernel, stride, pad, scratch)
    cols = scratch.get("cols", view.shape, x.dtype)
    np.copyto(cols, view)
    return cols.reshape(-1, kernel * kernel * x.shape[3])


CHUNK_ROWS = 2048  # output pixels per matmul: columns and outputs stay in cache for bias and ReLU


def _chunks(n: int, h: int, w: int) -> list[tuple[int, int, slice, slice]]:
    """Row ranges of the ``(N·H·W, C)`` output as (start, stop, images, rows), each contiguous:
    whole images grouped while they are small, else bands of whole rows of one image."""
    if h * w >= CHUNK_ROWS:
        band = max(1, CHUNK_ROWS // w)
        return [((b * h + r) * w, (b * h + min(h, r + band)) * w, slice(b, b + 1), slice(r, r + band))
                for b in range(n) for r in range(0, h, band)]
    group = max(1, CHUNK_ROWS // (h * w))
    return [(b * h * w, min(n, b + group) * h * w, slice(b, b + group), slice(None)) for b in range(0, n, group)]


def _conv(op: Any, call: Call) -> np.ndarray:
    """im2col + matmul, chunk by chunk; the bias (a folded BN), a fused residual add and ReLU are
    applied while the chunk is in cache. A 1×1 stride-1 conv multiplies the activation itself (no
    copy); a strided 1×1 takes every s-th pixel; a 3×3 stride-1 conv in a float32 run goes through
    Winograd (:mod:`.winograd`, F(4,3) or F(2,3) by the layer's size)."""
    x, matrix = call.inputs[0], call.params["matrix"]
    n, h, w, c = x.shape
    k, s, p = op.kernel, op.stride, op.padding
    h_out, w_out = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = call.scratch.take((n * h_out * w_out, matrix.shape[1]), x.dtype)
    finish = _Epilogue(out, call)
    transform = winograd.choose(call.batch or n, h_out, w_out) if call.winograd and winograd_layer(op) else None
    if transform is not None:
        winograd.conv3x3(x, _winograd_filters(call.params, transform, c), transform, p, call.scratch.get,
                         out.reshape(n, h_out, w_out, -1), finish)
        return out.reshape(n, h_out, w_out, -1)
    if k == 1 and p == 0 and s == 1:
        view = None
    elif k == 1 and p == 0:
        view = x[:, ::s, ::s]
    else:
        view = patches(x, k, s, p, call.scratch)
    pixels = np.ascontiguousarray(x).reshape(-1, c) if view is None else None
    for start, stop, images, rows in _chunks(n, h_out, w_out):
        if pixels is not None:
            cols = pixels[start:stop]
        else:
            part = view[images, rows]
            cols = call.scratch.get("cols", part.shape, x.dtype)
            np.copyto(cols, part)
            cols = cols.reshape(stop - start, -1)
        _grouped_matmul(cols, matrix, op.groups, k * k, out[start:stop])
        finish(start, stop)
    return out.reshape(n, h_out, w_out, -1)


class _Epilogue:
    """What follows a conv's matmul on rows ``start:stop`` of its ``(N·H·W, K)`` output, while they
    are in cache: the bias (a folded BN), the fused residual add, the fused ReLU."""

    def __init__(self, out: np.ndarray, call: Call) -> None:
        self.out, self.bias, self.relu = out, call.params.get("bias"), call.relu
        self.residual = None if call.residual is None else np.ascontiguousarray(call.residual).reshape(out.shape)

    def __call__(self, start: int, stop: int) -> None:
        for first in range(start, stop, CHUNK_ROWS):
            last = min(stop, first + CHUNK_ROWS)
            chunk = self.out[first:last]
            if self.bias is not None:
                _per_channel(np.add, chunk, self.bias)
            if self.residual is not None:
                chunk += self.residual[first:last]
            if self.relu:
                _rectify(chunk)


def _winograd_filters(params: dict[str, Any], transform: winograd.Transform, c: int) -> np.ndarray:
    """The layer's filters in ``transform``'s space, computed at its first use and kept with the
    prepared weights (once per set of weights; only the last transform used is kept, so they
    take at most 36/9 = 4× the layer's kernel: see :func:`estimate_memory`)."""
    name, filters = params.get("winograd", (None, None))
    if name != transform.name:
        matrix = params["matrix"]
        filters = winograd.filter_transform(matrix.reshape(3, 3, c, -1), transform, matrix.dtype.name)
        params["winograd"] = (transform.name, filters)
    return filters


def winograd_layer(op: Any) -> bool:
    """Does this conv take the Winograd path in a run that allows it (3×3, stride 1, no groups)?"""
    return op.kind == "conv" and op.kernel == 3 and op.stride == 1 and op.groups == 1


TILE = 16384  # elements per row of the 2-D view that per-channel ufuncs loop over


def _per_channel(ufunc: np.ufunc, chunk: np.ndarray, values: np.ndarray) -> None:
    """``ufunc(chunk, values, out=chunk)`` for a contiguous ``(rows, C)`` chunk and ``(C,)`` values.

    NumPy's inner loop is fast only when both operands are contiguous, and a broadcast ``(C,)``
    (or a scalar: ``np.maximum(x, 0)``) costs 2-4× a plain add over the same array. So the rows
    are grouped ``r`` at a time into rows of ~TILE values against ``values`` tiled ``r`` times;
    the leftover rows take the broadcast. Each element gets the very same operation.
    """
    rows, c = chunk.shape
    reps = max(1, TILE // c)
    main = rows - rows % reps
    if main:
        grouped = chunk[:main].reshape(-1, reps * c)
        ufunc(grouped, _tiled(values, reps), out=grouped)
    if main < rows:
        ufunc(chunk[main:], values, out=chunk[main:])


_TILED: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _tiled(values: np.ndarray, reps: int) -> np.ndarray:
    """``np.tile(values, reps)``, made once per array (a bias is tiled at its first use, not at
    every chunk of every run: that was ~2 ms a ResNet-50 pass). Keyed by identity, holding the
    array so the key stays valid."""
    key = (id(values), reps)
    found = _TILED.get(key)
    if found is None or found[0] is not values:
        if len(_TILED) > 4096:  # executors come and go; a bounded cache, rebuilt as used
            _TILED.clear()
        found = _TILED[key] = (values, np.tile(values, reps))
    return found[1]


_ZEROS: dict[tuple[int, np.dtype], np.ndarray] = {}


def _rectify(chunk: np.ndarray) -> None:
    """ReLU in place on a contiguous ``(rows, C)`` chunk: the max against tiled zeros (not 0)."""
    key = (chunk.shape[1], chunk.dtype)  # the dtype itself: its .name costs 10 µs a call
    if key not in _ZEROS:
        _ZEROS[key] = np.zeros(chunk.shape[1], chunk.dtype)
    _per_channel(np.maximum, chunk, _ZEROS[key])


def _grouped_matmul(cols: np.ndarray, matrix: np.ndarray, groups: int, taps: int, out: np.ndarray) -> np.ndarray:
    """One matmul into ``out``; with groups, one per group on its slice of channels and filters."""
    if groups == 1:
        return np.matmul(cols, matrix, out=out)
    rows, width = cols.shape
    c_in = width // taps
    per_in, per_out = c_in // groups, matrix.shape[1] // groups
    by_tap = cols.reshape(rows, taps, c_in)
    for g in range(groups):
        part = by_tap[:, :, g * per_in:(g + 1) * per_in].reshape(rows, -1)
        np.matmul(part, matrix[:, g * per_out:(g + 1) * per_out], out=out[:, g * per_out:(g + 1) * per_out])
    return out


def _batch_norm(op: Op, call: Call) -> np.ndarray:
    x, scale, shift = call.inputs[0], call.params["scale"], call.params["shift"]
    out = np.multiply(x, scale, out=call.output())
    out += shift
    return out


def _passthrough(op: Op, call: Call) -> np.ndarray:
    """A BatchNorm already folded into the conv before it: its output is the conv's."""
    return call.inputs[0]


def _relu(op: Op, call: Call) -> np.ndarray:
    return np.maximum(call.inputs[0], 0, out=call.output())


def _windows(x: np.ndarray, size: int, stride: int):
    """The size×size strided views whose elementwise max (or sum) is the pooled map."""
    n, h, w, _ = x.shape
    h_out, w_out = (h - size) // stride + 1, (w - size) // stride + 1
    for i in range(size):
        for j in range(size):
            yield x[:, i:i + stride * (h_out - 1) + 1:stride, j:j + stride * (w_out - 1) + 1:stride]


def _max_pool(op: Any, call: Call) -> np.ndarray:
    """Separable: the max over each window's k rows, then over its k columns (strided views).

    Rows first: a row of an NHWC map is one contiguous run of W·C values, so the pass over the
    whole input runs NumPy's loops over long runs, and the column pass (runs of C values) sees
    only the 1/s of rows that are left (ResNet-50's pool: 0.64 -> 0.45 ms at batch 1, 3.6 ->
    2.0 ms at batch 4, against columns first).

    An op-level padding pads -inf (PyTorch's MaxPool2d), so a padded tap only leaves the max as
    it is: each tap is taken over the outputs whose window it falls inside, and no padded copy is
    made. The first two taps write the buffer (no copy of the first), the rest update it in place.
    """
    x, k, s, p = call.inputs[0], op.size, op.stride, op.padding
    n, h, w, c = x.shape
    h_out, w_out = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    rows = call.scratch.get("pool", (n, h_out, w, c), x.dtype)
    _max_taps(x, rows, 1, k, s, p, h_out)
    out = call.scratch.take((n, h_out, w_out, c), x.dtype)
    _max_taps(rows, out, 2, k, s, p, w_out)
    return out


def _max_taps(x: np.ndarray, out: np.ndarray, axis: int, k: int, s: int, p: int, size: int) -> None:
    """``out`` = the max over taps ``-p … k-1-p`` of ``x`` strided by ``s`` along ``axis``, each tap
    over the outputs ``j`` whose input ``s·j + tap`` is inside ``x`` (outside: -inf padding)."""
    length = x.shape[axis]

    def part(array: np.ndarray, lo: int, hi: int, step: int = 1) -> np.ndarray:
        index = [slice(None)] * array.ndim
        index[axis] = slice(lo, hi, step)
        return array[tuple(index)]

    spans = []
    for tap in range(-p, k - p):
        first = max(0, -(tap // s))  # the first output whose input is inside: ceil(-tap / s)
        last = min(size - 1, (length - 1 - tap) // s)  # the last output whose input is inside
        if first <= last:
            spans.append((tap, first, last))
    full = [span for span in spans if span[1] == 0 and span[2] == size - 1][:2]
    rest = [span for span in spans if span not in full]
    whole = [part(x, tap, tap + s * (size - 1) + 1, s) for tap, _, _ in full]
    if len(whole) == 2:
        np.maximum(*whole, out=out)
    elif whole:
        np.copyto(out, whole[0])
    else:  # a padding wider than half the window: no tap covers every output
        out.fill(-np.inf)
    for tap, first, last in rest:
        target = part(out, first, last + 1)
        np.maximum(target, part(x, s * first + tap, s * last + tap + 1, s), out=target)


def _avg_pool(op: Any, call: Call) -> np.ndarray:
    # Padding (if an op declares it) counts as zeros in the mean, like PyTorch's default.
    x = _padded(call.inputs[0], op.padding, call.scratch)
    views = _windows(x, op.size, op.stride)
    first = next(views)
    out = call.scratch.take(first.shape, x.dtype)
    np.copyto(out, first)
    for view in views:
        out += view
    out /= op.size * op.size
    return out


def _global_avg_pool(op: Op, call: Call) -> np.ndarray:
    x = call.inputs[0]
    return np.mean(x, axis=(1, 2), keepdims=True, out=call.output((len(x), 1, 1, x.shape[3])))


def _global_avg_pool_flat(op: Op, call: Call) -> np.ndarray:
    x = call.inputs[0]  # Keras' GlobalAveragePooling2D: (N, C), no Flatten after it
    return np.mean(x, axis=(1, 2), out=call.output((len(x), x.shape[3])))


def _add(op: Op, call: Call) -> np.ndarray:
    out = call.output()
    flat = [x.reshape(-1, x.shape[-1]) for x in (out, *call.inputs)]
    for start in range(0, len(flat[0]), CHUNK_ROWS):  # each chunk summed and rectified in cache
        chunk, first, *rest = (x[start:start + CHUNK_ROWS] for x in flat)
        np.add(first, rest[0], out=chunk)
        for other in rest[1:]:
            chunk += other
        if call.relu:
            _rectify(chunk)
    return out


def _flatten(op: Op, call: Call) -> np.ndarray:
    return call.inputs[0].reshape(len(call.inputs[0]), -1)  # NHWC order, as Keras flattens


def _dense(op: Op, call: Call) -> np.ndarray:
    kernel = call.params["kernel"]
    out = np.matmul(call.inputs[0], kernel, out=call.output((len(call.inputs[0]), kernel.shape[1])))
    if "bias" in call.params:
        out += call.params["bias"]
    return out


def _softmax(op: Op, call: Call) -> np.ndarray:
    x = call.inputs[0]
    out = np.subtract(x, x.max(axis=-1, keepdims=True), out=call.output())
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


Kernel = Callable[[Op, Call], np.ndarray]
KERNELS: dict[str, Kernel] = {
    "input": _input,
    "zero_pad": _zero_pad,
    "conv": _conv,
    "batch_norm": _batch_norm,
    "relu": _relu,
    "max_pool": _max_pool,
    "avg_pool": _avg_pool,
    "global_avg_pool": _global_avg_pool,
    "global_avg_pool_flat": _global_avg_pool_flat,
    "add": _add,
    "flatten": _flatten,
    "dense": _dense,
    "softmax": _softmax,
}


# --------------------------------------------------------------------------- weights


def _bn_scale_shift(arrays: dict[str, np.ndarray], epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Inference BN as y = x·scale + shift, computed in float64 whatever the run's dtype."""
    variance = np.asarray(arrays["moving_variance"], np.float64)
    scale = np.asarray(arrays["gamma"], np.float64) / np.sqrt(variance + epsilon)
    shift = np.asarray(arrays["beta"], np.float64) - np.asarray(arrays["moving_mean"], np.float64) * scale
    return scale, shift


def _prepare(layer: Layer, arrays: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Weights as the kernels want them: conv kernel HWIO -> (k·k·C_in/groups, C_out)."""
    kind = layer.op.kind
    if kind == "batch_norm":
        scale, shift = _bn_scale_shift(arrays, layer.op.epsilon)
        return {"scale": scale.astype(dtype), "shift": shift.astype(dtype)}
    if kind not in ("conv", "dense"):  # any other op's arrays as they are, in the run's dtype
        return {key: np.ascontiguousarray(array, dtype=dtype) for key, array in arrays.items()}
    prepared = {}
    if kind == "conv":
        kernel = np.asarray(arrays["kernel"])
        prepared["matrix"] = np.ascontiguousarray(kernel.reshape(-1, kernel.shape[-1]), dtype=dtype)
    else:
        prepared["kernel"] = np.ascontiguousarray(arrays["kernel"], dtype=dtype)
    if "bias" in arrays:
        prepared["bias"] = np.asarray(arrays["bias"], dtype=dtype)
    return prepared


def _fold(conv: dict[str, np.ndarray], bn: dict[str, np.ndarray], epsilon: float, dtype: str) -> dict[str, np.ndarray]:
    """BN after a conv is an affine map per filter, so it folds into the conv's kernel and bias.

    The per-filter scale is computed in float64; the kernel is scaled in the run's dtype (one
    rounding, and no float64 copy of 25 M weights, which made folding a ResNet-50 65 ms, now 50).
    """
    scale, shift = _bn_scale_shift(bn, epsilon)
    kernel = np.asarray(conv["kernel"])
    matrix = np.multiply(kernel.reshape(-1, kernel.shape[-1]), scale.astype(dtype), dtype=dtype)
    bias = np.asarray(conv.get("bias", 0.0), np.float64) * scale + shift
    return {"matrix": matrix, "bias": bias.astype(dtype)}


# --------------------------------------------------------------------------- plan and run


@dataclass(frozen=True)
class Step:
    """One layer, ready to run: its kernel, prepared weights and the activations it frees.

    In a fast run (no ``on_layer``) a conv also does the work of the layers after it that only
    it feeds: the residual add (``residual``: the add's other input) and a ReLU (``relu``); an
    add applies the ReLU after it. Those layers are ``absorbed``: they hand on their input number
    ``absorbed``, which already holds their output. With a callback every layer computes its
    own output, so each reported array is that layer's.
    """

    layer: Layer
    kernel: Kernel
    params: dict[str, np.ndarray]
    release: tuple[str, ...]
    relu: bool = False
    residual: str | None = None
    absorbed: int | None = None


def _consumers(graph: Graph) -> dict[str, list[str]]:
    readers: dict[str, list[str]] = {layer.name: [] for layer in graph}
    for layer in graph:
        for name in layer.inputs:
            readers[name].append(layer.name)
    return readers


def _release_schedule(graph: Graph) -> dict[str, tuple[str, ...]]:
    """For each layer, the activations whose last reader it is (the graph's output is kept)."""
    last_reader = {}
    for layer in graph:
        for name in layer.inputs:
            last_reader[name] = layer.name
    schedule: dict[str, list[str]] = {layer.name: [] for layer in graph}
    for name, reader in last_reader.items():
        if name != graph.output:
            schedule[reader].append(name)
    return {name: tuple(names) for name, names in schedule.items()}


def _plan(graph: Graph, weights: dict, dtype: str, fold_bn: bool) -> list[Step]:
    readers = _consumers(graph)
    by_name = {layer.name: layer for layer in graph}
    folded: dict[str, dict[str, np.ndarray]] = {}
    if fold_bn:
        for layer in graph:
            source = by_name[layer.inputs[0]] if layer.inputs else None
            if layer.op.kind == "batch_norm" and source.op.kind == "conv" and readers[source.name] == [layer.name]:
                folded[source.name] = _fold(weights[source.name], weights[layer.name], layer.op.epsilon, dtype)
                folded[layer.name] = {}
    release = _release_schedule(graph)
    fusion = _Fusions(graph, readers, folded)
    steps = []
    for layer in graph:
        kernel = _passthrough if layer.op.kind == "batch_norm" and layer.name in folded else KERNELS[layer.op.kind]
        params = folded[layer.name] if layer.name in folded else _prepare(layer, weights.get(layer.name, {}), dtype)
        steps.append(Step(layer, kernel, params, release[layer.name], layer.name in fusion.relu,
                          fusion.residual.get(layer.name), fusion.absorbed.get(layer.name)))
    return steps


class _Fusions:
    """Which layers a fast run folds into the conv (or add) before them.

    conv (→ folded BN) → add: the conv computed last adds the other input, if that input is
    ready by then and the add is its only reader; then → ReLU, if the ReLU is the add's (or the
    conv's) only reader. Nothing changes the arithmetic, only where it happens.
    """

    def __init__(self, graph: Graph, readers: dict[str, list[str]], folded: dict) -> None:
        self.by_name = {layer.name: layer for layer in graph}
        self.position = {layer.name: index for index, layer in enumerate(graph)}
        self.readers, self.folded = readers, folded
        self.relu: set[str] = set()
        self.residual: dict[str, str] = {}
        self.absorbed: dict[str, int] = {}
        done_by: dict[str, str] = {}  # absorbed add -> the conv that computes it
        for layer in graph:
            if layer.op.kind == "add" and len(layer.inputs) == 2:
                self._add(layer, done_by)
            elif layer.op.kind == "relu" and readers[layer.inputs[0]] == [layer.name]:
                source = done_by.get(layer.inputs[0]) or self._producer(layer.inputs[0]).name
                if self.by_name[source].op.kind in ("conv", "add"):
                    self.relu.add(source)
                    self.absorbed[layer.name] = 0

    def _producer(self, name: str) -> Layer:
        """The layer that computes ``name``'s values: a folded BN's conv, else the layer itself."""
        layer = self.by_name[name]
        return self.by_name[layer.inputs[0]] if layer.name in self.folded and layer.op.kind == "batch_norm" else layer

    def _add(self, layer: Layer, done_by: dict[str, str]) -> None:
        last = max((0, 1), key=lambda i: self.position[layer.inputs[i]])
        name, other = layer.inputs[last], layer.inputs[1 - last]
        conv = self._producer(name)
        if (conv.op.kind == "conv" and self.readers[name] == [layer.name]
                and self.position[other] < self.position[conv.name]):
            self.residual[conv.name] = other
            self.absorbed[layer.name] = last
            done_by[layer.name] = conv.name


class Executor:
    """A graph with its weights prepared once (folded, reshaped, cast), ready to run many inputs.

    :func:`forward` is the one-shot form; keep an ``Executor`` to time or batch repeated runs.
    One run at a time: its scratch memory is shared between runs (use one per thread).

    ``threads``: how many lanes a batch is split into, each a Python thread running its share of
    the images through the whole graph with its own scratch memory, while BLAS is held at one
    thread (:mod:`.blas`). NumPy releases the GIL in its loops, so the lanes' non-GEMM work (a
    quarter of a pass, and single-threaded otherwise) runs on every core. None: as many lanes as
    NumPy's OpenBLAS has threads (its own default: the cores, or ``OPENBLAS_NUM_THREADS``), or 1
    when NumPy's BLAS is not an OpenBLAS it can set. A batch of 1, and a run that reports its
    layers (``on_layer``, ``watch``), take one lane and the BLAS as it is.
    """

    def __init__(self, graph: Graph, weights: dict, *, dtype: str = "float32", fold_bn: bool = True,
                 winograd: bool | None = None, threads: int | None = None) -> None:
        numbers.choice(dtype, DTYPES, "dtype")
        check_weights(weights, graph)  # the same fit check, and message, as for a weights file
        self.graph, self.dtype = graph, dtype
        # Winograd for float32 runs; float64 runs are the reference, so they keep the exact im2col
        self.winograd = dtype == "float32" if winograd is None else winograd
        self.threads = default_threads() if threads is None else numbers.count(threads, "threads", 1, MAX_THREADS)
        self._sizes_checked = {graph.spec.input_shape[:2]}
        self.steps = _plan(graph, weights, dtype, fold_bn)
        self.scratch = Scratch()
        self._lane_scratch: list[Scratch] = []  # the other lanes' scratch, kept between runs
        self._replays: dict[tuple[int, ...], _Replay] = {}  # by input shape: see _run
        self.peak_live_bytes = 0  # the last run's most activation bytes held at once (see live_bytes)

    def __call__(self, x: np.ndarray, on_layer: OnLayer | None = None, *, watch: OnLayer | None = None) -> np.ndarray:
        """Run on an NHWC batch; ``on_layer(name, array)`` after each layer turns fusion and
        in-place work off, so every reported array is that layer's own and stays intact.

        ``watch(name, array)`` sees each layer too but leaves the fast run as it is: the array
        is valid only during the call (later layers may overwrite it), and a layer fused into the
        one before it hands on that layer's array (its shape is the same). ``verify`` records
        shapes and times this way."""
        x = _check_input(self.graph, x)
        self._check_size(x.shape[1], x.shape[2])
        parts = lane_sizes(len(x), self.threads) if on_layer is None and watch is None else [len(x)]
        if len(parts) == 1:
            out, self.peak_live_bytes = self._run(x, self.scratch, len(x), on_layer, watch)
            return out
        return self._split(x, parts)

    def _split(self, x: np.ndarray, parts: list[int]) -> np.ndarray:
        """Each lane runs its images on its own thread (lane 0 on the caller's); outputs in order.
        The lanes' peaks add up: they hold their activations at once."""
        while len(self._lane_scratch) < len(parts) - 1:
            self._lane_scratch.append(Scratch())
        starts = [sum(parts[:i]) for i in range(len(parts) + 1)]
        lanes = [(x[starts[i]:starts[i + 1]], scratch) for i, scratch in enumerate([self.scratch, *self._lane_scratch])]
        control = blas.control()
        with blas.single_threaded(control) if control else nullcontext():
            futures = [_pool(len(parts) - 1).submit(self._run, part, scratch, len(x)) for part, scratch in lanes[1:]]
            try:
                results = [self._run(*lanes[0], len(x))]
            finally:
                wait(futures)  # BLAS goes back to its threads only once every lane is done
            results += [future.result() for future in futures]
        self.peak_live_bytes = sum(peak for _, peak in results)
        return np.concatenate([out for out, _ in results])

    def _run(self, x: np.ndarray, scratch: Scratch, batch: int, on_layer: OnLayer | None = None,
             watch: OnLayer | None = None) -> tuple[np.ndarray, int]:
        """One lane's pass over every step: its output and its peak of live activation bytes.

        Which layer may overwrite its input, which dead buffer may be recycled, and the peak
        follow from the graph and the input's shape alone (no decision looks at values), so a fast
        run records them the first time it sees a shape and replays them after: the checks cost
        about 2 ms of Python a ResNet-50 pass. A run with ``on_layer`` computes nothing in place."""
        fast = on_layer is None
        replay = self._replays.get(x.shape) if fast else None
        record = _Replay() if fast and replay is None else None
        live: dict[str, np.ndarray] = {}
        remaining = {name: len(readers) for name, readers in _consumers(self.graph).items()} if replay is None else {}
        peak = 0
        for index, step in enumerate(self.steps):
            layer = step.layer
            inputs = [live[name] for name in layer.inputs] or [self._own_copy(x, scratch)]
            if fast and step.absorbed is not None:
                out = inputs[step.absorbed]  # computed already by the conv (or add) before it
            else:
                if replay is not None:
                    reuse = replay.reuse[index]
                else:
                    reuse = fast and bool(layer.inputs) and _owned(layer.inputs[0], remaining, live)
                residual = live[step.residual] if fast and step.residual else None
                call = Call(inputs, step.params, reuse, scratch, fast and step.relu, residual, self.winograd, batch)
                out = step.kernel(layer.op, call)
            live[layer.name] = out
            if replay is None:
                if not any(out is array for array in inputs):  # in place or fused: nothing new is held
                    peak = max(peak, live_bytes(live.values()))
                for name in layer.inputs:
                    remaining[name] -= 1
            if on_layer is not None:
                on_layer(layer.name, out)
            elif watch is not None:
                watch(layer.name, out)
            if replay is not None:
                for name, recycle in zip(step.release, replay.recycle[index]):
                    dead = live.pop(name)
                    if recycle:
                        scratch.give(dead)
            else:
                recycled = _release(step.release, live, scratch if fast else None)
            if record is not None:
                record.reuse.append(fast and step.absorbed is None and reuse)
                record.recycle.append(recycled)
        if record is not None:
            record.peak = peak
            if len(self._replays) >= 64:  # a caller sweeping sizes: keep the memo small
                self._replays.clear()
            self._replays[x.shape] = record
        return live[self.graph.output], peak if replay is None else replay.peak

    def _check_size(self, h: int, w: int) -> None:
        """Weights fit the graph at its own size; at another, a Dense layer after a flatten may
        take a different number of inputs: refuse that in one line, not with a matmul error."""
        if (h, w) not in self._sizes_checked:
            check_size_fits(self.graph, (h, w))
            self._sizes_checked.add((h, w))

    def _own_copy(self, x: np.ndarray, scratch: Scratch) -> np.ndarray:
        """The input in the run's dtype, in memory the executor owns (the caller's is never written)."""
        own = scratch.take(x.shape, np.dtype(self.dtype))
        np.copyto(own, x, casting="unsafe")
        return own


def _release(names: tuple[str, ...], live: dict[str, np.ndarray], scratch: Scratch | None) -> tuple[bool, ...]:
    """Drop activations no later layer reads; unseen by any caller (``scratch`` given only in a
    fast run) and shared with no live array, their memory serves the next layers. Says which did."""
    recycled = []
    for name in names:
        dead = live.pop(name)
        recycle = scratch is not None and not any(np.may_share_memory(dead, other) for other in live.values())
        if recycle:
            scratch.give(dead)
        recycled.append(recycle)
    return tuple(recycled)


@dataclass
class _Replay:
    """A fast run's decisions at each step for one input shape (see ``Executor._run``)."""

    reuse: list[bool] = field(default_factory=list)
    recycle: list[tuple[bool, ...]] = field(default_factory=list)
    peak: int = 0


MAX_THREADS = 256  # lanes: far above any core count this is run on; more would only be a typo


def default_threads() -> int:
    """Lanes when none are asked for: NumPy's OpenBLAS thread count, or 1 if it cannot be set."""
    control = blas.control()
    return max(1, min(MAX_THREADS, control.threads())) if control else 1


def lane_sizes(batch: int, threads: int) -> list[int]:
    """Images per lane: the batch split as evenly as it goes, at most one lane per image."""
    lanes = max(1, min(batch, threads))
    return [batch // lanes + (i < batch % lanes) for i in range(lanes)]


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads for the lanes after the first, made once per size."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="resnet-inspect-lane")
    return _POOLS[workers]


def _forget_pools() -> None:
    """A forked child has none of its parent's threads, but a pool would still count them as its
    workers and never start new ones: a lane submitted there would wait forever."""
    _POOLS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def live_bytes(arrays: Any) -> int:
    """Bytes of the distinct activations among ``arrays``: views of one buffer (an in-place op's
    output, a flatten, a folded BN) count once. Scratch memory and pool slack are not activations."""
    held: dict[int, int] = {}
    for array in arrays:
        root = array
        while isinstance(root.base, np.ndarray):
            root = root.base
        held[id(root)] = max(held.get(id(root), 0), array.nbytes)
    return sum(held.values())


def _owned(name: str, remaining: dict[str, int], live: dict[str, np.ndarray]) -> bool:
    """True when this layer is the last reader of ``name`` and no other live activation shares
    its memory (a folded BN or a flatten hands on a view of its input)."""
    if remaining[name] != 1:
        return False
    array = live[name]
    return not any(other != name and np.may_share_memory(array, live[other]) for other in live)


def _check_input(graph: Graph, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    channels = graph.spec.input_shape[2]
    if x.ndim != 4 or x.shape[3] != channels:
        raise InspectError(f"input must be an N×H×W×{channels} array (NHWC), got {list(x.shape)}", field="input")
    return x


def forward(graph: Graph, weights: dict, x: np.ndarray, *, dtype: str = "float32", fold_bn: bool = True,
            on_layer: OnLayer | None = None, max_memory: int | None = DEFAULT_MAX_MEMORY) -> np.ndarray:
    """Run ``graph`` on ``x`` (NHWC) with ``weights``; ``on_layer(name, array)`` sees every layer.

    Prepares the weights on every call (folding ResNet-50's BatchNorms takes ~50 ms); to run
    many inputs, keep an :class:`Executor`. With ``fold_bn`` a BatchNorm folded into its conv
    reports the same (normalized) array for both layers. Arrays handed to ``on_layer`` are never overwritten afterwards (in-place work is
    off while a callback is set). Refuses, before allocating anything, when the estimated memory
    is above ``max_memory`` bytes (None: no limit).
    """
    x = _check_input(graph, x)
    check_memory(graph, (x.shape[1], x.shape[2]), x.shape[0], dtype, max_memory)
    return Executor(graph, weights, dtype=dtype, fold_bn=fold_bn)(x, on_layer)


# --------------------------------------------------------------------------- memory


def estimate_memory(graph: Graph, input_hw: tuple[int, int], batch: int, dtype: str = "float32",
                    threads: int | None = None) -> int:
    """Bytes a forward pass needs at most: live activations at their peak, the conv scratch
    buffers, and the weights twice (the caller's copy and the executor's prepared one), plus
    Winograd's transformed filters in a float32 run. Split into lanes (``threads``, as
    :class:`Executor` takes it), each lane holds its share of the activations and its own scratch.

    It replays the executor's free schedule over the traced shapes, so it costs no NumPy work.
    """
    itemsize = DTYPES[dtype]
    parts = lane_sizes(batch, default_threads() if threads is None else threads)  # im2col's scratch: linear in it
    trace = trace_graph(graph, input_hw)
    size = {info.name: batch * _elements(info.output_shape) for info in trace.layers}
    release = _release_schedule(graph)
    live = peak = scratch = winograd_scratch = 0
    for layer in graph:
        live += size[layer.name]
        peak = max(peak, live)
        scratch = max(scratch, _scratch_elements(layer, size, trace, batch))
        if dtype == "float32" and winograd_layer(layer.op):  # its own scratch slots, kept beside im2col's
            h, w, c = trace.layer(layer.inputs[0]).output_shape
            winograd_scratch = max(winograd_scratch, sum(winograd.scratch_elements(
                part, h, w, c, layer.op.filters, layer.op.padding) for part in parts))
        live -= sum(size[name] for name in release[layer.name])
    scratch += winograd_scratch
    shapes = weight_shapes(graph)
    weights = sum(_elements(shape) for arrays in shapes.values() for shape in arrays.values())
    transformed = 0  # Winograd's filters, kept with the prepared weights: up to 36/9 of a 3×3 kernel
    if dtype == "float32":
        transformed = sum(4 * _elements(shapes[layer.name]["kernel"]) for layer in graph if winograd_layer(layer.op))
    return (peak + scratch + 2 * weights + transformed) * itemsize


def _scratch_elements(layer: Layer, size: dict[str, int], trace: Any, batch: int) -> int:
    """Work memory of one layer, at most: a padded copy, plus all im2col columns for a conv (the
    executor copies them in chunks, so this overestimates) or the row maxima of a max pool."""
    op = layer.op
    if op.kind not in ("conv", "max_pool") or (op.kind == "conv" and op.kernel == 1 and op.stride == 1):
        return 0
    h, w, c = trace.layer(layer.inputs[0]).output_shape
    padded = batch * (h + 2 * op.padding) * (w + 2 * op.padding) * c if op.padding else 0
    if op.kind == "max_pool":  # the row maxima: output rows × input columns
        return padded + batch * trace.layer(layer.name).output_shape[0] * (w + 2 * op.padding) * c
    return padded + size[layer.name] // op.filters * op.kernel * op.kernel * c


def _elements(shape: tuple[int, ...]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def check_memory(graph: Graph, input_hw: tuple[int, int], batch: int, dtype: str, limit: int | None,
                 extra: int = 0, extra_what: str = "") -> int:
    """The estimate (plus ``extra`` bytes, e.g. the input file's own array), or an
    :class:`InspectError` naming it and the limit when it is too big. Pure Python: it runs before
    anything is loaded, resized or allocated."""
    dtype = numbers.choice(dtype, DTYPES, "dtype")  # forward, verify, run and load_input all come here
    limit = None if limit is None else numbers.memory(limit, "max_memory")  # 10**5000 is no limit: refused
    needed = estimate_memory(graph, input_hw, batch, dtype) + extra
    if limit is not None and needed > limit:
        what = f"activations + weights + {extra_what}" if extra else "activations + weights"
        raise InspectError(f"a forward pass at batch {batch}, {input_hw[0]}×{input_hw[1]}, {dtype} needs about "
                           f"{format_bytes(needed)} ({what}), above the limit of "
                           f"{format_bytes(limit)}; raise the limit or use a smaller batch or input",
                           field="max_memory")
    return needed


def check_bytes(needed: int, limit: int | None, what: str) -> int:
    """Refuse ``needed`` bytes of ``what`` above ``limit``, before anything is allocated."""
    if limit is not None and needed > limit:
        raise InspectError(f"{what} needs about {format_bytes(needed)}, above the limit of {format_bytes(limit)}; "
                           "raise the limit", field="max_memory")
    return needed


def format_bytes(n: int) -> str:
    """Binary units, one decimal: ``1.0 GiB``; any int, without going through float (:func:`fixed`)."""
    for factor, unit in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= factor:
            return f"{fixed(n, factor, 1, commas=True)} {unit}"
    return f"{n} B"


MEMORY_UNITS, MAX_MEMORY_LIMIT = numbers.MEMORY_UNITS, numbers.MAX_MEMORY_LIMIT


def parse_memory(text: str | int) -> int:
    """``4GB``, ``512MB``, ``2GiB``, ``1e9`` or a plain byte count -> bytes (binary units), as
    ``--max-memory`` takes it (the rules: :func:`..core.numbers.memory`)."""
    return numbers.memory(text, "--max-memory")
