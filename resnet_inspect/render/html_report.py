"""``resnet-inspect report``: one self-contained HTML page about a spec, for looking rather than reading.

Everything is inline (CSS, SVG figures and charts; no script, no CDN, no web font), so the file
opens offline, attaches to an issue or a pull request, and cannot fetch anything. The numbers
come from the trace (:mod:`.statistics` totals), the figures from :mod:`.diagrams` and
:mod:`.charts`; this module only arranges them. Every user-written text (spec name, description,
layer names) is made visible by :mod:`.usertext` and HTML-escaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import charts
from .diagrams import block_diagram, distinct_blocks, network_diagram
from ..core.text import count, shape_text, si, to_json
from ..core.usertext import html_text, visible
from ..model.ops import FLOPS_RULE

if TYPE_CHECKING:
    from .diagrams import Diagram
    from ..model.graph import Graph
    from ..language.spec import Spec
    from ..model.statistics import TraceResult

SUFFIXES = (".html", ".htm")
MACS_COLOUR = "#2563eb"
PARAMS_COLOUR = "#d97706"

CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f1f5f9; color: #0f172a;
       font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { margin: 0 0 4px; font-size: 28px; }
header p { margin: 4px 0; color: #475569; max-width: 900px; line-height: 1.45; }
section { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 18px 22px; margin: 18px 0; }
section h2 { margin: 0 0 12px; font-size: 19px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
.card { border: 1px solid #e2e8f0; border-radius: 8px; padding: 12px 14px; background: #f8fafc; }
.card .what { font-size: 13px; color: #475569; }
.card .value { font-size: 24px; font-weight: 700; margin: 4px 0; font-variant-numeric: tabular-nums; }
.card .more { font-size: 12.5px; color: #475569; font-variant-numeric: tabular-nums; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.row > div { flex: 1 1 380px; min-width: 0; }
figure { margin: 0; overflow-x: auto; max-width: 100%; }
figure svg { max-width: 100%; height: auto; }
.wide { overflow-x: auto; max-width: 100%; }
figcaption { font-size: 13px; color: #475569; margin-top: 4px; max-width: 520px; }
.note { font-size: 13px; color: #475569; line-height: 1.45; }
table { border-collapse: collapse; font-size: 13px; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eef2f6; text-align: left; white-space: nowrap; }
th { position: sticky; top: 0; background: #f8fafc; border-bottom: 2px solid #cbd5e1; }
td.n, th.n { text-align: right; }
tr.stage td { background: #e0f2fe; font-weight: 700; }
tfoot td { font-weight: 700; border-top: 2px solid #cbd5e1; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
"""


def text(value: object) -> str:
    """User text for HTML: control characters made visible, then ``& < > " '`` escaped."""
    return html_text(value)


def report_html(spec: "str | Path | Spec", input: "int | str | tuple[int, int] | None" = None) -> str:
    """The Python API of ``resnet-inspect report``: the whole page as a string."""
    from ..model.engine import parse_input, trace_graph
    from ..model.graph import load_graph

    graph = load_graph(spec)
    result = trace_graph(graph, None if input is None else parse_input(input, "input"))
    return render_page(graph, result)


def render_page(graph: "Graph", result: "TraceResult") -> str:
    sections = [_summary(result), _stage_charts(graph, result), _block_diagrams(graph, result)]
    sections += [s for s in (_receptive_field(result), _memory(result)) if s]
    sections.append(_layer_table(result))
    title = f"{visible(result.spec)} at {shape_text(result.input_shape)}"
    description = graph.spec.description
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No fetches of any kind: inline styles and images only, nothing from the network.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">",
        f"<title>{text(title)} · resnet-inspect report</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<header><h1>{text(result.spec)}</h1>",
        f"<p>input {shape_text(result.input_shape)} · {len(result.layers)} layers"
        f"{' · ' + text(description) if description else ''}</p></header>",
        *sections,
        '<p class="note">Made by resnet-inspect from the spec alone (no weights, no framework): '
        "the same numbers as <code>resnet-inspect trace</code>.</p>",
        "</main></body></html>",
    ]) + "\n"


def _section(title: str, body: str) -> str:
    return f"<section><h2>{title}</h2>\n{body}\n</section>"


def _card(what: str, value: str, more: str) -> str:
    return f'<div class="card"><div class="what">{what}</div><div class="value">{value}</div><div class="more">{more}</div></div>'


def _summary(result: "TraceResult") -> str:
    t = result.totals
    cards = [
        _card("Parameters", count(t.params), f"{count(t.trainable_params)} trainable · "
                                            f"{count(t.non_trainable_params)} non-trainable (BN moving stats)"),
        _card("MACs", si(t.macs), f"{count(t.macs)} multiply-accumulates (conv + dense)"),
        _card("FLOPs", si(t.flops), f"{count(t.flops)} (every op: {html_text(FLOPS_RULE)})"),
        _card("Output", shape_text(result.layers[-1].output_shape),
              f"from input {shape_text(result.input_shape)}, {len(result.layers)} layers"),
    ]
    note = ('<p class="note">Parameters follow Keras (<code>params</code> = trainable + non-trainable); '
            "PyTorch's <code>parameters()</code> counts the trainable ones. MACs are what the ResNet paper "
            "calls FLOPs, torchinfo mult-adds and fvcore flops.</p>")
    return _section("Summary", f'<div class="cards">{"".join(cards)}</div>\n{note}')


def _stage_charts(graph: "Graph", result: "TraceResult") -> str:
    stages = result.by_stage()
    macs = charts.bar_chart("MACs by stage", [(visible(name), t.macs, si(t.macs)) for name, t in stages.items()],
                            MACS_COLOUR)
    params = charts.bar_chart("Parameters by stage",
                              [(visible(name), t.params, f"{count(t.params)}") for name, t in stages.items()],
                              PARAMS_COLOUR)
    network = (f"<figure>{network_diagram(graph, result).to_svg('network')}"
               "<figcaption>Shapes on the edges are each stage's output.</figcaption></figure>")
    bars = f"<div><figure>{charts.svg(macs)}</figure><figure>{charts.svg(params)}</figure>{_STAGE_NOTE}</div>"
    return _section("The network by stage", f'<div class="row">{network}{bars}</div>')


_STAGE_NOTE = ('<p class="note">Compute sits where maps are large, parameters where channels are many: '
               "the last stage holds most of the weights for a fraction of the MACs.</p>")


def _block_diagrams(graph: "Graph", result: "TraceResult") -> str:
    figures = []
    for i, block in enumerate(distinct_blocks(graph)[:4]):
        d = block_diagram(graph, result, block)
        figures.append(f"<figure>{d.to_svg(f'block{i}')}<figcaption>{text(_shortcut_caption(d))}"
                       "</figcaption></figure>")
    return _section("Blocks, layer by layer", f'<div class="row">{"".join(figures)}</div>')


def _shortcut_caption(d: "Diagram") -> str:
    """What the shortcut does, read off the laid-out figure (side-column boxes), not the block's kind."""
    side = [n for n in d.nodes if n.column > 0]
    if not side:
        return "Identity shortcut: the block's input is added unchanged (the line on the right)."
    ops = " → ".join(n.lines[-1] for n in side)
    return f"Shortcut on the right: {ops}, so both branches reach the add with the same shape."


def _stage_bands(result: "TraceResult") -> list[tuple[str, int, int]]:
    """(stage, first layer index, last layer index) in execution order, for the curves' background."""
    bands: list[tuple[str, int, int]] = []
    for i, info in enumerate(result.layers):
        if bands and bands[-1][0] == info.stage:
            bands[-1] = (info.stage, bands[-1][1], i)
        else:
            bands.append((info.stage, i, i))
    return [(visible(name), first, last) for name, first, last in bands]


def _receptive_field(result: "TraceResult") -> str:
    """Field size per layer (H axis; W too where it differs), and the last stage's field in words."""
    from ..analysis.receptive import receptive_report

    rf = receptive_report(result)
    rows = [row for row in rf.layers]
    field = rf.layer(rf.last_stage_layer)
    sizes = [float(row.field.size[0]) for row in rows]
    last = next(i for i, row in enumerate(rows) if row.name == rf.last_stage_layer)
    chart = charts.line_chart("Receptive field per layer", sizes, _stage_bands(result), MACS_COLOUR,
                              lambda v: f"{v:,.0f} px", "size (H) in input pixels, layers in execution order",
                              mark=last, mark_label=f"last stage: {field.size[0]:,} px")
    pair = (lambda t: f"{t[0]}" if t[0] == t[1] else f"{t[0]}×{t[1]}")
    covers = "covers the whole input" if rf.covers_input else "does not cover the whole input"
    note = (f'<p class="note">At <code>{text(rf.last_stage_layer)}</code> (the last stage) each unit sees '
            f"{pair(field.size)} px with an effective stride of {pair(field.stride)} and an effective padding of "
            f"{pair(field.padding)}: at {shape_text(result.input_shape)} every unit {covers}. The field follows the "
            "widest path through each add (a 1×1 shortcut never widens it); Distill's formulas "
            f"(Araujo et al. 2019), as <code>resnet-inspect rf</code> prints them.{_after_last_stage(rf, field)}</p>")
    return _section("Receptive field", f"<figure>{charts.svg(chart)}</figure>{note}")


def _after_last_stage(rf: Any, field: Any) -> str:
    """Why the curve ends above the last stage's field: the pool and the head see the whole map."""
    last = rf.layers[-1]
    if last.field.size == field.size:
        return ""
    index = next(i for i, row in enumerate(rf.layers) if row.name == rf.last_stage_layer)
    pooled = next(row for row in rf.layers[index + 1:] if row.field.size != field.size)
    size = f"{last.field.size[0]}" if len(set(last.field.size)) == 1 else shape_text(last.field.size)
    return (f" The curve ends higher, at {size} px: from <code>{text(pooled.name)}</code> on, the pool and the "
            "head combine every position of the last map, so each of their units sees all of the last "
            "stage's fields together (the whole input, and the padding around it).")


def _memory(result: "TraceResult") -> str:
    """Live activation bytes after each layer (inference, batch 1, float32) with the peak marked."""
    from ..analysis.memory import memory_profile

    profile = memory_profile(result)
    live = [float(layer.live_bytes) for layer in profile.layers]
    peak = next(i for i, layer in enumerate(profile.layers) if layer.name == profile.peak_layer)
    chart = charts.line_chart("Activation memory held during a forward pass", live, _stage_bands(result),
                              PARAMS_COLOUR, lambda v: si(v, "B"), "bytes live once each layer has run "
                              "(batch 1, float32)", mark=peak,
                              mark_label=f"peak {si(profile.peak_activation_bytes, 'B')} at {visible(profile.peak_layer)}")
    note = (f'<p class="note">Peak {si(profile.peak_activation_bytes, "B")} '
            f"({count(profile.peak_activation_bytes)} bytes) at <code>{text(profile.peak_layer)}</code> (marked), "
            f"plus {si(profile.param_bytes, 'B')} of parameters. The prediction replays the NumPy executor: "
            "an output is allocated while its inputs are held, a tensor is freed after its last reader (a "
            "shortcut keeps the block's input alive until the add), BatchNorm, ReLU and the add run in place; "
            "<code>resnet-inspect memory</code> prints it per layer, and torchinfo's convention with "
            "<code>--convention torchinfo</code>.</p>")
    return _section("Memory", f"<figure>{charts.svg(chart)}</figure>{note}")


def _layer_table(result: "TraceResult") -> str:
    head = ("<thead><tr><th>Layer</th><th>Op</th><th>Inputs</th><th class=n>Output shape</th>"
            "<th class=n>Params</th><th class=n>MACs</th></tr></thead>")
    rows, stage = [], None
    for info in result.layers:
        if info.stage != stage:
            stage = info.stage
            rows.append(f'<tr class="stage"><td colspan="6">{text(stage)}</td></tr>')
        op = f"{info.op} {info.detail}".strip()
        rows.append(f"<tr><td><code>{text(info.name)}</code></td><td>{text(op)}</td>"
                    f"<td><code>{text(', '.join(info.inputs))}</code></td>"
                    f"<td class=n>{shape_text(info.output_shape)}</td><td class=n>{count(info.params)}</td>"
                    f"<td class=n>{count(info.macs) if info.macs else ''}</td></tr>")
    t = result.totals
    foot = (f"<tfoot><tr><td>Total</td><td></td><td></td><td class=n>{shape_text(result.layers[-1].output_shape)}"
            f"</td><td class=n>{count(t.params)}</td><td class=n>{count(t.macs)}</td></tr></tfoot>")
    return _section("Layers", f'<div class="wide"><table>{head}<tbody>{"".join(rows)}</tbody>{foot}</table></div>')


def render_written(path: Path, spec: "str | Path", size: int, fmt: str) -> str:
    """What ``report`` prints once the page is written: one line, or a JSON record (``--format json``)."""
    if fmt == "json":
        return to_json({"ok": True, "action": "wrote", "spec": str(spec), "file": str(path), "bytes": size})
    return f"wrote {visible(path)}: report of {visible(spec)}, {size:,} bytes"


def save(page: str, path: "str | Path", reads: tuple = ()) -> Path:
    """Write the page atomically (temporary file, then rename); the path must end in .html or .htm."""
    from ..core.safeio import atomic_write

    with atomic_write(path, suffixes=SUFFIXES, reads=reads, what="report") as temporary:
        temporary.write_text(page, encoding="utf-8")
    return Path(path)
