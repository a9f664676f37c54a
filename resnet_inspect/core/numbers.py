"""Numbers users type: input sizes, size ranges, counts, index pairs and memory amounts.

One set of rules for the command line and the Python API alike (issue 16):

- ASCII digits only. ``int()`` alone also takes ``2_24``, full-width or Arabic-Indic digits and
  surrounding spaces, so a typo would silently become some other number.
- Bounded: at most :data:`MAX_DIGITS` digits per number (Python refuses to read ints of more than
  4,300 digits with a ValueError, and no size or count needs ten digits).
- An error is one :class:`~.errors.InspectError` that quotes at most a short excerpt of the text.

Each parser takes the ``name`` the caller knows the value by: the API's argument name
(``input``, ``max_memory``); the command line maps those to its flags (``--input``).
"""

from __future__ import annotations

import math
import re

from .errors import InspectError, ShapeError
from .usertext import excerpt


class _Pattern:
    """A regular expression compiled on first use: most commands parse none of these (start-up)."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern, self.flags = pattern, flags

    def fullmatch(self, text: str) -> "re.Match[str] | None":
        return re.fullmatch(self.pattern, text, self.flags)  # re keeps the compiled pattern


MAX_DIGITS = 18  # per number: far above any size or count, far below the 4,300 digits int() refuses
_SIZE = _Pattern(r"([0-9]{1,%d})(?:[x×]([0-9]{1,%d}))?" % (MAX_DIGITS, MAX_DIGITS), re.IGNORECASE | re.ASCII)
_DIGITS = _Pattern(r"[0-9]{1,%d}" % MAX_DIGITS, re.ASCII)
_RANGE = _Pattern(r"([0-9]{1,%d}):([0-9]{1,%d})(?::([0-9]{1,%d}))?" % ((MAX_DIGITS,) * 3), re.ASCII)


def _quoted(text: object) -> str:
    return f"'{excerpt(text)}'"


def size(text: str | int | tuple[int, int], name: str = "input") -> tuple[int, int]:
    """``224`` -> (224, 224); ``224x320`` (or ``224×320``) -> (224, 320) as H×W; a pair as is."""
    if isinstance(text, tuple):
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return _positive((text, text), text, name)
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ShapeError(f"{name} must be a size like 224 or 224x320 (H×W, ASCII digits), got {_quoted(text)}",
                         field=name)
    h, w = int(match.group(1)), int(match.group(2) or match.group(1))
    return _positive((h, w), text, name)


def _positive(hw: tuple[int, int], text: object, name: str) -> tuple[int, int]:
    if min(hw) < 1:
        raise ShapeError(f"{name} must be a size like 224 or 224x320 (H×W, at least 1), got {_quoted(text)}",
                         field=name)
    return hw


def is_range(text: object) -> bool:
    """Is ``text`` meant as a range of sizes (``160:640:32``) rather than one size?"""
    return isinstance(text, str) and ":" in text


def size_range(text: str, name: str = "input") -> range:
    """``start:stop[:step]`` -> the square sizes from start to stop, stop included (step 1 by default)."""
    match = _RANGE.fullmatch(text)
    numbers = [int(n) for n in match.groups() if n is not None] if match else []
    if len(numbers) not in (2, 3) or min(numbers) < 1 or numbers[1] < numbers[0]:
        raise ShapeError(f"{name} range must be start:stop:step with 1 <= start <= stop and step >= 1 "
                         f"(stop included), like 160:640:32, got {_quoted(text)}", field=name)
    start, stop, step = (numbers + [1])[:3]
    return range(start, stop + 1, step)


def index_pair(text: str, name: str = "unit") -> tuple[int, int]:
    """``3,4`` -> (3, 4) as (row, column); ``3`` -> (3, 3). Spaces around the numbers are allowed."""
    parts = str(text).replace(" ", "").split(",")
    if len(parts) not in (1, 2) or not all(_DIGITS.fullmatch(p) for p in parts):
        raise InspectError(f"{name} must be a row,column index like 3,4, got {_quoted(text)}", field=name)
    return (int(parts[0]), int(parts[-1]))


MAX_INTEGER_DIGITS = 40  # a whole number may be a seed: any 128-bit one (39 digits) is taken
_INTEGER = _Pattern(r"-?[0-9]{1,%d}" % MAX_INTEGER_DIGITS, re.ASCII)


def integer(value: int | str, name: str = "value") -> int:
    """A whole number as typed: an int, or ASCII digits with an optional minus (at most MAX_INTEGER_DIGITS digits).
    Callers check the range (a batch of 0 is refused by the one who knows what a batch is)."""
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InspectError(f"{name} must be a whole number (ASCII digits), got {_quoted(value)}", field=name)


def count(value: int | str, name: str, minimum: int = 0) -> int:
    """A whole number of at least ``minimum`` (an int, or ASCII digits)."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InspectError(f"{name} must be a whole number of at least {minimum}, got {_quoted(value)}", field=name)
    return value


MEMORY_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
                "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40,
                "TIB": 1 << 40}
MAX_MEMORY_LIMIT = 1 << 60  # 1 EiB: any larger "limit" is no limit, and a typo
_MEMORY = _Pattern(r"(?P<number>(?:[0-9]{1,%d}(?:\.[0-9]{0,%d})?|\.[0-9]{1,%d})(?:E[+-]?[0-9]{1,3})?)(?P<unit>[A-Z]{0,3})"
                     % ((20,) * 3), re.ASCII)  # 2**60 has 19 digits


def memory(text: str | int, name: str = "max_memory") -> int:
    """``4GB``, ``512MB``, ``2GiB``, ``1e9`` or a plain byte count -> bytes (binary units).

    A finite number of at least one byte and at most 1 EiB: ``inf``, ``nan``, ``1e400`` (which
    floats read as infinity) and full-width digits are refused in one line.
    """
    raw = str(text).strip().upper().replace(" ", "")
    match = _MEMORY.fullmatch(raw) if len(raw) <= 64 else None
    value = -1.0
    if match and match["unit"] in MEMORY_UNITS:
        value = float(match["number"]) * MEMORY_UNITS[match["unit"]]
    if not math.isfinite(value) or value < 1 or value > MAX_MEMORY_LIMIT:
        raise InspectError(f"must be a size from 1 B to 1 EiB like 4GB or 512MB, got {_quoted(text)}", field=name)
    return int(value)
