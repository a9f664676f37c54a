"""How result objects show themselves in a REPL, a terminal and a notebook. Computes nothing.

Three audiences, three hooks, as pandas and Rich use them:

* ``repr(result)``: one line a person can read (spec, input, totals), not a dataclass dump of
  every layer (a ``TraceResult``'s was 39,000 characters);
* ``__rich__``: the Rich table the CLI prints, when a result is given to ``rich.print``;
* ``_repr_html_``: an HTML ``<table>`` for Jupyter, every user-controlled string (spec and layer
  names come from YAML) made visible and escaped by :func:`.usertext.html_text`, the report's own.

:mod:`.display` registers these functions as the results' hooks (see
:mod:`resnet_inspect.core.display`); nothing imports this module until a result is displayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core.usertext import html_text
from .formatting import count, rows, shape_text, si

if TYPE_CHECKING:
    from ..analysis.check import CheckReport
    from ..analysis.diff import DiffResult
    from ..execute.inference import RunResult
    from ..model.statistics import TraceResult
    from ..execute.verify import VerifyResult


# --------------------------------------------------------------------------- repr


def trace_repr(result: "TraceResult") -> str:
    t = result.totals
    return (f"TraceResult(spec={result.spec!r}, input={shape_text(result.input_shape)}, layers={len(result.layers)}, "
            f"params={count(t.params)}, trainable_params={count(t.trainable_params)}, "
            f"macs={count(t.macs)} ({si(t.macs)}), flops={count(t.flops)} ({si(t.flops)}))")


def verify_repr(result: "VerifyResult") -> str:
    return (f"VerifyResult(spec={result.spec!r}, input={shape_text(result.input_shape)}, batch={result.batch}, "
            f"dtype={result.dtype!r}, ok={result.ok}, layers={len(result.layers)}, "
            f"mismatches={[result.label(c.name) for c in result.mismatches][:3]}, forward={result.total_seconds * 1e3:.1f} ms)")


def check_repr(report: "CheckReport") -> str:
    fields = ", ".join(f"{key}={value}" for key, value in report.counts.items())
    return f"CheckReport(ok={report.ok}, {fields})"


def diff_repr(result: "DiffResult") -> str:
    statuses = [layer.status for layer in result.layers]
    changes = ", ".join(f"{status}={statuses.count(status)}" for status in ("changed", "added", "removed"))
    return (f"DiffResult(a={result.spec_a!r}, b={result.spec_b!r}, identical={result.identical}, {changes}, "
            f"stride_moves={len(result.stride_moves)})")


def run_repr(result: "RunResult") -> str:
    best = result.top[0][0] if result.top and result.top[0] else None
    top = f"{best.name or best.index!r} {best.score:.3f}" if best else "none"
    return (f"RunResult(spec={result.spec!r}, input={result.input_shape}, output={result.output_kind} "
            f"{result.output_shape}, top={top}, forward={result.timing.median * 1e3:.1f} ms)")


# --------------------------------------------------------------------------- HTML


def html_table(caption: str, header: Sequence[str], body: Sequence[Sequence[Any]],
               footer: Sequence[Any] | None = None, numeric: Sequence[int] = ()) -> str:
    """A plain ``<table>``; every cell and the caption escaped, numeric columns right-aligned."""

    def cells(tag: str, line: Sequence[Any]) -> str:
        right = ' style="text-align:right"'
        return "".join(f"<{tag}{right if i in numeric else ''}>{html_text(c)}</{tag}>"
                       for i, c in enumerate(line))

    parts = ["<table>", f"<caption>{html_text(caption)}</caption>",
             f"<thead><tr>{cells('th', header)}</tr></thead>", "<tbody>"]
    parts += [f"<tr>{cells('td', line)}</tr>" for line in body]
    parts.append("</tbody>")
    if footer is not None:
        parts.append(f"<tfoot><tr>{cells('th', footer)}</tr></tfoot>")
    parts.append("</table>")
    return "\n".join(parts)


def trace_html(result: "TraceResult", depth: str = "layer") -> str:
    t = result.totals
    body = [[row.name, f"{row.op} {row.detail}".strip(), row.stage, shape_text(row.output_shape),
             count(row.totals.params), count(row.totals.macs)] for row in rows(result, depth)]
    footer = ["Total", "", "", shape_text(result.layers[-1].output_shape), count(t.params), count(t.macs)]
    caption = (f"{result.spec} — input {shape_text(result.input_shape)}: {count(t.params)} params "
               f"({count(t.trainable_params)} trainable), {si(t.macs, 'MACs')}, {si(t.flops, 'FLOPs')}")
    return html_table(caption, ["Layer", "Op", "Stage", "Output shape", "Params", "MACs"], body, footer,
                      numeric=(3, 4, 5))


def verify_html(result: "VerifyResult") -> str:
    body = [[result.label(c.name), c.op, shape_text(c.predicted), shape_text(c.actual), "✓" if c.ok else "✗",
             f"{c.seconds * 1e3:.2f}"] for c in result.layers]
    verdict = "all shapes as predicted" if result.ok else f"{len(result.mismatches)} layers differ"
    caption = (f"verify {result.spec}: input {shape_text(result.input_shape)}, batch {result.batch}, "
               f"{result.dtype}: {verdict}")
    return html_table(caption, ["Layer", "Op", "Predicted", "Actual", "OK", "ms"], body, numeric=(2, 3, 5))


def check_html(report: "CheckReport") -> str:
    body = [[c.file, c.spec or "", "ok" if c.ok else "FAIL",
             str(c.error) if c.error else "; ".join(e.message for e in c.failures)] for c in report.specs]
    counts = report.counts
    caption = f"check: {counts['passed']} of {counts['specs']} specs pass, {counts['expectations']} expectations"
    return html_table(caption, ["File", "Spec", "Result", "Problems"], body)


def diff_html(result: "DiffResult") -> str:
    body = [[d.status, result.shown_layer(d).name, d.op, d.block,
             "; ".join(f"{c.field}: {c.a} → {c.b}" for c in d.changes)] for d in result.layers]
    caption = f"diff {result.spec_a} → {result.spec_b}: " + ("identical" if result.identical else "they differ")
    return html_table(caption, ["Status", "Layer", "Op", "Block", "Changes"], body)


def run_html(result: "RunResult") -> str:
    body = [[item, rank, p.name or "", p.index, f"{p.score:.4f}"]
            for item, predictions in enumerate(result.top) for rank, p in enumerate(predictions, start=1)]
    caption = f"{result.spec} — {result.source}: forward {result.timing.median * 1e3:.1f} ms"
    return html_table(caption, ["Item", "#", "Class", "Index", "Probability"], body, numeric=(0, 1, 3, 4))
