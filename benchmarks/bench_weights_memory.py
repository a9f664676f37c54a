"""Peak memory (RSS) of `weights check` on resnet50 for each format, against the parameter bytes.

Goal (issue 7): checking or loading a weights file peaks within the spec's parameter bytes (as
stored: float32 here) plus a small constant over the interpreter's floor: the headers are checked
against the graph first and each array is read straight into its own buffer, so no second copy
of the file and no decompressed blow-up is ever held. Each command runs as its own child process
started from a small reaper, and its own peak RSS (``ru_maxrss``) is read with ``os.wait4``; the
files are made in another child so this process stays small (Linux carries a parent's RSS into
its children's ru_maxrss).

    python benchmarks/bench_weights_memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

GOAL_OVERHEAD_MB = 64  # over the interpreter floor + parameter bytes

MAKE_FILES = r"""
import sys
from pathlib import Path
import numpy as np
from resnet_inspect import build_graph, load_spec
from resnet_inspect.io.weightfiles import save_weights
from resnet_inspect.model.weights import random_weights, torchvision_names
from safetensors.numpy import save_file
folder = Path(sys.argv[1])
graph = build_graph(load_spec("resnet50"))
weights = random_weights(graph, seed=0)
save_weights(weights, folder / "w.npz", graph)
save_weights(weights, folder / "w.h5", graph)
tv = build_graph(load_spec("resnet50-torchvision"))
names, torch = torchvision_names(tv), {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
                                       "moving_mean": "running_mean", "moving_variance": "running_var"}
state = {}
for layer, keys in random_weights(tv, seed=0).items():
    for key, array in keys.items():
        if key == "kernel":
            array = array.transpose((3, 2, 0, 1) if array.ndim == 4 else (1, 0))
        state[f"{names[layer]}.{torch[key]}"] = np.ascontiguousarray(array)
save_file(state, str(folder / "w.safetensors"))
print(sum(a.nbytes for keys in weights.values() for a in keys.values()))
"""

REAPER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def peak_rss_mb(command: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", REAPER, *command], capture_output=True, text=True, check=True)
    kib, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(command)} failed: {out.stderr.strip()}")
    return int(kib) * 1024 / 1e6


def main() -> None:
    cli = [sys.executable, "-m", "resnet_inspect"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        made = subprocess.run([sys.executable, "-c", MAKE_FILES, tmp], capture_output=True, text=True, check=True)
        params_mb = int(made.stdout.split()[-1]) / 1e6
        floor = peak_rss_mb([sys.executable, "-c", "import numpy, h5py, resnet_inspect.cli"])
        print(f"resnet50 parameters: {params_mb:.1f} MB (float32); interpreter floor (numpy + h5py imported): {floor:.1f} MB")
        for name, spec in (("w.npz", "resnet50"), ("w.h5", "resnet50"), ("w.safetensors", "resnet50-torchvision")):
            file = folder / name
            peak = peak_rss_mb(cli + ["weights", "check", spec, str(file)])
            overhead = peak - floor - params_mb
            print(f"  weights check {name:14} file {file.stat().st_size / 1e6:6.1f} MB  peak RSS {peak:6.1f} MB  "
                  f"= floor + parameters + {overhead:5.1f} MB   goal overhead < {GOAL_OVERHEAD_MB} MB: "
                  f"{'met' if overhead < GOAL_OVERHEAD_MB else 'MISSED'}")


if __name__ == "__main__":
    main()
