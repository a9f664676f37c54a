"""Input-size sweeps: 1,000 sizes of resnet50 as a whole process, and the shape-only sweep beside
a full trace per size (which rebuilds the graph and every LayerInfo row each time).

Goal (issue 10): `resnet-inspect flops resnet50 --input 200:1199:1` in under 2 s as a whole
process. Wall time depends on the machine's load, so the CPU time of the child (user + system,
from wait4) is printed beside it; the in-process ratio is the peer comparison.

    python benchmarks/bench_sweep.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = "200:1199:1"
GOAL_SECONDS = 2.0


def cli() -> list[str]:
    found = shutil.which("resnet-inspect", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "resnet_inspect"]


def whole_process(fmt: str, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `flops resnet50 --input 200:1199:1 --format FMT`."""
    walls, cpus = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen([*cli(), "flops", "resnet50", "--input", SIZES, "--format", fmt],
                                stdout=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "COLUMNS": "120"})
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"flops --format {fmt} failed")
    return statistics.median(walls), statistics.median(cpus)


def in_process(runs: int) -> tuple[float, float]:
    """CPU seconds: the sweep (graph built once) and a full `trace()` per size (the naive way)."""
    from resnet_inspect import trace
    from resnet_inspect.model.graph import load_graph
    from resnet_inspect.analysis.sweep import parse_sizes, sweep

    sizes = parse_sizes([SIZES])

    def timed(func) -> float:
        times = []
        for _ in range(runs):
            start = time.process_time()
            func()
            times.append(time.process_time() - start)
        return statistics.median(times)

    def per_size() -> None:
        for size in sizes:
            try:
                trace("resnet50", size)
            except Exception:  # noqa: BLE001 - sizes below 193 fail, as in the sweep
                pass

    return timed(lambda: sweep(load_graph("resnet50"), sizes)), timed(per_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    print(f"resnet50, {SIZES} (1,000 sizes); {cores} cores, load average {load:.1f}; median of {args.runs}")
    for fmt in ("csv", "json", "table"):
        wall, cpu = whole_process(fmt, args.runs)
        verdict = "ok" if wall < GOAL_SECONDS else "over (see the CPU time: the machine is busy?)"
        print(f"  whole process, --format {fmt:5}: {wall:.2f} s wall, {cpu:.2f} s CPU   goal < {GOAL_SECONDS} s: {verdict}")
    fast, naive = in_process(args.runs)
    print(f"  in-process sweep (graph once, shapes only): {fast * 1e3:.0f} ms CPU")
    print(f"  in-process trace() per size (the peer):     {naive * 1e3:.0f} ms CPU   ratio {naive / fast:.1f}×")


if __name__ == "__main__":
    main()
