"""Time `resnet-inspect check DIR` over 1,000 generated spec files, as one process.

Goal (issue 4): under 5 s on the 2-core dev machine, so CI can check a big repository of
architectures on every push. The files are variations of the bundled specs (width, blocks per
stage, block kind, stride placement, pool padding, head), each with `expect:` budgets so the
expectations are checked too. The command is run a few times and the best and median wall
times are printed, with the per-spec cost.

    python benchmarks/bench_check.py [--specs 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 5.0

TEMPLATE = """\
name: {name}
input: [{size}, {size}, 3]
variables: {{base: {base}}}
block: {block}
conventions: {{conv_bias: {bias}, stride_on: {stride_on}, pool_padding: {pool_padding}}}
stem:
  pad: 3
  conv: {{filters: base, kernel: 7, stride: 2}}
  pool: {{size: 3, stride: 2}}
stages:
{stages}
head:
  pool: {head_pool}
  pool_size: {pool_size}
  dense: {{units: {units}, name: fc{units}}}
expect:
  max_params: 1.0e12
  max_macs: {{{size}: 1.0e15}}
  shapes: {{conv1: [{conv1}, {conv1}, {base}]}}
"""


def make_spec(index: int, rng: random.Random) -> str:
    block = rng.choice(["bottleneck", "bottleneck", "basic"])
    base = rng.choice([16, 32, 64])
    size = rng.choice([224, 256, 288])
    stages = []
    for number, scale in zip((2, 3, 4, 5), (1, 2, 4, 8)):
        filters = [f"{scale}*base", f"{scale}*base"] + ([f"{4 * scale}*base"] if block == "bottleneck" else [])
        blocks = rng.randint(1, 6)
        stride = 1 if number == 2 else 2
        stages.append(f"  - {{stage: {number}, filters: [{', '.join(filters)}], blocks: {blocks}, stride: {stride}}}")
    pool_padding = rng.choice([0, 1])
    # Pool size 7 fits every map from these input sizes (224 -> 7 or 6; so use global then).
    head_pool = "global" if size == 224 and pool_padding == 0 else rng.choice(["avg", "global"])
    return TEMPLATE.format(
        name=f"generated-{index:04d}", size=size, base=base, block=block, bias=rng.choice(["true", "false"]),
        stride_on=rng.choice(["1x1", "3x3"]), pool_padding=pool_padding, stages="\n".join(stages),
        head_pool=head_pool, pool_size=7, units=rng.choice([10, 100, 1000]), conv1=(size + 6 - 7) // 2 + 1)


def write_specs(folder: Path, count: int) -> None:
    rng = random.Random(0)
    for index in range(count):
        (folder / f"group{index % 10}").mkdir(exist_ok=True)
        (folder / f"group{index % 10}" / f"spec{index:04d}.yaml").write_text(make_spec(index, rng), encoding="utf-8")


def time_check(folder: Path) -> tuple[float, subprocess.CompletedProcess]:
    command = [sys.executable, "-m", "resnet_inspect", "check", str(folder), "--format", "json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    return time.perf_counter() - start, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_specs(folder, args.specs)
        times = []
        for _ in range(args.repeat):
            seconds, done = time_check(folder)
            if done.returncode != 0:
                raise SystemExit(f"check failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            times.append(seconds)
    best, median = min(times), statistics.median(times)
    verdict = "OK" if best < GOAL_SECONDS else "TOO SLOW"
    print(f"resnet-inspect check over {args.specs} generated specs (one process, {args.repeat} runs): "
          f"best {best:.2f} s, median {median:.2f} s, {1000 * best / args.specs:.2f} ms per spec; "
          f"goal < {GOAL_SECONDS:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
