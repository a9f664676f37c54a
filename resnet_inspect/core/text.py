"""Pure text helpers every layer may use: numbers, shapes, and the one JSON writer.

They live below every result type so that a result can state its own JSON contract, and a
message can quote a shape, without importing a renderer.
"""

from __future__ import annotations

from typing import Any

from .._version import __version__
from .jsontext import dumps


def to_json(data: dict[str, Any]) -> str:
    """The one JSON writer of every command: strict JSON, led by the version that wrote it.

    ``"resnet_inspect": "<version>"`` comes first so a consumer can tell which contract it reads.
    A number that is not finite (NaN, ±inf: a broken weights file can put them in a run's
    scores) is written as ``null``, never as the bare ``NaN``/``Infinity`` strict parsers reject.
    Control characters in user text are escaped (``\u001b``). The bytes are ``json.dumps(indent=2)``'s,
    written by :func:`.jsontext.dumps` in one pass (the standard library's indented encoder is
    pure Python and was a tenth of a whole ``trace --format json`` process).
    """
    return dumps({"resnet_inspect": __version__, **data})


def shape_text(shape: tuple[int, ...], sep: str = "×") -> str:
    """56×56×256 for people; CSV passes ``sep="x"`` (56x56x256) so the file stays ASCII."""
    return sep.join(str(d) for d in shape)


def count(n: int) -> str:
    return f"{n:,}"


def si(n: float, unit: str = "") -> str:
    """3857973248 -> '3.86 G' (decimal prefixes, as papers and torchinfo use); any int, 10**200 too."""
    for factor, prefix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(n) >= factor:
            return f"{fixed(n, factor, 2)} {prefix}{unit}"
    return f"{n:g} {unit}".rstrip()


def megabytes(n: int) -> str:
    """Bytes as torchinfo prints them: MB = 10⁶ bytes, two decimals."""
    return f"{fixed(n, 10**6, 2, commas=True)} MB"


_EXACT_IN_FLOAT = 2**53  # every int up to here is a float exactly: n / d is rounded once, correctly


def fixed(n: float, divisor: int, decimals: int, commas: bool = False) -> str:
    """``n / divisor`` with ``decimals`` places, as ``f"{n / divisor:.{decimals}f}"`` prints it.

    An int beyond 2**53 never goes through float (``10**400 / 10**6`` raises OverflowError, and
    a float would print a 19-digit count rounded): it is divided exactly, halves to even.
    Smaller numbers keep float's formatting, byte for byte as before.
    """
    if not isinstance(n, int) or abs(n) <= _EXACT_IN_FLOAT:
        return f"{n / divisor:{',' if commas else ''}.{decimals}f}"
    scale = 10**decimals
    quotient, remainder = divmod(abs(n) * scale, divisor)
    if 2 * remainder > divisor or (2 * remainder == divisor and quotient % 2):
        quotient += 1
    whole, part = divmod(quotient, scale)
    sign = "-" if n < 0 else ""
    return f"{sign}{whole:{',' if commas else ''}}" + (f".{part:0{decimals}d}" if decimals else "")
