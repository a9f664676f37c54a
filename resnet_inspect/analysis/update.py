"""``check --update``: rewrite the ``expect:`` values an intended change broke, and nothing else.

Like a snapshot tool's update (syrupy's ``--snapshot-update``, insta's ``accept``): after you
change stage 4 from 6 to 8 blocks on purpose, the exact numbers the spec promised are now wrong,
and retyping them by hand is where typos come in. Each failing *exact* value is replaced at its
own span in the file's text (the YAML parser's marks, :class:`~..language.yamlsafe.Span`), so
comments, key order, quoting and line breaks stay byte for byte; the edited text is parsed and
checked again before it is written, atomically, over the file.

Not rewritten, and said so: budgets (``max_params``, ``max_macs``: a limit you set is not a
snapshot), a ``shapes`` entry naming a layer that does not exist, a size that cannot be traced,
and every spec that does not build (nothing changes in that file).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InspectError, Location
from ..core.safeio import atomic_write
from ..core.usertext import visible
from ..language.spec import Spec
from ..language.yamlsafe import Span


@dataclass(frozen=True)
class Edit:
    """One value rewritten: the expectation's name, where it is, its text before and after."""

    name: str
    where: Location
    old: str
    new: str
    start: int
    end: int


@dataclass(frozen=True)
class SpecUpdate:
    """What ``--update`` did to one file: the edits written, the failures it left, and the diff."""

    file: str
    edits: tuple[Edit, ...] = ()
    kept: tuple[tuple[str, str], ...] = ()  # (expectation, why it was not rewritten)
    diff: str = ""

    @property
    def written(self) -> bool:
        return bool(self.edits)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "written": self.written,
                "edits": [{"name": e.name, "line": e.where.line, "column": e.where.column, "old": e.old, "new": e.new}
                          for e in self.edits],
                "kept": [{"name": name, "reason": reason} for name, reason in self.kept]}


def plan(spec: Spec, text: str, failures: tuple[Any, ...]) -> tuple[list[Edit], list[tuple[str, str]]]:
    """The edits that make each failing exact expectation hold, and the failures left as they are."""
    edits: list[Edit] = []
    kept: list[tuple[str, str]] = []
    for e in failures:
        reason = _why_not(e)
        if reason is None:
            found = _edits(spec, text, e)
            if isinstance(found, str):
                reason = found
            else:
                edits += found
                continue
        kept.append((e.name, reason))
    return edits, kept


def _why_not(e: Any) -> str | None:
    if e.kind != "exact":
        return "a budget is a limit you set, not a snapshot; raise it by hand if you mean to"
    if e.found is None:
        return "nothing was found to write (see the message)"
    return None


def _edits(spec: Spec, text: str, e: Any) -> list[Edit] | str:
    spans = spec.document.spans
    span = spans.get(e.path)
    if span is None:
        return "its value was not found in the file"
    if isinstance(e.found, list):
        return _list_edits(spans, text, e, span)
    return [_edit(text, e.name, spec.where(*e.path), span, str(e.found))]


def _list_edits(spans: dict, text: str, e: Any, span: Span) -> list[Edit] | str:
    """A flow list ``[7, 7, 2048]`` is rewritten whole; a block list item by item, if as long."""
    where = Location(e.where.file, e.where.line, e.where.column)
    if span.style == "[":
        return [_edit(text, e.name, where, span, "[" + ", ".join(str(v) for v in e.found) + "]")]
    items = [spans.get(e.path + (i,)) for i in range(len(e.expected))]
    if len(items) != len(e.found) or None in items:
        return f"a block list of {len(e.expected)} items cannot hold {len(e.found)} in place; edit it by hand"
    return [_edit(text, f"{e.name}[{i}]", where, item, str(v))
            for i, (item, v) in enumerate(zip(items, e.found)) if item is not None]


def _edit(text: str, name: str, where: Location, span: Span, value: str) -> Edit:
    quote = span.style if span.style in ("'", '"') else ""
    return Edit(name, where, text[span.start:span.end], f"{quote}{value}{quote}", span.start, span.end)


def apply(text: str, edits: list[Edit]) -> str:
    """``text`` with each edit's span replaced; every byte outside the spans stays as it was."""
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[:edit.start] + edit.new + text[edit.end:]
    return text


def unified(file: str, old: str, new: str) -> str:
    """What changed, as ``git diff`` shows it (the file named on both sides)."""
    name = visible(file)
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{name}", tofile=f"b/{name}", n=1)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def write(path: Path, old: str, new: str) -> None:
    """Write ``new`` over ``path`` atomically, keeping its mode; refused if the file changed meanwhile.

    A symlink named explicitly is followed: its target is updated, the link stays a link.
    """
    target = Path(os.path.realpath(path))
    try:
        current = target.read_bytes()
        mode = target.stat().st_mode & 0o7777
    except OSError as exc:
        raise InspectError(f"cannot update: {exc.strerror}", where=Location(visible(str(path)))) from None
    if current != old.encode("utf-8"):
        raise InspectError("changed while it was checked; not updated", where=Location(visible(str(path))))
    with atomic_write(target, what="spec file") as temporary:
        temporary.write_bytes(new.encode("utf-8"))
        os.chmod(temporary, mode)
