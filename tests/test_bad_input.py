"""Bad input never breaks us: one line naming file:line:column and the field or layer, exit 2.

Every case of issue 4's list is here, run through the library (the exact line) and the CLI
(exit 2, one line on stderr, no traceback; a JSON error object on stdout with --format json).
Locations are computed from the test text itself (`at`), so they are hand-checkable.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect import InspectError, ShapeError, build_graph, parse_spec, trace_graph
from resnet_inspect.cli import app
from resnet_inspect.language.spec import bundled_specs

runner = CliRunner()
_TEXT = bundled_specs()["resnet50"].read_text(encoding="utf-8")
BASE = _TEXT[: _TEXT.index("expect:")]  # resnet50 without its expectations


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


def at(text: str, needle: str, offset: int = 0) -> str:
    """line:column (1-based) of the first ``needle`` in ``text``, plus ``offset`` columns."""
    index = text.index(needle) + offset
    line = text.count("\n", 0, index) + 1
    return f"{line}:{index - (text.rfind(chr(10), 0, index) + 1) + 1}"


def error_of(text: str, file: str = "spec.yaml") -> str:
    with pytest.raises(InspectError) as info:
        trace_graph(build_graph(parse_spec(text, file)))
    return str(info.value)


BOMB = "\n".join(
    [f"a0: &a0 [{', '.join(['lol'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
) + "\n"
HUGE_INT = "9" * 5000

# (id, spec text, expected line, with the location given by the `at` of a needle)
CASES = {
    "empty file": ("", "spec.yaml:1:1: empty file; a spec is a mapping with name, stem, stages and head"),
    "only a comment": ("# nothing\n", "spec.yaml:1:1: empty file"),
    "not a mapping": ("- 1\n- 2\n", "spec.yaml:1:1: a spec is a mapping (name, stem, stages, head), not a list"),
    "a scalar": ("224\n", "spec.yaml:1:1: a spec is a mapping (name, stem, stages, head), not a int"),
    "invalid YAML": ("name: [\n", "spec.yaml:2:1: invalid YAML"),
    # Regression (found by test_properties): a NUL escaped as a yaml ReaderError traceback.
    "control character": ("name: x\nstem: \x00\n", "spec.yaml:2:7: invalid YAML: control character U+0000 is not allowed"),
    "python tag": ('!!python/object/apply:os.system ["true"]\n',
                   "spec.yaml:1:1: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    "python tag inside": (edit("name: resnet50", "name: !!python/name:os.system"),
                          f"spec.yaml:{at(BASE, 'resnet50', 0)}: YAML tag 'tag:yaml.org,2002:python/name:os.system'"),
    "alias bomb": (BOMB, f"spec.yaml:{at(BOMB, '&a0')}: YAML anchors and aliases are not allowed in specs"),
    "merge key": ("a: {b: 1}\nc:\n  <<: {b: 2}\n", "spec.yaml:3:3: YAML merge keys (<<) are not allowed in specs"),
    # libyaml stops at 1000 levels ("exceeded maximum nesting depth"); pure-Python PyYAML at the
    # recursion limit ("document nested too deeply"). Either way one located line.
    "deep flow nesting": ("[" * 100_000 + "]" * 100_000, "spec.yaml:1:…: …nest"),
    "deep block nesting": ("".join("  " * i + f"k{i}:\n" for i in range(80)),
                           "spec.yaml:51:101: document nested too deeply (limit 50)"),
    "unknown key": (edit("name: resnet50\n", "name: resnet50\nlayers: 50\n"),
                    f"spec.yaml:{at(edit('name: resnet50', 'name: resnet50' + chr(10) + 'layers: 50'), 'layers')}: "
                    "layers: unknown key 'layers' (allowed: name"),
    "unknown nested key": (edit("kernel: 7", "kernal: 7"),
                           f"spec.yaml:{at(BASE, 'conv:')}: stem.conv: missing field 'kernel' (unknown key 'kernal' found)"),
    "missing field": (edit("head:\n", "heads:\n"), "spec.yaml:2:1: missing field 'head'"),
    "missing nested field": (edit("{filters: base, kernel: 7, stride: 2}", "{filters: base, kernel: 7}"),
                             f"spec.yaml:{at(BASE, 'conv:')}: stem.conv: missing field 'stride'"),
    "wrong type: string for a list": (edit("[base, base, 4*base]", "64"),
                                      f"spec.yaml:{at(BASE, 'filters: [base, base, 4*base]')}: stages[0].filters: must be array"),
    "wrong type: bool size": (edit("kernel: 7", "kernel: true"),
                              f"spec.yaml:{at(BASE, 'kernel: 7')}: stem.conv.kernel: expected a positive whole "
                              "number or an expression over variables, got True"),
    "wrong type: word size": (edit("blocks: 3, stride: 1", "blocks: three, stride: 1"),
                              f"spec.yaml:{at(BASE, 'blocks: 3, stride: 1')}: stages[0].blocks: undefined variable "
                              "'three' (variables: base)"),
    "wrong type: name": (edit("name: resnet50", "name: 50"), f"spec.yaml:{at(BASE, 'name:')}: name: must be string"),
    "negative size": (edit("base: 64", "base: -64"),
                      f"spec.yaml:{at(BASE, 'filters: base')}: stem.conv.filters: must be >= 1, got -64"),
    "zero size": (edit("kernel: 7", "kernel: 0"),
                  f"spec.yaml:{at(BASE, 'kernel: 7')}: stem.conv.kernel: expected a positive whole number"),
    "zero input": (edit("input: [224, 224, 3]", "input: [0, 224, 3]"),
                   f"spec.yaml:{at(BASE, '224, 224, 3')}: input[0]: expected a positive whole number"),
    "float size": (edit("stride: 2}", "stride: 2.5}"),
                   f"spec.yaml:{at(BASE, 'stride: 2}')}: stem.conv.stride: expected a positive whole number"),
    "float variable": (edit("base: 64", "base: 64.5"),
                       f"spec.yaml:{at(BASE, 'filters: base')}: stem.conv.filters: must be a whole number, got 64.5"),
    "huge expression": (edit("base: 64", "base: 10**40"),
                        f"spec.yaml:{at(BASE, 'base: 64')}: variables.base: value 1e+40 is too large"),
    "huge literal": (edit("base: 64", f"base: {HUGE_INT}"), f"spec.yaml:{at(BASE, 'base: 64', 6)}: variables.base: '9999…' has 5,000 characters; a number has at most 64"),  # before int() (issue 17)
    "stage with 0 blocks": (edit("blocks: 3, stride: 1", "blocks: 0, stride: 1"),
                            f"spec.yaml:{at(BASE, 'blocks: 3, stride: 1')}: stages[0].blocks: expected a positive "
                            "whole number or an expression over variables, got 0"),
    "stage with 0 blocks by expression": (edit("blocks: 3, stride: 1", "blocks: base - 64, stride: 1"),
                                          f"spec.yaml:{at(BASE, 'blocks: 3, stride: 1')}: stages[0].blocks: "
                                          "must be >= 1, got 0"),
    # Stage 2 at stride 1000 maps 56×56 to 1×1; avg_pool 7×7 then fails. Smallest input by hand:
    # stage 5 needs >= 7, so stage 2's output >= 49 (three stride-2 1×1 convs: 13, 25, 49), so
    # (m - 1) // 1000 + 1 >= 49 -> m >= 48,001 after pool1 -> 96,001 after conv1 -> N >= 192,001.
    "stride larger than the map": (edit("blocks: 3, stride: 1", "blocks: 3, stride: 1000"),
                                   f"spec.yaml:{at(BASE, 'head:')}: layer avg_pool: avg_pool 7×7 needs H >= 7, got 1 "
                                   "(input [1, 1, 2048]); the smallest input that works is 192001 (192001×192001)"),
    "kernel larger than the padded map": (edit("kernel: 7", "kernel: 300"),
                                          f"spec.yaml:{at(BASE, 'stem:')}: layer conv1: conv 300×300 needs H >= 300, "
                                          "got 230 (input [230, 230, 3])"),
    "no input size works": (edit("pool_size: 7", "pool_size: 7\n  dense: {units: 10, name: conv1}\n", BASE).replace(
        "  dense: {units: 1000, name: fc1000, activation: softmax}\n", ""),
        f"spec.yaml:{at(BASE, 'head:')}: layer conv1: duplicate layer name 'conv1'"),
    "unknown variable": (edit("4*base], blocks: 3", "4*bsae], blocks: 3"),
                         f"spec.yaml:{at(BASE, '4*base], blocks: 3')}: stages[0].filters[2]: undefined variable "
                         "'bsae' (variables: base)"),
    "division by zero": (edit("4*base], blocks: 3", "base/0], blocks: 3"),
                         f"spec.yaml:{at(BASE, '4*base], blocks: 3')}: stages[0].filters[2]: division by zero"),
    "attribute access": (edit("4*base], blocks: 3", "base.__class__], blocks: 3"),
                         f"spec.yaml:{at(BASE, '4*base], blocks: 3')}: stages[0].filters[2]: unsupported syntax "
                         "Attribute"),
    "call": (edit("base: 64", "base: __import__('os').getpid()"), f"spec.yaml:{at(BASE, 'base: 64')}: variables.base: unsupported syntax Call"),
    "residual add mismatch": (edit("blocks: 3, stride: 1}", "blocks: 3, stride: 1, first_block: identity}"),
                              f"spec.yaml:{at(BASE, '{stage: 2')}: layer res2a: residual add needs equal shapes, "
                              "got [56, 56, 256] and [56, 56, 64]"),
    # The blog's trap: the identity blocks of stage 2 named res2a too. Two stages numbered 2 make
    # the same names; the second is reported where it is declared.
    "duplicate layer names": (edit("{stage: 3,", "{stage: 2,"),
                              f"spec.yaml:{at(BASE, '{stage: 3')}: layer res2a_branch2a: duplicate layer name "
                              f"'res2a_branch2a' (first made by line {at(BASE, '{stage: 2').split(':')[0]})"),
    # Non-finite numbers are refused where they are read (issue 7: no NaN reaches a JSON output).
    "bn epsilon nan": (edit("bn_epsilon: 1.0e-3", "bn_epsilon: .nan"),
                       f"spec.yaml:{at(BASE, 'bn_epsilon', 12)}: conventions.bn_epsilon: '.nan' is not a finite number"),
    "bn epsilon inf": (edit("bn_epsilon: 1.0e-3", "bn_epsilon: .inf"),
                       f"spec.yaml:{at(BASE, 'bn_epsilon', 12)}: conventions.bn_epsilon: '.inf' is not a finite number"),
    "bad variable name": (edit("base: 64", "base: 64\n  2x: 3"),
                          f"spec.yaml:{at(BASE, 'base: 64') .split(':')[0] and str(int(at(BASE, 'base: 64').split(':')[0]) + 1)}:3: "
                          "variables.2x: bad key '2x' (must match ^[A-Za-z_][A-Za-z0-9_]*$)"),
    "bad expect input size": (BASE + "expect: {macs: {224y: 1}}\n",
                              f"spec.yaml:{BASE.count(chr(10)) + 1}:17: expect.macs.224y: bad key '224y'"),
}


@pytest.mark.parametrize("text, expected", CASES.values(), ids=CASES.keys())
def test_one_line_with_location(text, expected):
    message = error_of(text)
    assert matches(message, expected), message
    assert "\n" not in message and len(message) < 400


def matches(message: str, expected: str) -> bool:
    """``message`` starts with ``expected``, where "…" stands for any text (a column that varies)."""
    head, *rest = expected.split("…")
    if not message.startswith(head):
        return False
    position = len(head)
    for part in rest:
        position = message.find(part, position)
        if position < 0:
            return False
        position += len(part)
    return True


def spec_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def assert_cli_error(args: list[str], expected: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and matches(lines[0], "error: " + expected), result.stderr
    assert "Traceback" not in result.stderr and result.exception is None or isinstance(result.exception, SystemExit)
    as_json = runner.invoke(app, args + ["--format", "json"])
    assert as_json.exit_code == 2
    error = json.loads(as_json.stdout)["error"]
    assert error["text"] == lines[0].removeprefix("error: ")


@pytest.mark.parametrize("text, expected", CASES.values(), ids=CASES.keys())
def test_cli_one_line_exit_2_and_json(tmp_path, text, expected):
    path = spec_file(tmp_path, text)
    assert_cli_error(["trace", str(path)], expected.replace("spec.yaml", str(path), 1))


def test_cli_check_reports_the_same_line_as_a_failed_spec(tmp_path):
    text, expected = CASES["residual add mismatch"]
    path = spec_file(tmp_path, text)
    result = runner.invoke(app, ["check", str(path), "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["specs"][0]["error"]["text"].startswith(expected.replace("spec.yaml", str(path)))


def test_not_utf8(tmp_path):
    path = spec_file(tmp_path, b"name: \xff\xfe resnet\n")
    assert_cli_error(["trace", str(path)], f"{path}: not UTF-8 text (byte 6)")


def test_a_directory(tmp_path):
    assert_cli_error(["trace", str(tmp_path)], f"{tmp_path}: is a folder, not a spec file")


def test_a_missing_path(tmp_path):
    assert_cli_error(["trace", str(tmp_path / "nope.yaml")], f"{tmp_path}/nope.yaml: no such spec file")
    assert_cli_error(["check", str(tmp_path / "nope")], f"{tmp_path}/nope: no such file or directory")


def test_python_tag_constructs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    text = f'!!python/object/apply:os.system ["touch {marker}"]\n'
    assert "not allowed" in error_of(text)
    runner.invoke(app, ["trace", str(spec_file(tmp_path, text))])
    assert not marker.exists()


def test_alias_bomb_is_refused_in_bounded_time_and_memory():
    tracemalloc.start()
    start = time.perf_counter()
    assert "aliases are not allowed" in error_of(BOMB)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 1 and peak < 5 * 2**20  # 9**10 "lol"s expanded would be ~30 GB


def test_huge_input_gives_exact_python_ints():
    # torchvision's layout pools globally, so parameters do not depend on the input (25,610,152,
    # README); conv1 at 10**6 (the largest side taken, issue 17): pad 3, 7×7/2 ->
    # (10**6 + 6 - 7) // 2 + 1 = 5·10**5 per side, so 7·7·3·64 = 9,408 MACs per output position.
    spec = parse_spec(bundled_specs()["resnet50-torchvision"].read_text(), "tv.yaml")
    result = trace_graph(build_graph(spec), (10**6, 10**6))
    assert result.totals.params == 25_610_152
    assert result.layer("conv1").macs == 9_408 * (5 * 10**5) ** 2
    assert result.layer("conv1").output_shape == (5 * 10**5, 5 * 10**5, 64)
    with pytest.raises(ShapeError, match="from 1 to 1,000,000 a side"):
        trace_graph(build_graph(spec), (10**12, 10**12))


def test_huge_filters_give_exact_python_ints():
    # conv1 with 10**9 filters: 7·7·3 weights + 1 bias per filter (Keras conv_bias).
    result = trace_graph(build_graph(parse_spec(edit("base: 64", "base: 1000000000"))))
    assert result.layer("conv1").params == (7 * 7 * 3 + 1) * 10**9


def test_yaml12_floats_are_numbers_not_strings():
    # Regression: PyYAML (YAML 1.1) read 4.0e9 as the string "4.0e9", so budgets written like the
    # docs failed schema validation ("must be number").
    spec = parse_spec(BASE + "expect: {max_macs: {224: 4.0e9}, max_params: 3e7}\n")
    assert spec.expect["max_macs"]["224"] == 4.0e9 and spec.expect["max_params"] == 3e7


def test_keys_are_kept_as_written():
    # Regression: a `null:` key became the text "None".
    spec = parse_spec(edit("base: 64", "base: 64\n  null: 1"))
    assert list(spec.document.data["variables"]) == ["base", "null"]


def test_schema_errors_point_inside_lists():
    # Regression: fastjsonschema names list items "0", so the location fell back to `stages:`.
    message = error_of(edit("{stage: 2,", "{stage: true,"))
    assert message.startswith(f"spec.yaml:{at(BASE, 'stage: 2')}: stages[0].stage: must be integer")
