"""Rendering of the short records ``weights``, ``schema -o`` and ``new`` print. Computes nothing.

Each is one line for people (``--format table``) or one JSON object (``--format json``), whose
keys the README documents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.usertext import visible

if TYPE_CHECKING:
    from ..analysis.newspec import Written


@dataclass(frozen=True)
class WeightsRecord:
    """A weights file written (``init``, ``convert``) or found to fit a spec (``check``)."""

    action: str  # "wrote" or "fits"
    spec: str
    file: str
    arrays: int
    numbers: int
    seed: int | None = None  # init
    seed_scheme: int | None = None  # init: how the seeded numbers were drawn (model.weights.SEED_SCHEMES)
    source: str | None = None  # convert


def render_weights(record: WeightsRecord, fmt: str) -> str:
    if fmt == "json":
        return _json({"ok": True, **asdict(record)})
    if record.action == "fits":
        return f"{visible(record.file)} fits {visible(record.spec)}: {record.arrays} arrays, {record.numbers:,} numbers"
    note = (f" (seed {record.seed})" if record.seed is not None
            else f" (from {visible(record.source)})" if record.source else "")
    return (f"wrote {visible(record.file)}: {record.arrays} arrays, {record.numbers:,} numbers, "
            f"for {visible(record.spec)}{note}")


def render_schema_written(path: Path, fmt: str) -> str:
    if fmt == "json":
        return _json({"file": str(path), "schema_line": f"# yaml-language-server: $schema={path.as_posix()}"})
    return (f"wrote {visible(path)}; start each spec with the line "
            f"`# yaml-language-server: $schema=…/{visible(path.name)}` (a path relative to the spec)")


def render_new(written: "Written", fmt: str) -> str:
    made = written.spec
    if fmt == "json":
        return _json({"file": str(written.path), "spec": made.name, "from": made.source, "schema": made.schema_ref,
                      "schema_written": str(written.schema_path) if written.schema_written else None,
                      "expect": made.expect})
    schema = f"; wrote {visible(written.schema_path)}" if written.schema_written else ""
    return (f"wrote {visible(written.path)}: spec {visible(made.name)} from {visible(made.source)}, "
            f"$schema={visible(made.schema_ref)}, "
            f"expect: {_count(made.expect)} numbers to keep{schema}")


def _count(expect: dict[str, Any]) -> int:
    return sum(len(v) if isinstance(v, dict) else 1 for v in expect.values())


def _json(data: dict[str, Any]) -> str:
    from ..core.text import to_json

    return to_json(data)
