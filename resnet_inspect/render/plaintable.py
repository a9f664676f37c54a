"""The trace table as plain text: the exact bytes Rich prints when nothing is styled, without Rich.

Piped (``trace resnet50 > out.txt``, a CI log), Rich's table costs more than the whole trace:
importing ``rich.console`` and ``rich.table`` and measuring ~4,000 cells takes 150 ms or more,
against a start-up goal of 1.5× ``python -c "import typer, rich, yaml"`` (issue 16). When the table
fits the width at its natural size and every text is plain (no markup, emoji codes, escapes, or
characters whose width Rich measures in its own tables), the same lines are laid out here, char
for char: Rich's ``HEAVY_HEAD`` box, cells padded one space each side, the title and caption
centred over the table, and the summary grid beside it. Anything else returns ``None`` and Rich
prints it, so the two can only differ in speed (tests/test_startup.py compares them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# Rich's box.HEAVY_HEAD, row by row: top, header, below the header, body, section, above the footer, footer, bottom.
TOP, HEAD, HEAD_ROW, MID, ROW, FOOT_ROW, FOOT, BOTTOM = "┏━┳┓", "┃ ┃┃", "┡━╇┩", "│ ││", "├─┼┤", "├─┼┤", "│ ││", "└─┴┘"
_WIDE_SAFE = frozenset("—×⁶…")  # one cell wide, in the texts a trace prints


def plain_console() -> bool:
    """Would Rich print to stdout without any style (piped, no forced colour, a UTF-8 stream)?"""
    if sys.platform == "win32" or sys.stdout.isatty():
        return False
    if os.environ.get("FORCE_COLOR") is not None or os.environ.get("TTY_COMPATIBLE", "") == "1":
        return False
    return (getattr(sys.stdout, "encoding", None) or "utf-8").lower().startswith("utf")


def plain(text: str, markup: bool = True) -> bool:
    """Text Rich prints as is, one cell per character: printable, below the combining marks (or
    a few known one-cell signs), no outer or double spaces; for markup text also no ``[``,
    backslash or ``:`` (Rich's tags, escapes and emoji codes)."""
    if text != text.strip() or "  " in text:
        return False
    if markup and ("[" in text or "\\" in text or ":" in text):
        return False
    # str methods first (C speed: a trace has ~4,000 cells); the per-character look only for text
    # with a character from the combining marks up
    return text.isprintable() and (text.isascii() or max(text) < "\u0300"
                                   or all(ch < "\u0300" or ch in _WIDE_SAFE for ch in text))


def _line(parts: str, widths: Sequence[int], cells: Sequence[str] | None = None,
          right: Sequence[bool] = ()) -> str:
    left, fill, divider, end = parts
    if cells is None:
        return left + divider.join(fill * w for w in widths) + end
    texts = [f" {c.rjust(w - 2) if r else c.ljust(w - 2)} " for c, w, r in zip(cells, widths, right)]
    return left + divider.join(texts) + end


def _centred(text: str, width: int) -> str:
    left = (width - len(text)) // 2
    return " " * left + text + " " * (width - len(text) - left)


def box_table(title: str, caption: str, headers: Sequence[str], footers: Sequence[str], right: Sequence[bool],
              rows: Sequence[tuple[Sequence[str], bool]], width: int) -> list[str] | None:
    """Rich's ``Table(title, caption, show_footer=True)`` at its natural width, or None when Rich
    would wrap or narrow anything. ``rows`` are (cells, a section line above this row)."""
    texts = [title, caption, *headers, *footers, *(cell for cells, _ in rows for cell in cells)]
    if not all(plain(t) for t in texts):
        return None
    widths = [max(len(headers[i]), len(footers[i]), *(len(cells[i]) for cells, _ in rows)) + 2
              for i in range(len(headers))]
    table_width = sum(widths) + len(widths) + 1
    if table_width > width or len(title) > table_width or len(caption) > table_width:
        return None
    lines = [_centred(title, table_width)] if title else []
    lines += [_line(TOP, widths), _line(HEAD, widths, headers, right), _line(HEAD_ROW, widths)]
    for index, (cells, section) in enumerate(rows):
        if section and index:
            lines.append(_line(ROW, widths))
        lines.append(_line(MID, widths, cells, right))
    lines += [_line(FOOT_ROW, widths), _line(FOOT, widths, footers, right), _line(BOTTOM, widths)]
    if caption:
        lines.append(_centred(caption, table_width))
    return lines


def grid(rows: Sequence[tuple[str, str, str]], width: int) -> list[str] | None:
    """Rich's ``Table.grid(padding=(0, 1))`` of label, right-aligned value and a note, when it
    fits ``width`` unwrapped (labels and values are markup text, notes literal)."""
    if not all(plain(label) and plain(value) and plain(note, markup=False) for label, value, note in rows):
        return None
    lw, vw, nw = (max(len(row[i]) for row in rows) for i in range(3))
    if lw + vw + nw + 2 > width:
        return None
    return [f"{label.ljust(lw)} {value.rjust(vw)} {note.ljust(nw)}" for label, value, note in rows]
