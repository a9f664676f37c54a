"""NumPy executor vs PyTorch CPU eager (and ONNX Runtime when installed): resnet50-torchvision at 224.

Each framework runs in its own subprocess, because two BLAS/OpenMP thread pools in one process
fight for the cores; every worker is pinned to the same thread count (default 2) through
OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS and ``torch.set_num_threads``.
OPENBLAS_CORETYPE is left as the environment has it. Weights are prepared once (BN folded for
NumPy; ``eval()`` for torch) and each worker warms up; then the driver asks the workers in turn
for a few timed passes, round after round, so background load on a shared machine falls on all
frameworks alike (only one worker computes at a time). Medians over all rounds. PyTorch is timed
in NCHW and channels_last and the faster is the reference. Goal: NumPy no slower than 1.25×.

    python benchmarks/bench_forward.py [--threads 2] [--rounds 5] [--batch 1 --batch 8]

Needs torch for the PyTorch rows (``pip install '.[torch]'``); not a unit test.
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
WORKERS = ("numpy", "torch-nchw", "torch-channels_last", "onnxruntime")


# --------------------------------------------------------------------------- workers (one per process)


def _graph_and_weights():
    from resnet_inspect import build_graph, load_spec
    from resnet_inspect.model.weights import random_weights

    graph = build_graph(load_spec(SPEC))
    return graph, random_weights(graph, SEED)


def numpy_step(batch: int, threads: int) -> Callable[[], object]:
    import numpy as np

    from resnet_inspect.execute.executor import Executor

    graph, weights = _graph_and_weights()
    executor = Executor(graph, weights, dtype="float32", fold_bn=True)
    x = np.random.default_rng(1).normal(size=(batch, SIZE, SIZE, 3)).astype(np.float32)
    return lambda: executor(x)


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


def onnxruntime_step(batch: int, threads: int) -> Callable[[], object]:
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
    return lambda: session.run(None, {"x": x})


def serve(name: str, batch: int, threads: int) -> None:
    """Warm up, print "ready", then answer each request "N" on stdin with N timings (JSON)."""
    if name == "numpy":
        step = numpy_step(batch, threads)
    elif name.startswith("torch"):
        step = torch_step(batch, threads, channels_last=name.endswith("channels_last"))
    else:
        step = onnxruntime_step(batch, threads)
    for _ in range(2):
        step()
    print("ready", flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(json.dumps(times), flush=True)


# --------------------------------------------------------------------------- driver


class Worker:
    """One framework in its own pinned process, timing on request."""

    def __init__(self, name: str, batch: int, threads: int) -> None:
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        self.name, self.times, self.error = name, [], None
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", name, "--batch", str(batch), "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        if self.proc.stdout.readline().strip() != "ready":
            self.fail()

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
        return {"median": statistics.median(self.times), "min": min(self.times), "runs": len(self.times)}


def measure(names: list[str], batch: int, rounds: int, per_round: int, threads: int) -> dict[str, dict]:
    workers = [Worker(name, batch, threads) for name in names]
    for _ in range(rounds):
        for worker in workers:
            worker.run(per_round)
    return {worker.name: worker.close() for worker in workers}


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=WORKERS)
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.worker:
        serve(args.worker, args.batch[0], args.threads)
        return
    names = ["numpy"] + (["torch-nchw", "torch-channels_last"] if available("torch") else [])
    names += ["onnxruntime"] if all(map(available, ("onnxruntime", "onnx", "torch"))) else []
    print(f"{SPEC} forward at {SIZE}×{SIZE}, float32, {args.threads} threads; each framework in its own "
          f"process, taking turns for {args.rounds} rounds after 2 warm-ups")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    if not available("torch"):
        print("torch is not installed: NumPy only (pip install '.[torch]' for the comparison)")
    if not available("onnxruntime"):
        print("ONNX Runtime: not installed")
    print(f"{'batch':>5}  {'framework':<20} {'runs':>4} {'median ms':>10} {'min ms':>9} {'img/s':>7}  {'vs torch':>8}")
    for batch in args.batch or [1, 8]:
        results = measure(names, batch, args.rounds, 4 if batch == 1 else 2, args.threads)
        best = min((r["median"] for n, r in results.items() if n.startswith("torch") and "median" in r), default=None)
        for name, r in results.items():
            if "error" in r:
                print(f"{batch:>5}  {name:<20} error: {r['error']}")
                continue
            ratio = f"{r['median'] / best:.2f}×" if best else "—"
            print(f"{batch:>5}  {name:<20} {r['runs']:>4} {r['median'] * 1e3:>10.1f} {r['min'] * 1e3:>9.1f} "
                  f"{batch / r['median']:>7.1f}  {ratio:>8}")
    print("vs torch = median / the faster PyTorch layout's median (goal for numpy: <= 1.25×)")


if __name__ == "__main__":
    main()
