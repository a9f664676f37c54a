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
from ..core.errors import InspectError, Location
from ..core.safeio import check_new, check_suffix, check_target, write_texts
from ..core.usertext import excerpt, visible
from ..language.spec import SCHEMA_PATH, Spec, is_path, parse_spec, resolve
from ..language.yamlsafe import load, read_text
from ..model.engine import trace_graph
from ..model.graph import load_graph
from ..model.statistics import TraceResult

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"  # matched whole (re.fullmatch): "$" let a final newline in
NAME_LIMIT = 100
SCHEMA_FILE = "spec.schema.json"
_OWN_KEYS = ("name", "description", "expect")  # what `new` writes itself; every other key is the source's


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


def check_name(name: str) -> str:
    """A spec name as ``new`` accepts it: ASCII letters, digits, ``_ . -``, matched as a whole."""
    if len(name) > NAME_LIMIT or not re.fullmatch(NAME_PATTERN, name):
        raise InspectError(f"a spec name is up to {NAME_LIMIT} letters, digits, '_', '.' and '-' "
                           f"(starting with a letter or digit), got {excerpt(repr(name))}", field="NAME")
    return name


def new_spec(name: str, source: str | Path | Spec = "resnet50", schema_ref: str = SCHEMA_FILE) -> NewSpec:
    """A spec called ``name`` with ``source``'s architecture and an ``expect:`` block of its numbers.

    Its own ``name`` and ``description`` ("Started from resnet50."), the source's other top-level
    entries copied as their author wrote them (comments included) when the source is a plain block
    mapping, and ``expect:`` from today's numbers. No user text is ever pasted into YAML: the new
    values go through the YAML emitter, the one comment holding user text (the ``$schema`` line)
    refuses anything but printable characters, and the finished text is loaded back and compared
    with the data it must hold before it is returned (issue 17: a name holding U+2028 escaped the
    header comment and rewrote ``conventions``).
    """
    check_name(name)
    spec, text = _source(source)
    result = trace_graph(load_graph(spec))
    expect = expect_from(result)
    written = _as_written(spec, text)
    own = {"name": name, "description": f"Started from {visible(spec.name)}.", "expect": expect}
    wanted = {"name": own["name"], "description": own["description"],
              **{key: value for key, value in written.items() if key not in _OWN_KEYS}, "expect": expect}
    header = (comment(f"yaml-language-server: $schema={schema_ref}", "--schema")
              + comment(f"Made by `resnet-inspect new {name}` (resnet-inspect {__version__}); "
                        "the description says what it started from.")
              + comment("expect: holds today's numbers, so `resnet-inspect check` fails when the network changes."))
    for body in (_copied(text, own), _dumped(wanted)):
        if body is not None and _loads_as(header + body, wanted):
            return NewSpec(name, spec.name, header + body, expect, schema_ref)
    raise InspectError("could not write the new spec so that it reads back as its source; "
                       "please report this with the source spec", field="--from")


def comment(text: str, field: str | None = None) -> str:
    """One YAML comment line. Text with any unprintable character (a line break of any kind: LF,
    CR, NEL, U+2028, U+2029; a control or format character) is refused, so a comment can never
    end early and start YAML of its own."""
    if not text.isprintable():
        raise InspectError(f"holds a character that cannot go into a YAML comment: {excerpt(text)}", field=field)
    return f"# {text}\n"


def _dump(data: dict[str, Any], flow: bool | None = None) -> str:
    """Through PyYAML's emitter, which quotes and escapes whatever a value holds."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=flow)


def _dumped(wanted: dict[str, Any]) -> str:
    """The whole spec re-emitted (the fallback: the source's comments are lost)."""
    return _dump(wanted)


def _copied(text: str | None, own: dict[str, Any]) -> str | None:
    """``own`` emitted, then the source's other top-level entries as its text has them (comments
    kept), then ``expect:``; None when the source is not a block mapping with keys at column 0."""
    chunks = top_level_chunks(text) if text is not None else None
    if chunks is None:
        return None
    kept = "".join(chunk if chunk.endswith(_BREAKS) else chunk + "\n"
                   for key, chunk in chunks if key not in _OWN_KEYS)
    return (_dump({"name": own["name"], "description": own["description"]}, flow=False) + kept
            + _dump({"expect": own["expect"]}))


_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")  # every line break YAML knows


def top_level_chunks(text: str) -> list[tuple[str, str]] | None:
    """The top-level entries of a block mapping as (key, its text from the key's line to the next
    key's line), cut where PyYAML's own marks say each key starts (so a line break only PyYAML
    sees, like U+2028, cannot shift a cut). Comments between entries go with the entry above."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # the pure-Python reader: marks count characters
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.MappingNode) or node.flow_style or not node.value:
        return None
    keys = [key for key, _ in node.value]
    if any(not isinstance(key, yaml.ScalarNode) or key.start_mark.column != 0 for key in keys):
        return None
    starts = [key.start_mark.index for key in keys] + [len(text)]
    return [(str(key.value), text[starts[i]:starts[i + 1]]) for i, key in enumerate(keys)]


def _loads_as(text: str, wanted: dict[str, Any]) -> bool:
    """Does ``text`` read back (with the loader ``check`` uses) as exactly ``wanted``?"""
    try:
        data = load(text, "<new spec>").data
    except InspectError:
        return False
    return isinstance(data, dict) and data == wanted and list(data) == list(wanted)


def _source(source: str | Path | Spec) -> tuple[Spec, str | None]:
    """The source spec and its text, read once (the text is copied from what was checked)."""
    if isinstance(source, Spec):
        path = Path(source.file)
        text = read_text(path) if path.is_file() else None
        if text is not None and load(text, source.file).data != source.document.data:
            text = None  # the file changed since the Spec was loaded: use the data, not the file
        return source, text
    path = resolve(source)
    shown = source if isinstance(source, str) and is_path(source) else str(path)
    text = read_text(path)
    return parse_spec(text, shown), text


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
    check_suffix(path, (".json",), "schema file")
    write_texts([(path, SCHEMA_PATH.read_text(encoding="utf-8"), "schema file")])
    return path


def write_new_spec(name: str, source: str | Path | Spec, output: str | Path | None = None,
                   schema: str | Path | None = None) -> Written:
    """Write the spec (never over an existing file) and, when missing, the schema it points at.

    Both targets are checked before anything is made, and a failed write leaves nothing new on disk
    (no schema without its spec, no empty folders): :func:`safeio.write_texts`.
    """
    check_name(name)
    path = Path(output) if output is not None else Path(f"{name}.yaml")
    if path.suffix not in (".yaml", ".yml"):
        raise InspectError("a spec file ends in .yaml or .yml", where=Location(visible(str(path))), field="output")
    check_new(path, what="spec file")
    schema_path = Path(schema) if schema is not None else path.parent / SCHEMA_FILE
    check_suffix(schema_path, (".json",), "schema file")
    check_target(schema_path, what="schema file")
    ref = Path(os.path.relpath(os.path.abspath(schema_path), os.path.abspath(path.parent))).as_posix()
    made = new_spec(name, source, ref)
    wrote_schema = not schema_path.exists()
    files = [(schema_path, SCHEMA_PATH.read_text(encoding="utf-8"), "schema file")] if wrote_schema else []
    write_texts(files + [(path, made.text, "spec file")])
    return Written(made, path, schema_path, wrote_schema)


def _as_written(spec: Spec, text: str | None) -> dict[str, Any]:
    """The source's fields as its author wrote them (the loaded data also holds the schema's defaults)."""
    if text is not None:
        data = load(text, spec.file).data
        if isinstance(data, dict):
            return data
    return dict(spec.document.data)
