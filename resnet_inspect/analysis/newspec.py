"""``new``: start a spec of your own from an existing one, already guarded by ``check``.

The new file names the JSON Schema with a ``# yaml-language-server: $schema=…`` line that points at
a real file (written beside the spec when missing, since a wheel's copy sits deep in
site-packages), and carries an ``expect:`` block filled in from today's numbers: totals, MACs and
FLOPs at the default input, and the output shape of every stage. CI can guard it at once, and an
edit that changes the network fails ``check`` until the numbers are updated on purpose.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..model.engine import trace_graph
from ..core.errors import InspectError, Location
from ..core.safeio import atomic_write
from ..model.graph import load_graph
from ..language.spec import SCHEMA_PATH, Spec, load_spec
from ..model.statistics import TraceResult
from ..language.yamlsafe import read_text

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
SCHEMA_FILE = "spec.schema.json"


@dataclass(frozen=True)
class NewSpec:
    """What ``new`` made: the spec's text and where its schema line points."""

    name: str
    source: str
    text: str
    expect: dict[str, Any]
    schema_ref: str  # the $schema value: a path relative to the spec's folder


def input_key(result: TraceResult) -> str:
    """``224`` for a square input, ``224x320`` otherwise: the keys ``expect:`` uses."""
    h, w, _ = result.input_shape
    return str(h) if h == w else f"{h}x{w}"


def expect_from(result: TraceResult) -> dict[str, Any]:
    """Today's numbers as an ``expect:`` block (keys quoted, so every YAML reader sees strings)."""
    totals, key = result.totals, input_key(result)
    stage_outputs = {group.layers[-1].name: list(group.output_shape) for group in result.groups("stage")}
    return {
        "params": totals.params,
        "trainable_params": totals.trainable_params,
        "non_trainable_params": totals.non_trainable_params,
        "macs": {key: totals.macs},
        "flops": {key: totals.flops},
        "shapes": stage_outputs,
    }


def new_spec(name: str, source: "str | Path | Spec" = "resnet50", schema_ref: str = SCHEMA_FILE) -> NewSpec:
    """A spec called ``name`` with ``source``'s architecture and an ``expect:`` block of its numbers."""
    import yaml

    if not re.match(NAME_PATTERN, name):
        raise InspectError(f"a spec name is letters, digits, '_', '.' and '-', got {name!r}", field="NAME")
    spec = load_spec(source)
    result = trace_graph(load_graph(spec))
    data = {key: value for key, value in _as_written(spec).items() if key != "expect"}
    data["name"] = name
    expect = expect_from(result)
    body = yaml.safe_dump({**data, "expect": expect}, sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=None)
    header = (f"# yaml-language-server: $schema={schema_ref}\n"
              f"# Made by `resnet-inspect new {name} --from {spec.name}` (resnet-inspect {__version__}).\n"
              f"# expect: holds today's numbers, so `resnet-inspect check` fails when the network changes.\n")
    return NewSpec(name, spec.name, header + body, expect, schema_ref)


@dataclass(frozen=True)
class Written:
    """The files ``new`` wrote: the spec, and the schema when it was missing (``schema_written``)."""

    spec: NewSpec
    path: Path
    schema_path: Path
    schema_written: bool


def write_schema(output: str | Path) -> Path:
    """The shipped JSON Schema, written atomically to ``output`` (a ``.json`` file; replaced if present)."""
    path = Path(output)
    if path.suffix != ".json":
        raise InspectError("the schema is JSON: give a file ending in .json", where=Location(str(path)), field="output")
    if path.is_dir():
        raise InspectError("is a directory", where=Location(str(path)), field="output")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, SCHEMA_PATH.read_text(encoding="utf-8"), "schema file")
    return path


def write_new_spec(name: str, source: "str | Path | Spec", output: str | Path | None = None,
                   schema: str | Path | None = None) -> Written:
    """Write the spec (never over an existing file) and, when missing, the schema it points at."""
    path = Path(output) if output is not None else Path(f"{name}.yaml")
    if path.suffix not in (".yaml", ".yml"):
        raise InspectError("a spec file ends in .yaml or .yml", where=Location(str(path)), field="output")
    if path.exists():
        raise InspectError("already exists; choose another -o or remove it", where=Location(str(path)))
    schema_path = Path(schema) if schema is not None else path.parent / SCHEMA_FILE
    ref = Path(os.path.relpath(schema_path.resolve(), path.parent.resolve())).as_posix()
    made = new_spec(name, source, ref)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrote_schema = not schema_path.exists()
    if wrote_schema:
        write_schema(schema_path)
    write_atomic(path, made.text, "spec file")
    return Written(made, path, schema_path, wrote_schema)


def _as_written(spec: Spec) -> dict[str, Any]:
    """The source's fields as its author wrote them (the loaded data also holds the schema's defaults)."""
    import yaml

    path = Path(spec.file)
    if path.is_file():
        data = yaml.safe_load(read_text(path))
        if isinstance(data, dict):
            return data
    return dict(spec.document.data)


def write_atomic(path: Path, text: str, what: str = "output") -> None:
    """Through :func:`safeio.atomic_write` (temp file + rename): never a half-written file."""
    with atomic_write(path, what=what) as temporary:
        temporary.write_text(text, encoding="utf-8")
