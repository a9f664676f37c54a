"""Rendering: traces and summaries as Rich tables, JSON, CSV and Markdown. Computes nothing.

Text formats return strings; the table format returns a Rich renderable, built only when asked
for, so ``--format json`` never imports Rich.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .peers import peer_numbers
from .statistics import Totals, TraceResult

if TYPE_CHECKING:
    from rich.console import RenderableType

    from .memory import MemoryProfile
    from .receptive import ReceptiveReport
    from .sweep import Sweep

    from .verify import VerifyResult

FORMATS = ("table", "json", "csv", "markdown")


@dataclass(frozen=True)
class Row:
    """A printed row: one layer, or a block or stage collapsed into one."""

    name: str
    op: str
    detail: str
    inputs: tuple[str, ...]
    output_shape: tuple[int, ...]
    totals: Totals
    stage: str
    block: str


def rows(result: TraceResult, depth: str = "layer") -> list[Row]:
    if depth == "layer":
        return [Row(i.name, i.op, i.detail, i.inputs, i.output_shape, Totals.of([i]), i.stage, i.block)
                for i in result.layers]
    return [Row(g.name, "" if depth == "stage" else g.kind, f"{len(g.layers)} layers", (), g.output_shape, g.totals,
                g.layers[0].stage, g.layers[0].block if depth == "block" else "") for g in result.groups(depth)]


def shape_text(shape: tuple[int, ...], sep: str = "×") -> str:
    """56×56×256 for people; CSV passes ``sep="x"`` (56x56x256) so the file stays ASCII."""
    return sep.join(str(d) for d in shape)


def count(n: int) -> str:
    return f"{n:,}"


def si(n: float, unit: str = "") -> str:
    """3857973248 -> '3.86 G' (decimal prefixes, as papers and torchinfo use)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.2f} {prefix}{unit}"
    return f"{n:g} {unit}".rstrip()


# --------------------------------------------------------------------------- trace


def trace_json(result: TraceResult, depth: str = "layer") -> str:
    data = result.to_dict()
    if depth != "layer":
        data["depth"] = depth
        data["groups"] = [_row_dict(row) for row in rows(result, depth)]
    return json.dumps(data, indent=2)


def _row_dict(row: Row) -> dict[str, Any]:
    return {"name": row.name, "kind": row.op, "output_shape": list(row.output_shape), **asdict(row.totals)}


def trace_csv(result: TraceResult, depth: str = "layer") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "op", "inputs", "output_shape", "params", "trainable_params",
                     "non_trainable_params", "macs", "flops", "stage", "block"])
    for row in rows(result, depth):
        t = row.totals
        writer.writerow([row.name, row.op, " ".join(row.inputs), shape_text(row.output_shape, "x"), t.params,
                         t.trainable_params, t.non_trainable_params, t.macs, t.flops, row.stage, row.block])
    return out.getvalue()


def trace_markdown(result: TraceResult, depth: str = "layer") -> str:
    lines = [f"### {result.spec} at {shape_text(result.input_shape)}", "",
             "| Layer | Op | Output shape | Params | MACs |", "|---|---|---|---:|---:|"]
    for row in rows(result, depth):
        lines.append(f"| {row.name} | {_op_text(row)} | {shape_text(row.output_shape)} | "
                     f"{count(row.totals.params)} | {count(row.totals.macs)} |")
    t = result.totals
    lines.append(f"| **Total** | | | **{count(t.params)}** | **{count(t.macs)}** |")
    lines += ["", f"Params: {count(t.params)} ({count(t.trainable_params)} trainable, "
                  f"{count(t.non_trainable_params)} non-trainable). "
                  f"MACs: {count(t.macs)} ({si(t.macs, 'MACs')}); FLOPs: {count(t.flops)} ({si(t.flops, 'FLOPs')})."]
    return "\n".join(lines) + "\n"


def _op_text(row: Row) -> str:
    return f"{row.op} {row.detail}".strip()


def trace_table(result: TraceResult, depth: str = "layer") -> "RenderableType":
    from rich.table import Table

    t = result.totals
    table = Table(title=f"{result.spec} — input {shape_text(result.input_shape)}", show_footer=True,
                  caption=f"MACs = multiply-accumulates (conv + dense); FLOPs = {count(t.flops)} "
                          f"({si(t.flops, 'FLOPs')}) by the README's counting rule",
                  footer_style="bold")
    table.add_column("Layer" if depth == "layer" else depth.capitalize(), footer="Total")
    table.add_column("Op")
    table.add_column("Output shape", justify="right", footer=shape_text(result.layers[-1].output_shape))
    table.add_column("Params", justify="right", footer=count(t.params))
    table.add_column("MACs", justify="right", footer=f"{count(t.macs)} ({si(t.macs)})")
    previous: Row | None = None
    for row in rows(result, depth):
        if previous is not None and depth == "layer" and row.block != previous.block:
            table.add_section()
        if depth == "layer" and (previous is None or row.stage != previous.stage):
            table.add_row(f"[bold cyan]{row.stage}[/]", "", "", "", "")
        table.add_row(row.name, _op_text(row), shape_text(row.output_shape), count(row.totals.params),
                      si(row.totals.macs) if row.totals.macs else "")
        previous = row
    return table


def render_trace(result: TraceResult, fmt: str, depth: str = "layer") -> "str | RenderableType":
    return {"json": trace_json, "csv": trace_csv, "markdown": trace_markdown, "table": trace_table}[fmt](result, depth)


# --------------------------------------------------------------------------- flops


def flops_dict(spec: str, results: list[TraceResult]) -> dict[str, Any]:
    return {
        "spec": spec,
        "unit": {"macs": "multiply-accumulates", "flops": "floating-point operations"},
        "results": [{"input": list(r.input_shape), "macs": r.totals.macs, "flops": r.totals.flops,
                     "by_stage": {stage: {"macs": t.macs, "flops": t.flops} for stage, t in r.by_stage().items()},
                     "peers": peer_numbers(r)}
                    for r in results],
    }


def render_flops(spec: str, results: list[TraceResult], fmt: str) -> "str | RenderableType":
    data = flops_dict(spec, results)
    if fmt == "json":
        return json.dumps(data, indent=2)
    header = ["stage"] + [f"{shape_text(tuple(r['input']))} {unit}" for r in data["results"] for unit in ("MACs", "FLOPs")]
    stages = list(data["results"][0]["by_stage"])
    body = [[stage] + [r["by_stage"][stage][k] for r in data["results"] for k in ("macs", "flops")] for stage in stages]
    total = ["total"] + [r[k] for r in data["results"] for k in ("macs", "flops")]
    peers = ", ".join(f"{count(r['peers']['torchinfo_mult_adds'])} at {shape_text(tuple(r['input']))}"
                      for r in data["results"])
    note = f"torchinfo reports {peers} mult-adds: it adds BN and bias parameters to the MACs."
    return _grid(f"{spec}: MACs and FLOPs by stage", header, body, total, fmt, note)


# --------------------------------------------------------------------------- params


def params_dict(result: TraceResult) -> dict[str, Any]:
    t = result.totals
    return {
        "spec": result.spec,
        **{k: v for k, v in asdict(t).items() if k.endswith("params")},
        "by_stage": {stage: {k: v for k, v in asdict(s).items() if k.endswith("params")}
                     for stage, s in result.by_stage().items()},
        "conventions": {
            "keras": "params = trainable + non-trainable (BN moving mean/variance count, non-trainable)",
            "torch": "sum(p.numel() for p in model.parameters()) = trainable_params (BN running stats are buffers)",
        },
    }


def render_params(result: TraceResult, fmt: str) -> "str | RenderableType":
    data = params_dict(result)
    if fmt == "json":
        return json.dumps(data, indent=2)
    header = ["stage", "params", "trainable", "non-trainable"]
    body = [[stage, s["params"], s["trainable_params"], s["non_trainable_params"]] for stage, s in data["by_stage"].items()]
    total = ["total", data["params"], data["trainable_params"], data["non_trainable_params"]]
    note = ("Keras model.summary() reports params; PyTorch's parameters() (torchinfo, torchvision) "
            f"reports trainable_params = {count(data['trainable_params'])}.")
    return _grid(f"{result.spec}: parameters", header, body, total, fmt, note)


# --------------------------------------------------------------------------- list


def render_list(specs: list[tuple[str, str]], fmt: str) -> "str | RenderableType":
    if fmt == "json":
        return json.dumps({"specs": [{"name": n, "description": d} for n, d in specs]}, indent=2)
    return _grid("Bundled specs", ["name", "description"], [[n, d] for n, d in specs], None, fmt)


# --------------------------------------------------------------------------- verify


def render_verify(result: "VerifyResult", fmt: str) -> "str | RenderableType":
    """Predicted vs actual shape per layer with ✓/✗, time per layer, per stage and in all."""
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2)
    header = ["layer", "op", "predicted", "actual", "ok", "ms"]
    if fmt == "csv":  # machine-readable: shapes as 56x56x256, ok as true/false
        body = [[c.name, c.op, shape_text(c.predicted, "x"), shape_text(c.actual, "x"), str(c.ok).lower(),
                 f"{c.seconds * 1e3:.3f}"] for c in result.layers]
        return _grid("", header, body, None, fmt)
    body = [[c.name, c.op, shape_text(c.predicted), shape_text(c.actual), "✓" if c.ok else "✗",
             f"{c.seconds * 1e3:.2f}"] for c in result.layers]
    stages = ", ".join(f"{stage} {seconds * 1e3:.1f} ms" for stage, seconds in result.stage_seconds().items())
    verdict = ("all shapes as predicted" if result.ok
               else f"{len(result.mismatches)} of {len(result.layers)} layers differ")
    title = (f"verify {result.spec}: input {shape_text(result.input_shape)}, batch {result.batch}, "
             f"{result.dtype}, seed {result.seed}: {verdict}")
    note = f"forward {result.total_seconds * 1e3:.1f} ms: {stages}"
    if fmt == "markdown":
        return _grid(title, header, body, None, fmt, note)
    from rich.table import Table

    table = Table(title=title, caption=note)
    for name in header:
        table.add_column(name, justify="right" if name in ("predicted", "actual", "ms") else "left")
    previous = None
    for check, line in zip(result.layers, body):
        if previous is not None and check.stage != previous:
            table.add_section()
        style = None if check.ok else "bold red"
        table.add_row(*line[:4], f"[green]{line[4]}[/]" if check.ok else line[4], line[5], style=style)
        previous = check.stage
    return table


# --------------------------------------------------------------------------- shared grid


def _grid(title: str, header: list[str], body: list[list[Any]], total: list[Any] | None, fmt: str,
          note: str = "") -> "str | RenderableType":
    """A small table in any text format; numbers printed exactly with thousands separators."""
    cells = [[count(c) if isinstance(c, int) else str(c) for c in line] for line in body]
    total_cells = [count(c) if isinstance(c, int) else str(c) for c in total] if total else None
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body + ([total] if total else []))
        return out.getvalue()
    if fmt == "markdown":
        lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(line) + " |" for line in cells]
        if total_cells:
            lines.append("| " + " | ".join(f"**{c}**" for c in total_cells) + " |")
        return "\n".join(lines + ([f"\n{note}"] if note else [])) + "\n"
    from rich.table import Table

    table = Table(title=title, caption=note or None, show_footer=total_cells is not None, footer_style="bold")
    for i, name in enumerate(header):
        numeric = bool(body) and all(isinstance(line[i], int) for line in body)
        table.add_column(name, justify="right" if numeric else "left",
                         footer=total_cells[i] if total_cells else "")
    for line in cells:
        table.add_row(*line)
    return table


# --------------------------------------------------------------------------- receptive field


def pair_text(pair: tuple[Any, ...]) -> str:
    """One number when H and W agree (483), else H×W (483×675)."""
    return str(pair[0]) if len(set(pair)) == 1 else shape_text(tuple(pair))


def render_rf(report: "ReceptiveReport", fmt: str) -> "str | RenderableType":
    """Per layer: receptive-field size, effective stride and padding; then the last stage's coverage."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2)
    header = ["layer", "op", "output shape", "rf size", "stride", "padding"]
    if fmt == "csv":  # one number per column, ready to plot
        header = ["layer", "op", "output_shape", "size_h", "size_w", "stride_h", "stride_w", "padding_h", "padding_w"]
        body = [[r.name, r.op, shape_text(r.output_shape, "x"), *r.field.size, *r.field.stride, *r.field.padding]
                for r in report.layers]
        return _grid("", header, body, None, fmt)
    body = [[r.name, r.op, shape_text(r.output_shape), pair_text(r.field.size), pair_text(r.field.stride),
             pair_text(r.field.padding)] for r in report.layers]
    last = report.layer(report.last_stage_layer)
    note = (f"{report.last_stage_layer}: receptive field {pair_text(last.size)} px, effective stride "
            f"{pair_text(last.stride)}, effective padding {pair_text(last.padding)}; at "
            f"{shape_text(report.input_shape[:2])} every unit {'sees' if report.covers_input else 'does not see'} "
            "the whole input")
    if report.unit is not None:
        u = report.unit
        note += (f". Unit {u.unit[0]},{u.unit[1]} of {u.layer} is centred on input pixel "
                 f"{u.center[0]:g},{u.center[1]:g} (rows {u.first[0]}…{u.last[0]}, columns {u.first[1]}…{u.last[1]})")
    title = f"{report.spec}: receptive field per layer at {shape_text(report.input_shape)}"
    return _grid(title, header, body, None, fmt, note + ".")


# --------------------------------------------------------------------------- memory


def megabytes(n: int) -> str:
    """Bytes as torchinfo prints them: decimal MB (1 MB = 10⁶ bytes), two decimals."""
    return f"{n / 1e6:.2f} MB"


def render_memory(profile: "MemoryProfile", fmt: str) -> "str | RenderableType":
    """Per layer: output bytes and bytes live once it is computed; the peak and the parameters."""
    if fmt == "json":
        return json.dumps(profile.to_dict(), indent=2)
    header = ["layer", "output bytes", "live bytes"]
    body = [[layer.name, layer.output_bytes, layer.live_bytes] for layer in profile.layers]
    if fmt == "csv":
        return _grid("", header, body, None, fmt)
    p = profile
    where = f"{shape_text(p.input_shape)}, batch {p.batch}, {p.dtype}"
    if p.convention == "torchinfo":
        title = f"{p.spec}: memory at {where}, torchinfo's convention"
        note = (f"torchinfo's convention: Input size {megabytes(p.input_bytes)}; Forward/backward pass size "
                f"{megabytes(p.peak_activation_bytes)} (2 × the outputs of layers with parameters); "
                f"Params size {megabytes(p.param_bytes)} (parameters() only)")
    else:
        title = f"{p.spec}: inference memory at {where}"
        note = (f"peak live activations {count(p.peak_activation_bytes)} bytes ({megabytes(p.peak_activation_bytes)}) "
                f"at {p.peak_layer}; parameters {count(p.param_bytes)} bytes ({megabytes(p.param_bytes)}, "
                "BN moving statistics included)")
    return _grid(title, header, body, None, fmt, note)


# --------------------------------------------------------------------------- sweeps


BAR_WIDTH = 20


def bar(value: int, largest: int, width: int = BAR_WIDTH) -> str:
    """A bar of block characters, eighths included, ``value / largest`` of ``width`` long."""
    eighths = round(8 * width * value / largest) if largest else 0
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


def render_sweep(result: "Sweep", fmt: str) -> "str | RenderableType":
    """One row per input size: MACs, FLOPs, final feature map, params; a failed size says why."""
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2)
    if fmt == "csv":  # one number per column, ready to plot; failed sizes have an error and empty cells
        header = ["input_h", "input_w", "macs", "flops", "params", "final_feature_map", "error"]
        body = [[*row.input_shape[:2], _blank(row.macs), _blank(row.flops), _blank(row.params),
                 "" if row.final_feature_map is None else shape_text(row.final_feature_map, "x"), row.error or ""]
                for row in result.rows]
        return _grid("", header, body, None, fmt)
    largest = max((row.macs or 0 for row in result.rows), default=0)
    header = ["input", "MACs", "FLOPs", "final feature map", "params", "MACs bar"]
    body = [[shape_text(row.input_shape[:2]), si(row.macs), si(row.flops), shape_text(row.final_feature_map),
             count(row.params), bar(row.macs, largest)] if row.error is None else
            [shape_text(row.input_shape[:2]), "—", "—", "—", "—", row.error] for row in result.rows]
    note = f"final feature map = output of {result.final_layer}; MACs and FLOPs by the README's counting rule"
    if result.smallest_input is not None:
        note += f"; the smallest input that works is {result.smallest_input}"
    return _grid(f"{result.spec}: MACs and FLOPs per input size", header, body, None, fmt, note)


def _blank(value: int | None) -> int | str:
    return "" if value is None else value
