"""``check``: does every spec still build, and does it keep the promises its ``expect:`` makes?

CI runs this on every change, so it computes typed results only (rendering lives in
:mod:`.report`) and each spec is parsed, expanded and traced once per input size it names, in
pure Python. A spec that fails to build is a failed check, not a crash: its one-line
:class:`InspectError` becomes part of the result. Only misuse of the command itself (a path that
does not exist, no specs found) raises.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..core.display import Displayable
from ..core.text import to_json
from ..core.work import check_work
from ..model.engine import LayerInfo, parse_input, trace_graph
from ..core.errors import InspectError, Location
from ..model.graph import Graph, build_graph
from ..core.safeio import read_bytes
from ..language.spec import (SPEC_RULE, SPEC_SUFFIXES, Spec, bundled_hint, bundled_specs, is_path, is_spec_text,
                             parse_spec, resolve)
from .update import SpecUpdate, apply as apply_edits, plan as update_plan, unified, write as write_update
from ..model.statistics import Totals, TraceResult
from ..core.usertext import excerpt, visible
from ..language.yamlsafe import MAX_BYTES, read_text

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
    path: tuple[str | int, ...] = ()  # where the value sits in the YAML document (``check --update`` edits it)
    updated: bool = False  # rewritten by ``check --update``: the file now says ``found``


@dataclass(frozen=True)
class SpecCheck:
    """The verdict on one file: built or not (``error``), and each expectation."""

    file: str
    spec: str | None
    error: InspectError | None
    expectations: tuple[Expectation, ...] = ()
    seconds: float = 0.0  # wall time to read, build and check the file (JUnit's time attribute)
    update: SpecUpdate | None = None  # what ``check --update`` did to the file

    @property
    def ok(self) -> bool:
        return self.error is None and all(e.ok or e.updated for e in self.expectations)

    @property
    def failures(self) -> tuple[Expectation, ...]:
        """The expectations that do not hold (and were not rewritten by ``--update``)."""
        return tuple(e for e in self.expectations if not (e.ok or e.updated))

    @property
    def updated(self) -> tuple[Expectation, ...]:
        return tuple(e for e in self.expectations if e.updated)


@dataclass(frozen=True, repr=False)
class CheckReport(Displayable):
    specs: tuple[SpecCheck, ...]
    skipped: tuple[str, ...] = ()  # YAML files found in a folder that are not specs (see is_spec_text)
    update: bool = False  # run with ``--update``

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.specs)

    @property
    def counts(self) -> dict[str, int]:
        """``failed`` counts every spec that is not ok, ``unbuilt`` those of them that did not build."""
        expectations = [e for s in self.specs for e in s.expectations]
        return {"specs": len(self.specs), "passed": sum(s.ok for s in self.specs),
                "failed": sum(not s.ok for s in self.specs), "expectations": len(expectations),
                "expectations_failed": sum(not (e.ok or e.updated) for e in expectations),
                "unbuilt": sum(s.error is not None for s in self.specs), "skipped": len(self.skipped),
                "updated": sum(len(s.updated) for s in self.specs)}

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``check --format json`` (documented in the README)."""
        return {"ok": self.ok, "summary": self.counts, "specs": [_spec_dict(s) for s in self.specs],
                "skipped": list(self.skipped)}

    def to_json(self) -> str:
        return to_json(self.to_dict())


def _spec_dict(check: SpecCheck) -> dict[str, Any]:
    return {"file": check.file, "spec": check.spec, "ok": check.ok,
            "error": check.error.to_dict()["error"] if check.error else None,
            "expectations": [_expectation_dict(e) for e in check.expectations],
            "update": check.update.to_dict() if check.update else None}


def _expectation_dict(e: Expectation) -> dict[str, Any]:
    return {"name": e.name, "kind": e.kind, "expected": e.expected, "found": e.found, "ok": e.ok,
            "message": e.message, "file": e.where.file, "line": e.where.line, "column": e.where.column,
            "updated": e.updated}


# --------------------------------------------------------------------------- finding files


def find_specs(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders searched recursively for *.yaml / *.yml, any case (hidden folders skipped).

    Hidden folders (``.git``, ``.venv``, ``.github``) hold YAML that is not a spec; a file named
    explicitly is always checked, whatever its name, and read as asked (symlink or not). Inside a
    folder, symlinks are not followed out of it: see :func:`_walk`. A bare bundled name
    (``resnet50``) means the bundled spec; any other argument is a path.
    """
    return list(_found(paths)[0])


def _found(paths: Iterable[str | Path]) -> tuple[dict[Path, Path | None], list[Path]]:
    """Each spec file found, with the folder it was found in (None when named explicitly), and the
    YAML files of those folders skipped because they are not specs (:func:`is_spec_text`)."""
    paths = list(paths)
    found: dict[Path, Path | None] = {}
    skipped: list[Path] = []
    for item in paths:
        path = _target(item)
        if not os.path.lexists(path):
            raise InspectError(f"no such file or directory{bundled_hint(str(item))}", where=Location(visible(str(item))))
        if path.is_dir():
            for spec in _walk(path):
                if spec in found or spec in skipped:
                    continue
                if _leaves(spec, path) or _is_spec(spec):
                    found[spec] = path
                else:
                    skipped.append(spec)
        else:
            found[path] = None
    if not found:
        shown = ", ".join(visible(str(p)) for p in paths)
        others = (f"; {len(skipped)} YAML file{'s' if len(skipped) != 1 else ''} skipped: a spec has {SPEC_RULE}"
                  if skipped else "")
        raise InspectError(f"no spec files (*.yaml, *.yml) found in {shown}{others}", where=Location(shown or "."))
    return found, [p for p in skipped if p not in found]


def _is_spec(path: Path) -> bool:
    """A file found in a folder is checked as a spec if it reads as one (:data:`SPEC_RULE`), or if
    it cannot be read at all: then its check fails with the reason rather than vanishing."""
    try:
        raw = read_bytes(path, MAX_BYTES, "spec file")
    except InspectError:
        return True
    return is_spec_text(raw.decode("utf-8", errors="replace"))


def _target(item: str | Path) -> Path:
    text = str(item)
    if text == "":
        raise InspectError("empty path given; name spec files or folders (. for the current one)", where=Location("''"))
    if isinstance(item, Path) or is_path(text) or text not in bundled_specs():
        return Path(text)
    return resolve(text)


def _walk(folder: Path) -> Iterator[Path]:
    """Spec files under ``folder``, sorted; symlinks that lead out of it are yielded as themselves.

    A pull request can add ``leak.yaml -> /etc/shadow``: followed, its first line would reach the
    public CI log as an "unknown key". Symlinked folders are not entered at all; a symlinked file
    that resolves outside ``folder`` is yielded so that :func:`check_file` reports it unread.
    """
    found = []
    for root, folders, files in os.walk(folder):  # never descends into symlinked folders
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [Path(root) / name for name in files
                  if not name.startswith(".") and name.lower().endswith(SPEC_SUFFIXES)]
    yield from sorted(found)


def _leaves(path: Path, folder: Path) -> bool:
    """Whether ``path`` is a symlink whose target lies outside ``folder`` (or nowhere)."""
    if not path.is_symlink():
        return False
    try:
        path.resolve(strict=True).relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):
        return True
    return False


# --------------------------------------------------------------------------- checking


def check_paths(paths: Iterable[str | Path], update: bool = False) -> CheckReport:
    """Check every spec found under ``paths``; raises only when the command is misused.

    With ``update``, the failing exact ``expect:`` values of each spec that builds are rewritten
    in its file (:mod:`.update`), and those expectations count as updated, not failed.
    """
    found, skipped = _found(paths)
    specs = tuple(_timed(path, folder, update) for path, folder in found.items())
    return CheckReport(specs, tuple(str(p) for p in skipped), update)


def _timed(path: Path, within: Path | None, update: bool = False) -> SpecCheck:
    start = time.perf_counter()
    result = check_file(path, within, update)
    return replace(result, seconds=time.perf_counter() - start)


def check_file(path: Path, within: Path | None = None, update: bool = False) -> SpecCheck:
    """Check one file; found in folder ``within``, a symlink out of that folder fails unread."""
    spec: Spec | None = None
    if within is not None and _leaves(path, within):
        where = Location(visible(str(path)))
        return SpecCheck(str(path), None, InspectError(
            f"a symlink leading out of {visible(str(within))} (or nowhere); not followed (name the file itself to check it)", where=where))
    try:
        text = read_text(path)
        spec = parse_spec(text, str(path))
        result = check_spec(spec)
    except InspectError as exc:
        return SpecCheck(str(path), spec.name if spec else None, exc)
    if update and result.failures:
        return _update(path, spec, text, result)
    return result


def _update(path: Path, spec: Spec, text: str, result: SpecCheck) -> SpecCheck:
    """Rewrite the failing exact values, prove the new text holds them, write it (``--update``)."""
    edits, kept = update_plan(spec, text, result.failures)
    if not edits:
        return replace(result, update=SpecUpdate(str(path), kept=tuple(kept)))
    new_text = apply_edits(text, edits)
    names = {e.name for e in result.failures} - {name for name, _ in kept}
    try:
        recheck = check_spec(parse_spec(new_text, str(path)))
        if not names <= {e.name for e in recheck.expectations if e.ok}:
            raise InspectError("the rewritten file did not keep its promises")  # never write that
        write_update(path, text, new_text)
    except InspectError as exc:
        reason = f"not written: {exc.message}"
        return replace(result, update=SpecUpdate(str(path), kept=tuple(kept) + tuple((n, reason) for n in sorted(names))))
    expectations = tuple(replace(e, updated=True) if e.name in names else e for e in result.expectations)
    done = SpecUpdate(str(path), tuple(edits), tuple(kept), unified(str(path), text, new_text))
    return replace(result, expectations=expectations, update=done)


def check_spec(spec: Spec) -> SpecCheck:
    """Build and trace ``spec`` at its default input, then test each expectation it declares."""
    graph = build_graph(spec)
    _within_budget(spec, graph)
    traces = _Traces(graph)
    traces.at()  # every shape propagates and every residual add matches, or InspectError
    return SpecCheck(spec.file, spec.name, None, tuple(_expectations(spec, traces)))


def _within_budget(spec: Spec, graph: Graph) -> None:
    """The default input and each distinct ``expect:`` size is one trace of every layer: refused
    past the work budget, before the first (a pull request must not stall CI). A size that is
    the default input is counted too: an upper bound, and one rule a spec author can follow."""
    sizes = {str(size) for key in BY_INPUT for size in (spec.expect.get(key) or {})}
    check_work(1 + len(sizes), len(graph.layers), f"checking the default input and {len(sizes):,} more sizes",
               where=spec.where("expect"), field="expect")


@dataclass
class _Traces:
    """The trace at the spec's default input (for ``shapes``) and the totals at each other size.

    Only totals are kept for the other sizes, so a spec naming 30 sizes holds one trace in
    memory, not 30; a failed trace is remembered as its error.
    """

    graph: Graph
    default: TraceResult | None = None
    totals_at: dict[tuple[int, int], Totals | InspectError] = field(default_factory=dict)

    def at(self) -> TraceResult:
        if self.default is None:
            self.default = trace_graph(self.graph)
        return self.default

    def totals(self, size: str) -> Totals:
        hw = parse_input(size, "expect size")
        if hw == tuple(self.graph.spec.input_shape[:2]):
            return self.at().totals
        if hw not in self.totals_at:
            try:
                self.totals_at[hw] = trace_graph(self.graph, hw).totals
            except InspectError as exc:
                self.totals_at[hw] = exc
        result = self.totals_at[hw]
        if isinstance(result, InspectError):
            raise result
        return result


def _expectations(spec: Spec, traces: _Traces) -> Iterator[Expectation]:
    for key, value in spec.expect.items():
        if key in EXACT_TOTALS or key == "max_params":
            found = getattr(traces.at().totals, key.removeprefix("max_"))
            yield _compare(spec, ("expect", key), key, value, found, "budget" if key == "max_params" else "exact")
        elif key in BY_INPUT:
            yield from _by_input(spec, traces, key, value)
        elif key == "shapes":
            yield from _shapes(spec, traces.at(), value)


def _by_input(spec: Spec, traces: _Traces, key: str, values: dict) -> Iterator[Expectation]:
    total, kind = BY_INPUT[key]
    for size, expected in values.items():
        path = ("expect", key, size)
        name = f"{key}[{size}]"
        try:
            found = getattr(traces.totals(size), total)
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
            yield Expectation(name, "exact", expected, None, False, f"{name}: no layer named '{excerpt(layer)}'", where)
            continue
        found = list(layers[layer].output_shape)
        ok = found == list(expected)
        message = f"{name}: expected {expected}, found {found}"
        yield Expectation(name, "exact", list(expected), found, ok, message, where, ("expect", "shapes", layer))


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
    return Expectation(name, kind, expected, found, ok, message, spec.where(*path), path)


def _number(value: float) -> str:
    """Budgets are often written 4.0e9; print them as whole numbers when they are."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"
