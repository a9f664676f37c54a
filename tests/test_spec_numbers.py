"""Issue 17: numbers inside specs: expressions bounded by value (their error cannot overflow),
non-finite numbers refused wherever a number is expected, and one bad spec never hides the others."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect import SpecError, parse_spec
from resnet_inspect.analysis.check import check_paths
from resnet_inspect.cli import app
from resnet_inspect.language.expr import ExprError, evaluate

ROOT = Path(__file__).resolve().parent.parent
RESNET18 = (ROOT / "specs" / "resnet18.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("text, shown", [
    ("(10**30)**11", "1e+330"),     # formatting 10**330 as a float raised OverflowError before
    ("(10**30)**64", "1e+1920"),    # the largest a power can reach: base <= 10**30, exponent <= 64
    ("10**30*10**30", "1e+60"),
    ("-(10**30)*10", "-1e+31"),
])
def test_expressions_are_bounded_and_say_by_how_much(text, shown):
    with pytest.raises(ExprError) as caught:
        evaluate(text, {})
    assert str(caught.value) == f"value {shown} is too large (at most 10**30 in magnitude, on the way too)"


def test_the_bound_itself_is_allowed():
    assert evaluate("10**30", {}) == 10**30 and evaluate("-(10**30)", {}) == -(10**30)


@pytest.mark.parametrize("text", ["1e400", "1e309", "1e300*1e300"])
def test_non_finite_and_overflowing_floats_are_refused(text):
    with pytest.raises(ExprError, match="finite|too large"):
        evaluate(text, {})


def _spec(old: str, new: str) -> str:
    assert old in RESNET18
    return RESNET18.replace(old, new, 1)


@pytest.mark.parametrize("old, new, field", [
    ("  base: 64", "  base: 64\n  huge: (10**30)**11", "variables.huge"),
    ("  base: 64", "  base: (10**30)**11", "variables.base"),
    ("  base: 64", "  base: 64\n  eps: .nan", "variables.eps"),
    ("max_macs: {224: 1.87e9}", "max_macs: {224: '1e400'}", "expect.max_macs.224"),
    ("max_macs: {224: 1.87e9}", "max_macs: {224: 1e400}", "expect.max_macs.224"),
    ("max_macs: {224: 1.87e9}", "max_macs: {224: '" + "9" * 400 + ".0e1'}", "expect.max_macs.224"),
])
def test_spec_numbers_fail_in_one_line_naming_file_line_and_field(old, new, field):
    with pytest.raises(SpecError) as caught:
        parse_spec(_spec(old, new), "net.yaml")
    text = str(caught.value)
    assert text.startswith("net.yaml:") and f": {field}" in text and "\n" not in text and len(text) < 400
    assert caught.value.where is not None and caught.value.where.line is not None


def test_a_bad_variable_does_not_crash_check_of_the_other_specs(tmp_path):
    (tmp_path / "a_bad.yaml").write_text(_spec("  base: 64", "  base: 64\n  huge: (10**30)**11"), encoding="utf-8")
    (tmp_path / "b_inf.yaml").write_text(_spec("max_macs: {224: 1.87e9}", "max_macs: {224: '1e400'}"), encoding="utf-8")
    (tmp_path / "c_good.yaml").write_text(RESNET18, encoding="utf-8")
    report = check_paths([tmp_path])
    assert [s.ok for s in report.specs] == [False, False, True]
    result = CliRunner().invoke(app, ["check", str(tmp_path), "-f", "junit"])
    assert result.exit_code == 1 and result.stdout.count("<testsuite ") == 3  # one suite per spec file
    assert "1e+330 is too large" in result.stdout and "c_good" in result.stdout
