"""User-controlled text, made safe to print (issue 7): one place every renderer goes through.

Spec names, layer and array names, file names and keys quoted in errors all come from files a
user (or a pull request) wrote. Printed raw, an ANSI escape clears the terminal or retitles it,
a BEL rings, a bidi override reorders a line, and ``[/]`` breaks Rich's markup. Here control
characters become visible escapes (``\\x1b``), Rich markup is escaped, and quoted content is cut
to a short excerpt.
"""

from __future__ import annotations

import re

# C0 controls (tab and newline handled by the caller's choice), DEL, C1 controls, the Unicode
# line/paragraph separators, the bidirectional overrides/isolates (Trojan Source), and the
# noncharacters and lone surrogates that XML 1.0 forbids and UTF-8 cannot encode (YAML's "\ud800").
_CONTROL = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]"
_CONTROL_WITH_BREAKS = "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff]"

_ASCII_PRINTABLE = bytes(range(0x20, 0x7F))  # what ASCII text may hold that neither pattern matches
_ASCII_KEPT = _ASCII_PRINTABLE + b"\t\n"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\u202e``).

    Tabs and newlines are escaped too unless ``keep_newlines`` (for multi-line output where the
    line breaks are ours, not the user's).
    """
    text = str(text)
    if text.isascii():  # the usual case (all JSON): only C0 controls and DEL can match; bytes say so fast
        if not text.encode("ascii").translate(None, _ASCII_KEPT if keep_newlines else _ASCII_PRINTABLE):
            return text
    # Every character the patterns match is one str.isprintable() refuses (Cc, Cf, Zl, Zp, Cs,
    # Cn): printable text is returned without compiling or running a pattern.
    elif (text.replace("\n", "").replace("\t", "") if keep_newlines else text).isprintable():
        return text
    pattern = _CONTROL if keep_newlines else _CONTROL_WITH_BREAKS
    return re.compile(pattern).sub(_escape, text)  # compiled once, on first use (re caches it)


def excerpt(text: object, limit: int = 40) -> str:
    """A short, visible excerpt of quoted content (an error never echoes a whole file's line)."""
    shown = visible(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def markup(text: object) -> str:
    """For Rich: visible control characters, and ``[`` escaped so names like ``net[v1]`` print as is."""
    from rich.markup import escape

    return escape(visible(text))
