"""Regression tests for issue 7's spec, path and flag fixes, in-process (the CLI corpus is test_hostile_specs.py).

Each test names the bug it pins. Numbers: YAML 1.1 readings are PyYAML's own (``yaml.safe_load``
is called in the test as the independent source); layer counts and smallest inputs are hand
calculations shown beside them; the other values are the bundled specs' documented ones (193 and
197 in the README and issue 2).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from resnet_inspect import InspectError, build_graph, load_graph, parse_spec, trace_graph
from resnet_inspect.model import engine
from resnet_inspect.analysis.check import _Traces, check_paths, find_specs
from resnet_inspect.analysis.diff import diff_specs
from resnet_inspect.model.engine import parse_input, smallest_input
from resnet_inspect.language.expr import ExprError, evaluate
from resnet_inspect.model.graph import MAX_LAYERS
from resnet_inspect.language.spec import bundled_specs, is_path, load_spec, resolve
from resnet_inspect.model.statistics import Totals
from resnet_inspect.language.yamlsafe import MAX_NODES, read_text

_TEXT = bundled_specs()["resnet50"].read_text(encoding="utf-8")
BASE = _TEXT[: _TEXT.index("expect:")]


def error_of(text: str) -> str:
    with pytest.raises(InspectError) as info:
        trace_graph(build_graph(parse_spec(text, "spec.yaml")))
    return str(info.value)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# --------------------------------------------------------------------------- YAML 1.1 surprises

# (what is written, the field's line in BASE, the field, what PyYAML alone would read it as)
SURPRISES = [
    ("blocks: 3, stride: 1", "blocks: 0100, stride: 1", "stages[0].blocks", "leading zero"),
    ("blocks: 3, stride: 1", "blocks: 0x10, stride: 1", "stages[0].blocks", "not a decimal"),
    ("blocks: 3, stride: 1", "blocks: 1_000, stride: 1", "stages[0].blocks", "digit separators"),
    ("blocks: 3, stride: 1", "blocks: 1:20, stride: 1", "stages[0].blocks", "base-60"),
    ("blocks: 3, stride: 1", "blocks: 0b11, stride: 1", "stages[0].blocks", "not a decimal"),
    ("blocks: 3, stride: 1", "blocks: 2001-12-14, stride: 1", "stages[0].blocks", "a date"),
    ("blocks: 3, stride: 1", "blocks: 0o17, stride: 1", "stages[0].blocks", "not a decimal"),
    ("{stage: 2,", "{stage: 2.0,", "stages[0].stage", "whole number, got 2.0; write 2"),
    ("blocks: 3, stride: 1", "blocks: 3.0, stride: 1", "stages[0].blocks", "whole number, got 3.0"),
    ("conv_bias: true", "conv_bias: yes", "conventions.conv_bias", "boolean in YAML 1.1"),
    ("conv_bias: true", "conv_bias: off", "conventions.conv_bias", "boolean in YAML 1.1"),
    ("bn_epsilon: 1.0e-3", "bn_epsilon: 1:20.5", "conventions.bn_epsilon", "base 60"),
]


@pytest.mark.parametrize("old, new, field, why", SURPRISES, ids=[s[1] for s in SURPRISES])
def test_yaml_1_1_forms_are_refused_with_the_reason(old, new, field, why):
    text = BASE.replace(old, new, 1)
    message = error_of(text)
    assert message.startswith(f"spec.yaml:{line_of(text, new)}:") and f": {field}: " in message, message
    assert why in message


def test_what_pyyaml_alone_would_have_read():
    # The silent wrong answers the refusals above prevent, as PyYAML (YAML 1.1) reads them.
    assert yaml.safe_load("a: 0100")["a"] == 64
    assert yaml.safe_load("a: 1:20")["a"] == 80
    assert yaml.safe_load("a: yes")["a"] is True
    assert str(yaml.safe_load("a: 2001-12-14")["a"]) == "2001-12-14"  # a date; as an expression, 2001-12-14 = 1975
    assert evaluate("2001-12-14", {}) == 1975


def test_the_octal_message_gives_both_readings():
    message = error_of(BASE.replace("blocks: 3, stride: 1", "blocks: 0100, stride: 1", 1))
    assert "octal 64 in YAML 1.1, decimal 100 in YAML 1.2" in message


def test_quoted_and_plain_decimal_forms_still_work():
    spec = parse_spec(BASE.replace("blocks: 3, stride: 1", "blocks: '3', stride: 1", 1), "spec.yaml")
    assert spec.stages[0].blocks == 3
    assert parse_spec(BASE.replace("base: 64", "base: +64"), "spec.yaml").stem.conv.filters == 64


def test_dates_in_text_fields_stay_text_and_keys_are_as_written():
    start, end = BASE.index("description:"), BASE.index("input:")
    spec = parse_spec(BASE[:start] + "description: 2001-12-14\n" + BASE[end:], "spec.yaml")
    assert spec.description == "2001-12-14"
    # Keys are used as written, so `0224:` is the input size "0224", parsed as 224.
    assert parse_input("0224") == (224, 224)


@pytest.mark.parametrize("old, new, field", [
    ("name: resnet50", "name: resnet50\nexpect: {params: 25636712.0}", "expect.params"),
    ("name: resnet50", "name: resnet50\nexpect: {shapes: {pool1: [56.0, 56, 64]}}", "expect.shapes.pool1[0]"),
    ("input: [224, 224, 3]", "input: [224.0, 224, 3]", "input[0]"),
])
def test_floats_are_refused_wherever_the_schema_wants_an_integer(old, new, field):
    # JSON Schema (and so both validators) count 2.0 as an integer; the loader does not.
    assert old in BASE
    message = error_of(BASE.replace(old, new, 1))
    assert f": {field}: must be a whole number" in message, message


def test_non_finite_numbers_are_refused_where_they_are_read():
    message = error_of(BASE.replace("name: resnet50", "name: resnet50\nexpect: {max_params: .inf}", 1))
    assert "expect.max_params: '.inf' is not a finite number" in message


@pytest.mark.parametrize("text", ["0x10", "0o17", "0b1", "1_000", "2*0x20"])
def test_expressions_take_decimal_literals_only(text):
    with pytest.raises(ExprError, match="not a decimal number"):
        evaluate(text, {})


def test_expression_errors_quote_a_short_excerpt():
    with pytest.raises(ExprError) as info:
        evaluate("(" * 150 + "\x1b", {})
    assert len(str(info.value)) < 80 and "\x1b" not in str(info.value)


# --------------------------------------------------------------------------- reading a spec file


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InspectError, match="not a regular file"):
        read_text(fifo)  # opening it would block forever: nothing is written to it


def test_a_2gb_sparse_file_is_refused_from_its_size(tmp_path):
    path = tmp_path / "spec.yaml"
    with open(path, "wb") as handle:
        handle.truncate(2 << 30)
    with pytest.raises(InspectError, match="2,147,483,648 bytes"):
        read_text(path)


def test_dev_zero_is_refused(tmp_path):
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(InspectError, match="not a regular file"):
        load_spec(str(link))


def test_too_many_yaml_values_are_refused_while_composing():
    text = "name: x\nexpect:\n  shapes:\n" + "".join(f"    l{i}: [1]\n" for i in range(MAX_NODES))
    message = error_of(text)
    assert message.startswith("spec.yaml:1:1:") and f"more than {MAX_NODES:,} YAML values" in message


def test_control_characters_in_a_file_name_are_shown_escaped(tmp_path):
    with pytest.raises(InspectError) as info:
        load_spec(str(tmp_path / "\x1b[2Jx.yaml"))
    assert "\\x1b[2Jx.yaml" in str(info.value) and "\x1b" not in str(info.value)


# --------------------------------------------------------------------------- bare names and paths


@pytest.mark.parametrize("text, path", [("resnet50", False), ("./resnet50", True), ("specs/r", True), ("r.yaml", True),
                                        ("R50.YAML", True), ("r.Yml", True), ("resnet50-2019", False), ("-", False)])
def test_what_counts_as_a_path(text, path):
    assert is_path(text) is path


def test_a_bare_name_is_the_bundled_spec_even_beside_a_file_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet50").write_text("name: decoy\n")
    (tmp_path / "resnet50-2019").mkdir()
    assert resolve("resnet50") == bundled_specs()["resnet50"]
    assert resolve("resnet50-2019") == bundled_specs()["resnet50-2019"]
    assert load_spec("resnet50").name == "resnet50"
    with pytest.raises(InspectError, match=r"^\./resnet50:1:1: missing field"):
        load_spec("./resnet50")  # a path reads the file, and the error names it as written


@pytest.mark.parametrize("text, message", [("", "empty spec name"), ("myspec", "unknown spec 'myspec'"),
                                           ("RESNET50", "unknown spec"), ("resnet50 ", "unknown spec")])
def test_names_that_are_not_bundled(text, message):
    with pytest.raises(InspectError, match=message):
        resolve(text)


# --------------------------------------------------------------------------- --input


@pytest.mark.parametrize("text", ["2_24", "２２４", "٢٢٤", " 224", "224 ", "224\n", "+224", "224.0", "1e3", "0x10", "224x",
                                  "x224", "224x224x3", "", "0", "224x0", "²²⁴"])
def test_input_accepts_ascii_digits_only(text):
    # int() alone takes "2_24", full-width and Arabic-Indic digits and surrounding spaces.
    with pytest.raises(InspectError, match="--input"):
        parse_input(text)


@pytest.mark.parametrize("text, hw", [("224", (224, 224)), ("224x320", (224, 320)), ("224X320", (224, 320)),
                                      ("224×320", (224, 320)), ("1", (1, 1))])
def test_input_sizes_that_are_fine(text, hw):
    assert parse_input(text) == hw


# --------------------------------------------------------------------------- check


def _spec(path: Path, text: str = BASE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_upper_case_suffixes_are_checked(tmp_path):
    for name in ("a.YAML", "b.Yml", "c.yaml", "d.txt"):
        _spec(tmp_path / name)
    assert [p.name for p in find_specs([tmp_path])] == ["a.YAML", "b.Yml", "c.yaml"]


def test_check_of_an_empty_path_is_an_error():
    with pytest.raises(InspectError, match="empty path"):
        check_paths([""])


def test_a_symlink_out_of_the_folder_is_reported_unread(tmp_path):
    secret = _spec(tmp_path / "outside" / "secret.txt", "the-secret-line: 1\n")
    tree = tmp_path / "tree"
    _spec(tree / "good.yaml")
    (tree / "leak.yaml").symlink_to(secret)
    (tree / "inside.yaml").symlink_to(tree / "good.yaml")
    (tree / "sub").symlink_to(tmp_path / "outside")  # a symlinked folder is not entered
    report = check_paths([tree])
    verdicts = {Path(s.file).name: s for s in report.specs}
    assert sorted(verdicts) == ["good.yaml", "inside.yaml", "leak.yaml"]
    assert verdicts["good.yaml"].ok and verdicts["inside.yaml"].ok
    assert "not followed" in str(verdicts["leak.yaml"].error)
    assert "the-secret-line" not in str(verdicts["leak.yaml"].error)
    # Named explicitly, it is read as asked (its content is quoted as a short excerpt at most).
    (explicit,) = check_paths([tree / "leak.yaml"]).specs
    assert "unknown key 'the-secret-line'" in str(explicit.error) or "missing field" in str(explicit.error)


def test_a_fifo_in_a_folder_fails_its_check_instead_of_blocking(tmp_path):
    _spec(tmp_path / "good.yaml")
    os.mkfifo(tmp_path / "pipe.yaml")
    verdicts = {Path(s.file).name: s for s in check_paths([tmp_path]).specs}
    assert verdicts["good.yaml"].ok and "not a regular file" in str(verdicts["pipe.yaml"].error)


def test_check_keeps_only_totals_at_the_other_sizes():
    traces = _Traces(load_graph("resnet50"))
    assert traces.totals("224").macs == 3_857_973_248  # the default trace (README)
    assert traces.totals("224x320").macs == trace_graph(load_graph("resnet50"), (224, 320)).totals.macs
    assert list(traces.totals_at) == [(224, 320)]
    assert all(isinstance(t, Totals) for t in traces.totals_at.values())


# --------------------------------------------------------------------------- limits


def _deep(block: str, per_stage: int, filters: str) -> str:
    stages = "".join(f"  - {{stage: {n}, filters: {filters}, blocks: {per_stage}, stride: {s}}}\n"
                     for n, s in ((2, 1), (3, 2), (4, 2)))
    return (f"name: deep\nblock: {block}\ninput: [32, 32, 3]\nstem: {{pad: 1, conv: {{filters: 16, kernel: 3, stride: 1}}, "
            f"pool: null}}\nstages:\n{stages}head: {{pool: global, dense: {{units: 10}}}}\n")


def test_resnet_1001_and_1202_are_far_below_the_layer_limit():
    # Layers, by hand. Stem: input, conv1_pad, conv1, bn_conv1, conv1_relu = 5; head: avg_pool,
    # flatten, fc1000, its softmax = 4. Bottleneck: 3 conv + 3 BN + 2 ReLU + add + ReLU = 10,
    # +2 for a conv block's shortcut: 333 blocks -> 3,330 + 6. Basic: 2 + 2 + 1 + 1 + 1 = 7:
    # 600 blocks -> 4,200 + 6.
    r1001 = build_graph(parse_spec(_deep("bottleneck", 111, "[16, 16, 64]")))
    r1202 = build_graph(parse_spec(_deep("basic", 200, "[16, 16]")))
    assert len(r1001) == 5 + 3_336 + 4 == 3_345
    assert len(r1202) == 5 + 4_206 + 4 == 4_215
    assert MAX_LAYERS >= 4 * len(r1202)


def test_a_network_over_the_layer_limit_names_the_stage_that_crosses_it():
    text = _deep("bottleneck", 1000, "[16, 16, 64]")
    message = error_of(text)
    # 5 + 10,002 layers after stage 2; stage 3 crosses 20,000.
    assert message.startswith(f"spec.yaml:{line_of(text, '{stage: 3')}:") and "stages[1].blocks" in message
    assert f"more than {MAX_LAYERS:,} layers" in message


def _brute_force_smallest(graph, limit: int = 400) -> int | None:
    """The independent oracle: trace every square size from 1 up and take the first that works."""
    for size in range(1, limit):
        try:
            trace_graph(graph, (size, size))
            return size
        except InspectError:
            continue
    return None


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_smallest_input_agrees_with_brute_force(name):
    graph = load_graph(name)
    assert smallest_input(graph) == _brute_force_smallest(graph)


def test_smallest_input_keeps_the_documented_answers():
    assert smallest_input(load_graph("resnet50")) == 193  # README
    assert smallest_input(load_graph("resnet50-2019")) == 197  # issue 2


@pytest.mark.parametrize("edit", [("pool_size: 7", "pool_size: 3"), ("pool: {size: 3, stride: 2}", "pool: {size: 5, stride: 3}"),
                                  ("kernel: 7, stride: 2", "kernel: 11, stride: 4"), ("pad: 3", "pad: 0")])
def test_smallest_input_agrees_with_brute_force_on_variants(edit):
    assert edit[0] in BASE
    graph = build_graph(parse_spec(BASE.replace(*edit), "variant.yaml"))
    assert smallest_input(graph) == _brute_force_smallest(graph)


def test_smallest_input_is_one_backward_and_one_forward_pass(monkeypatch):
    # It was a doubling search and bisection: 16 forward passes for resnet50, 40 for others.
    calls = []
    original = engine._fits
    monkeypatch.setattr(engine, "_fits", lambda graph, size: calls.append(size) or original(graph, size))
    assert smallest_input(load_graph("resnet152")) == 193
    assert calls == [193]


def test_diff_finds_each_stride_move_in_a_deep_network():
    # The moves grouped in one pass (was a scan of every layer per block): v1 -> v1.5 moves the
    # stride of res3a, res4a and res5a from branch2a to branch2b (torchvision's comment), however
    # many identity blocks follow. Speed: benchmarks/bench_huge.py.
    deep = BASE.replace("blocks: 6,", "blocks: 600,")
    result = diff_specs(parse_spec(deep, "a.yaml"), parse_spec(deep.replace("stride_on: 1x1", "stride_on: 3x3"), "b.yaml"))
    moves = [(m.block, m.from_layer, m.to_layer, m.stride) for m in result.stride_moves]
    assert moves == [(f"res{s}a", f"res{s}a_branch2a", f"res{s}a_branch2b", 2) for s in (3, 4, 5)]
