"""The safe evaluator for sizes: arithmetic on variables, nothing else."""

import pytest

from resnet_inspect.language.expr import ExprError, evaluate


@pytest.mark.parametrize("text, expected", [
    ("4*base", 256), ("base // 2 + 1", 33), ("2**3 * base", 512), ("-base + 128", 64),
    ("base / 4", 16), ("(base + 1) % 5", 0), ("7", 7), ("0.5 * 3", 1.5),
])
def test_arithmetic(text, expected):
    assert evaluate(text, {"base": 64}) == expected


@pytest.mark.parametrize("text, message", [
    ("widht * 2", "undefined variable 'widht'"),
    ("base / 0", "division by zero"),
    ("base // 0", "division by zero"),
    ("base % 0", "division by zero"),
    ("base / 3", "not a whole number"),
    ("base.__class__", "unsupported syntax Attribute"),
    ("__import__('os')", "unsupported syntax Call"),
    ("[base]", "unsupported syntax List"),
    ("'a' * 3", "unsupported syntax Constant"),
    ("9 ** 9 ** 9", "exponent"),
    ("10 ** 64 * 10 ** 64", "too large"),
    ("1e300 * 1e300", "too large"),
    ("base +", "cannot parse"),
    ("x" * 300, "longer than"),
])
def test_refused(text, message):
    with pytest.raises(ExprError, match=message):
        evaluate(text, {"base": 64})
