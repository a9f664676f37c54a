"""Peak memory (RSS) of a whole `resnet-inspect run` process on resnet50 at batch 1.

Goal (issue 3): under 400 MB — one copy of the weights as read, the executor's prepared copy,
and activations freed as soon as no later layer needs them. Each command runs as its own child
process and its peak RSS is read from ``os.wait4`` (the kernel's ru_maxrss for that child
alone), so the parent's own work (making the weights file) is not counted. Beside it: a process
that only imports and lists specs (the interpreter's floor) and the executor's own estimate.

    python benchmarks/bench_memory.py [--spec resnet50] [--batch 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

GOAL_MB = 400


def peak_rss_mb(command: list[str]) -> float:
    """Run ``command`` to completion and return its peak resident set size in MB (Linux: KiB units)."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {child.stderr.read().decode().strip()}")
    return usage.ru_maxrss * 1024 / 1e6


MAKE_FILES = r"""
import sys
import numpy as np
from resnet_inspect import build_graph, load_spec
from resnet_inspect.io.weightfiles import save_weights
from resnet_inspect.model.weights import random_weights
spec, batch, weights, array = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
graph = build_graph(load_spec(spec))
save_weights(random_weights(graph, seed=0), weights)
np.save(array, np.random.default_rng(0).normal(0, 50, (batch, *graph.spec.input_shape)).astype(np.float32))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="resnet50")
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()

    # The files are made in a child, and nothing big is imported here before measuring: Linux
    # starts a child's ru_maxrss at its parent's RSS (exec keeps the high-water mark).
    cli = [sys.executable, "-m", "resnet_inspect"]
    with tempfile.TemporaryDirectory() as tmp:
        weights, array = Path(tmp) / "weights.npz", Path(tmp) / "x.npy"
        subprocess.run([sys.executable, "-c", MAKE_FILES, args.spec, str(args.batch), str(weights), str(array)],
                       check=True)
        floor = peak_rss_mb(cli + ["list"])
        run = peak_rss_mb(cli + ["run", args.spec, "--weights", str(weights), "--array", str(array)])
        size = weights.stat().st_size / 1e6

    from resnet_inspect import build_graph, load_spec
    from resnet_inspect.execute.executor import estimate_memory

    graph = build_graph(load_spec(args.spec))
    h, w, _ = graph.spec.input_shape
    estimate = estimate_memory(graph, (h, w), args.batch, "float32") / 1e6
    print(f"resnet-inspect run {args.spec}, batch {args.batch}, {h}x{w}, float32 (weights file {size:.1f} MB)")
    print(f"  peak RSS of `run`:                      {run:7.1f} MB   goal < {GOAL_MB} MB: "
          f"{'met' if run < GOAL_MB else 'MISSED'}")
    print(f"  peak RSS of `list` (interpreter floor): {floor:7.1f} MB")
    print(f"  executor's estimate for the forward:    {estimate:7.1f} MB (weights x2 + live activations)")


if __name__ == "__main__":
    main()
