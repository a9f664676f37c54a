"""A small, safe evaluator for the arithmetic allowed in spec sizes (``4*base``).

Python's ``eval`` would run anything; this walks the AST and accepts only integer and float
literals, variable names, ``+ - * / // % **`` and unary minus. ``/`` must divide exactly, so a
size never silently becomes a float, and ``**`` is bounded so that ``9**9**9`` cannot hang.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping

from ..core.usertext import excerpt

Number = int | float

_MAX_EXPONENT = 64
_MAX_MAGNITUDE = 10**30  # any value, on the way too: 31 digits (no size, variable or epsilon needs more)
_MAX_LENGTH = 200


class ExprError(ValueError):
    """The expression cannot be evaluated; the message says why, without location."""


def evaluate(text: str, variables: Mapping[str, Number]) -> Number:
    """Evaluate ``text`` with ``variables``; raise :class:`ExprError` on anything else."""
    if len(text) > _MAX_LENGTH:
        raise ExprError(f"expression longer than {_MAX_LENGTH} characters")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError):
        raise ExprError(f"cannot parse expression '{excerpt(text)}'") from None
    _decimal_literals_only(tree, source)
    return _eval(tree.body, variables)


_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|\.[0-9]+([eE][-+]?[0-9]+)?")


def _decimal_literals_only(tree: ast.AST, source: str) -> None:
    """Numbers in plain decimal: Python's ``0x10``, ``0o17`` and ``1_000`` are the very YAML 1.1
    surprises the loader refuses, so they are not let back in through an expression."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            written = ast.get_source_segment(source, node) or ""
            if not _DECIMAL.fullmatch(written):
                raise ExprError(f"'{excerpt(written)}' is not a decimal number; write numbers in decimal")


def _eval(node: ast.AST, variables: Mapping[str, Number]) -> Number:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _bounded(node.value)
    if isinstance(node, ast.Name):
        if node.id not in variables:
            known = ", ".join(sorted(variables)) or "none declared"
            raise ExprError(f"undefined variable '{excerpt(node.id)}' (variables: {known})")
        return variables[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand, variables)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, variables), _eval(node.right, variables)
        try:
            result = _BINARY[type(node.op)](left, right)
        except OverflowError:
            raise ExprError(_TOO_LARGE) from None
        return _bounded(result)
    raise ExprError(f"unsupported syntax {type(node).__name__} (only numbers, variables and + - * / // % **)")


_TOO_LARGE = "value too large (at most 10**30 in magnitude, on the way too)"


def _bounded(value: Number) -> Number:
    """``value`` when finite and within 10**30; the message never formats the value itself (an int
    of 330 digits formatted as a float raises OverflowError, and 1e400 is read as infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError("not a finite number (a literal beyond 1.8e308, such as 1e400, reads as infinity)")
    if abs(value) > _MAX_MAGNITUDE:
        raise ExprError(f"value {_shown(value)} is too large (at most 10**30 in magnitude, on the way too)")
    return value


def _shown(value: Number) -> str:
    """``1e+40`` for any int or float, as ``:.3g`` would print it, without converting an int to float
    (an int of 330 digits raises OverflowError there): Decimal holds every int exactly."""
    from decimal import Decimal

    return format(Decimal(value).normalize(), ".3g")


def _divide(a: Number, b: Number) -> Number:
    if b == 0:
        raise ExprError("division by zero")
    if isinstance(a, int) and isinstance(b, int):
        if a % b:
            raise ExprError(f"{a}/{b} is not a whole number (use // to round down)")
        return a // b
    return a / b


def _floordiv(a: Number, b: Number) -> Number:
    if b == 0:
        raise ExprError("division by zero")
    return a // b


def _mod(a: Number, b: Number) -> Number:
    if b == 0:
        raise ExprError("division by zero")
    return a % b


def _power(a: Number, b: Number) -> Number:
    if not isinstance(b, int) or not 0 <= b <= _MAX_EXPONENT:
        raise ExprError(f"exponent must be a whole number from 0 to {_MAX_EXPONENT}")
    if abs(a) > _MAX_MAGNITUDE:
        raise ExprError("base too large")
    return a**b  # at most (10**30)**64: 1,921 digits, computed in microseconds; _bounded refuses it


_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: _divide,
    ast.FloorDiv: _floordiv,
    ast.Mod: _mod,
    ast.Pow: _power,
}
