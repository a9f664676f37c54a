"""Issue 19's executor techniques, each against an independent reference, and issue 18's seeded mark.

The references are written here from the definitions, not from the executor: a direct 3×3 conv as
nine shifted matmuls summed in float64, a max pool as the max over every window of a -inf-padded
copy. Winograd's tolerances are the float32 error the technique is known to add (Lavin & Gray:
F(4,3)'s transforms have coefficients up to 8; measured 1e-6-4e-6 relative per layer, issue 19).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from resnet_inspect.core.errors import InspectError
from resnet_inspect.execute import executor as ex
from resnet_inspect.execute import winograd
from resnet_inspect.model.graph import load_graph
from resnet_inspect.model.weights import SEED_SCHEME, SEEDED_KEY, Seeded, random_weights

RNG = np.random.default_rng(19)


def direct_conv3x3(x: np.ndarray, kernel: np.ndarray, pad: int) -> np.ndarray:
    """Float64 conv by definition: out[y, x] = sum over (i, j) of in[y + i, x + j] @ kernel[i, j]."""
    x = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    h, w = x.shape[1] - 2, x.shape[2] - 2
    out = np.zeros((x.shape[0], h, w, kernel.shape[3]))
    for i in range(3):
        for j in range(3):
            out += x[:, i:i + h, j:j + w] @ kernel[i, j].astype(np.float64)
    return out


def scratch_get():
    scratch = ex.Scratch()
    return scratch.get


# shapes: odd sizes (not a whole number of tiles), batch > 1, chunks of whole images and of tile rows
SHAPES = [(1, 7, 7, 5, 3, 1), (2, 9, 13, 4, 6, 1), (3, 6, 5, 3, 2, 0), (2, 30, 31, 8, 4, 1), (1, 68, 66, 3, 5, 1)]


@pytest.mark.parametrize("transform", [winograd.F23, winograd.F43], ids=lambda f: f.name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_winograd_equals_a_direct_conv(transform, shape):
    n, h, w, c, k, pad = shape
    x = RNG.normal(size=(n, h, w, c))
    kernel = RNG.normal(size=(3, 3, c, k)) / np.sqrt(9 * c)
    reference = direct_conv3x3(x, kernel, pad)
    for dtype, tolerance in (("float64", 1e-12), ("float32", 1e-5 if transform is winograd.F43 else 1e-6)):
        out = np.empty(reference.shape, dtype)
        winograd.conv3x3(x.astype(dtype), winograd.filter_transform(kernel, transform, dtype), transform, pad,
                         scratch_get(), out)
        assert np.abs(out - reference).max() <= tolerance * np.abs(reference).max()


def test_winograd_chunks_cover_every_tile_once():
    for n, th, tw in ((1, 14, 14), (8, 2, 2), (3, 50, 7), (5, 1, 1)):
        covered = np.zeros((n, th, tw), int)
        for images, rows in winograd.chunks(n, th, tw, 32):
            covered[images, rows] += 1
        assert (covered == 1).all()


def test_the_rule_takes_f43_with_enough_tiles():
    # resnet50 at 224: 56, 28, 14 and 7; at batch 1 the 7x7 layers have 2x2 = 4 tiles of 4x4
    assert [winograd.choose(1, s, s).name for s in (56, 28, 14, 7)] == ["F(4,3)"] * 3 + ["F(2,3)"]
    assert winograd.choose(8, 7, 7).name == "F(4,3)"  # 8 x 4 = 32 tiles
    assert winograd.choose(1, 4, 4) is None  # 4 tiles of 2x2: im2col


def test_executor_winograd_agrees_with_im2col_and_keeps_float64_exact():
    graph = load_graph("tests/data/tiny-run.yaml")
    weights = random_weights(graph, 4)
    x = RNG.normal(size=(3, 40, 36, 3))
    reference = ex.Executor(graph, weights, dtype="float64")(x).astype(np.float64)
    assert not ex.Executor(graph, weights, dtype="float64").winograd  # the reference stays im2col
    fast = ex.Executor(graph, weights)
    assert fast.winograd
    out = fast(x)
    plain = ex.Executor(graph, weights, winograd=False)(x)
    assert np.abs(out - reference).max() <= 1e-5 * np.abs(reference).max()
    assert np.abs(plain - reference).max() <= 1e-5 * np.abs(reference).max()
    # the transformed filters are made once and kept with the prepared weights
    kept = [step.params["winograd"][1] for step in fast.steps if "winograd" in step.params]
    assert kept and all(a is b for a, b in zip(kept, [s.params["winograd"][1] for s in fast.steps if "winograd" in s.params]))
    fast(x)
    assert all(a is b for a, b in zip(kept, [s.params["winograd"][1] for s in fast.steps if "winograd" in s.params]))


class PoolOp:
    kind = "max_pool"

    def __init__(self, size: int, stride: int, padding: int) -> None:
        self.size, self.stride, self.padding = size, stride, padding


def reference_max_pool(x: np.ndarray, k: int, s: int, p: int) -> np.ndarray:
    """By definition: PyTorch's MaxPool2d pads -inf, then takes the max of every k×k window."""
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=-np.inf)
    h_out, w_out = (padded.shape[1] - k) // s + 1, (padded.shape[2] - k) // s + 1
    out = np.empty((x.shape[0], h_out, w_out, x.shape[3]))
    for i in range(h_out):
        for j in range(w_out):
            out[:, i, j] = padded[:, i * s:i * s + k, j * s:j * s + k].max(axis=(1, 2))
    return out


@pytest.mark.parametrize("shape", [(2, 112, 112, 4, 3, 2, 1), (1, 7, 9, 3, 3, 2, 1), (3, 8, 8, 2, 2, 2, 0),
                                   (1, 6, 5, 4, 3, 1, 1), (2, 9, 9, 3, 3, 3, 1), (1, 5, 5, 2, 5, 1, 2),
                                   (1, 10, 11, 2, 3, 2, 0)], ids=str)
def test_max_pool_equals_the_window_max_with_minus_inf_padding(shape):
    n, h, w, c, k, s, p = shape
    x = RNG.normal(size=(n, h, w, c))  # negative values too: a zero padding would show
    out = ex._max_pool(PoolOp(k, s, p), ex.Call([x], {}, False, ex.Scratch()))
    np.testing.assert_array_equal(out, reference_max_pool(x, k, s, p))


def test_stem_conv_equals_a_direct_conv():
    """The 7x7 stride-2 stem (im2col path) against the definition, odd sizes, batch 2."""
    from resnet_inspect.model.ops import Conv2D

    x = RNG.normal(size=(2, 37, 29, 3))
    kernel = RNG.normal(size=(7, 7, 3, 5))
    padded = np.pad(x, ((0, 0), (3, 3), (3, 3), (0, 0)))
    h_out, w_out = (37 + 6 - 7) // 2 + 1, (29 + 6 - 7) // 2 + 1
    reference = np.zeros((2, h_out, w_out, 5))
    for i in range(7):
        for j in range(7):
            reference += padded[:, i:i + 2 * h_out - 1:2, j:j + 2 * w_out - 1:2] @ kernel[i, j]
    op = Conv2D(filters=5, kernel=7, stride=2, padding=3, bias=False)
    out = ex._conv(op, ex.Call([x], {"matrix": kernel.reshape(-1, 5)}, False, ex.Scratch()))
    np.testing.assert_allclose(out, reference, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- seeded weights


def test_seed_scheme_is_versioned_and_the_old_one_reproducible():
    graph = load_graph("tests/data/tiny-run.yaml")
    assert SEED_SCHEME == 2
    new, old = random_weights(graph, 5), random_weights(graph, 5, scheme=1)
    assert not np.array_equal(new["conv1"]["kernel"], old["conv1"]["kernel"])
    # scheme 1 is the float64 draw it always was: NumPy's PCG64 normal with He's std, by hand
    fan_in = 7 * 7 * 3
    first = np.random.default_rng(5).normal(0.0, (2.0 / fan_in) ** 0.5, old["conv1"]["kernel"].shape)
    np.testing.assert_array_equal(old["conv1"]["kernel"], first.astype(np.float32))
    # scheme 2 draws float32: the same numbers in a float64 run
    np.testing.assert_array_equal(random_weights(graph, 5, "float64")["conv1"]["kernel"], new["conv1"]["kernel"])
    with pytest.raises(Exception, match="seed scheme"):
        random_weights(graph, 5, scheme=7)


def test_seeded_mark_round_trips_and_tolerates_strangers():
    mark = Seeded(3, spec="tiny-run")
    assert Seeded.of(mark.metadata()) == mark
    assert Seeded.of({}) is None
    assert Seeded.of({SEEDED_KEY: "not json"}) == Seeded(-1, 0)  # still marked random
    assert json.loads(mark.metadata()[SEEDED_KEY]) == {"seed": 3, "scheme": SEED_SCHEME, "spec": "tiny-run"}


DATA = "tests/data/tiny-run.yaml"


@pytest.mark.parametrize("name", ["w.npz", "w.h5", "w.weights.h5"])
def test_run_on_weights_init_files_warns_they_are_random(tmp_path, name):
    """`weights init` marks its file (an npz member, an HDF5 root attribute) and `run` says so:
    one stderr line and JSON fields; a file without the mark (converted from trained weights:
    here written with no metadata) has none."""
    from typer.testing import CliRunner

    from resnet_inspect.cli import app
    from resnet_inspect.io.weightfiles import read_weights, save_weights

    runner = CliRunner()
    path = tmp_path / name
    assert runner.invoke(app, ["weights", "init", DATA, "-o", str(path), "--seed", "3"]).exit_code == 0
    np.save(tmp_path / "x.npy", RNG.normal(size=(1, 32, 32, 3)).astype(np.float32))
    result = runner.invoke(app, ["run", DATA, "-w", str(path), "--array", str(tmp_path / "x.npy"), "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["seeded_weights"] == {"seed": 3, "scheme": SEED_SCHEME}
    assert data["warnings"] and "seeded random weights" in data["warnings"][0]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("warning: ") and "seed 3" in result.stderr
    graph = load_graph(DATA)
    weights, metadata = read_weights(path, graph)
    assert Seeded.of(metadata) == Seeded(3, spec="tiny-run")
    plain = tmp_path / ("plain" + name[1:])
    save_weights(weights, plain, graph)
    result = runner.invoke(app, ["run", DATA, "-w", str(plain), "--array", str(tmp_path / "x.npy"), "--format", "json"])
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["seeded_weights"] is None


def test_convert_keeps_the_seeded_mark(tmp_path):
    from typer.testing import CliRunner

    from resnet_inspect.cli import app
    from resnet_inspect.io.weightfiles import read_weights

    runner = CliRunner()
    assert runner.invoke(app, ["weights", "init", DATA, "-o", str(tmp_path / "w.npz"), "--seed", "4"]).exit_code == 0
    assert runner.invoke(app, ["weights", "convert", str(tmp_path / "w.npz"), "-o", str(tmp_path / "w.h5"),
                               "--spec", DATA]).exit_code == 0
    assert Seeded.of(read_weights(tmp_path / "w.h5", load_graph(DATA))[1]).seed == 4


def test_verify_runs_the_fused_pass(monkeypatch):
    """verify records shapes with ``watch`` (fusion on), never with ``on_layer`` (fusion off)."""
    from resnet_inspect.execute.verify import verify

    calls = []
    original = ex.Executor.__call__

    def spy(self, x, on_layer=None, **kw):
        calls.append((on_layer, kw.get("watch")))
        return original(self, x, on_layer, **kw)

    monkeypatch.setattr(ex.Executor, "__call__", spy)
    seen = []
    result = verify(DATA, batch=2, on_layer=lambda name, array: seen.append(name))
    assert result.ok and calls and all(on is None and watch is not None for on, watch in calls)
    assert seen == [layer.name for layer in result.layers]


# --------------------------------------------------------------------------- lanes (issue 19: both cores)


def test_lane_sizes_split_evenly_and_never_leave_a_lane_empty():
    assert ex.lane_sizes(5, 2) == [3, 2]
    assert ex.lane_sizes(8, 3) == [3, 3, 2]
    assert ex.lane_sizes(1, 4) == [1]  # one image: one lane, the BLAS as it is
    assert ex.lane_sizes(2, 1) == [2]


@pytest.mark.parametrize("threads", [2, 3])
def test_a_split_batch_gives_each_image_its_own_result(threads):
    """The oracle: each image run alone, in float64 with im2col (no lane, no Winograd); an image's
    output must not depend on which lane ran it or with whom. The lanes' activations are held at
    once, so the measured peak is the engine's prediction for the whole batch (hand-checkable:
    activations are linear in the batch)."""
    from resnet_inspect.analysis.memory import memory_profile
    from resnet_inspect.model.engine import trace_graph

    graph = load_graph(DATA)
    weights = random_weights(graph, 7)
    x = RNG.normal(size=(5, 40, 36, 3)).astype(np.float32)
    alone = np.concatenate([ex.Executor(graph, weights, dtype="float64", threads=1)(x[i:i + 1]) for i in range(5)])
    split = ex.Executor(graph, weights, threads=threads)
    out = split(x)
    assert out.shape == alone.shape
    assert np.abs(out - alone).max() <= 1e-5 * np.abs(alone).max()
    assert split.peak_live_bytes == memory_profile(trace_graph(graph, (40, 36)), 5).peak_activation_bytes


def test_lanes_run_on_their_own_threads_with_blas_at_one_thread():
    import dataclasses
    import threading

    from resnet_inspect.execute import blas

    control = blas.control()
    if control is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS whose threads can be set: lanes run with the BLAS as it is")
    graph = load_graph(DATA)
    executor = ex.Executor(graph, random_weights(graph, 7), threads=2)
    seen = []

    def spy(kernel):
        def run(op, call):
            seen.append((threading.current_thread().name, control.threads()))
            return kernel(op, call)
        return run

    executor.steps = [dataclasses.replace(step, kernel=spy(step.kernel)) for step in executor.steps]
    before = control.threads()
    executor(RNG.normal(size=(4, 32, 32, 3)))
    assert {count for _, count in seen} == {1}  # BLAS at one thread in both lanes, all through
    assert len({name for name, _ in seen}) == 2  # two lanes, two threads
    assert control.threads() == before  # and back to what it was
    seen.clear()
    executor(RNG.normal(size=(1, 32, 32, 3)))  # one image: one lane, BLAS untouched
    assert {count for _, count in seen} == {before}


def test_an_error_in_a_lane_is_raised_and_blas_restored():
    import dataclasses

    from resnet_inspect.execute import blas

    graph = load_graph(DATA)
    executor = ex.Executor(graph, random_weights(graph, 7), threads=2)
    calls = []

    def failing(op, call):
        calls.append(len(call.inputs[0]))
        if len(calls) == 2:
            raise RuntimeError("a lane failed")
        return call.inputs[0]

    executor.steps = [dataclasses.replace(executor.steps[0], kernel=failing), *executor.steps[1:]]
    control = blas.control()
    before = control.threads() if control else None
    with pytest.raises(RuntimeError, match="a lane failed"):
        executor(RNG.normal(size=(4, 32, 32, 3)))
    assert control is None or control.threads() == before


@pytest.mark.parametrize("threads", [0, -1, 1.5, 10**5000, "two"], ids=["0", "-1", "1.5", "10**5000", "two"])
def test_threads_is_checked(threads):
    graph = load_graph(DATA)
    with pytest.raises(InspectError, match="threads"):
        ex.Executor(graph, random_weights(graph, 7), threads=threads)


def test_replayed_runs_equal_a_fresh_executors_for_every_shape():
    """A fast run records its in-place and recycling decisions per input shape and replays them:
    the oracle is a fresh executor (no memo) on each input, and the engine's peak prediction."""
    from resnet_inspect.analysis.memory import memory_profile
    from resnet_inspect.model.engine import trace_graph

    graph = load_graph(DATA)
    weights = random_weights(graph, 7)
    kept = ex.Executor(graph, weights, threads=1)
    inputs = [RNG.normal(size=shape).astype(np.float32) for shape in
              ((2, 32, 32, 3), (1, 40, 36, 3), (2, 32, 32, 3), (1, 40, 36, 3), (2, 32, 32, 3))]
    for x in inputs:
        out = kept(x).copy()
        np.testing.assert_array_equal(out, ex.Executor(graph, weights, threads=1)(x))
        assert kept.peak_live_bytes == memory_profile(trace_graph(graph, x.shape[1:3]), len(x)).peak_activation_bytes
    assert len(kept._replays) == 2  # one record per shape, replayed after


def _split_run_in_child(queue) -> None:
    graph = load_graph(DATA)
    executor = ex.Executor(graph, random_weights(graph, 7), threads=2)
    queue.put(executor(np.ones((4, 32, 32, 3), np.float32)).shape)


def test_a_forked_child_can_run_lanes_after_its_parent_did():
    """The parent's lane threads are not in a forked child; without forgetting the parent's pool,
    the child's lane would wait forever (a deadlock this test would show as a timeout)."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    graph = load_graph(DATA)
    ex.Executor(graph, random_weights(graph, 7), threads=2)(np.ones((4, 32, 32, 3), np.float32))
    assert ex._POOLS  # the parent's pool exists, with a thread
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_split_run_in_child, args=(queue,))
    child.start()
    child.join(60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0
    assert queue.get(timeout=5) == (4, 1000)
