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
    """3857973248 -> '3.86 G' (decimal prefixes, as papers and torchinfo use)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.2f} {prefix}{unit}"
    return f"{n:g} {unit}".rstrip()


def megabytes(n: int) -> str:
    """Bytes as torchinfo prints them: MB = 10⁶ bytes, two decimals."""
    return f"{n / 1e6:,.2f} MB"
