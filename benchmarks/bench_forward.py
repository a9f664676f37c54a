"""NumPy executor vs ONNX Runtime vs PyTorch CPU eager: resnet50-torchvision at 224, float32.

Each framework runs in its own subprocess, because two BLAS/OpenMP thread pools in one process
fight for the cores; every worker is pinned to the same thread count (default 2) through
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS and ``torch.set_num_threads``.
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset in the workers (OpenBLAS then picks its kernel
for the CPU; the one it picked is printed, from threadpoolctl). Weights are prepared once (BN
folded for NumPy; ``eval()`` for torch) and each worker warms up; then the driver asks the
workers in turn for a few timed passes, round after round, so background load on a shared
machine falls on all frameworks alike (only one worker computes at a time). Medians over all
rounds. PyTorch is timed in NCHW and channels_last and the faster is shown.

    python benchmarks/bench_forward.py [--threads 2] [--rounds 30] [--batch 1 --batch 8] [--kinds] [--errors]

``--kinds`` adds the time per layer kind (1×1, 3×3 s1, 3×3 s2, 7×7 stem, max pool, adds, other),
NumPy against ONNX Runtime's own profile, same turns; ``--errors`` the numeric error of each
executor technique against a float64 im2col run (per layer and at the logits). To compare a
change, run it twice with ``PYTHONPATH`` pointing at each checkout (the workers import the
package from there). Needs torch and onnxruntime for their rows (``pip install '.[bench]'``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC, SIZE, SEED = "resnet50-torchvision", 224, 0
WORKERS = ("numpy", "numpy-im2col", "torch-nchw", "torch-channels_last", "onnxruntime", "numpy-kinds", "onnxruntime-kinds")
KINDS = ("1x1", "3x3 s1", "3x3 s2", "7x7 stem", "max pool", "adds", "other")
BASELINE_MARK = "@"  # a worker name "numpy@PATH" runs the package found at PATH (--baseline)
UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # OpenBLAS picks its own kernel for the CPU


# --------------------------------------------------------------------------- workers (one per process)


def _graph_and_weights():
    from resnet_inspect import build_graph, load_spec
    from resnet_inspect.model.weights import random_weights

    graph = build_graph(load_spec(SPEC))
    return graph, random_weights(graph, SEED)


def numpy_step(batch: int, threads: int, **options) -> Callable[[], object]:
    import numpy as np

    from resnet_inspect.execute.executor import Executor

    graph, weights = _graph_and_weights()
    executor = Executor(graph, weights, dtype="float32", fold_bn=True, **options)
    x = np.random.default_rng(1).normal(size=(batch, SIZE, SIZE, 3)).astype(np.float32)
    return lambda: executor(x)


def kind_of(op) -> str:
    """A layer's row in the per-kind table (a conv with a fused add or ReLU counts as its conv)."""
    if op.kind == "conv":
        k, s = op.kernel, op.stride
        return "7x7 stem" if k == 7 else "1x1" if k == 1 else f"3x3 s{s}" if k == 3 and s in (1, 2) else "other"
    return {"max_pool": "max pool", "add": "adds"}.get(op.kind, "other")


def numpy_kinds_step(batch: int, threads: int) -> Callable[[], dict]:
    """One pass; seconds per layer kind (each step's kernel timed, the loop's own Python in other).

    With lanes (batch > 1) the lanes' kernels overlap in time, so a kind's figure is its time
    summed over the lanes, divided by the lanes: its share of the wall clock."""
    import dataclasses
    import threading

    import numpy as np

    from resnet_inspect.execute import executor as ex

    graph, weights = _graph_and_weights()
    executor = ex.Executor(graph, weights, dtype="float32", fold_bn=True)
    x = np.random.default_rng(1).normal(size=(batch, SIZE, SIZE, 3)).astype(np.float32)
    # a baseline from before the lanes (--baseline) runs one lane
    lanes = len(ex.lane_sizes(batch, executor.threads)) if hasattr(ex, "lane_sizes") else 1
    spent: dict[str, float] = {}
    lock = threading.Lock()

    def timed(kernel, kind):
        def run(op, call):
            start = time.perf_counter()
            out = kernel(op, call)
            with lock:
                spent[kind] = spent.get(kind, 0.0) + time.perf_counter() - start
            return out
        return run

    executor.steps = [dataclasses.replace(s, kernel=timed(s.kernel, kind_of(s.layer.op))) for s in executor.steps]

    def one() -> dict:
        spent.clear()
        start = time.perf_counter()
        executor(x)
        total = time.perf_counter() - start
        share = {kind: seconds / lanes for kind, seconds in spent.items()}
        return {**share, "other": share.get("other", 0.0) + total - sum(share.values())}

    return one


def _torch_model():
    import torch

    sys.path.insert(0, str(ROOT / "scripts"))
    import torch_resnet
    from resnet_inspect.model.weights import torchvision_names

    graph, weights = _graph_and_weights()
    return torch, torch_resnet.build([3, 4, 6, 3], torch_resnet.TORCHVISION, weights, torchvision_names(graph))


def torch_step(batch: int, threads: int, channels_last: bool) -> Callable[[], object]:
    torch, model = _torch_model()
    torch.set_num_threads(threads)
    x = torch.randn(batch, 3, SIZE, SIZE)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)

    def step():
        with torch.inference_mode():
            return model(x)

    return step


def _onnx_export(batch: int):
    """resnet50 exported to ONNX in a temporary folder kept for the worker's life: (path, graph)."""
    import tempfile

    import onnx

    torch, model = _torch_model()
    folder = tempfile.mkdtemp(prefix="bench_forward_")
    path = str(Path(folder) / "resnet50.onnx")
    # the TorchScript exporter (dynamo=False): the default one needs onnxscript
    torch.onnx.export(model, torch.randn(batch, 3, SIZE, SIZE), path, input_names=["x"], dynamo=False)
    return path, onnx.load(path).graph


def _onnx_session(path: str, threads: int, profile: bool = False):
    import tempfile

    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.enable_profiling = profile
    options.profile_file_prefix = str(Path(tempfile.gettempdir()) / f"bench_forward_ort_{os.getpid()}")
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnxruntime_step(batch: int, threads: int) -> Callable[[], object]:
    import numpy as np

    session = _onnx_session(_onnx_export(batch)[0], threads)
    x = np.random.default_rng(1).normal(size=(batch, 3, SIZE, SIZE)).astype(np.float32)
    return lambda: session.run(None, {"x": x})


def _onnx_kinds(graph) -> Callable[[str], str]:
    """ORT profile node name -> layer kind. ORT fuses Conv+Add+ReLU and names the fused node by an
    output (``/layer1/layer1.0/relu_1/Relu_output_0_nchwc``): walk back from it to its conv."""
    nodes = {node.name: node for node in graph.node}
    producer = {out: node for node in graph.node for out in node.output}

    def of_node(node, depth=0) -> str:
        if node.op_type == "Conv":
            attrs = {a.name: list(a.ints) for a in node.attribute}
            k, s = attrs.get("kernel_shape", [1])[0], attrs.get("strides", [1])[0]
            return "7x7 stem" if k == 7 else "1x1" if k == 1 else f"3x3 s{s}" if k == 3 and s in (1, 2) else "other"
        if node.op_type == "MaxPool":
            return "max pool"
        if node.op_type in ("Relu", "Add") and depth < 3:
            for name in node.input:
                if name in producer and producer[name].op_type == "Conv":
                    return of_node(producer[name], depth + 1)
            if node.op_type == "Add":
                return "adds"
            if node.input and node.input[0] in producer:
                return of_node(producer[node.input[0]], depth + 1)
        return "other"

    def kind(name: str) -> str:
        name = name.removesuffix("_kernel_time").removesuffix("_nchwc")
        node = nodes.get(name) or producer.get(name)
        return of_node(node) if node is not None else "other"

    return kind


def onnxruntime_kinds_step(batch: int, threads: int) -> Callable[[], dict]:
    """One pass; seconds per layer kind from ORT's own profile (its node times; the rest in other).

    A session profiles until ``end_profiling``, once, so each pass gets a fresh profiling session
    on the same exported model (made before the clock; one untimed pass warms it up)."""
    import json as _json

    import numpy as np

    x = np.random.default_rng(1).normal(size=(batch, 3, SIZE, SIZE)).astype(np.float32)
    path, graph = _onnx_export(batch)
    kind = _onnx_kinds(graph)

    def one() -> dict:
        session = _onnx_session(path, threads, profile=True)
        session.run(None, {"x": x})  # warm-up, left out below
        start = time.perf_counter()
        session.run(None, {"x": x})
        total = time.perf_counter() - start
        profile = Path(session.end_profiling())
        events = _json.loads(profile.read_text())
        profile.unlink()
        runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
        last = runs[-1]
        spent: dict[str, float] = {}
        for event in events:
            if (event.get("cat") == "Node" and event["name"].endswith("_kernel_time")
                    and last["ts"] <= event["ts"] <= last["ts"] + last["dur"]):
                spent[kind(event["name"])] = spent.get(kind(event["name"]), 0.0) + event["dur"] * 1e-6
        return {**spent, "other": spent.get("other", 0.0) + max(0.0, total - sum(spent.values()))}

    return one


def blas_kernel() -> str:
    """The BLAS and the kernel it picked for this CPU, as threadpoolctl reports them."""
    try:
        import numpy  # noqa: F401  (loads the BLAS)
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    found = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture', '?')} ({i.get('num_threads')} threads)"
             for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(found) or "no BLAS found"


def serve(name: str, batch: int, threads: int) -> None:
    """Warm up, print "ready", then answer each request "N" on stdin with N timings (JSON)."""
    makers = {"numpy": numpy_step, "numpy-im2col": lambda b, t: numpy_step(b, t, winograd=False),
              "onnxruntime": onnxruntime_step, "numpy-kinds": numpy_kinds_step,
              "onnxruntime-kinds": onnxruntime_kinds_step}
    if name.startswith("torch"):
        step = torch_step(batch, threads, channels_last=name.endswith("channels_last"))
    else:
        step = makers[name](batch, threads)
    for _ in range(2):
        step()
    print("ready " + json.dumps(blas_kernel() if name == "numpy" else ""), flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            result = step()
            times.append(result if name.endswith("kinds") else time.perf_counter() - start)
        print(json.dumps(times), flush=True)


# --------------------------------------------------------------------------- driver


class Worker:
    """One framework in its own pinned process, timing on request."""

    def __init__(self, name: str, batch: int, threads: int) -> None:
        env = dict(os.environ)
        name, _, baseline = name.partition(BASELINE_MARK)  # "numpy@baseline": another checkout's package
        if baseline:
            env["PYTHONPATH"] = baseline
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        for var in UNSET:
            env.pop(var, None)
        self.name, self.times, self.error, self.blas = name + (" (baseline)" if baseline else ""), [], None, ""
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", name, "--batch", str(batch), "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        ready = self.proc.stdout.readline().strip()
        if not ready.startswith("ready"):
            self.fail()
        else:
            self.blas = json.loads(ready[5:] or '""')

    def fail(self) -> None:
        self.proc.kill()
        self.error = (self.proc.stderr.read().strip().splitlines() or ["failed"])[-1]

    def run(self, n: int) -> None:
        if self.error:
            return
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.fail()
            return
        self.times += json.loads(line)
        time.sleep(0.2)  # let this worker's threads go idle before the next one computes

    def close(self) -> dict:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()
        if self.error:
            return {"error": self.error}
        if self.times and isinstance(self.times[0], dict):  # per-kind seconds of each pass
            return {kind: statistics.median(t.get(kind, 0.0) for t in self.times) for kind in KINDS} | {
                "total": statistics.median(sum(t.values()) for t in self.times), "runs": len(self.times)}
        return {"median": statistics.median(self.times), "min": min(self.times), "runs": len(self.times),
                "blas": self.blas}


def measure(names: list[str], batch: int, rounds: int, per_round: int, threads: int) -> dict[str, dict]:
    workers = []
    for name in names:  # one at a time: a worker's start-up (ONNX export) must not fall on another's timing
        workers.append(Worker(name, batch, threads))
    for index in range(rounds):
        for worker in workers[index % len(workers):] + workers[:index % len(workers)]:  # alternate who goes first
            worker.run(per_round)
    return {worker.name: worker.close() for worker in workers}


def errors(batch: int = 1) -> list[str]:
    """Each technique's numeric error against a float64 im2col run: the largest relative error of
    any 3×3 stride-1 conv's output (max |Δ| / max |reference|), and at the logits, with top-5 agreement."""
    import numpy as np

    from resnet_inspect.execute import executor as ex
    from resnet_inspect.execute import winograd

    graph, weights = _graph_and_weights()
    x = np.random.default_rng(1).normal(size=(batch, SIZE, SIZE, 3))
    convs = {layer.name for layer in graph if ex.winograd_layer(layer.op)}

    def run(dtype: str, use: bool, rule=None) -> tuple[dict, np.ndarray]:
        seen: dict[str, np.ndarray] = {}
        saved = winograd.choose
        if rule is not None:
            winograd.choose = rule
        try:
            out = ex.Executor(graph, weights, dtype=dtype, winograd=use)(
                x, on_layer=lambda name, a: seen.__setitem__(name, a.astype(np.float64)) if name in convs else None)
        finally:
            winograd.choose = saved
        return seen, out.astype(np.float64)

    ref_layers, ref = run("float64", False)
    # a layer's error is its output's against the float64 run's (so it includes the layers before)
    techniques = {"im2col float32": (False, None), "Winograd (the rule)": (True, None),
                  "F(4,3) everywhere": (True, lambda n, h, w: winograd.F43),
                  "F(2,3) everywhere": (True, lambda n, h, w: winograd.F23)}
    lines = [f"{'technique':<22} {'worst 3x3 layer':>16} {'logits max |err|':>17} {'top-5 same':>10}"]
    for name, (use, rule) in techniques.items():
        layers, out = run("float32", use, rule)
        worst = max(np.abs(layers[n] - ref_layers[n]).max() / np.abs(ref_layers[n]).max() for n in convs)
        top = all((np.argsort(-a)[:5] == np.argsort(-b)[:5]).all() for a, b in zip(out, ref))
        lines.append(f"{name:<22} {worst:>16.2e} {np.abs(out - ref).max():>17.2e} {'yes' if top else 'NO':>10}")
    # lanes: a batch of 2 split over 2 threads (no per-layer callback: lanes run only without one)
    pair = np.random.default_rng(2).normal(size=(2, SIZE, SIZE, 3))
    ref2 = ex.Executor(graph, weights, dtype="float64", winograd=False, threads=1)(pair).astype(np.float64)
    split = ex.Executor(graph, weights, threads=2)(pair).astype(np.float64)
    top = all((np.argsort(-a)[:5] == np.argsort(-b)[:5]).all() for a, b in zip(split, ref2))
    lines.append(f"{'lanes (batch 2, 2)':<22} {'—':>16} {np.abs(split - ref2).max():>17.2e} {'yes' if top else 'NO':>10}")
    return lines


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=WORKERS)
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kinds", action="store_true", help="also the time per layer kind, NumPy vs ONNX Runtime")
    parser.add_argument("--errors", action="store_true", help="also the numeric error of each technique")
    parser.add_argument("--baseline", metavar="PATH", help="also time the NumPy executor of the package at PATH "
                        "(e.g. a checkout of main), taking turns with the others: before and after in one run")
    args = parser.parse_args()
    if args.worker:
        serve(args.worker, args.batch[0], args.threads)
        return
    ort = all(map(available, ("onnxruntime", "onnx", "torch")))
    names = ["numpy", "numpy-im2col"] + ([f"numpy{BASELINE_MARK}{args.baseline}"] if args.baseline else []) + (["onnxruntime"] if ort else []) + (["torch-nchw", "torch-channels_last"] if available("torch") else [])
    print(f"{SPEC} forward at {SIZE}×{SIZE}, float32, {args.threads} threads; each framework in its own "
          f"process, taking turns for {args.rounds} rounds after 2 warm-ups; medians")
    print(f"unset in the workers: {', '.join(UNSET)} (here: " + ", ".join(
        f"{v}={os.environ.get(v, '(unset)')}" for v in UNSET) + ")")
    if not ort:
        print("ONNX Runtime: not installed (pip install '.[bench]')")
    print(f"{'batch':>5}  {'framework':<20} {'runs':>4} {'median ms':>10} {'min ms':>9} {'img/s':>7}  {'vs ORT':>7} {'vs torch':>8}")
    blas = ""
    for batch in args.batch or [1, 8]:
        results = measure(names, batch, args.rounds, 4 if batch == 1 else 1, args.threads)
        torch_best = min((r["median"] for n, r in results.items() if n.startswith("torch") and "median" in r), default=None)
        ort_median = results.get("onnxruntime", {}).get("median")
        for name, r in results.items():
            if "error" in r:
                print(f"{batch:>5}  {name:<20} error: {r['error']}")
                continue
            blas = r.get("blas") or blas
            vs_ort = f"{r['median'] / ort_median:.2f}×" if ort_median else "—"
            vs_torch = f"{r['median'] / torch_best:.2f}×" if torch_best else "—"
            print(f"{batch:>5}  {name:<20} {r['runs']:>4} {r['median'] * 1e3:>10.1f} {r['min'] * 1e3:>9.1f} "
                  f"{batch / r['median']:>7.1f}  {vs_ort:>7} {vs_torch:>8}")
    print(f"NumPy's BLAS (threadpoolctl): {blas}; numpy-im2col: this executor with Winograd off")
    print("vs ORT / vs torch = median / ONNX Runtime's median / the faster PyTorch layout's median "
          "(issue 19's goals for numpy vs ORT: 1.5× at batch 1, 1.3× at batch 8)")
    if args.kinds and ort:
        for batch in args.batch or [1, 8]:
            workers = ["numpy-kinds"] + ([f"numpy-kinds{BASELINE_MARK}{args.baseline}"] if args.baseline else [])
            kinds = measure([*workers, "onnxruntime-kinds"], batch, max(3, args.rounds // 3), 1, args.threads)
            theirs = kinds["onnxruntime-kinds"]
            ours = {name: r for name, r in kinds.items() if name != "onnxruntime-kinds"}
            failed = [r["error"] for r in kinds.values() if "error" in r]
            if failed:
                print(f"per kind, batch {batch}: error: {failed[0]}")
                continue
            print(f"\nper layer kind, batch {batch} (median ms per pass over {theirs['runs']} passes; ORT: its profile, "
                  "fused Conv+Add+ReLU counted as the conv; NumPy: each kernel, fused add/ReLU in its conv)")
            print(f"{'kind':<10} " + " ".join(f"{name.replace('numpy-kinds', 'numpy'):>18} {'/ORT':>6}" for name in ours)
                  + f" {'ORT ms':>8}")
            for kind in (*KINDS, "total"):
                cells = " ".join(f"{r[kind] * 1e3:>18.2f} {r[kind] / theirs[kind] if theirs[kind] > 0 else 0:>5.2f}×"
                                 for r in ours.values())
                print(f"{kind:<10} {cells} {theirs[kind] * 1e3:>8.2f}")
    if args.errors:
        print("\nnumeric error per technique (resnet50-torchvision, batch 1, against a float64 im2col run; "
              "a layer's relative error is max|Δ| / max|ref| of its output)")
        for line in errors():
            print(line)


if __name__ == "__main__":
    main()
