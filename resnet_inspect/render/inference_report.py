"""Rendering for ``run``: the top classes as a Rich table or JSON, and the progress bar.

Computes nothing (see :mod:`resnet_inspect.inference`). ``--format json`` never imports Rich.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..core.text import shape_text
from ..core.usertext import markup, visible
from ..model.graph import Graph
from ..execute.inference import RunResult

if TYPE_CHECKING:
    from rich.console import RenderableType

# A bar is worth drawing from ~2 s of work: this executor does about 10 GMAC/s on 2 cores
# (resnet50 at 224, batch 1, is 3.9 GMACs: no bar; batch 8 or --repeat 5: a bar).
PROGRESS_MACS = 20e9


def run_table(result: RunResult) -> "RenderableType":
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    batch = len(result.top) > 1
    table = Table(title=markup(f"{result.spec} — {result.source}"))
    if batch:
        table.add_column("Item", justify="right")
    for name, justify in (("#", "right"), ("Class", "left"), ("Index", "right"), ("Probability", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for item, predictions in enumerate(result.top):
        for rank, p in enumerate(predictions, start=1):
            cells = [str(rank), markup(p.name or "—"), str(p.index), f"{p.score:.4f}"]
            table.add_row(*([str(item) if rank == 1 else ""] if batch else []), *cells)
    return Group(table, Text(visible(_timing_text(result)), style="dim"), *_saved_lines(result))


def _saved_lines(result: RunResult) -> list[Any]:
    """Where ``--save-input`` / ``--save-output`` wrote, and what (so a user can find and load it)."""
    from rich.text import Text

    lines = []
    if result.saved_input is not None:
        lines.append(f"wrote the input batch ({shape_text(result.input_shape)} NHWC, as the network "
                     f"received it) to {result.saved_input}")
    if result.saved_output is not None:
        lines.append(f"wrote the output ({result.output_kind} {shape_text(result.output_shape)}) to {result.saved_output}")
    return [Text(visible(line)) for line in lines]


def _timing_text(result: RunResult) -> str:
    t = result.timing
    runs = "1 cold run" if t.runs == 1 else f"median of {t.runs} runs after a warm-up, min {t.min * 1e3:.1f} ms"
    return (f"output {result.output_kind} {shape_text(result.output_shape)}; "
            f"forward {t.median * 1e3:.1f} ms ({runs})")


def render_run(result: RunResult, fmt: str) -> "str | RenderableType":
    if fmt == "json":
        return result.to_json()
    return run_table(result)


@dataclass(frozen=True)
class Hooks:
    """The progress callbacks ``inference.run`` takes: per layer (first pass), per timed pass."""

    on_layer: Callable[[str, Any], None] | None = None
    on_pass: Callable[[], None] | None = None


@contextmanager
def progress(graph: Graph, input_hw: tuple[int, int], batch: int, runs: int, force: bool = False) -> Iterator[Hooks]:
    """A transient Rich bar on stderr, measured in MACs, for long runs on a terminal.

    Yields empty :class:`Hooks` (no bar: a short run, or stderr is not a terminal), so short and
    piped runs pay nothing.
    """
    from ..model.engine import trace_graph

    macs = {info.name: info.macs * batch for info in trace_graph(graph, input_hw).layers}
    per_pass = sum(macs.values())
    if not force and (per_pass * runs < PROGRESS_MACS or not sys.stderr.isatty()):
        yield Hooks()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"{markup(graph.spec.name)} ×{runs}", total=per_pass * runs)
        yield Hooks(lambda name, _array: bar.advance(task, macs.get(name, 0)), lambda: bar.advance(task, per_pass))
