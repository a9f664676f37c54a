"""The NumPy executor: every kernel against an independent naive implementation written here
(explicit loops over output positions), folded vs unfolded BatchNorm, in-place safety, freeing,
the memory limit, and that ``trace`` never imports NumPy.

Independent sources: the naive loops below follow the textbook definitions (conv: sum over the
k×k×C_in window of input·kernel; max/avg pool: max/mean over the window; inference BN:
gamma·(x − mean)/sqrt(var + eps) + beta; softmax: exp(x)/Σexp(x)); hand calculations are shown.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import resnet_inspect
from resnet_inspect.execute import executor
from resnet_inspect.core.errors import InspectError
from resnet_inspect.execute.executor import (KERNELS, Call, Executor, Scratch, estimate_memory, forward, im2col,
                                     parse_memory)
from resnet_inspect.model.ops import (OPS, Add, AvgPool, BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool,
                                      GlobalAvgPoolFlat, MaxPool, ReLU, Softmax, ZeroPad)
from resnet_inspect.model.weights import random_weights

RNG = np.random.default_rng(1234)


def run_kernel(op, *inputs, params=None, reuse=False):
    return KERNELS[op.kind](op, Call(list(inputs), params or {}, reuse, Scratch()))


def naive_conv(x, kernel, bias, stride, pad, groups=1):
    """Direct definition: out[n,i,j,f] = Σ_{a,b,c} xpad[n, i·s+a, j·s+b, c] · kernel[a,b,c,f] (+ bias)."""
    n, h, w, c = x.shape
    k, _, c_group, filters = kernel.shape
    xp = np.zeros((n, h + 2 * pad, w + 2 * pad, c), x.dtype)
    xp[:, pad:pad + h, pad:pad + w] = x
    h_out, w_out = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    out = np.zeros((n, h_out, w_out, filters))
    per_group = filters // groups
    for b in range(n):
        for i in range(h_out):
            for j in range(w_out):
                window = xp[b, i * stride:i * stride + k, j * stride:j * stride + k]
                for f in range(filters):
                    g = f // per_group
                    out[b, i, j, f] = np.sum(window[:, :, g * c_group:(g + 1) * c_group] * kernel[:, :, :, f])
    return out + (bias if bias is not None else 0)


def naive_pool(x, size, stride, reduce):
    n, h, w, c = x.shape
    h_out, w_out = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.zeros((n, h_out, w_out, c))
    for i in range(h_out):
        for j in range(w_out):
            out[:, i, j] = reduce(x[:, i * stride:i * stride + size, j * stride:j * stride + size], axis=(1, 2))
    return out


def test_kernel_table_covers_every_op_kind():
    assert set(KERNELS) == set(OPS)


@pytest.mark.parametrize("k,stride,pad,groups,bias,hw", [
    (1, 1, 0, 1, True, (5, 6)),    # plain matmul path
    (1, 2, 0, 1, False, (7, 6)),   # strided 1×1: slice then matmul (odd and even sizes)
    (3, 1, 1, 1, True, (5, 5)),    # the bottleneck 3×3
    (3, 2, 1, 1, False, (7, 8)),   # v1.5's strided 3×3
    (7, 2, 0, 1, True, (13, 12)),  # the stem conv after an explicit ZeroPad
    (3, 1, 1, 2, True, (4, 5)),    # grouped
    (2, 3, 1, 1, False, (8, 7)),   # odd combination: even kernel, stride > kernel
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_matches_naive_loops(k, stride, pad, groups, bias, hw, dtype):
    c_in, filters = 4, 6
    x = RNG.normal(size=(2, *hw, c_in)).astype(dtype)
    kernel = RNG.normal(size=(k, k, c_in // groups, filters)).astype(dtype)
    b = RNG.normal(size=filters).astype(dtype) if bias else None
    op = Conv2D(filters, k, stride, pad, bias, groups)
    params = {"matrix": kernel.reshape(-1, filters)} | ({"bias": b} if bias else {})
    got = run_kernel(op, x, params=params)
    expected = naive_conv(x.astype(np.float64), kernel.astype(np.float64), b, stride, pad, groups)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == (2, *op.output_shape([(*hw, c_in)])[:2], filters)  # the engine's rule agrees
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)


@pytest.mark.parametrize("chunk_rows", [7, 30, 2048])
def test_conv_chunks_and_fused_residual_relu_match_naive_loops(monkeypatch, chunk_rows):
    """Chunk edges (bands of rows, groups of images, ragged ends) and the fast path's fused
    residual add + ReLU: relu(conv(x) + bias + residual) by the naive definition."""
    monkeypatch.setattr(executor, "CHUNK_ROWS", chunk_rows)
    x = RNG.normal(size=(3, 9, 11, 4))
    kernel, bias = RNG.normal(size=(3, 3, 4, 5)), RNG.normal(size=5)
    residual = RNG.normal(size=(3, 5, 6, 5))
    op = Conv2D(5, 3, 2, 1, True)
    call = Call([x], {"matrix": kernel.reshape(-1, 5), "bias": bias}, False, Scratch(), True, residual)
    got = KERNELS["conv"](op, call)
    expected = np.maximum(naive_conv(x, kernel, bias, 2, 1) + residual, 0)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rows", [1, 12, 13, 40])
def test_per_channel_tiling_applies_the_same_broadcast_op(monkeypatch, rows):
    """Grouped rows against tiled values (and the leftover rows) give the broadcast result exactly."""
    monkeypatch.setattr(executor, "TILE", 24)  # 4 rows of 6 channels a group
    x, values = RNG.normal(size=(rows, 6)).astype(np.float32), RNG.normal(size=6).astype(np.float32)
    for ufunc in (np.add, np.maximum):
        got = x.copy()
        executor._per_channel(ufunc, got, values)
        np.testing.assert_array_equal(got, ufunc(x, values))


def test_im2col_orders_columns_like_a_reshaped_hwio_kernel():
    # Hand calculation: a 1×3×3×1 image 0..8 with k=2, s=1, p=0 has 4 patches; the first is
    # rows 0-1, cols 0-1 = [0, 1, 3, 4] in (k_h, k_w, C) order.
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    cols = im2col(x, 2, 1, 0, Scratch())
    assert cols.tolist() == [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]


def test_max_and_avg_pool_match_naive_loops():
    x = RNG.normal(size=(2, 9, 8, 3))
    np.testing.assert_array_equal(run_kernel(MaxPool(3, 2), x), naive_pool(x, 3, 2, np.max))
    np.testing.assert_allclose(run_kernel(AvgPool(2, 2), x), naive_pool(x, 2, 2, np.mean), rtol=1e-12)
    np.testing.assert_allclose(run_kernel(GlobalAvgPool(), x), x.mean(axis=(1, 2), keepdims=True), rtol=1e-12)
    flat = run_kernel(GlobalAvgPoolFlat(), x)  # Keras' GlobalAveragePooling2D: (N, C)
    assert flat.shape == (2, 3)
    np.testing.assert_allclose(flat, x.mean(axis=(1, 2)), rtol=1e-12)


def test_max_pool_own_padding_is_minus_infinity_but_zero_pad_is_zero():
    # All-negative input: an explicit ZeroPad (Keras) lets 0 win at the border; a pool's own
    # padding (PyTorch) does not. After a ReLU (the ResNet stem) the two cannot differ.
    x = -np.ones((1, 3, 3, 1))
    keras = run_kernel(MaxPool(3, 2), run_kernel(ZeroPad(1), x))
    torch_like = run_kernel(MaxPool(3, 2, padding=1), x)
    assert keras.ravel().tolist() == [0, 0, 0, 0]
    assert torch_like.ravel().tolist() == [-1, -1, -1, -1]
    relu = np.maximum(x, 0)
    np.testing.assert_array_equal(run_kernel(MaxPool(3, 2), run_kernel(ZeroPad(1), relu)),
                                  run_kernel(MaxPool(3, 2, padding=1), relu))


def test_elementwise_kernels_by_hand():
    x = np.array([[-1.0, 0.0, 2.0]])
    assert run_kernel(ReLU(), x).tolist() == [[0.0, 0.0, 2.0]]
    assert run_kernel(Add(), x, x, x).tolist() == [[-3.0, 0.0, 6.0]]
    # softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6
    np.testing.assert_allclose(run_kernel(Softmax(), np.log([[1.0, 2.0, 3.0]])), [[1 / 6, 2 / 6, 3 / 6]])
    # BN: gamma·(x − mean)/sqrt(var + eps) + beta with gamma 2, mean 1, var 3, eps 1, beta 0.5:
    # x = 3 -> 2·2/2 + 0.5 = 2.5
    scale, shift = np.array([2 / 2]), np.array([0.5 - 1 * 2 / 2])
    assert run_kernel(BatchNorm(1.0), np.array([[3.0]]), params={"scale": scale, "shift": shift}).tolist() == [[2.5]]
    padded = run_kernel(ZeroPad(1), np.ones((1, 1, 2, 1)))
    assert padded[0, :, :, 0].tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    flat = run_kernel(Flatten(), np.arange(8.0).reshape(1, 2, 2, 2))
    assert flat.tolist() == [list(range(8))]  # NHWC order, as Keras' Flatten
    dense = run_kernel(Dense(2), np.array([[1.0, 2.0]]), params={"kernel": np.array([[1.0, 0.0], [1.0, 3.0]]),
                                                                 "bias": np.array([0.5, 0.0])})
    assert dense.tolist() == [[3.5, 6.0]]  # [1+2+0.5, 0+6]


def test_kernels_in_place_only_when_allowed():
    x = np.array([[-1.0, 2.0]])
    kept = x.copy()
    run_kernel(ReLU(), x, reuse=False)
    assert x.tolist() == kept.tolist()
    assert run_kernel(ReLU(), x, reuse=True) is x


@pytest.fixture(scope="module")
def torchvision_graph():
    return resnet_inspect.build_graph(resnet_inspect.load_spec("resnet50-torchvision"))


def test_folded_and_unfolded_bn_agree_at_every_bn(torchvision_graph):
    """fold_bn changes the arithmetic, not the function: compare each BN output and the logits."""
    g = torchvision_graph
    weights = random_weights(g, seed=3, dtype="float64")
    x = RNG.normal(size=(2, 40, 48, 3))
    outputs: dict[bool, dict[str, np.ndarray]] = {True: {}, False: {}}
    for fold in (True, False):
        def keep(name, array, fold=fold):
            if name.startswith("bn"):
                outputs[fold][name] = array.copy()
        forward(g, weights, x, dtype="float64", fold_bn=fold, on_layer=keep)
    assert len(outputs[True]) == 53  # 53 BatchNorms in a ResNet-50 (1 stem + 16·3 + 4 shortcuts)
    for name, folded in outputs[True].items():
        unfolded = outputs[False][name]
        np.testing.assert_allclose(folded, unfolded, rtol=0, atol=1e-10 * np.abs(unfolded).max())
    a = forward(g, weights, x, dtype="float64", fold_bn=True)
    b = forward(g, weights, x, dtype="float64", fold_bn=False)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * np.abs(b).max())


def test_in_place_work_changes_nothing_and_spares_the_input(torchvision_graph):
    g = torchvision_graph
    weights = random_weights(g, seed=0)
    x = RNG.normal(size=(1, 33, 35, 3)).astype(np.float32)
    before = x.copy()
    fast = forward(g, weights, x)  # in place where safe
    seen = []
    careful = forward(g, weights, x, on_layer=lambda name, a: seen.append(name))  # in place off
    np.testing.assert_array_equal(fast, careful)
    np.testing.assert_array_equal(x, before)
    assert seen == [layer.name for layer in g]


def test_activations_are_freed_after_their_last_reader(torchvision_graph):
    """Peak traced allocation stays near the live set, far below the sum of all activations."""
    g = torchvision_graph
    weights = random_weights(g, seed=0)
    trace = resnet_inspect.trace_graph(g, (64, 64))
    every_activation = 4 * 2 * sum(int(np.prod(info.output_shape)) for info in trace.layers)
    x = RNG.normal(size=(2, 64, 64, 3)).astype(np.float32)
    # im2col only: Winograd's transformed filters (made at the first run, 4x the 3x3 kernels) are
    # weights, not activations; with them the first run still stays within the estimate
    for winograd in (False, True):
        executor = Executor(g, weights, winograd=winograd)
        tracemalloc.start()
        executor(x)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert winograd or peak < every_activation / 3
        assert peak <= estimate_memory(g, (64, 64), 2, "float32")


def test_reused_buffers_never_touch_a_returned_output(torchvision_graph):
    """The executor recycles dead activations across runs; what it returned stays untouched."""
    executor = Executor(torchvision_graph, random_weights(torchvision_graph, seed=0))
    x = RNG.normal(size=(2, 32, 40, 3)).astype(np.float32)
    first = executor(x)
    kept = first.copy()
    pooled = []
    for _ in range(5):
        again = executor(x)
        executor(RNG.normal(size=(2, 32, 40, 3)).astype(np.float32))
        pooled.append(sum(buffer.nbytes for buffer in executor.scratch.pool))
    np.testing.assert_array_equal(first, kept)
    np.testing.assert_array_equal(again, kept)
    weights = 2 * 4 * 25_610_152  # the estimate counts the weights twice (README: 25,610,152 numbers)
    assert max(pooled) <= estimate_memory(torchvision_graph, (32, 40), 2, "float32") - weights  # bounded


def test_memory_limit_refuses_naming_estimate_and_limit(torchvision_graph):
    g = torchvision_graph
    weights = random_weights(g, seed=0)
    with pytest.raises(InspectError) as caught:
        forward(g, weights, np.zeros((64, 224, 224, 3), np.float32), max_memory=parse_memory("1GB"))
    message = str(caught.value)
    assert "needs about" in message and "1.0 GiB" in message and caught.value.field == "max_memory"
    assert "--" not in message  # the API names its argument; the CLI maps it to --max-memory (issue 17)
    # The weights alone: 25,610,152 numbers (Keras count, README) × 4 bytes, twice.
    assert estimate_memory(g, (32, 32), 1, "float32") > 2 * 4 * 25_610_152
    assert estimate_memory(g, (32, 32), 1, "float64") > estimate_memory(g, (32, 32), 1, "float32")


@pytest.mark.parametrize("text,expected", [("4GB", 4 << 30), ("512MB", 512 << 20), ("2GiB", 2 << 30),
                                           ("1000", 1000), ("1.5G", 3 << 29)])
def test_parse_memory(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1GB", "4XB", ""])
def test_parse_memory_refuses_nonsense(text):
    with pytest.raises(InspectError, match="--max-memory"):
        parse_memory(text)


def test_bad_input_and_weights_are_one_line_errors(torchvision_graph):
    g = torchvision_graph
    weights = random_weights(g, seed=0)
    with pytest.raises(InspectError, match=r"N×H×W×3 array \(NHWC\), got \[1, 3, 32, 32\]"):
        forward(g, weights, np.zeros((1, 3, 32, 32)))
    broken = {name: dict(arrays) for name, arrays in weights.items() if name != "res2a_branch2a"}
    broken["fc1000"]["kernel"] = np.zeros((10, 10))
    with pytest.raises(InspectError) as caught:
        forward(g, broken, np.zeros((1, 32, 32, 3)))
    # The same fit check as for a weights file (io.base.check_weights), with no file to name.
    assert str(caught.value).startswith("weights do not fit spec resnet50-torchvision")
    assert "missing: res2a_branch2a/kernel" in str(caught.value)
    assert "fc1000/kernel expected (2048, 1000) found (10, 10)" in str(caught.value)
    with pytest.raises(InspectError, match="dtype"):
        forward(g, weights, np.zeros((1, 32, 32, 3)), dtype="float16")


def test_trace_never_imports_numpy():
    code = ("import sys, resnet_inspect; resnet_inspect.trace('resnet50', input=224); "
            "from resnet_inspect import cli; assert 'numpy' not in sys.modules, 'numpy imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
