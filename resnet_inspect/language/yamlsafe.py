"""Load YAML as plain data, remembering where every value came from.

PyYAML's ``safe_load`` already refuses to construct Python objects, but it forgets line numbers
and happily shares aliased nodes (the "billion laughs" bomb expands as soon as anything walks the
result). Here we compose the node tree with the safe loader, refuse anchors/aliases, non-standard
tags and absurd nesting, and build the data ourselves while recording a :class:`Location` for
each path, so later errors can point at the exact line and column.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from ..core.errors import InspectError, Location, SpecError
from ..core.safeio import read_bytes
from ..core.usertext import excerpt, visible

YamlPath = tuple[str | int, ...]

MAX_DEPTH = 50
MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 20_000  # values, lists and mappings; the bundled specs have about 135
# A number in a spec: no size, count or budget needs more characters (10**30 has 31), and PyYAML's
# int() raises past 4,300 digits. Longer is refused before it is read (issue 17).
MAX_NUMBER_TEXT = 64
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


# libyaml's parser when PyYAML has it: composing nodes is ~85% of `check`'s time in pure Python
# and 5-10x faster in C; it keeps marks for locations and caps nesting at 1000 levels itself.
_SafeLoader: type = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader


class _TooManyNodes(Exception):
    pass


class _Loader(_SafeLoader):  # type: ignore[misc, valid-type]
    """The safe loader, also reading YAML 1.2 floats like ``4.0e9`` and ``1e-5``.

    YAML 1.1 (PyYAML) wants a dot and a signed exponent (``4.0e+9``); without this, a budget
    written ``max_macs: {224: 4.0e9}`` as in the docs would be the string "4.0e9".

    It also counts nodes as they are composed (the parser resolves every node's tag here, even
    libyaml's) and stops at ``MAX_NODES``: a 2.4 MB spec of 150,000 ``shapes`` took 27 s and
    320 MB to compose before anything could refuse it.
    """

    nodes = 0

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooManyNodes
        return super().resolve(kind, value, implicit)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


class Span(NamedTuple):
    """A value's text in the document: ``text[start:end]``, in characters (as the YAML marks count
    them), and its quoting style (``'"'``, ``"'"``, ``"["`` for a flow sequence, None when plain)."""

    start: int
    end: int
    style: str | None


class Document:
    """Parsed YAML data plus the location of every value, keyed by its path."""

    def __init__(self, file: str, data: Any, marks: dict[YamlPath, Location],
                 dates: frozenset[YamlPath] = frozenset(), spans: dict[YamlPath, Span] | None = None) -> None:
        self.file = file
        self.data = data
        self._marks = marks
        self.dates = dates  # paths of plain YAML 1.1 timestamps, kept as text: never a number
        self.spans = spans or {}  # where each value's text starts and ends: `check --update` edits there

    def where(self, path: YamlPath) -> Location:
        """Location of ``path``, or of its nearest declared parent when it is missing."""
        path = tuple(path)
        while path not in self._marks and path:
            path = path[:-1]
        return self._marks.get(path, Location(self.file, 1, 1))


def field_name(path: YamlPath) -> str:
    """``('stages', 0, 'filters')`` -> ``stages[0].filters``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_text(path: Path) -> str:
    """Read a spec file as UTF-8, turning every I/O problem into a one-line error.

    The size is checked before reading and the path must be a regular file (:mod:`.safeio`):
    ``/dev/zero`` or a 2 GB sparse file is refused at once, a FIFO or a device instead of
    blocking forever.
    """
    try:
        raw = read_bytes(path, MAX_BYTES, "spec file")
    except SpecError:
        raise
    except InspectError as exc:  # a spec that cannot be read is a SpecError like any other
        raise SpecError(exc.message, where=exc.where) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start})", where=Location(visible(str(path)))) from None


def load(text: str, file: str) -> Document:
    """Parse one YAML document into plain data with locations; never constructs objects."""
    try:
        loader = _Loader(text)  # checks every character up front
    except yaml.reader.ReaderError as exc:
        raise _reader_error(text, file, exc) from None
    try:
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:  # libyaml checks characters while parsing
        raise _reader_error(text, file, exc) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        raise SpecError(f"invalid YAML: {exc.problem or exc.context}", where=where) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", where=Location(file)) from None
    except _TooManyNodes:
        raise SpecError(f"more than {MAX_NODES:,} YAML values (a real spec has a few hundred); not a spec",
                        where=Location(file, 1, 1)) from None
    except RecursionError:
        where = Location(file, loader.line + 1, loader.column + 1)  # how far the pure-Python reader got
        raise SpecError(f"document nested too deeply (limit {MAX_DEPTH})", where=where) from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError("empty file; a spec is a mapping with name, stem, stages and head", where=Location(file, 1, 1))
    # libyaml's marks do not count a leading byte-order mark, the pure-Python reader's do: spans
    # are positions in ``text`` either way
    shift = 1 if text.startswith("\ufeff") and _SafeLoader is not yaml.SafeLoader else 0
    builder = _Builder(file, loader, shift)
    data = builder.build(node, (), 0)
    return Document(file, data, builder.marks, frozenset(builder.dates), builder.spans)


def _reader_error(text: str, file: str, exc: yaml.reader.ReaderError) -> SpecError:
    """A control character (NUL, ESC …) the YAML reader refuses, located by line and column."""
    before = text[: exc.position]
    where = Location(file, before.count("\n") + 1, exc.position - before.rfind("\n"))
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return SpecError(f"invalid YAML: control character U+{code:04X} is not allowed", where=where)


class _Builder:
    def __init__(self, file: str, loader: yaml.SafeLoader, shift: int = 0) -> None:
        self.file = file
        self.shift = shift
        self.loader = loader
        self.marks: dict[YamlPath, Location] = {}
        self.dates: set[YamlPath] = set()
        self.spans: dict[YamlPath, Span] = {}
        self.seen: set[int] = set()

    def where(self, node: yaml.Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: YamlPath, depth: int) -> Any:
        where = self.where(node)
        if depth > MAX_DEPTH:
            raise SpecError(f"document nested too deeply (limit {MAX_DEPTH})", where=where)
        if id(node) in self.seen:
            raise SpecError("YAML anchors and aliases are not allowed in specs", where=where)
        self.seen.add(id(node))
        if node.tag == "tag:yaml.org,2002:timestamp":
            self.marks.setdefault(path, where)
            self.dates.add(path)  # refused where a number is wanted (`blocks: 2001-12-14` is not 1975)
            return str(node.value)  # a date in a description is text, not a datetime
        if node.tag not in _PLAIN_TAGS:
            raise SpecError(f"YAML tag {node.tag!r} is not allowed; specs hold plain data only", where=where)
        self.marks.setdefault(path, where)
        if not isinstance(node, yaml.MappingNode):
            style = "[" if getattr(node, "flow_style", False) else getattr(node, "style", None)
            self.spans[path] = Span(node.start_mark.index + self.shift, node.end_mark.index + self.shift, style or None)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        surprise = None if path[-1:] == ("<key>",) else yaml11_surprise(node)
        if surprise:
            raise SpecError(surprise, where=where, field=field_name(path) or None)
        if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_TEXT:  # int() refuses 4,300 digits
            raise SpecError(f"'{excerpt(node.value)}' has {len(node.value):,} characters; a number has at most "
                            f"{MAX_NUMBER_TEXT}", where=where, field=field_name(path) or None)
        try:
            value = self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise SpecError(f"bad scalar '{excerpt(node.value)}': {str(exc).split(':')[0]}", where=where,
                            field=field_name(path) or None) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(f"'{excerpt(node.value)}' is not a finite number", where=where, field=field_name(path) or None)
        return value

    def _mapping(self, node: yaml.MappingNode, path: YamlPath, depth: int) -> dict:
        result: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError("YAML merge keys (<<) are not allowed in specs", where=self.where(key_node))
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError("mapping keys must be plain names", where=self.where(key_node))
            self.build(key_node, path + ("<key>",), depth + 1)  # refuses tags on keys too
            key = key_node.value  # as written: `224:` is "224", `null:` is "null", not "None"
            if key in result:
                raise SpecError(f"duplicate key {key!r}", where=self.where(key_node))
            self.marks[path + (key,)] = self.where(key_node)
            result[key] = self.build(value_node, path + (key,), depth + 1)
        return result


# YAML 1.1 (PyYAML) and YAML 1.2 (most other tools, editors' schema checks) read these plain
# scalars differently; a spec is refused rather than read one way silently. Keys are exempt: they
# are used as written (`224:` is "224").
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_BOOLEANS = {"true", "false"}


def yaml11_surprise(node: yaml.Node) -> str | None:
    """Why a plain scalar would mean something other than it seems (``0100`` is 64), or None."""
    if node.style or not isinstance(node.value, str):  # quoted or block: text as written (plain: None or '')
        return None
    text, shown = node.value, excerpt(node.value)
    if node.tag == "tag:yaml.org,2002:int" and not _DECIMAL.fullmatch(text):
        return _int_surprise(text, shown)
    if node.tag == "tag:yaml.org,2002:float" and ("_" in text or ":" in text):
        return (f"'{shown}' is a YAML 1.1 float ({'base 60' if ':' in text else 'digit separators'}) "
                "that YAML 1.2 reads as text; write the number plainly")
    if node.tag == "tag:yaml.org,2002:bool" and text.lower() not in _BOOLEANS:
        return f"'{shown}' is a boolean in YAML 1.1 but text in YAML 1.2; write true or false"
    return None


def _int_surprise(text: str, shown: str) -> str:
    digits = text.lstrip("+-")
    if "_" in text:
        return f"'{shown}' uses YAML 1.1 digit separators (YAML 1.2 reads it as text); write {text.replace('_', '')}"
    if ":" in text:
        return f"'{shown}' is a base-60 number in YAML 1.1 (YAML 1.2 reads it as text); write it in decimal"
    if digits[:2].lower() in ("0x", "0b"):
        return f"'{shown}' is not a decimal number; write sizes in decimal"
    return (f"'{shown}' has a leading zero: octal {int(digits, 8) if set(digits) <= set('01234567') else '?'} "
            f"in YAML 1.1, decimal {int(digits)} in YAML 1.2; write it without the leading zero")
