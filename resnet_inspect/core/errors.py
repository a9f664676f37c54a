"""One error type for everything a user can get wrong.

Every failure a user can cause (a bad spec, a size a layer cannot take, a weights file that does
not fit) is raised as :class:`InspectError`, whose ``str()`` is the one line the CLI prints. The
CLI turns it into exit code 2 (or a JSON object with ``--format json``); nothing else should
ever reach the user as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

from .records import record
from .usertext import visible


@record
class Location:
    """Where in a spec file something was declared (1-based line and column)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        file = self.file if len(self.file) <= FILE_SHOWN else self.file[:FILE_SHOWN // 2] + "…" + self.file[-FILE_SHOWN // 2:]
        if self.line is None:
            return file
        return f"{file}:{self.line}:{self.column}"


# The most of a file's name an error line shows: its start and its end (where the name is), cut in
# the middle; a path of 100,000 characters (never a real file) is not echoed whole (issue 17).
FILE_SHOWN = 400


class InspectError(Exception):
    """A user-facing error: one line, naming the file, line, column and field (or layer)."""

    def __init__(
        self,
        message: str,
        *,
        where: Location | None = None,
        field: str | None = None,
        layer: str | None = None,
    ) -> None:
        self.message = message
        self.where = where
        self.field = field
        self.layer = layer
        super().__init__(str(self))

    def __str__(self) -> str:
        """The one line the CLI prints; any control character from a file shows as an escape (``\\x1b``)."""
        parts = []
        if self.where is not None:
            parts.append(str(self.where))
        if self.field:
            parts.append(self.field)
        if self.layer:
            parts.append(f"layer {self.layer}")
        parts.append(self.message)
        return visible(": ".join(parts).replace("\n", " "))

    def to_dict(self) -> dict:
        """The JSON form printed on stdout with ``--format json``."""
        where = self.where
        return {
            "error": {
                "message": self.message,
                "file": where.file if where else None,
                "line": where.line if where else None,
                "column": where.column if where else None,
                "field": self.field,
                "layer": self.layer,
                "text": str(self),
            }
        }


class SpecError(InspectError):
    """The spec file is malformed or describes a network that cannot be built."""


class ShapeError(InspectError):
    """A layer cannot work on the shape it receives."""


class UnknownLayer(InspectError, KeyError):
    """A layer name that is not in the network. A ``KeyError`` too, so a lookup by name fails as a
    mapping's would; its text suggests the closest names, as ``explain`` and the CLI do."""


def _folded(name: str) -> str:
    """A name as people misremember it: case, ``-`` and ``_`` do not count (``ResNet-50`` ~ ``resnet50``)."""
    return name.casefold().replace("-", "").replace("_", "")


def close_names(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The names of ``known`` that ``name`` most likely meant, best first (the one did-you-mean).

    A name equal but for case, ``-`` and ``_`` is the only answer (``resnet50_torchvision`` means
    ``resnet50-torchvision``); otherwise difflib's closest, compared in that folded form.
    """
    import difflib

    names = list(known)
    same = [k for k in names if _folded(k) == _folded(name)]
    if same:
        return same[:n]
    if len(name) > 100:  # no name is longer; difflib on 100,000 characters is slow
        return []
    folded: dict[str, str] = {}
    for k in names:
        folded.setdefault(_folded(k), k)
    return [folded[f] for f in difflib.get_close_matches(_folded(name), list(folded), n=n)]


def unknown_layer(name: str, known: "Iterable[str]", spec: str, field: str | None = None) -> UnknownLayer:
    """``no layer named 'res2x' in resnet50; did you mean res2a, res2b, res2c?``"""
    from .usertext import excerpt

    close = close_names(name, known)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `trace` lists every layer"
    return UnknownLayer(f"no layer named '{excerpt(name)}' in {spec}{hint}", field=field)


def unused(field: str, why: str) -> InspectError:
    """The one rule for an option a command would not use with the others given (issue 17:
    ``diagram --level network --block X`` drew the network and ignored ``X``): it is refused with
    one line saying why, never silently ignored. ``field`` is the library's argument name (the CLI
    shows it as its flag)."""
    return InspectError(f"not used here: {why}", field=field)
