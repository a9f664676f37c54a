"""Load YAML as plain data, remembering where every value came from.

PyYAML's ``safe_load`` already refuses to construct Python objects, but it forgets line numbers
and happily shares aliased nodes (the "billion laughs" bomb expands as soon as anything walks the
result). Here we compose the node tree with the safe loader, refuse anchors/aliases, non-standard
tags and absurd nesting, and build the data ourselves while recording a :class:`Location` for
each path, so later errors can point at the exact line and column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import Location, SpecError

YamlPath = tuple[str | int, ...]

MAX_DEPTH = 50
MAX_BYTES = 4 * 1024 * 1024
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


class _Loader(_SafeLoader):  # type: ignore[misc, valid-type]
    """The safe loader, also reading YAML 1.2 floats like ``4.0e9`` and ``1e-5``.

    YAML 1.1 (PyYAML) wants a dot and a signed exponent (``4.0e+9``); without this, a budget
    written ``max_macs: {224: 4.0e9}`` as in the docs would be the string "4.0e9".
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


class Document:
    """Parsed YAML data plus the location of every value, keyed by its path."""

    def __init__(self, file: str, data: Any, marks: dict[YamlPath, Location]) -> None:
        self.file = file
        self.data = data
        self._marks = marks

    def where(self, path: YamlPath) -> Location:
        """Location of ``path``, or of its nearest declared parent when it is missing."""
        path = tuple(path)
        while path not in self._marks and path:
            path = path[:-1]
        return self._marks.get(path, Location(self.file, 1, 1))


def read_text(path: Path) -> str:
    """Read a spec file as UTF-8, turning every I/O problem into a one-line error."""
    where = Location(str(path))
    if not path.exists():
        raise SpecError("no such file", where=where)
    if path.is_dir():
        raise SpecError("is a directory, not a spec file", where=where)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", where=where) from None
    if len(raw) > MAX_BYTES:
        raise SpecError(f"file is larger than {MAX_BYTES // 1024} KiB; not a spec", where=where)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start})", where=where) from None


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
    except RecursionError:
        where = Location(file, loader.line + 1, loader.column + 1)  # how far the pure-Python reader got
        raise SpecError(f"document nested too deeply (limit {MAX_DEPTH})", where=where) from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError("empty file; a spec is a mapping with name, stem, stages and head", where=Location(file, 1, 1))
    builder = _Builder(file, loader)
    data = builder.build(node, (), 0)
    return Document(file, data, builder.marks)


def _reader_error(text: str, file: str, exc: yaml.reader.ReaderError) -> SpecError:
    """A control character (NUL, ESC …) the YAML reader refuses, located by line and column."""
    before = text[: exc.position]
    where = Location(file, before.count("\n") + 1, exc.position - before.rfind("\n"))
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return SpecError(f"invalid YAML: control character U+{code:04X} is not allowed", where=where)


class _Builder:
    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.marks: dict[YamlPath, Location] = {}
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
            return str(node.value)  # a date in a description is text, not a datetime
        if node.tag not in _PLAIN_TAGS:
            raise SpecError(f"YAML tag {node.tag!r} is not allowed; specs hold plain data only", where=where)
        self.marks.setdefault(path, where)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            raise SpecError(f"bad scalar {shown!r}: {str(exc).split(':')[0]}", where=where) from None

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
