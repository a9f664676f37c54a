"""NumPy executor vs PyTorch CPU eager (and ONNX Runtime when installed): resnet50-torchvision at 224.

Each framework is timed in its own subprocess, because two BLAS/OpenMP thread pools in one
process fight for the cores; every worker is pinned to the same thread count (default 2) through
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS and ``torch.set_num_threads``.
OPENBLAS_CORETYPE is left as the environment has it. Weights are prepared once (BN folded for
NumPy; ``eval()`` for torch), then each batch size gets warm-up passes and the median of timed
runs. PyTorch is timed in NCHW and channels_last and the faster one is the reference. The goal:
NumPy no slower than 1.25× PyTorch.

    python benchmarks/bench_forward.py [--threads 2] [--runs 15] [--batch 1 --batch 8]

Needs torch for the PyTorch rows (``pip install '.[torch]'``); not a unit test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC, SIZE, SEED = "resnet50-torchvision", 224, 0
WORKERS = ("numpy", "torch-nchw", "torch-channels_last", "onnxruntime")


# --------------------------------------------------------------------------- workers (one per process)


def _weights_and_graph():
    from resnet_inspect import build_graph, load_spec
    from resnet_inspect.weights import random_weights

    graph = build_graph(load_spec(SPEC))
    return graph, random_weights(graph, SEED)


def _time(fn, runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def worker_numpy(batch: int, runs: int, threads: int) -> list[float]:
    import numpy as np

    from resnet_inspect.executor import Executor

    graph, weights = _weights_and_graph()
    executor = Executor(graph, weights, dtype="float32", fold_bn=True)
    del weights
    x = np.random.default_rng(1).normal(size=(batch, SIZE, SIZE, 3)).astype(np.float32)
    return _time(lambda: executor(x), runs)


def _torch_model():
    import torch

    sys.path.insert(0, str(ROOT / "scripts"))
    import torch_resnet
    from resnet_inspect.weights import torchvision_names

    graph, weights = _weights_and_graph()
    return torch, torch_resnet.build([3, 4, 6, 3], torch_resnet.TORCHVISION, weights, torchvision_names(graph))


def worker_torch(batch: int, runs: int, threads: int, channels_last: bool) -> list[float]:
    torch, model = _torch_model()
    torch.set_num_threads(threads)
    x = torch.randn(batch, 3, SIZE, SIZE)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        return _time(lambda: model(x), runs)


def worker_onnxruntime(batch: int, runs: int, threads: int) -> list[float]:
    import tempfile

    import numpy as np
    import onnxruntime

    torch, model = _torch_model()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "resnet50.onnx")
        torch.onnx.export(model, torch.randn(batch, 3, SIZE, SIZE), path, input_names=["x"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(batch, 3, SIZE, SIZE)).astype(np.float32)
    return _time(lambda: session.run(None, {"x": x}), runs)


def run_worker(name: str, batch: int, runs: int, threads: int) -> None:
    if name == "numpy":
        times = worker_numpy(batch, runs, threads)
    elif name.startswith("torch"):
        times = worker_torch(batch, runs, threads, channels_last=name.endswith("channels_last"))
    else:
        times = worker_onnxruntime(batch, runs, threads)
    print(json.dumps({"times": times}))


# --------------------------------------------------------------------------- driver


def spawn(name: str, batch: int, runs: int, threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    proc = subprocess.run([sys.executable, __file__, "--worker", name, "--batch", str(batch), "--runs", str(runs),
                           "--threads", str(threads)], capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last}
    times = json.loads(proc.stdout.strip().splitlines()[-1])["times"]
    return {"median": statistics.median(times), "min": min(times), "runs": len(times)}


def available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=WORKERS)
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.batch[0], args.runs, args.threads)
        return
    workers = ["numpy"] + (["torch-nchw", "torch-channels_last"] if available("torch") else [])
    workers += ["onnxruntime"] if available("onnxruntime") and available("onnx") and available("torch") else []
    print(f"{SPEC} forward at {SIZE}×{SIZE}, float32, {args.threads} threads, each framework in its own process; "
          f"median of {args.runs} runs after 2 warm-ups")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    if not available("torch"):
        print("torch is not installed: NumPy only (pip install '.[torch]' for the comparison)")
    if not available("onnxruntime"):
        print("ONNX Runtime: not installed")
    print(f"{'batch':>5}  {'framework':<20} {'median ms':>10} {'min ms':>9} {'img/s':>7}  {'vs torch':>8}")
    for batch in args.batch or [1, 8]:
        results = {name: spawn(name, batch, args.runs if batch == 1 else max(5, args.runs // 2), args.threads)
                   for name in workers}
        torch_best = min((r["median"] for n, r in results.items() if n.startswith("torch") and "median" in r),
                         default=None)
        for name, r in results.items():
            if "error" in r:
                print(f"{batch:>5}  {name:<20} error: {r['error']}")
                continue
            ratio = f"{r['median'] / torch_best:.2f}×" if torch_best else "—"
            print(f"{batch:>5}  {name:<20} {r['median'] * 1e3:>10.1f} {r['min'] * 1e3:>9.1f} "
                  f"{batch / r['median']:>7.1f}  {ratio:>8}")
    print("vs torch = median / the faster PyTorch layout's median (goal for numpy: <= 1.25×)")


if __name__ == "__main__":
    main()
