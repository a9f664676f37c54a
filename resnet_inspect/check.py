"""``check``: does every spec still build, and does it keep the promises its ``expect:`` makes?

CI runs this on every change, so it computes typed results only (rendering lives in
:mod:`.report`) and each spec is parsed, expanded and traced once per input size it names, in
pure Python. A spec that fails to build is a failed check, not a crash: its one-line
:class:`InspectError` becomes part of the result. Only misuse of the command itself (a path that
does not exist, no specs found) raises.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .engine import LayerInfo, parse_input, trace_graph
from .errors import InspectError, Location
from .graph import Graph, build_graph
from .spec import Spec, parse_spec, resolve
from .statistics import TraceResult
from .yamlsafe import read_text

SPEC_SUFFIXES = (".yaml", ".yml")
EXACT_TOTALS = ("params", "trainable_params", "non_trainable_params")
BY_INPUT = {"macs": ("macs", "exact"), "flops": ("flops", "exact"),
            "max_macs": ("macs", "budget"), "max_flops": ("flops", "budget")}


@dataclass(frozen=True)
class Expectation:
    """One promise from a spec's ``expect:`` block, checked against what the engine found."""

    name: str  # "params", "macs[224]", "shapes.res2a"
    kind: str  # "exact" or "budget"
    expected: Any
    found: Any
    ok: bool
    message: str
    where: Location


@dataclass(frozen=True)
class SpecCheck:
    """The verdict on one file: built or not (``error``), and each expectation."""

    file: str
    spec: str | None
    error: InspectError | None
    expectations: tuple[Expectation, ...] = ()
    seconds: float = 0.0  # wall time to read, build and check the file (JUnit's time attribute)

    @property
    def ok(self) -> bool:
        return self.error is None and all(e.ok for e in self.expectations)

    @property
    def failures(self) -> tuple[Expectation, ...]:
        return tuple(e for e in self.expectations if not e.ok)


@dataclass(frozen=True)
class CheckReport:
    specs: tuple[SpecCheck, ...]

    # Display in a REPL, a terminal (rich.print) and Jupyter: see resnet_inspect.display.
    def __repr__(self) -> str:
        from .display import check_repr

        return check_repr(self)

    def __rich__(self) -> "Any":
        from .report import check_table

        return check_table(self)

    def _repr_html_(self) -> str:
        from .display import check_html

        return check_html(self)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.specs)

    @property
    def counts(self) -> dict[str, int]:
        expectations = [e for s in self.specs for e in s.expectations]
        return {"specs": len(self.specs), "passed": sum(s.ok for s in self.specs),
                "failed": sum(not s.ok for s in self.specs), "expectations": len(expectations),
                "expectations_failed": sum(not e.ok for e in expectations)}


# --------------------------------------------------------------------------- finding files


def find_specs(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders searched recursively for *.yaml / *.yml (hidden folders skipped).

    Hidden folders (``.git``, ``.venv``, ``.github``) hold YAML that is not a spec; a file named
    explicitly is always checked, whatever its name.
    """
    found: dict[Path, None] = {}
    for item in paths:
        path = resolve(item)
        if not path.exists():
            raise InspectError("no such file or directory", where=Location(str(item)))
        for spec in (_walk(path) if path.is_dir() else [path]):
            found.setdefault(spec, None)
    if not found:
        shown = ", ".join(str(p) for p in paths)
        raise InspectError(f"no spec files (*.yaml, *.yml) found in {shown}", where=Location(shown or "."))
    return list(found)


def _walk(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if path.suffix in SPEC_SUFFIXES and path.is_file() and not hidden:
            yield path


# --------------------------------------------------------------------------- checking


def check_paths(paths: Iterable[str | Path]) -> CheckReport:
    """Check every spec found under ``paths``; raises only when the command is misused."""
    return CheckReport(tuple(_timed(path) for path in find_specs(paths)))


def _timed(path: Path) -> SpecCheck:
    start = time.perf_counter()
    result = check_file(path)
    return replace(result, seconds=time.perf_counter() - start)


def check_file(path: Path) -> SpecCheck:
    spec: Spec | None = None
    try:
        spec = parse_spec(read_text(path), str(path))
        return check_spec(spec)
    except InspectError as exc:
        return SpecCheck(str(path), spec.name if spec else None, exc)


def check_spec(spec: Spec) -> SpecCheck:
    """Build and trace ``spec`` at its default input, then test each expectation it declares."""
    traces = _Traces(build_graph(spec))
    traces.at(None)  # every shape propagates and every residual add matches, or InspectError
    return SpecCheck(spec.file, spec.name, None, tuple(_expectations(spec, traces)))


@dataclass
class _Traces:
    """One trace per input size, computed on first use (a failed trace is remembered too)."""

    graph: Graph
    cache: dict[Any, TraceResult | InspectError] = field(default_factory=dict)

    def at(self, size: str | None) -> TraceResult:
        hw = None if size is None else parse_input(size)
        key = hw or tuple(self.graph.spec.input_shape[:2])
        if key not in self.cache:
            try:
                self.cache[key] = trace_graph(self.graph, hw)
            except InspectError as exc:
                self.cache[key] = exc
        result = self.cache[key]
        if isinstance(result, InspectError):
            raise result
        return result


def _expectations(spec: Spec, traces: _Traces) -> Iterator[Expectation]:
    for key, value in spec.expect.items():
        if key in EXACT_TOTALS or key == "max_params":
            found = getattr(traces.at(None).totals, key.removeprefix("max_"))
            yield _compare(spec, ("expect", key), key, value, found, "budget" if key == "max_params" else "exact")
        elif key in BY_INPUT:
            yield from _by_input(spec, traces, key, value)
        elif key == "shapes":
            yield from _shapes(spec, traces.at(None), value)


def _by_input(spec: Spec, traces: _Traces, key: str, values: dict) -> Iterator[Expectation]:
    total, kind = BY_INPUT[key]
    for size, expected in values.items():
        path = ("expect", key, size)
        name = f"{key}[{size}]"
        try:
            found = getattr(traces.at(size).totals, total)
        except InspectError as exc:
            yield Expectation(name, kind, expected, None, False, f"{name}: cannot trace at {size}: {exc.message}",
                              spec.where(*path))
            continue
        yield _compare(spec, path, name, expected, found, kind)


def _shapes(spec: Spec, result: TraceResult, shapes: dict) -> Iterator[Expectation]:
    layers: dict[str, LayerInfo] = {info.name: info for info in result.layers}
    for layer, expected in shapes.items():
        name, where = f"shapes.{layer}", spec.where("expect", "shapes", layer)
        if layer not in layers:
            yield Expectation(name, "exact", expected, None, False, f"{name}: no layer named {layer!r}", where)
            continue
        found = list(layers[layer].output_shape)
        ok = found == list(expected)
        message = f"{name}: expected {expected}, found {found}"
        yield Expectation(name, "exact", list(expected), found, ok, message, where)


def _compare(spec: Spec, path: tuple[str, ...], name: str, expected: Any, found: int, kind: str) -> Expectation:
    """Exact values must match; budgets are upper bounds (``found <= expected``)."""
    if isinstance(expected, str):  # a quoted budget, "4.0e9": the schema allows what PyYAML makes of 4.0e9
        expected = float(expected.replace("_", ""))
    if kind == "exact":
        ok = found == expected
        message = f"{name}: expected {expected:,}, found {found:,}"
        if not ok:
            message += f" ({found - expected:+,})"
    else:
        ok = found <= expected
        message = f"{name}: budget {_number(expected)}, found {found:,}"
        if not ok:
            message += f" (over by {_number(found - expected)})"
    return Expectation(name, kind, expected, found, ok, message, spec.where(*path))


def _number(value: float) -> str:
    """Budgets are often written 4.0e9; print them as whole numbers when they are."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"
