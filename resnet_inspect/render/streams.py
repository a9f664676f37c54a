"""The one guard on the process's standard streams (issue 17: "any terminal, any stream").

Every command prints through ``sys.stdout``/``sys.stderr``, so they are fixed once, before a
command runs, instead of in each command:

* **An encoding that cannot hold the output** (``PYTHONIOENCODING=ascii`` or ``latin-1``, an old
  console): the streams get an error handler that writes ASCII instead of raising
  ``UnicodeEncodeError``: ``x`` for ``×``, ``-`` for ``—``, ``+ - |`` for box drawing, ``->`` for
  ``→``, and ``\\u2192``-style escapes for anything else (the notation of :mod:`.usertext`).
  Rich draws ASCII boxes by itself on such a stream.
* **A closed stream** (``>&-``, ``2>&-``): Python starts with ``sys.stdout`` or ``sys.stderr``
  set to ``None``. A closed stdout is refused before any work (exit 2; no file is written by a
  command whose output cannot be shown); a closed stderr is replaced by ``/dev/null`` so an error
  still ends the process with exit 2, not a silent 1.
* **The width**: at least :data:`MIN_WIDTH` columns, whatever ``COLUMNS`` or the terminal says
  (``COLUMNS=0`` printed nothing at all).
"""

from __future__ import annotations

import codecs
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

ERRORS = "resnet-inspect-ascii"
MIN_WIDTH = 40  # the floor of every table's width; narrower terminals wrap the lines themselves

# One ASCII stand-in per character the output uses; anything else becomes a \u escape.
_BOX = {**{ch: "-" for ch in "─━═╌╍┄┅┈┉╴╶╸╺╼╾"}, **{ch: "|" for ch in "│┃║╎╏┆┇┊┋╵╷╹╻╽╿"}}
ASCII = {"×": "x", "—": "-", "–": "-", "−": "-", "…": "...", "→": "->", "←": "<-", "↔": "<->",
         "≥": ">=", "≤": "<=", "≠": "!=", "≈": "~", "±": "+/-", "·": ".", "•": "*", "✓": "ok", "✗": "X",
         "‘": "'", "’": "'", "“": '"', "”": '"', "µ": "u", "°": "deg", "█": "#", "▏": "|", "▎": "|",
         "▍": "|", "▌": "|", "▋": "|", "▊": "|", "▉": "#", "⁰": "^0", "¹": "^1", "²": "^2", "³": "^3",
         "⁴": "^4", "⁵": "^5", "⁶": "^6", "⁷": "^7", "⁸": "^8", "⁹": "^9", "\u00a0": " ", **_BOX}


def ascii_text(text: str) -> str:
    """``text`` in ASCII: the stand-ins above, escapes for the rest."""
    return "".join(_one(ch) for ch in text)


def _one(ch: str) -> str:
    if ch.isascii():
        return ch
    if ch in ASCII:
        return ASCII[ch]
    if 0x2500 <= ord(ch) <= 0x257F:  # any other box-drawing piece is a corner or a junction
        return "+"
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")


def _fallback(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler: what the stream cannot encode, written as ASCII."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return ascii_text(error.object[error.start:error.end]), error.end


codecs.register_error(ERRORS, _fallback)


def can_encode(stream: TextIO, sample: str = "×—→…┃━") -> bool:
    """Can ``stream`` write the characters our tables use?"""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        sample.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def guard() -> str | None:
    """Fix the standard streams for the whole process; the error line to print when stdout is
    closed (the caller exits 2 without running the command), else None."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and not can_encode(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=ERRORS)
    if sys.stdout is None:
        return "standard output is closed; nothing was done (redirect it, e.g. >/dev/null, to discard it)"
    return None


def console(width: int) -> "Console":
    """A Rich console on stdout, ``width`` wide. On a stream that cannot encode the output, every
    string Rich turns into text (cells, titles, captions) is made encodable *before* layout, so
    the columns are measured on the text that is printed and stay aligned (``→`` is two cells
    as ``->``); Rich itself picks ASCII boxes for such a stream."""
    from rich.console import Console

    if can_encode(sys.stdout):
        return Console(width=width)

    class Narrow(Console):
        def render_str(self, text: str, **kwargs: Any) -> "Text":
            encoding = self.encoding or "ascii"
            return super().render_str(text.encode(encoding, errors=ERRORS).decode(encoding), **kwargs)

    return Narrow(width=width)


def floor(width: int) -> int:
    """A width of at least :data:`MIN_WIDTH` columns."""
    return max(width, MIN_WIDTH)
