"""User-controlled text, made safe to print (issue 7): one place every renderer goes through.

Spec names, layer and array names, file names and keys quoted in errors all come from files a
user (or a pull request) wrote. Printed raw, an ANSI escape clears the terminal or retitles it,
a BEL rings, a bidi override reorders a line, and ``[/]`` breaks Rich's markup. Here control
characters become visible escapes (``\\x1b``), Rich markup is escaped, and quoted content is cut
to a short excerpt.
"""

from __future__ import annotations

import unicodedata

# What is never printed raw: every character of the Unicode categories Cc (C0/C1 controls: ESC,
# BEL, NEL), Cf (format: bidi overrides and isolates, U+061C, U+200B, U+2060, the tag characters
# U+E0000-E007F, the BOM), Zl and Zp (U+2028, U+2029), plus Cs (lone surrogates, which UTF-8
# cannot encode) and the 66 noncharacters (U+FFFE, U+FDD0 ..., which XML 1.0 forbids). Decided by
# the Unicode database, not a list kept by hand (issue 17: U+061C, U+200B, U+2060 and the tags
# were missing from the old one).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

_ASCII_PRINTABLE = bytes(range(0x20, 0x7F))  # ASCII that is shown as is
_ASCII_KEPT = _ASCII_PRINTABLE + b"\t\n"


def hidden(ch: str) -> bool:
    """Is ``ch`` a character a reader would not see (or that would act on the terminal)?"""
    code = ord(ch)
    return (unicodedata.category(ch) in HIDDEN_CATEGORIES
            or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE)


def escape_char(ch: str) -> str:
    """``\\x1b``, ``\\u200b`` or ``\\U000e0041``: Python's own notation, one form per width."""
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: object, keep_newlines: bool = False) -> str:
    """``text`` with every hidden character (:func:`hidden`) shown as an escape (``\\x1b``, ``\\u202e``).

    Tabs and newlines are escaped too unless ``keep_newlines`` (for multi-line output where the
    line breaks are ours, not the user's). Every renderer goes through here: terminal tables,
    Markdown, CSV, the HTML report, the notebook's HTML, SVG, Mermaid, DOT and error lines.
    """
    text = str(text)
    if text.isascii():  # the usual case (all JSON): only C0 controls and DEL can be hidden
        if not text.encode("ascii").translate(None, _ASCII_KEPT if keep_newlines else _ASCII_PRINTABLE):
            return text
    # Every hidden character is one str.isprintable() refuses (it also refuses Zs other than the
    # space, Co and Cn, which are shown as they are): printable text returns at C speed.
    elif (text.replace("\n", "").replace("\t", "") if keep_newlines else text).isprintable():
        return text
    kept = "\n\t" if keep_newlines else ""
    return "".join(escape_char(ch) if not ch.isprintable() and ch not in kept and hidden(ch) else ch
                   for ch in text)


def excerpt(text: object, limit: int = 40) -> str:
    """A short, visible excerpt of quoted content (an error never echoes a whole file's line)."""
    shown = visible(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def html_text(text: object) -> str:
    """For HTML (the report page, the notebook's ``_repr_html_``): hidden characters made visible
    first, then ``& < > " '`` escaped. ``html.escape`` alone lets ESC, BEL and RLO through."""
    import html

    return html.escape(visible(text), quote=True)


def markup(text: object) -> str:
    """For Rich: visible control characters, and ``[`` escaped so names like ``net[v1]`` print as is."""
    from rich.markup import escape

    return escape(visible(text))
