"""Rendering of ``check`` and ``diff`` results: Rich, JSON, GitHub annotations, JUnit XML.

Kept apart from :mod:`.formatting` (traces) because these formats serve CI: GitHub shows
``::error`` workflow commands on the diff of a pull request, and test dashboards read JUnit XML.
Computes nothing; every number comes from :mod:`.check` or :mod:`.diff`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from ..analysis.check import CheckReport, SpecCheck
from ..analysis.diff import DiffResult, LayerDiff
from ..core.errors import InspectError, Location
from ..core.text import count, shape_text, si
from .choices import CHECK_FORMATS  # noqa: F401  (render_check's formats, the CLI's --format choices)
from .formatting import RECORD_FORMATS
from ..core.usertext import markup, visible

if TYPE_CHECKING:
    from rich.console import RenderableType

DIFF_FORMATS = RECORD_FORMATS


# --------------------------------------------------------------------------- check


def check_github(report: CheckReport) -> str:
    """One ``::error`` workflow command per failure, then a plain summary line."""
    lines = []
    for spec in report.specs:
        if spec.error is not None:
            lines.append(_annotation(spec.error.where or Location(spec.file), _without_location(spec.error)))
        lines += [_annotation(e.where, f"{spec.spec}: {e.message}") for e in spec.failures]
    lines.append(_summary_line(report))
    return "\n".join(lines) + "\n"


def _without_location(error: InspectError) -> str:
    """The error line minus file:line:column, which the annotation carries as properties."""
    parts = [error.field or "", f"layer {error.layer}" if error.layer else "", error.message]
    return ": ".join(p for p in parts if p)


def _annotation(where: Location, message: str) -> str:
    props = [f"file={_escape_property(where.file)}"]
    if where.line is not None:
        props += [f"line={where.line}", f"col={where.column}"]
    props.append("title=resnet-inspect check")
    return f"::error {','.join(props)}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    """GitHub's workflow-command escaping of a message, after control characters are made visible.

    GitHub reads ``%``, CR and LF as escapes; an ESC or BEL from a spec would reach the log raw.
    """
    return visible(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A property value also ends at ``,`` and its name at ``:`` (GitHub's rules)."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _summary_line(report: CheckReport) -> str:
    """``3 specs, 1 passed, 2 failed (1 failed to build); 1/2 expectations hold; …``

    A spec that does not build has no expectations checked, so it is counted apart: "2/2 hold"
    alone would read as good news.
    """
    c = report.counts
    verdict = "all hold" if report.ok else "FAILED"
    unbuilt = f" ({c['unbuilt']} failed to build)" if c["unbuilt"] else ""
    parts = [f"{_plural(c['specs'], 'spec')}, {c['passed']} passed, {c['failed']} failed{unbuilt}",
             f"{c['expectations'] - c['expectations_failed']}/{c['expectations']} expectations hold"
             + (" in the specs that built" if c["unbuilt"] else "")]
    if report.update:
        files = sum(1 for s in report.specs if s.update is not None and s.update.written)
        parts.append(f"{_plural(c['updated'], 'expectation')} updated in {_plural(files, 'file')}")
    if c["skipped"]:
        parts.append(f"{_plural(c['skipped'], 'YAML file')} skipped (not specs)")
    return f"resnet-inspect check: {'; '.join(parts)} — {verdict}"


def check_junit(report: CheckReport) -> str:
    """JUnit XML as Jenkins' and GitLab's schema (junit-10.xsd) allows it.

    A suite per spec file (its ``file`` attribute and a ``spec`` property say which), a test case
    "builds" and one per expectation, all with ``classname`` = the file, so two specs of the same
    name stay apart. Test cases may not carry ``file``/``line`` there: the location leads the
    failure text instead. Every string goes through :func:`visible` first, because XML 1.0 cannot
    hold most control characters at all (escaped or not).
    """
    c = report.counts
    failures = sum((s.error is not None) + len(s.failures) for s in report.specs)
    root = ElementTree.Element("testsuites", name="resnet-inspect check", tests=str(c["specs"] + c["expectations"]),
                               failures=str(failures), errors="0", time=_seconds(sum(s.seconds for s in report.specs)))
    for spec in report.specs:
        _junit_suite(root, spec)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def _junit_suite(root: ElementTree.Element, spec: SpecCheck) -> None:
    file = visible(spec.file)
    suite = ElementTree.SubElement(root, "testsuite", name=file, tests=str(1 + len(spec.expectations)),
                                   failures=str((spec.error is not None) + len(spec.failures)), errors="0",
                                   skipped="0", time=_seconds(spec.seconds), file=file)
    properties = ElementTree.SubElement(suite, "properties")
    ElementTree.SubElement(properties, "property", name="spec", value=visible(spec.spec or ""))
    case = ElementTree.SubElement(suite, "testcase", classname=file, name="builds", time=_seconds(spec.seconds))
    if spec.error is not None:
        ElementTree.SubElement(case, "failure", message=str(spec.error), type="InspectError").text = str(spec.error)
    for e in spec.expectations:
        case = ElementTree.SubElement(suite, "testcase", classname=file, name=visible(e.name), time="0")
        if not e.ok:
            ElementTree.SubElement(case, "failure", message=visible(e.message),
                                   type="ExpectationFailed").text = visible(f"{e.where}: {e.message}")


def _seconds(seconds: float) -> str:
    """JUnit's time: seconds with a dot and no exponent (the schema's SUREFIRE_TIME pattern)."""
    return f"{seconds:.3f}"


def check_table(report: CheckReport) -> "RenderableType":
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title="resnet-inspect check")
    for name, justify in (("spec", "left"), ("file", "left"), ("result", "left"), ("expectations", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for spec in report.specs:
        held = len(spec.expectations) - len(spec.failures)
        result = "[green]ok[/]" if spec.ok else ("[red]does not build[/]" if spec.error else "[red]FAILED[/]")
        table.add_row(markup(spec.spec or "—"), markup(spec.file), result, f"{held}/{len(spec.expectations)}")
    problems = [Text(f"✗ {spec.error}", style="red") for spec in report.specs if spec.error]
    problems += [Text(visible(f"✗ {e.where}: {e.message}"), style="red") for s in report.specs for e in s.failures]
    verdict = Text(_summary_line(report), style="green" if report.ok else "bold red")
    return Group(*_update_parts(report), table, *problems, verdict)


def _update_parts(report: CheckReport) -> list[Any]:
    """What ``--update`` did: each file's diff (as ``git diff`` prints it) and what it left alone."""
    from rich.syntax import Syntax
    from rich.text import Text

    parts: list[Any] = []
    for spec in report.specs:
        if not report.update:
            break
        if spec.error is not None:
            parts.append(Text(visible(f"not updated: {spec.file} does not build (fix the error below first)"),
                              style="yellow"))
            continue
        if spec.update is None:
            continue
        if spec.update.diff:
            parts.append(Syntax(visible(spec.update.diff, keep_newlines=True).rstrip("\n"), "diff",
                                theme="ansi_dark", background_color="default"))
        parts += [Text(visible(f"kept: {spec.file}: {name}: {reason}"), style="yellow")
                  for name, reason in spec.update.kept]
    return parts


def render_check(report: CheckReport, fmt: str) -> "str | RenderableType":
    if fmt == "json":
        return report.to_json()
    return {"github": check_github, "junit": check_junit, "table": check_table}[fmt](report)


# --------------------------------------------------------------------------- diff


def change_text(d: LayerDiff) -> str:
    if d.status != "changed":
        return d.status
    if not d.changes:
        return "renamed"
    return "; ".join(f"{c.field} {_value(c.field, c.a)} → {_value(c.field, c.b)}" for c in d.changes)


def _value(field: str, value: Any) -> str:
    if field == "output_shape":
        return shape_text(tuple(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return count(value)
    return str(value)


def spec_labels(result: DiffResult) -> tuple[str, str]:
    """The two sides' names, with their files when the names alone cannot tell them apart."""
    if result.spec_a != result.spec_b or result.file_a == result.file_b:
        return result.spec_a, result.spec_b
    return f"{result.spec_a} ({_where(result.file_a)})", f"{result.spec_b} ({_where(result.file_b)})"


def _where(file: str) -> str:
    from pathlib import Path

    from ..language.spec import bundled_specs

    return "bundled" if any(Path(file) == path for path in bundled_specs().values()) else file


def diff_table(result: DiffResult, layers: bool = False) -> "RenderableType":
    """The story first: spec settings that differ, each repeated layer change once with its count,
    stride moves, blocks, totals. Per-layer rows only with ``layers`` (``diff --layers``).

    Names and numbers never break inside (tables without side borders, short row labels: the
    whole diff of two bundled specs fits 80 columns)."""
    from rich.console import Group
    from rich.text import Text

    label_a, label_b = (markup(label) for label in spec_labels(result))
    title = f"{label_a} ({shape_text(result.input_a)}) → {label_b} ({shape_text(result.input_b)})"
    if result.identical:
        return Group(f"[green]{title}: identical[/]")
    n = len(result.layers)
    parts: list[Any] = [Text.from_markup(f"[bold]{title}[/]: {n} layer{'s' if n != 1 else ''} differ")]
    parts += _story(result)
    if layers:
        parts += _layer_parts(result, title)
    else:
        parts.append(Text("--layers lists every layer; --format json has them all.", style="dim"))
    parts.append(_totals_table(result))
    return Group(*(part for p in parts for part in (p, "")))


def _story(result: DiffResult) -> list[Any]:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    summary, parts = result.summary, []
    label_a, label_b = (markup(label) for label in spec_labels(result))
    if summary.spec:
        table = Table(title="spec settings that differ", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for name in ("setting", label_a, label_b):
            table.add_column(name, no_wrap=name == "setting", min_width=min(len(name), 24))
        for c in summary.spec:
            table.add_row(markup(c.field), markup(_setting(c.a)), markup(_setting(c.b)))
        parts.append(table)
    rows = [(str(g.layers), ", ".join(g.ops), _group_text(result, g)) for g in summary.changes]
    rows += [(str(len(m.blocks)), "blocks", f"stride {m.stride} moved from {m.from_layer} to {m.to_layer} in "
              + ", ".join(m.blocks)) for m in summary.moves]
    rows += _block_rows(result)
    if rows:
        table = Table(title="what changed on the layers", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column("layers", justify="right", no_wrap=True)
        table.add_column("op")
        table.add_column("what changed")
        for row in sorted(rows, key=lambda r: -int(r[0])):
            table.add_row(*(markup(cell) for cell in row))
        parts.append(table)
    counts = summary.layers
    if counts.get("params") or counts.get("macs"):
        parts.append(Text(f"params differ on {counts.get('params', 0)} layers, MACs on {counts.get('macs', 0)} "
                          "(these follow from the changes above)", style="dim"))
    return parts


def _group_text(result: DiffResult, g: Any) -> str:
    if g.field in ("added", "removed"):
        return f"{g.field}" + (f" ({g.first})" if g.layers == 1 else f" ({g.first}, …)")
    return f"{g.field} {_value(g.field, g.a)} → {_value(g.field, g.b)}"


def _block_rows(result: DiffResult) -> list[tuple[str, str, str]]:
    rows = []
    for status in ("added", "removed", "renamed"):
        chosen = [b for b in result.blocks if b.status == status]
        if not chosen:
            continue
        names = [(b.block_b if status == "added" else b.block_a) or "" for b in chosen]
        shown = names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"
        if status == "renamed":
            shown = f"{chosen[0].block_a} → {chosen[0].block_b}" + (", …" if len(chosen) > 1 else "")
        sign = {"added": "+", "removed": "-"}.get(status)
        extra = f"; {sign}{count(sum(b.params for b in chosen))} params" if sign else ""
        rows.append((str(len(chosen)), "blocks", f"{status}: {shown}{extra}"))
    return rows


def _setting(value: Any) -> str:
    """A spec setting as the YAML would say it: true/false, none for a missing setting."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "—"
    if isinstance(value, list):
        return shape_text(tuple(value)) if all(isinstance(v, int) for v in value) else str(value)
    return str(value)


def _layer_parts(result: DiffResult, title: str) -> list[Any]:
    """``--layers``: the whole-block table and one row per other layer that differs, as before."""
    from rich.table import Table

    parts: list[Any] = []
    if result.blocks:
        parts.append(_blocks_table(result))
    loose = result.loose_layers
    if loose or not result.blocks:
        layers = Table(title=f"{len(loose)} layers differ" + (" outside those blocks" if result.blocks else ""))
        for name in ("layer", "op", "block", "what changed"):
            layers.add_column(name)
        for d in loose:
            layers.add_row(markup(result.shown_layer(d).name), d.op, markup(d.block), markup(change_text(d)))
        parts.append(layers)
    parts += [markup(f"stride {m.stride} moved in {m.block}: {m.from_layer} → {m.to_layer}")
              for m in map(result.shown_move, result.stride_moves)]
    return parts


TOTAL_LABELS = {"params": "params", "trainable_params": "trainable", "non_trainable_params": "non-trainable",
                "macs": "MACs", "flops": "FLOPs"}


UNLIMITED = 100_000  # measuring a table's natural width, unclamped by the console's


class _Totals:
    """The totals table in the widest form that fits, so no number or name is ever cut: with the
    change in the totals' unit ("(+0.23 G)") if there is room, then without it, then with the
    specs as A and B (named on a line above)."""

    def __init__(self, result: DiffResult) -> None:
        self.result = result

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        labels = tuple(markup(label) for label in spec_labels(self.result))
        tables = [self.table(labels, True), self.table(labels, False), self.table(("A", "B"), False)]
        for table in tables:
            if Measurement.get(console, options.update(max_width=UNLIMITED), table).maximum <= options.max_width:
                break
        if table is tables[-1]:
            yield f"A = {labels[0]}, B = {labels[1]}"
        yield table

    def table(self, labels: tuple[str, str], scaled: bool) -> Any:
        from rich import box
        from rich.table import Table

        table = Table(title="totals", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for name, justify in (("", "left"), (labels[0], "right"), (labels[1], "right"), ("change", "right")):
            table.add_column(name, justify=justify, no_wrap=True, min_width=len(name))  # type: ignore[arg-type]
        for key, row in self.result.to_dict()["totals"].items():
            change = f"{row['change']:+,}"
            if scaled and row["change"]:
                change += f" ({_scaled(row['change'], max(row['a'], row['b']))})"
            table.add_row(TOTAL_LABELS.get(key, key), count(row["a"]), count(row["b"]), change)
        return table


def _totals_table(result: DiffResult) -> "RenderableType":
    return _Totals(result)


def _blocks_table(result: DiffResult) -> "RenderableType":
    from rich.table import Table

    label_a, label_b = (markup(label) for label in spec_labels(result))
    n = len(result.blocks)
    table = Table(title=f"{label_a} → {label_b}: {n} whole block{'s differ' if n > 1 else ' differs'}")
    for name, justify in (("block", "left"), ("", "left"), ("layers", "right"), ("params", "right"),
                          ("MACs", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for block in result.blocks:
        name = {"added": block.block_b, "removed": block.block_a}.get(block.status, f"{block.block_a} → {block.block_b}")
        sign = {"added": "+", "removed": "-"}.get(block.status, "")
        table.add_row(markup(name), block.status, str(block.layers), f"{sign}{count(block.params)}",
                      f"{sign}{si(block.macs)}")
    return table


def _scaled(change: int, total: int) -> str:
    """A change in the unit of the totals it changes: +231,211,008 MACs of ~4 G is "+0.23 G"."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if total >= factor:
            return f"{change / factor:+.2f} {prefix}"
    return f"{change:+,}"


def render_diff(result: DiffResult, fmt: str, layers: bool = False) -> "str | RenderableType":
    if fmt == "json":
        return result.to_json()
    return diff_table(result, layers)

