"""diff, smallest_input and check on specs far deeper than any real network (issue 7).

Each is timed beside a peer in the same run: one trace of the same graph (the linear baseline
every command must at least pay), and the algorithm it replaced (kept below, for reference
only). Goals: every ratio to a trace stays flat as the graph grows (linear, not quadratic):
diff ≤ 12 traces (it traces both sides, then pairs and compares every layer), smallest_input
≤ 1 trace, check with 10 input sizes in ``expect:`` ≤ 16 traces (it parses, builds, and traces
11 times: the default input and each size, keeping only the totals of the other sizes).

    python benchmarks/bench_huge.py [--blocks 100 400 900]  (per stage, two stages)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from resnet_inspect.analysis.check import check_spec
from resnet_inspect.analysis.diff import diff_specs
from resnet_inspect.model.engine import _fits, smallest_input, trace_graph
from resnet_inspect.model.graph import build_graph
from resnet_inspect.language.spec import parse_spec

SPEC = """\
name: deep-{blocks}
stem: {{conv: {{filters: 64, kernel: 7, stride: 2}}, pool: {{size: 3, stride: 2}}}}
stages:
  - {{stage: 2, filters: [{width}, {width}, 256], blocks: {blocks}, stride: 1}}
  - {{stage: 3, filters: [{width}, {width}, 512], blocks: {blocks}, stride: 2}}
head: {{pool: avg, pool_size: 7, dense: {{units: 10}}}}
expect:
  max_macs: {{{sizes}}}
"""
SIZES = ", ".join(f"{224 + i}: 1.0e30" for i in range(10))


def best(function: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def old_stride_moves(layers):  # the quadratic version diff.py had: every layer scanned per block
    moves = []
    for block in dict.fromkeys(d.block for d in layers):
        strides = [(d, c) for d in layers if d.block == block for c in d.changes if c.field == "stride"]
        lost = [(d, c) for d, c in strides if c.a > 1 and c.b == 1]
        gained = [(d, c) for d, c in strides if c.a == 1 and c.b > 1]
        moves += [(d_from.name, d_to.name) for (d_from, c_from), (d_to, c_to) in zip(lost, gained) if c_from.a == c_to.b]
    return moves


def old_smallest_input(graph):  # the doubling search and bisection engine.py had
    high = 1
    while not _fits(graph, high):
        high *= 2
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if _fits(graph, mid) else (mid, high)
    return high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[100, 400, 900])
    args = parser.parse_args()
    verdicts = []
    print(f"{'layers':>7} {'trace':>8} {'diff':>14} {'(old moves)':>12} {'smallest':>14} {'(old)':>8} {'check 10 sizes':>16}")
    for blocks in args.blocks:
        a = parse_spec(SPEC.format(blocks=blocks, width=64, sizes=SIZES), "a.yaml")
        b = parse_spec(SPEC.format(blocks=blocks, width=32, sizes=SIZES), "b.yaml")  # every layer of both stages changes
        graph = build_graph(a)
        trace = best(lambda: trace_graph(graph))
        result = diff_specs(a, b)
        diff = best(lambda: diff_specs(a, b), 2)
        old_moves = best(lambda: old_stride_moves(result.layers), 1)
        assert smallest_input(graph) == old_smallest_input(graph)
        smallest = best(lambda: smallest_input(graph))
        old_smallest = best(lambda: old_smallest_input(graph), 1)
        check = best(lambda: check_spec(a), 2)
        print(f"{len(graph):>7} {trace * 1e3:>6.0f}ms {diff * 1e3:>7.0f}ms {diff / trace:>4.1f}× "
              f"{old_moves * 1e3:>10.0f}ms {smallest * 1e3:>7.0f}ms {smallest / trace:>4.1f}× {old_smallest * 1e3:>6.0f}ms "
              f"{check * 1e3:>8.0f}ms {check / trace:>5.1f}×")
        verdicts.append(diff / trace <= 12 and smallest / trace <= 1 and check / trace <= 16)
    print("goals (diff ≤ 12, smallest_input ≤ 1, check ≤ 16 traces at every depth):",
          "OK" if all(verdicts) else "MISSED")


if __name__ == "__main__":
    main()
