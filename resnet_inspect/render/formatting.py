"""Rendering: traces and summaries as Rich tables, JSON, CSV and Markdown. Computes nothing.

Text formats return strings; the table format returns a Rich renderable, built only when asked
for, so ``--format json`` never imports Rich.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import asdict, field, replace
from typing import TYPE_CHECKING, Any

from ..core.records import record
from ..core.errors import InspectError, unused
from ..core.text import count, megabytes, shape_text, si, to_json  # noqa: F401 (re-exported to renderers)
from ..model.ops import FLOPS_RULE, MACS_RULE
from ..model.statistics import Totals, TraceResult
from ..core.usertext import excerpt, markup, visible

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.measure import Measurement

    from ..model.engine import LayerInfo
    from ..analysis.counts import FlopsReport, ParamsReport
    from ..analysis.explain import Explanation
    from ..analysis.memory import MemoryProfile
    from ..analysis.receptive import ReceptiveReport
    from ..analysis.sweep import Sweep
    from ..execute.verify import VerifyResult
    from ..analysis.zoo import Zoo
    from ..language.spec import Catalog
    from ..model.naming import NameTable

FORMATS = ("table", "json", "csv", "markdown")
RECORD_FORMATS = ("table", "json")  # a record (explain, diff, run, weights, new, schema -o): a table or JSON


# --------------------------------------------------------------------------- JSON and user text


def md(text: object) -> str:
    """A Markdown table cell: control characters visible, ``|`` escaped so columns stay put."""
    return visible(text).replace("\\", "\\\\").replace("|", "\\|")


# --------------------------------------------------------------------------- rows


@record
class Row:
    """A printed row: one layer, or a block or stage collapsed into one.

    ``layers`` (the trace rows it stands for) and ``result`` (the whole trace) let a column read
    any fact it needs; they take no part in equality.
    """

    name: str
    op: str
    detail: str
    inputs: tuple[str, ...]
    output_shape: tuple[int, ...]
    totals: Totals
    stage: str
    block: str
    layers: "tuple[LayerInfo, ...]" = field(default=(), compare=False, repr=False)
    result: TraceResult | None = field(default=None, compare=False, repr=False)


def rows(result: TraceResult, depth: str = "layer") -> list[Row]:
    if depth == "layer":
        return [Row(result.label(i.name), i.op, i.detail, tuple(map(result.label, i.inputs)), i.output_shape,
                    Totals.of_layer(i), i.stage, i.block, (i,), result)
                for i in result.layers]
    return [Row(g.name, "" if depth == "stage" else g.kind, f"{len(g.layers)} layers", (), g.output_shape, g.totals,
                g.layers[0].stage, g.layers[0].block if depth == "block" else "", g.layers, result)
            for g in result.groups(depth)]


# --------------------------------------------------------------------------- columns


@record
class Column:
    """One column of a trace, the same in the table, Markdown, CSV and JSON (``--columns NAME``).

    ``value`` reads a :class:`Row` and returns plain data (int, str, list or None): that is the
    JSON value and, through ``csv``, the CSV cell; ``text`` turns it into the table/Markdown
    cell (user text is escaped by the renderers, not here). ``numeric`` columns are right-aligned
    and get a footer from ``total``. On a narrow terminal, ``wraps`` columns (text that may
    break at spaces) are narrowed first; then ``optional`` columns are left out, lowest ``keep``
    first (the caption says which); the layer name and the non-optional columns are never
    dropped, and no cell is ever cut with an ellipsis.

    To add a column, append one ``register(Column(...))`` call in this section, e.g.::

        register(Column("rf", "RF", lambda row: receptive_field(row.result)[row.layers[-1].name],
                        text=lambda v: f"{v}×{v}" if v else "", numeric=True, keep=1,
                        doc="receptive field of the row's last layer, in input pixels"))

    If the value needs an analysis (receptive field, memory), import it inside the value
    function so traces that do not ask for the column pay nothing, and compute the per-trace
    table once with :func:`per_result` rather than once per row. Then add the name to the
    README's ``--columns`` table; CSV, JSON and Markdown pick it up with no other change.
    """

    name: str
    header: str
    value: Callable[[Row], Any]
    text: Callable[[Any], str] = str
    csv: Callable[[Any], Any] | None = None
    key: str = ""  # the CSV header and JSON key; the name unless they differ for compatibility
    numeric: bool = False
    optional: bool = True
    keep: int = 0  # higher is dropped later on a narrow terminal
    wraps: bool = False  # its text may wrap at spaces: narrowed before any column is left out
    total: Callable[[TraceResult], Any] | None = None
    doc: str = ""

    @property
    def data_key(self) -> str:
        return self.key or self.name

    def csv_cell(self, value: Any) -> Any:
        return self.csv(value) if self.csv else ("" if value is None else value)


COLUMNS: dict[str, Column] = {}


def register(column: Column) -> Column:
    """Add a column to the registry every renderer reads (a name may be registered once)."""
    if column.name in COLUMNS:
        raise ValueError(f"column {column.name!r} is registered twice")
    COLUMNS[column.name] = column
    return column


_RESULT_FACTS: dict[tuple[int, str], tuple[TraceResult, Any]] = {}


def per_result(name: str, result: TraceResult, compute: Callable[[TraceResult], Any]) -> Any:
    """``compute(result)`` once per trace (a column's per-layer table), kept for the last few traces."""
    key = (id(result), name)
    hit = _RESULT_FACTS.get(key)
    if hit is None or hit[0] is not result:
        if len(_RESULT_FACTS) > 16:
            _RESULT_FACTS.clear()
        hit = _RESULT_FACTS[key] = (result, compute(result))
    return hit[1]


def _bytes_text(n: int | None) -> str:
    return "" if n is None else count(n)


def _profile(result: TraceResult) -> Any:
    from ..analysis.memory import memory_profile

    return memory_profile(result)


def _blank_zero(n: int) -> str:
    return si(n) if n else ""


def _kernel(row: Row) -> list[int] | None:
    window = row.layers[0].window if len(row.layers) == 1 else None
    return list(window) if window else None


def _kernel_text(value: list[int] | None) -> str:
    if not value:
        return ""
    k, s, p = value
    return f"{k}×{k}/{s}" + (f" p{p}" if p else "")


register(Column("op", "Op", lambda row: row.op, optional=True, keep=0, wraps=True,
                doc="op kind; the table and Markdown add its settings (kernel/stride, filters, units)"))
register(Column("output_shape", "Output shape", lambda row: list(row.output_shape), text=shape_text,
                csv=lambda v: shape_text(tuple(v), "x"), keep=3, doc="H×W×C after the layer, batch left out"))
register(Column("params", "Params", lambda row: row.totals.params, text=count, numeric=True, optional=False,
                total=lambda r: r.totals.params, doc="all parameters (Keras' count: BN moving statistics included)"))
register(Column("trainable", "Trainable", lambda row: row.totals.trainable_params, text=count, numeric=True,
                key="trainable_params", keep=1, total=lambda r: r.totals.trainable_params,
                doc="trainable parameters (PyTorch's parameters(), torchinfo's count)"))
register(Column("torch_params", "Params", lambda row: row.totals.trainable_params, text=count, numeric=True,
                optional=False, total=lambda r: r.totals.trainable_params,
                doc="parameters as PyTorch counts them (parameters(): BN running stats are buffers); the table's "
                    "Params column for a spec with conventions.param_count: torch"))
register(Column("non_trainable", "Non-trainable", lambda row: row.totals.non_trainable_params, text=count,
                numeric=True, key="non_trainable_params", total=lambda r: r.totals.non_trainable_params,
                doc="BN moving mean and variance (buffers in PyTorch)"))
register(Column("macs", "MACs", lambda row: row.totals.macs, text=_blank_zero, numeric=True, keep=4,
                total=lambda r: r.totals.macs, doc=MACS_RULE))
register(Column("flops", "FLOPs", lambda row: row.totals.flops, text=_blank_zero, numeric=True, keep=1,
                total=lambda r: r.totals.flops, doc=f"floating-point operations: {FLOPS_RULE}"))
register(Column("inputs", "Inputs", lambda row: list(row.inputs), text=", ".join, csv=" ".join, wraps=True,
                doc="the layers a row reads (Keras' \"Connected to\"): two for a residual add"))
register(Column("kernel", "Kernel", _kernel, text=_kernel_text, csv=lambda v: _kernel_text(v).replace("×", "x"),
                doc="kernel×kernel/stride and padding (pN) of a conv or pool"))
register(Column("stage", "Stage", lambda row: row.stage, doc="the stage a row belongs to"))
register(Column("block", "Block", lambda row: row.block, doc="the block a row belongs to"))



def _receptive(row: Row) -> dict[str, list[int]] | None:
    from ..analysis.receptive import receptive_fields

    fields = per_result("receptive_fields", row.result, receptive_fields) if row.result else None
    return fields[row.layers[-1].name].to_dict() if fields and row.layers else None


def _rf_text(value: dict[str, list[int]] | None) -> str:
    return "" if value is None else pair_text(tuple(value["size"]))


def _memory(row: Row) -> dict[str, Any] | None:
    """The row's layers in the inference memory profile (batch 1, float32): the `memory` command's numbers."""
    profile = per_result("memory_profile", row.result, _profile) if row.result else None
    if profile is None or not row.layers:
        return None
    by_name = per_result("memory_by_name", row.result, lambda _: {m.name: m for m in profile.layers})
    return {"output": by_name[row.layers[-1].name].output_bytes,
            "live": max(by_name[layer.name].live_bytes for layer in row.layers)}


register(Column("rf", "RF", _receptive, text=_rf_text, csv=lambda v: "" if v is None else "x".join(map(str, v["size"])),
                key="receptive_field", keep=1,
                doc="receptive field of the row's last layer: its size in input pixels (JSON: size, stride, "
                    "padding as [H, W]; see `rf`)"))
register(Column("output_bytes", "Out bytes", lambda row: (_memory(row) or {}).get("output"), text=_bytes_text,
                numeric=True, doc="bytes of the row's output at batch 1, float32 (see `memory`)"))
register(Column("live_bytes", "Live bytes", lambda row: (_memory(row) or {}).get("live"), text=_bytes_text,
                numeric=True, total=lambda r: per_result("memory_profile", r, _profile).peak_activation_bytes,
                doc="activation bytes held once the row's layers have run, at most (batch 1, float32, the "
                    "executor's in-place work; the total is the peak; see `memory`)"))

TABLE_COLUMNS = ("op", "output_shape", "params", "macs")
# the table's Params column by the spec's conventions.param_count (model.statistics.PARAM_COUNTS)
PARAMS_COLUMN = {"keras": "params", "torch": "torch_params"}


def table_columns(result: TraceResult, names: Iterable[str] | str | None) -> tuple[Column, ...]:
    """The columns a table shows: those chosen, or the defaults with the spec's own Params column."""
    if names:
        return columns(names)
    lead = PARAMS_COLUMN[result.param_count]
    return columns([lead if name == "params" else name for name in TABLE_COLUMNS])
CSV_COLUMNS = ("op", "inputs", "output_shape", "params", "trainable", "non_trainable", "macs", "flops", "stage",
               "block")


def columns(names: Iterable[str] | str | None, default: tuple[str, ...] = TABLE_COLUMNS) -> tuple[Column, ...]:
    """The registered columns called ``names`` (a list, or one comma-separated string), in order."""
    if isinstance(names, str):
        names = [names]
    wanted = [n.strip() for part in (names or []) for n in part.split(",") if n.strip()] or list(default)
    unknown = [n for n in wanted if n not in COLUMNS]
    if unknown:
        raise InspectError(f"unknown column '{excerpt(unknown[0], 40)}'; choose from {', '.join(COLUMNS)}",
                           field="columns")
    return tuple(COLUMNS[n] for n in dict.fromkeys(wanted))


def _cell(column: Column, row: Row, exact: bool = False) -> str:
    """The human text of a cell; ``exact`` (Markdown, pasted into docs) prints counts in full."""
    if column.name == "op":
        return f"{row.op} {row.detail}".strip()
    value = column.value(row)
    if exact and column.numeric and isinstance(value, int):
        return count(value)
    return column.text(value)


# --------------------------------------------------------------------------- trace summary


def warning_lines(result: TraceResult) -> list[str]:
    """The trace's warnings (computed by the engine) as the notes under its table, layers as shown."""
    return [f"note: {result.label(w.layer)}: {w.message}" if w.layer is not None else f"note: {w.message}"
            for w in result.warnings]


@record
class SummaryLine:
    label: str
    value: str
    convention: str


def summary_lines(result: TraceResult, dtype: str = "float32") -> list[SummaryLine]:
    """The block torchinfo and Keras print under their tables, each line with its convention."""
    t, sizes = result.totals, result.sizes(dtype)
    bytes_per = sizes.params_bytes // t.params if t.params else 0
    from ..analysis.peers import torchinfo_mult_adds

    mult_adds = torchinfo_mult_adds(result)
    h, w, c = result.input_shape
    every = SummaryLine("Total params", f"{count(t.params)} ({megabytes(sizes.params_bytes)})",
                        "Keras' Total params: trainable + BN moving mean/variance")
    trainable = SummaryLine("Trainable params",
                            f"{count(t.trainable_params)} ({megabytes(t.trainable_params * bytes_per)})",
                            "PyTorch's parameters(); torchinfo's Total params")
    # the spec's own convention leads (conventions.param_count), the other follows under its own name
    lead = {"keras": [every, trainable],
            "torch": [replace(trainable, label="Total params",
                              convention="PyTorch's parameters(); torchinfo's Total params (the spec's param_count)"),
                      replace(every, label="With BN buffers", convention="Keras' Total params: + BN running "
                                                                          "mean/variance (buffers in PyTorch)")]}
    return [
        *lead[result.param_count],
        SummaryLine("Non-trainable params",
                    f"{count(t.non_trainable_params)} ({megabytes(t.non_trainable_params * bytes_per)})",
                    "BN moving mean/variance (buffers in PyTorch)"),
        SummaryLine("MACs", f"{count(t.macs)} ({si(t.macs, 'MACs')})",
                    f"conv + dense multiply-accumulates; torchinfo's mult-adds add BN/bias: {si(mult_adds)}"),
        SummaryLine("FLOPs", f"{count(t.flops)} ({si(t.flops, 'FLOPs')})",
                    FLOPS_RULE),
        SummaryLine("Input size", megabytes(sizes.input_bytes), f"{h}×{w}×{c} {dtype}, batch 1 (as torchinfo)"),
        SummaryLine("Params size", megabytes(sizes.params_bytes),
                    f"all params as {dtype}, MB = 10⁶ bytes (Keras prints MiB: {sizes.params_bytes / 2**20:,.2f})"),
        *_activation_lines(result, dtype),
    ]


def _activation_lines(result: TraceResult, dtype: str) -> list[SummaryLine]:
    """The inference activation peak (:mod:`.memory`), then torchinfo's forward/backward figure."""
    from ..analysis.memory import memory_profile

    peak = memory_profile(result, 1, dtype, "inference")
    torchinfo = memory_profile(result, 1, dtype, "torchinfo")
    return [SummaryLine("Activation peak", megabytes(peak.peak_activation_bytes),
                        f"inference, batch 1: most live at once, at {visible(peak.peak_layer)}"),
            SummaryLine("Forward/backward pass size", megabytes(torchinfo.peak_activation_bytes),
                        "torchinfo's convention (training: every layer's output kept), batch 1")]


# --------------------------------------------------------------------------- trace


def trace_json(result: TraceResult, depth: str = "layer", names: Iterable[str] | None = None) -> str:
    """``result.to_dict()`` (the contract), plus any chosen column it lacks, plus input/param sizes."""
    data = result.to_dict()
    extra = [c for c in columns(names, ()) if c.data_key not in data["layers"][0]] if names else []
    if depth == "layer":
        for layer, row in zip(data["layers"], rows(result) if extra else ()):
            layer.update({c.data_key: c.value(row) for c in extra})
    else:
        data["depth"] = depth
        data["groups"] = [{**_row_dict(row), **{c.data_key: c.value(row) for c in extra}} for row in rows(result, depth)]
    sizes = result.sizes()
    data["sizes"] = {"dtype": sizes.dtype, "input_bytes": sizes.input_bytes, "params_bytes": sizes.params_bytes,
                     "trainable_params_bytes": sizes.trainable_params_bytes}
    return to_json(data)


def _row_dict(row: Row) -> dict[str, Any]:
    return {"name": row.name, "kind": row.op, "output_shape": list(row.output_shape), **asdict(row.totals)}


def trace_csv(result: TraceResult, depth: str = "layer", names: Iterable[str] | None = None) -> str:
    """One line per row: ``name`` then the chosen columns (by default every fact, as before)."""
    chosen = columns(names, CSV_COLUMNS)
    out = io.StringIO()
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name"] + [c.data_key for c in chosen])
    for row in rows(result, depth):
        writer.writerow([visible(row.name)] + [_csv_text(c.csv_cell(c.value(row))) for c in chosen])
    return out.getvalue()


def _csv_text(value: Any) -> Any:
    return visible(value) if isinstance(value, str) else value


def trace_markdown(result: TraceResult, depth: str = "layer", names: Iterable[str] | None = None) -> str:
    chosen = table_columns(result, names)
    lines = [f"### {md(result.spec)} at {shape_text(result.input_shape)}", "",
             "| " + " | ".join(["Layer"] + [c.header for c in chosen]) + " |",
             "|---|" + "".join("---:|" if c.numeric else "---|" for c in chosen)]
    for row in rows(result, depth):
        lines.append("| " + " | ".join([md(row.name)] + [md(_cell(c, row, exact=True)) for c in chosen]) + " |")
    lines.append("| **Total** | " + " | ".join(_md_total(c, result) for c in chosen) + " |")
    lines += [""] + [md(line) for line in warning_lines(result)] if result.warnings else []
    lines += ["", "| Summary | | Convention |", "|---|---:|---|"]
    lines += [f"| {s.label} | {s.value} | {md(s.convention)} |" for s in summary_lines(result)]
    return "\n".join(lines) + "\n"


def _md_total(column: Column, result: TraceResult) -> str:
    if column.total is None:
        return shape_text(result.layers[-1].output_shape) if column.name == "output_shape" else ""
    return f"**{count(column.total(result))}**"


@record
class Layout:
    """How a trace table meets a width: the columns shown and left out, whether the wrapping
    columns must be narrowed (``narrowed``), and whether that is enough (``fits``)."""

    shown: list[Column]
    dropped: list[Column]
    narrowed: bool
    fits: bool
    least: int = 0  # the narrowest this table gets with every name and number whole
    # narrowed: each column's width when headers wrap at spaces ("Output shape" over two lines)
    widths: dict[str, int] = field(default_factory=dict)


class TraceTable:
    """The trace as a Rich table sized to the console it is printed on, with the summary under it.

    Built at print time (``__rich_console__``) because only then is the width known. When the
    natural width does not fit, optional columns are left out, lowest ``keep`` first, and the
    caption says which; columns the user chose with ``--columns`` are never left out. Cells fold
    (wrap) rather than end in an ellipsis, so no number or name is ever cut.
    """

    def __init__(self, result: TraceResult, depth: str = "layer", names: Iterable[str] | None = None) -> None:
        self.result, self.depth = result, depth
        self.chosen = table_columns(result, names)
        self.droppable = not names

    def __rich_measure__(self, console: "Console", options: "ConsoleOptions") -> "Measurement":
        """At least the width that keeps every name and number whole (the CLI widens its console
        to it: a narrow terminal wraps the long lines itself; issue 17)."""
        from rich.measure import Measurement

        least = self.fit(0).least  # every optional column left out
        return Measurement(least, max(least, options.max_width))

    def __rich_console__(self, console: "Console", options: "ConsoleOptions") -> "RenderResult":
        from rich.table import Table
        from rich.text import Text

        layout = self.fit(options.max_width)
        yield self.table(layout)
        notes = warning_lines(self.result)
        if notes:  # "note:" beside the text, so a wrapped line stays indented under its own
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True, style="yellow")
            grid.add_column(overflow="fold")
            for line in notes:
                grid.add_row("note:", Text(line.removeprefix("note: ")))
            yield grid
        yield self.summary(options.max_width)

    def plain_text(self, width: int) -> str | None:
        """The lines Rich would print on a console with no styles, when the table fits ``width``
        at its natural size (see :mod:`.plaintable`); None when only Rich can lay it out."""
        from .plaintable import box_table, grid

        result, depth = self.result, self.depth
        shown = self.chosen
        body: list[tuple[list[str], bool]] = []
        previous: Row | None = None
        for row in rows(result, depth):
            section = previous is not None and depth == "layer" and row.block != previous.block
            if depth == "layer" and (previous is None or row.stage != previous.stage):
                body.append(([visible(row.stage)] + [""] * len(shown), section))
                section = False
            body.append(([visible(row.name)] + [_cell(c, row) for c in shown], section))
            previous = row
        table = box_table(f"{visible(result.spec)} — input {shape_text(result.input_shape)}",
                          "MACs = multiply-accumulates (conv + dense); totals and conventions below",
                          ["Layer" if depth == "layer" else depth.capitalize()] + [c.header for c in shown],
                          ["Total"] + [self._footer(c) for c in shown],
                          [False] + [c.numeric or c.name == "output_shape" for c in shown], body, width)
        if table is None:
            return None
        notes = warning_lines(result)
        if any(len(line) > width for line in notes):
            return None
        table += notes
        summary = grid([(line.label, line.value, visible(line.convention)) for line in summary_lines(result)], width)
        return None if summary is None else "\n".join(table + summary) + "\n"

    def fit(self, width: int) -> "Layout":
        """The columns that fit in ``width`` cells, the ones left out to get there, and how.

        First the columns whose text wraps at spaces (``op``) are narrowed to their longest word,
        and every header may wrap at its spaces; only if that is not enough are optional columns
        left out, lowest ``keep`` first (``op`` before the numbers: MACs is the headline).
        """
        from rich.cells import cell_len

        body = rows(self.result, self.depth)
        cells = {c.name: [self._footer(c), *(_cell(c, r) for r in body)] for c in self.chosen}
        need = {c.name: max(cell_len(t) for t in [c.header, *cells[c.name]]) for c in self.chosen}
        least = {c.name: max(cell_len(word) for t in [c.header, *cells[c.name]] for word in t.split() or [""])
                 for c in self.chosen}
        # a column that keeps its cells whole but lets its header wrap: "Output shape" needs only "112×112×64"
        whole = {c.name: max([cell_len(word) for word in c.header.split()] + [cell_len(t) for t in cells[c.name]])
                 for c in self.chosen}
        narrow = {c.name: least[c.name] if c.wraps else whole[c.name] for c in self.chosen}
        first = max(cell_len(t) for t in ["Layer", "Total", *(visible(r.name) for r in body),
                                          *(visible(r.stage) for r in body)])

        def table_width(columns: list[Column], narrowed: bool) -> int:
            widths = [narrow[c.name] if narrowed else need[c.name] for c in columns]
            return first + sum(widths) + 3 * (len(columns) + 1) + 1

        shown = list(self.chosen)
        dropped: list[Column] = []
        droppable = sorted((c for c in shown if c.optional), key=lambda c: c.keep) if self.droppable else []
        while droppable and table_width(shown, narrowed=True) > width:
            column = droppable.pop(0)
            shown.remove(column)
            dropped.append(column)
        narrowed = table_width(shown, narrowed=False) > width
        return Layout(shown, dropped, narrowed=narrowed, fits=table_width(shown, narrowed=True) <= width,
                      least=table_width(shown, narrowed=True),
                      widths={c.name: narrow[c.name] for c in shown if not c.wraps} if narrowed else {})

    def _footer(self, column: Column) -> str:
        if column.total is not None:
            return column.text(column.total(self.result))
        return shape_text(self.result.layers[-1].output_shape) if column.name == "output_shape" else ""

    def table(self, layout: "Layout") -> "RenderableType":
        from rich.table import Table

        result, depth = self.result, self.depth
        shown, dropped = layout.shown, layout.dropped
        # When only the wrapping columns need to give, every other column is kept from wrapping, so
        # Rich narrows those alone; when even that cannot fit, every cell folds (never an ellipsis).
        keep_whole = layout.narrowed and layout.fits
        caption = "MACs = multiply-accumulates (conv + dense); totals and conventions below"
        if dropped:
            caption += (f"; left out to fit the terminal: {', '.join(c.name for c in dropped)} "
                        "(widen it or choose with --columns)")
        table = Table(title=f"{markup(result.spec)} — input {shape_text(result.input_shape)}", show_footer=True,
                      caption=caption, footer_style="bold")
        table.add_column("Layer" if depth == "layer" else depth.capitalize(), footer="Total", overflow="fold",
                         no_wrap=keep_whole)
        for c in shown:
            # narrowed to fit: a column's width is its widest cell, so only its header wraps
            table.add_column(c.header, justify="right" if c.numeric or c.name == "output_shape" else "left",
                             footer=self._footer(c), overflow="fold", width=layout.widths.get(c.name) if keep_whole
                             else None)
        previous: Row | None = None
        blank = [""] * len(shown)
        for row in rows(result, depth):
            if previous is not None and depth == "layer" and row.block != previous.block:
                table.add_section()
            if depth == "layer" and (previous is None or row.stage != previous.stage):
                table.add_row(f"[bold cyan]{markup(row.stage)}[/]", *blank)
            table.add_row(markup(row.name), *(markup(_cell(c, row)) for c in shown))
            previous = row
        return table

    def summary(self, width: int) -> "RenderableType":
        """Label, value and convention side by side; on a narrow terminal the convention goes below."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        lines = summary_lines(self.result)
        label_w = max(len(line.label) for line in lines)
        value_w = max(len(line.value) for line in lines)
        if width >= label_w + value_w + max(len(line.convention) for line in lines) + 2:
            grid = Table.grid(padding=(0, 1))
            grid.add_column(style="bold", no_wrap=True)
            grid.add_column(justify="right", no_wrap=True)
            grid.add_column(style="dim", overflow="fold")
            for line in lines:
                grid.add_row(line.label, line.value, Text(visible(line.convention)))
            return grid
        from rich.padding import Padding

        texts: list[RenderableType] = []
        for line in lines:  # the convention under its line, indented as a block: wrapped lines keep the indent
            texts.append(Text.assemble((f"{line.label}: ", "bold"), line.value, overflow="fold"))
            texts.append(Padding(Text(visible(line.convention), style="dim", overflow="fold"), (0, 0, 0, 2)))
        return Group(*texts)


def trace_table(result: TraceResult, depth: str = "layer", names: Iterable[str] | None = None) -> "RenderableType":
    return TraceTable(result, depth, names)


def render_trace(result: TraceResult, fmt: str, depth: str = "layer",
                 names: Iterable[str] | None = None) -> "str | RenderableType":
    render = {"json": trace_json, "csv": trace_csv, "markdown": trace_markdown, "table": trace_table}[fmt]
    return render(result, depth, names)


# --------------------------------------------------------------------------- flops


def render_flops(report: "FlopsReport", fmt: str) -> "str | RenderableType":
    if fmt == "json":
        return report.to_json()
    data, spec = report.to_dict(), report.spec
    if report.convention:
        return _render_convention(spec, data["results"], fmt)
    header = ["stage"] + [f"{shape_text(tuple(r['input']))} {unit}" for r in data["results"] for unit in ("MACs", "FLOPs")]
    stages = list(data["results"][0]["by_stage"])
    body = [[stage] + [r["by_stage"][stage][k] for r in data["results"] for k in ("macs", "flops")] for stage in stages]
    total = ["total"] + [r[k] for r in data["results"] for k in ("macs", "flops")]
    peers = ", ".join(f"{count(r['peers']['torchinfo_mult_adds'])} at {shape_text(tuple(r['input']))}"
                      for r in data["results"])
    note = f"torchinfo reports {peers} mult-adds: it adds BN and bias parameters to the MACs."
    return _grid(f"{spec}: MACs and FLOPs by stage", header, body, total, fmt, note)


def _render_convention(spec: str, results: list[dict[str, Any]], fmt: str) -> "str | RenderableType":
    """Per op kind: our MACs beside the peer's count and its rule, one grid per input size."""
    grids = []
    for r in results:
        c = r["convention"]
        body = [[kind, r_macs, c["by_op"][kind], c["rules"][kind]]
                for kind, r_macs in c["macs_by_op"].items() if r_macs or c["by_op"][kind]]
        total = ["total", sum(c["macs_by_op"].values()), c["total"], ""]
        title = f"{spec} at {shape_text(tuple(r['input']))}: {c['tool']}"
        grids.append(_grid(title, ["op", "our MACs", c["convention"], "rule"], body, total, fmt, c["note"]))
    if fmt in ("csv", "markdown"):
        return "\n".join(str(g) for g in grids)
    from rich.console import Group

    return Group(*grids)


# --------------------------------------------------------------------------- params


def render_params(report: "ParamsReport", fmt: str) -> "str | RenderableType":
    if fmt == "json":
        return report.to_json()
    data = report.to_dict()
    header = ["stage", "params", "trainable", "non-trainable"]
    body = [[stage, s["params"], s["trainable_params"], s["non_trainable_params"]] for stage, s in data["by_stage"].items()]
    total = ["total", data["params"], data["trainable_params"], data["non_trainable_params"]]
    note = ("Keras model.summary() reports params; PyTorch's parameters() (torchinfo, torchvision) "
            f"reports trainable_params = {count(data['trainable_params'])}.")
    return _grid(f"{report.spec}: parameters", header, body, total, fmt, note)


# --------------------------------------------------------------------------- list


LIST_NOTE = ("params as each layout's framework counts them: Keras' total (BN moving statistics included), "
             "torchvision's parameters() (BN buffers left out); MACs at 224×224. `trace NAME` shows one.")


def render_list(catalog: "Catalog | Zoo", fmt: str) -> "str | RenderableType":
    """The bundled specs, one row each: name, family, layout, params, MACs at 224, what it reproduces.

    A table in the terminal (numbers in SI units, so the description keeps room); CSV and Markdown
    carry the exact numbers and the whole description."""
    if fmt == "json":
        return catalog.to_json()
    entries = getattr(catalog, "specs", ())
    if entries and isinstance(entries[0], tuple):  # the plain Catalog: names and descriptions
        return _grid("Bundled specs", ["name", "description"], [list(entry) for entry in entries], None, fmt)
    if fmt in ("csv", "markdown"):
        body = [[e.name, e.family, e.layout, e.depth, _listed_params(e), e.macs, e.reproduces] for e in entries]
        return _grid("Bundled specs", ["name", "family", "layout", "depth", "params", "MACs at 224", "reproduces"],
                     body, None, fmt, note=LIST_NOTE)
    return _list_table(entries)


def _listed_params(entry: Any) -> int:
    """torchvision counts parameters() (trainable here); Keras' total adds the BN moving statistics."""
    return entry.trainable_params if entry.layout == "torchvision" else entry.params


def _list_table(entries: Any) -> "RenderableType":
    """One line of columns per spec and, indented under it, what it reproduces (wrapped at words):
    the description keeps the whole width of the terminal, and the names and numbers never wrap."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    header = ("name", "family", "layout", "params", "MACs")
    rows = [(e.name, e.family, e.layout, si(_listed_params(e)), si(e.macs)) for e in entries]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...], style: str = "") -> Text:
        text = "  ".join(str(c).rjust(w) if i >= 3 else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return Text(visible(text.rstrip()), style=style, no_wrap=True, overflow="ellipsis")

    parts: list[Any] = [Text("Bundled specs", style="bold"), line(header, "bold"), Text("─" * (sum(widths) + 8))]
    family = None
    for e, row in zip(entries, rows):
        if family is not None and e.family != family:
            parts.append(Text(""))
        family = e.family
        parts += [line(row), Padding(Text(visible(e.reproduces), style="dim"), (0, 0, 0, 4))]
    parts.append(Padding(Text(LIST_NOTE, style="italic"), (1, 0, 0, 0)))
    return Group(*parts)


# --------------------------------------------------------------------------- names


def render_names(table: "NameTable", fmt: str) -> "str | RenderableType":
    """The name table: one row per layer, one column per scheme; JSON has null where the table has —."""
    from ..model.naming import SCHEMES, printed

    if fmt == "json":
        return table.to_json()
    body = [[row.op] + [printed(row.under(s)) for s in SCHEMES] for row in table.rows]
    return _grid(f"{table.spec}: layer names", ["op", *SCHEMES], body, None, fmt,
                 note="— : that framework has no layer of its own here")


# --------------------------------------------------------------------------- verify


def render_verify(result: "VerifyResult", fmt: str) -> "str | RenderableType":
    """Predicted vs actual shape per layer with ✓/✗, time per layer, per stage and in all."""
    if fmt == "json":
        return to_json(result.to_dict())
    header = ["layer", "op", "predicted", "actual", "ok", "ms"]
    if fmt == "csv":  # machine-readable: shapes as 56x56x256, ok as true/false
        body = [[result.label(c.name), c.op, shape_text(c.predicted, "x"), shape_text(c.actual, "x"), str(c.ok).lower(),
                 f"{c.seconds * 1e3:.3f}"] for c in result.layers]
        return _grid("", header, body, None, fmt)
    body = [[result.label(c.name), c.op, shape_text(c.predicted), shape_text(c.actual), "✓" if c.ok else "✗",
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

    table = Table(title=markup(title), caption=note)
    for name in header:
        table.add_column(name, justify="right" if name in ("predicted", "actual", "ms") else "left")
    previous = None
    for check, line in zip(result.layers, body):
        if previous is not None and check.stage != previous:
            table.add_section()
        style = None if check.ok else "bold red"
        table.add_row(*(markup(cell) for cell in line[:4]), f"[green]{line[4]}[/]" if check.ok else line[4], line[5],
                      style=style)
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
        import csv

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([_csv_text(c) for c in line] for line in body + ([total] if total else []))
        return out.getvalue()
    if fmt == "markdown":
        cells = [[md(c) for c in line] for line in cells]
        lines = [f"### {md(title)}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(line) + " |" for line in cells]
        if total_cells:
            lines.append("| " + " | ".join(f"**{c}**" for c in total_cells) + " |")
        return "\n".join(lines + ([f"\n{visible(note)}"] if note else [])) + "\n"
    from rich.table import Table

    table = Table(title=markup(title), caption=markup(note) if note else None, show_footer=total_cells is not None, footer_style="bold")
    for i, name in enumerate(header):
        numeric = bool(body) and all(isinstance(line[i], int) for line in body)
        table.add_column(name, justify="right" if numeric else "left",
                         footer=total_cells[i] if total_cells else "")
    for line in cells:
        table.add_row(*(markup(c) for c in line))
    return table


# --------------------------------------------------------------------------- receptive field


def pair_text(pair: tuple[Any, ...]) -> str:
    """One number when H and W agree (483), else H×W (483×675)."""
    return str(pair[0]) if len(set(pair)) == 1 else shape_text(tuple(pair))


def render_rf(report: "ReceptiveReport", fmt: str) -> "str | RenderableType":
    """Per layer: receptive-field size, effective stride and padding; then the last stage's coverage."""
    if fmt == "json":
        return to_json(report.to_dict())
    header = ["layer", "op", "output shape", "rf size", "stride", "padding"]
    if fmt == "csv":  # one number per column, ready to plot
        if report.unit is not None:
            raise unused("unit", "the CSV has one row per layer and no place for a unit's centre; "
                                 "use the table, markdown or json")
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


def render_memory(profile: "MemoryProfile", fmt: str) -> "str | RenderableType":
    """Per layer: output bytes and bytes live once it is computed; the peak and the parameters."""
    if fmt == "json":
        return to_json(profile.to_dict())
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
        return to_json(result.to_dict())
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
    note = f"final feature map = output of {result.final_layer}; MACs: conv + dense; FLOPs: {FLOPS_RULE}"
    if result.smallest_input is not None:
        note += f"; the smallest input that works is {result.smallest_input}"
    if result.below_framework and result.framework is not None:
        least = result.framework["min_input"]
        note += f"; {result.framework['name']} itself refuses inputs below {least}×{least} (the layers build)"
    return _grid(f"{result.spec}: MACs and FLOPs per input size", header, body, None, fmt, note)


def _blank(value: int | None) -> int | str:
    return "" if value is None else value


# --------------------------------------------------------------------------- explain


def render_explain(explanation: "Explanation", fmt: str) -> str:
    """The steps as aligned lines (table) or the JSON contract."""
    if fmt == "json":
        return to_json(explanation.to_dict())
    e = explanation
    sources = ", ".join(f"{shape_text(shape)} from {visible(name)}" for name, shape in e.inputs) or "none"
    title = f"{visible(e.layer)} in {visible(e.spec)} at {shape_text(e.input_shape)}: {e.op} {visible(e.detail)}"
    rows = [("input", sources)] + [(step.quantity, visible(step.arithmetic)) for step in e.steps]
    rows.append(("output", shape_text(e.output_shape)))
    width = max(len(label) for label, _ in rows)
    return "\n".join([title.rstrip()] + [f"  {label:<{width}}  {text}" for label, text in rows]) + "\n"
