"""Speed of the pure-Python engine and of a whole `trace` process, beside torchinfo.

Goals (issue 2): the engine traces a ResNet-152-sized graph in under 10 ms in-process, and
`resnet-inspect trace resnet50 --format json` runs in under 0.3 s wall as a whole process.
Goals (issue 16): as a whole process, `trace resnet50 --format json` takes at most 1.3x and the
table at most 1.5x the time of the import floor `python -c "import typer, rich, yaml"` (the
libraries the CLI cannot do without), paired: each pair runs the floor, the JSON and the table
command in turn, each in its own process, and the verdict is the median of the per-pair ratios.
Where torch and torchinfo are installed, the same run times a torchinfo summary of
torchvision's resnet50 (torchvision itself if importable, else the hand-written copy in
scripts/torch_resnet.py), in its own process, and prints the ratios.

    python benchmarks/bench_trace.py [--runs N] [--pairs N]
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

TORCHINFO = r"""
import sys, time
t0 = time.perf_counter()
import torch, torchinfo
torch.set_num_threads(2)
try:
    from torchvision.models import resnet50
    model = resnet50()
except Exception:
    sys.path.insert(0, sys.argv[1])
    from torch_resnet import ResNet, TORCHVISION
    model = ResNet([3, 4, 6, 3], TORCHVISION)
model.eval()
t1 = time.perf_counter()
runs = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    stats = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
    runs.append(time.perf_counter() - t)
runs.sort()
print(runs[len(runs) // 2], t1 - t0, stats.total_params, stats.total_mult_adds)
"""


def median_time(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def engine(runs: int) -> dict[str, float]:
    from resnet_inspect import build_graph, load_spec, trace_graph
    from resnet_inspect.model import engine as engine_module

    spec = load_spec("resnet152")
    graph = build_graph(spec)

    def fresh_trace() -> object:
        # trace_graph keeps the last few traces of a graph (a run asks for the same one from
        # several places); a benchmark of the propagation itself must not be served from it
        engine_module._TRACES.clear()
        return trace_graph(graph)

    return {
        "layers in resnet152": len(graph),
        "trace (graph built)": median_time(fresh_trace, runs),
        "build graph + trace": median_time(lambda: trace_graph(build_graph(spec)), runs),
        "load spec + build + trace": median_time(lambda: trace_graph(build_graph(load_spec("resnet152"))), runs),
    }


def process_env() -> dict[str, str]:
    """The timed processes' environment: .pyc files may be written (an installed package has them;
    any value of PYTHONDONTWRITEBYTECODE, even "0", forbids it), and the OpenBLAS tuning some
    machines set for the forward-pass benchmarks is set aside: trace never loads NumPy."""
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(name, None)
    return env


def wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, env=env, check=True)
    return time.perf_counter() - start


FLOOR = [sys.executable, "-c", "import typer, rich, yaml"]


def startup_pairs(ours: list[str], pairs: int) -> dict[str, list[float]]:
    """Floor, JSON and table as whole processes, taking turns (the order rotates each pair so no
    command always runs after the same one): the ratios are per pair, so load on the machine
    that comes and goes slows both sides of a ratio alike."""
    env = process_env()
    commands = {"floor": FLOOR, "json": ours + ["trace", "resnet50", "--format", "json"],
                "table": ours + ["trace", "resnet50"]}
    for command in commands.values():
        wall(command, env)  # warm the page cache and write the .pyc files
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for i in range(pairs):
        for name in names[i % 3:] + names[:i % 3]:
            times[name].append(wall(commands[name], env))
    return times


def process(command: list[str], runs: int) -> float:
    env = process_env()
    wall(command, env)  # warm the page cache and .pyc
    return statistics.median(wall(command, env) for _ in range(runs))


def torchinfo_summary(runs: int) -> tuple[float, float, int, int] | None:
    probe = subprocess.run([sys.executable, "-c", "import torch, torchinfo"], capture_output=True)
    if probe.returncode != 0:
        return None
    out = subprocess.run([sys.executable, "-c", TORCHINFO, str(ROOT / "scripts"), str(runs)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]), int(out[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--pairs", type=int, default=15, help="start-up pairs (at least 11)")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print("\nengine, in-process (median of 200):")
    results = engine(200)
    for name, value in results.items():
        print(f"  {name:28s} {value * 1000:8.2f} ms" if isinstance(value, float) else f"  {name:28s} {value:8d}")
    verdict = "PASS" if results["load spec + build + trace"] < 0.010 else "FAIL"
    print(f"  goal: resnet152 under 10 ms -> {verdict}")

    cli = shutil.which("resnet-inspect")
    ours_cmd = [cli] if cli else [sys.executable, "-m", "resnet_inspect"]
    ours = process(ours_cmd + ["trace", "resnet50", "--format", "json"], args.runs)
    bare = process([sys.executable, "-c", "pass"], args.runs)
    print(f"\nwhole process, median of {args.runs}:")
    print(f"  resnet-inspect trace resnet50 --format json  {ours:6.3f} s  (goal < 0.3 s: {'PASS' if ours < 0.3 else 'FAIL'})")
    print(f"  python -c pass (interpreter start-up)        {bare:6.3f} s")

    pairs = max(11, args.pairs)
    times = startup_pairs(ours_cmd, pairs)
    floor = statistics.median(times["floor"])
    print(f"\nstart-up against the import floor, {pairs} pairs taking turns, each its own process:")
    print(f"  python -c \"import typer, rich, yaml\"        {floor:6.3f} s  (median)")
    for name, label, goal in (("json", "trace resnet50 --format json", 1.3), ("table", "trace resnet50 (table)", 1.5)):
        ratio = statistics.median(t / f for t, f in zip(times[name], times["floor"]))
        verdict = "PASS" if ratio <= goal else "FAIL"
        print(f"  {label:42s} {statistics.median(times[name]):6.3f} s  {ratio:5.2f}x floor (goal <= {goal}x: {verdict})")

    peer = torchinfo_summary(max(3, args.runs // 3))
    if peer is None:
        print("\ntorchinfo: not installed (pip install '.[torch]' torchinfo) - no peer timing")
        return
    summary, startup, params, mult_adds = peer
    print("\ntorchinfo.summary(resnet50, (1, 3, 224, 224)), same run, own process, 2 threads:")
    print(f"  import torch + build model                  {startup:6.3f} s")
    print(f"  summary (median)                            {summary:6.3f} s")
    print(f"  torchinfo says: {params:,} params, {mult_adds:,} mult-adds")
    print(f"  ratio: torchinfo summary / our whole process   {summary / ours:5.1f}x")
    print(f"  ratio: torchinfo (import + build + summary) / our whole process  {(startup + summary) / ours:5.1f}x")


if __name__ == "__main__":
    main()
