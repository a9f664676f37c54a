"""Numbers users type: input sizes, size ranges, counts, index pairs and memory amounts.

One set of rules for the command line and the Python API alike (issue 16):

- ASCII digits only. ``int()`` alone also takes ``2_24``, full-width or Arabic-Indic digits and
  surrounding spaces, so a typo would silently become some other number.
- Bounded: at most :data:`MAX_DIGITS` digits per number (Python refuses to read ints of more than
  4,300 digits with a ValueError, and no size or count needs ten digits), checked on short ASCII
  text before any pattern, ``int()`` or ``.upper()`` runs (issue 17: ``4gıb`` folded to ``4GIB``);
  and by value: a side up to :data:`MAX_SIZE`, a batch up to :data:`MAX_BATCH`, memory up to
  1 EiB included. An error states the bound.
- Whole numbers: a float (even ``224.0``) or a bool is never a size or a count, in the API too.
- An error is one :class:`~.errors.InspectError` that quotes at most a short excerpt of the text.

Each parser takes the ``name`` the caller knows the value by: the API's argument name
(``input``, ``max_memory``); the command line maps those to its flags (``--input``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from os import PathLike, fspath

from .errors import InspectError, ShapeError
from .usertext import excerpt


class _Pattern:
    """A regular expression compiled on first use: most commands parse none of these (start-up)."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern, self.flags = pattern, flags

    def fullmatch(self, text: str) -> "re.Match[str] | None":
        return re.fullmatch(self.pattern, text, self.flags)  # re keeps the compiled pattern


MAX_DIGITS = 18  # per number: far above any size or count, far below the 4,300 digits int() refuses
MAX_SIZE = 1_000_000  # an input side: a million pixels a side is far beyond any picture (and any sweep)
MAX_BATCH = 1_000_000  # a batch: larger is a typo, and its byte counts would only be refused later
_SIZE = _Pattern(r"([0-9]{1,%d})(?:x([0-9]{1,%d}))?" % (MAX_DIGITS, MAX_DIGITS), re.IGNORECASE | re.ASCII)
_DIGITS = _Pattern(r"[0-9]{1,%d}" % MAX_DIGITS, re.ASCII)
_RANGE = _Pattern(r"([0-9]{1,%d}):([0-9]{1,%d})(?::([0-9]{1,%d}))?" % ((MAX_DIGITS,) * 3), re.ASCII)
_MAX_TEXT = 200  # longer text is refused before any pattern runs (and only an excerpt is quoted)


def quoted(value: object) -> str:
    """The value as an error quotes it: a short excerpt of text, an int in digits unless huge (an
    int of 5,000 digits cannot even be turned into text), a tuple item by item."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < 10**MAX_DIGITS:
            return str(value)
        return f"{'-' if value < 0 else ''}a number of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    if isinstance(value, (tuple, list)):
        shown = ", ".join(quoted(item) for item in value[:4]) + (", …" if len(value) > 4 else "")
        return f"({shown})"
    if isinstance(value, (str, float)) or value is None or isinstance(value, bool):
        return f"'{excerpt(value)}'" if isinstance(value, str) else excerpt(repr(value))
    return excerpt(f"a {type(value).__name__}")


def _short(text: str) -> str | None:
    """``text`` when it is short ASCII (the only text a number may be), else None: a full-width
    digit, a dotless ı or 100,000 characters never reach a pattern, ``.upper()`` or ``int()``."""
    return text if isinstance(text, str) and len(text) <= _MAX_TEXT and text.isascii() else None


def is_int(value: object) -> bool:
    """An int that is not a bool (``True`` is an int to Python, never a size to a user)."""
    return isinstance(value, int) and not isinstance(value, bool)


def size(text: str | int | tuple[int, int], name: str = "input") -> tuple[int, int]:
    """``224`` -> (224, 224); ``224x320`` (or ``224×320``) -> (224, 320) as H×W; a pair of ints as is.

    From 1 to :data:`MAX_SIZE` a side. A float (``230.5``, even ``224.0``), a bool, a pair that is
    not two ints and a triple (``(224, 224, 3)``: the channels are the spec's) are refused.
    """
    if isinstance(text, (tuple, list)):
        if len(text) != 2 or not all(is_int(side) for side in text):
            raise ShapeError(f"{name} must be a size like 224 or a pair of whole numbers (H, W), got {quoted(text)}"
                             + (" (the channels come from the spec)" if len(text) == 3 else ""), field=name)
        return _bounded((text[0], text[1]), text, name)
    if is_int(text):
        return _bounded((text, text), text, name)
    short = _short(text.replace("×", "x", 1)) if isinstance(text, str) else None  # × the one non-ASCII allowed
    match = _SIZE.fullmatch(short) if short is not None else None
    if match is None:
        raise ShapeError(f"{name} must be a size like 224 or 224x320 (H×W, ASCII digits), got {quoted(text)}",
                         field=name)
    h, w = int(match.group(1)), int(match.group(2) or match.group(1))
    return _bounded((h, w), text, name)


def _bounded(hw: tuple[int, int], text: object, name: str) -> tuple[int, int]:
    if min(hw) < 1 or max(hw) > MAX_SIZE:
        raise ShapeError(f"{name} must be a size like 224 or 224x320 (H×W), from 1 to {MAX_SIZE:,} a side, "
                         f"got {quoted(text)}", field=name)
    return hw


def is_range(text: object) -> bool:
    """Is ``text`` meant as a range of sizes (``160:640:32``) rather than one size?"""
    return isinstance(text, str) and ":" in text


def size_range(text: str, name: str = "input") -> range:
    """``start:stop[:step]`` -> the square sizes from start to stop, stop included (step 1 by default).

    Each number from 1 to :data:`MAX_SIZE`. A ``range`` is lazy: how many sizes it holds is known
    (``len``) before a single one is made, so a budget can refuse it first (:mod:`.work`).
    """
    short = _short(text)
    match = _RANGE.fullmatch(short) if short is not None else None
    numbers = [int(n) for n in match.groups() if n is not None] if match else []
    if len(numbers) not in (2, 3) or min(numbers) < 1 or numbers[1] < numbers[0] or max(numbers) > MAX_SIZE:
        raise ShapeError(f"{name} range must be start:stop:step with 1 <= start <= stop and step >= 1, each at "
                         f"most {MAX_SIZE:,} (stop included), like 160:640:32, got {quoted(text)}", field=name)
    start, stop, step = (numbers + [1])[:3]
    return range(start, stop + 1, step)


def index_pair(text: str | tuple[int, int], name: str = "unit") -> tuple[int, int]:
    """``3,4`` -> (3, 4) as (row, column); ``3`` -> (3, 3). ASCII digits only: no spaces, no signs.
    A pair of whole numbers of at least 0 as is (the API's ``unit=(3, 4)``; ``(3.5, 4)`` is refused)."""
    if isinstance(text, (tuple, list)) and len(text) == 2 and all(is_int(i) and i >= 0 for i in text):
        return (text[0], text[1])
    short = _short(text) if isinstance(text, str) else None
    parts = short.split(",") if short is not None else []
    if len(parts) not in (1, 2) or not all(_DIGITS.fullmatch(p) for p in parts):
        raise InspectError(f"{name} must be a row,column index like 3,4 (ASCII digits), got {quoted(text)}",
                           field=name)
    return (int(parts[0]), int(parts[-1]))


def digits(text: str) -> int | None:
    """``text`` as a number when it is ASCII digits only (at most :data:`MAX_DIGITS`), else None:
    for names that may be numbers, such as a Keras variable ``vars/0`` (``"²".isdigit()`` is
    true, and ``int("²")`` raises)."""
    short = _short(text)
    return int(short) if short is not None and _DIGITS.fullmatch(short) else None


MAX_INTEGER_DIGITS = 40  # a whole number may be a seed: any 128-bit one (39 digits) is taken
_INTEGER = _Pattern(r"-?[0-9]{1,%d}" % MAX_INTEGER_DIGITS, re.ASCII)


def integer(value: int | str, name: str = "value") -> int:
    """A whole number as typed: an int, or ASCII digits with an optional minus (at most MAX_INTEGER_DIGITS digits).
    Callers check the range (a batch of 0 is refused by the one who knows what a batch is)."""
    short = _short(value) if isinstance(value, str) else None
    if short is not None and _INTEGER.fullmatch(short):
        return int(short)
    if is_int(value) and abs(value) < 10**MAX_INTEGER_DIGITS:
        return value
    raise InspectError(f"{name} must be a whole number (ASCII digits, at most {MAX_INTEGER_DIGITS}), "
                       f"got {quoted(value)}", field=name)


def count(value: int | str, name: str, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole number from ``minimum`` to ``maximum`` (an int, or ASCII digits); the error states both."""
    short = _short(value) if isinstance(value, str) else None
    if short is not None and _DIGITS.fullmatch(short):
        value = int(short)
    if not is_int(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum:,} to {maximum:,}" if maximum is not None else f"of at least {minimum:,}"
        raise InspectError(f"{name} must be a whole number {bound}, got {quoted(value)}", field=name)
    return value


MAX_SEED = 2**128 - 1  # any 128-bit seed (NumPy's generators take more, but no one types them)


def seed(value: int | str, name: str = "seed") -> int:
    """A random seed: a whole number from 0 to :data:`MAX_SEED` (weights init, verify: one rule)."""
    return count(value, name, 0, MAX_SEED)


def batch(value: int | str, name: str = "batch") -> int:
    """A batch size: from 1 to :data:`MAX_BATCH`."""
    return count(value, name, 1, MAX_BATCH)


MEMORY_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
                "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40,
                "TIB": 1 << 40, "P": 1 << 50, "PB": 1 << 50, "PIB": 1 << 50, "E": 1 << 60, "EB": 1 << 60,
                "EIB": 1 << 60}
MAX_MEMORY_LIMIT = 1 << 60  # 1 EiB (itself allowed): any larger "limit" is no limit, and a typo
_MEMORY = _Pattern(r"(?P<number>(?:[0-9]{1,%d}(?:\.[0-9]{0,%d})?|\.[0-9]{1,%d})(?:E[+-]?[0-9]{1,3})?)(?P<unit>[A-Z]{0,3})"
                   % ((20,) * 3), re.ASCII)  # 2**60 has 19 digits


def memory(text: str | int, name: str = "max_memory") -> int:
    """``4GB``, ``512MB``, ``2GiB``, ``1e9`` or a plain byte count -> bytes (binary units).

    A number of at least one byte and at most 1 EiB, 1 EiB included, computed exactly (decimal
    arithmetic, never a float: ``1e400`` is not infinity here, just too large). ``inf``, ``nan``,
    full-width digits, spaces and non-ASCII letters are refused in one line: ``.upper()`` runs on
    ASCII text only, so ``4gıb`` (dotless ı) never folds into ``4GIB``.
    """
    from decimal import Decimal

    value = Decimal(-1)
    if is_int(text):
        value = Decimal(text)
    short = _short(text) if isinstance(text, str) else None
    match = _MEMORY.fullmatch(short.upper()) if short is not None else None
    if match and match["unit"] in MEMORY_UNITS:
        value = Decimal(match["number"]) * MEMORY_UNITS[match["unit"]]
    if not 1 <= value <= MAX_MEMORY_LIMIT:
        raise InspectError(f"must be a size from 1 B to 1 EiB like 4GB or 512MB, got {quoted(text)}", field=name)
    return int(value)


# --------------------------------------------------------------------------- text arguments
# The API's other user values: names, paths and choices. The same rule as numbers (issue 17):
# checked where the argument enters, refused with an InspectError naming the argument, the value
# quoted as an excerpt (a 5,000-digit int or 100,000 characters never reach an f-string whole).


def text(value: object, name: str) -> str:
    """``value`` when it is a str (a name, a layer, a spec's YAML), else one error naming ``name``."""
    if not isinstance(value, str):
        raise InspectError(f"{name} must be text, got {quoted(value)}", field=name)
    return value


def path(value: object, name: str) -> str | PathLike[str]:
    """``value`` when it is a path (a str or an ``os.PathLike`` giving one), else one error naming ``name``."""
    if isinstance(value, str) or (isinstance(value, PathLike) and isinstance(fspath(value), str)):
        return value
    raise InspectError(f"{name} must be a path (text or a pathlib.Path), got {quoted(value)}", field=name)


def choice(value: object, choices: Iterable[str], name: str) -> str:
    """``value`` when it is one of ``choices`` (the table's keys), else an error listing them."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise InspectError(f"{name} must be one of {', '.join(choices)}, got {quoted(value)}", field=name)
    return value


def sizes(value: object, name: str) -> list | tuple | range:
    """A non-empty list, tuple or range of sizes (the API's ``inputs``, ``sweep``'s ``sizes``), each
    read by the caller with :func:`size`. Left lazy: a range's length is known before any size is
    made (the work budget counts it first). A bare number or text is one size, not a list of them."""
    if not isinstance(value, (list, tuple, range)) or len(value) == 0:
        raise ShapeError(f"{name} must be a non-empty list of sizes like [224, (224, 320)], got {quoted(value)}",
                         field=name)
    return value
